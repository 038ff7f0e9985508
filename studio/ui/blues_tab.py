"""The Blues tab: a soloist improvises over a chord chart with a backing band; hear it, see it, download it.

``compose_blues`` is the whole action (validate; play with the jazz soloist, ``studio.music.jazz.soloist``, in a
chosen style and manner, or with the older lead-sheet ``Composer``; render the band; write MIDI, WAV, MusicXML,
sheet music and piano roll), as ``studio compose`` does for one piece; ``build`` lays out the controls and wires
them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import gradio as gr

from studio.errors import StudioError
from studio.music.jazz.entries import MAX_SOLOIST_STRENGTH, card_soloist_strength
from studio.music.theory.chords import BLUES_FORMS, NOTE_NAMES
from studio.ui import validation as v
from studio.ui.model_cache import JAZZ, LEADSHEET, ModelCache
from studio.ui.widgets import audio_player, seed_controls
from studio.ui.workspace import new_folder, safe_name

FORMS = tuple(BLUES_FORMS)
KEYS = NOTE_NAMES
BASS_STYLES = ("walking", "shuffle", "off")
COMPING = ("piano", "guitar", "off")
LEADS = {"tenor sax": 66, "alto sax": 65, "trumpet": 56, "clarinet": 71, "vibraphone": 11, "jazz guitar": 26,
         "piano": 0}
TEMPO = (40, 300)
SWING = (0.5, 0.8)
CHORUSES = (1, 8)
TEMPERATURE = (0.05, 2.0)
TOP_P = (0.05, 1.0)
BEAMS = (1, 8)
MAX_BARS = 48
MAX_CHART_CHARS = 2000
MAX_SECONDS = 300  # of music per request: longer pieces are `studio compose`'s job (the WAV alone is 10 MB/min)
SOLOISTS = (JAZZ, LEADSHEET)
SOLOIST_LABELS = {JAZZ: "jazz soloist", LEADSHEET: "blues (lead sheet)"}
ANY = "any"
STYLES = (ANY, "traditional", "swing", "bebop", "cool", "hardbop", "postbop", "free", "fusion")
NO_SOLOIST = "none"


def model_choices(cache: ModelCache) -> list[tuple[str, str]]:
    """(label, value) pairs of the soloists the tab offers: jazz models first, then lead-sheet models."""
    return cache.choices(SOLOISTS, SOLOIST_LABELS)


def soloist_names(cache: ModelCache, model: Any) -> list[str]:
    """The players a jazz model can play in the manner of ("none" first); just "none" for other models."""
    try:
        entry = cache.entry(SOLOISTS, model)
    except StudioError:
        return [NO_SOLOIST]
    return [NO_SOLOIST, *sorted(entry.card.get("soloists", {}))] if entry.kind == JAZZ else [NO_SOLOIST]


def chart_for(form: str, key: str) -> str:
    """The chord chart of a named blues form in a key, as editable text."""
    from studio.music.theory.chords import blues_chart

    return blues_chart(v.choice("form", form, FORMS), v.choice("key", key, KEYS)).text()


def compose_blues(cache: ModelCache, chart: str, key: str, tempo: float, swing: float, choruses: int, bass: str,
                  drums: bool, comping: str, lead: str, key_lock: bool, model: str, temperature: float,
                  top_p: float, beam: int, seed: Any, style: str = ANY, soloist: str = NO_SOLOIST,
                  strength: float | None = None) -> tuple:
    """Compose and render one piece. Returns (wav, piano roll png, sheet music html, downloads, metrics, info).

    A jazz model plays in ``style`` and in the manner of ``soloist`` (``any``/``none``: no such input), its band
    swinging with the solo's own feel; ``swing`` is the lead-sheet model's. ``strength`` is how much in the
    manner of the soloist, 0..2 (None: the model's own; ``studio.music.jazz.entries``)."""
    from studio.config import GenerationConfig
    from studio.music.band.render import render_midi
    from studio.music.leadsheet.composer import ComposeRequest
    from studio.music.theory.chords import ChordChart, blues_scale, parse_chord
    from studio.ui.music_files import write_performance

    chart_text = v.text("chord chart", chart, MAX_CHART_CHARS, required=True)
    key = v.choice("key", key, KEYS)
    tempo = v.number("tempo", tempo, *TEMPO)
    swing = v.number("swing", swing, *SWING)
    choruses = v.number("choruses", choruses, *CHORUSES, integer=True)
    bass = v.choice("bass", bass, BASS_STYLES)
    comping = v.choice("comping", comping, COMPING)
    drums = v.flag("drums", drums)
    lead = v.choice("lead instrument", lead, tuple(LEADS))
    key_lock = v.flag("key lock", key_lock)
    temperature = v.number("temperature", temperature, *TEMPERATURE)
    top_p = v.number("top-p", top_p, *TOP_P)
    beam = v.number("beam", beam, *BEAMS, integer=True)
    seed = v.seed(seed)
    if strength is not None:  # to the slider's step: each strength is a model of its own in the page's cache
        strength = round(4 * v.number("how much like them", strength, 0.0, MAX_SOLOIST_STRENGTH)) / 4
    parsed = ChordChart.parse(chart_text)
    if parsed.num_bars > MAX_BARS:
        raise StudioError(f"the chart has {parsed.num_bars} bars; the page takes at most {MAX_BARS} per chorus")
    seconds = choruses * parsed.num_bars * 4 * 60.0 / tempo
    if seconds > MAX_SECONDS:
        raise StudioError(f"that is {seconds / 60:.1f} minutes of music; the page renders at most "
                          f"{MAX_SECONDS // 60} minutes (fewer choruses or a faster tempo; `studio compose` has no "
                          "limit)")
    # Beam search is deterministic: the sampling controls do nothing there, and the config refuses them.
    config = (GenerationConfig(beams=beam, num_samples=1, seed=seed) if beam > 1
              else GenerationConfig(temperature=temperature, top_p=top_p, seed=seed))
    lock = sorted(blues_scale(parse_chord(f"{key}7"))) if key_lock else None
    entry = cache.entry(SOLOISTS, model)
    band = {"bass_style": bass if bass != "off" else "walking",
            "comping_instrument": comping if comping != "off" else "piano",
            "parts": {"bass": bass != "off", "comping": comping != "off", "drums": drums}}
    mode = f"beam search ({beam} beams)" if beam > 1 else f"temperature {temperature:g}, top-p {top_p:g}"
    if entry.kind == JAZZ:
        return _play_jazz(cache, entry, parsed, key, tempo, choruses, lead, lock, config, seed, band, mode,
                          v.choice("style", style, STYLES), v.choice("soloist", soloist, soloist_names(cache, model)),
                          strength)
    composer = cache.composer(model)
    piece = composer.compose(ComposeRequest(parsed, choruses, tempo, config, key_lock=lock))[0]
    midi = render_midi(piece.sheet, tempo=tempo, swing=swing, lead_program=LEADS[lead], seed=seed,
                       meta={**piece.params, "sample": 1}, **band)
    name = safe_name(Path(str(model)).name, "blues")
    title = f"Blues in {key} ({name}, seed {seed})"
    files = write_performance(midi, new_folder("blues"), f"{name}-{seed}", title, sheet=piece.sheet,
                              chart=piece.sheet.chart)
    v.warn_all(files.notes)
    metrics = shown_metrics(composer.metrics(piece.sheet))
    if not piece.sheet.melody:
        gr.Warning("the model played only rests this time; try another seed or a higher temperature")
    info = (f"**{name}**, seed **{seed}**, {choruses} × {parsed.num_bars} bars at {tempo:g} bpm "
            f"({midi.get_end_time():.1f} s), {mode}.")
    return str(files.wav), str(files.roll), files.sheet_html, files.downloads, metrics, info


def _play_jazz(cache: ModelCache, entry: Any, chart: Any, key: str, tempo: float, choruses: int, lead: str,
               lock: list[int] | None, config: Any, seed: int, band: dict[str, Any], mode: str, style: str,
               soloist: str, strength: float | None = None) -> tuple:
    """The jazz soloist's turn of ``compose_blues``: the same outputs, its statistics as the metrics."""
    from studio.music.jazz.performance import perform, score_sheet
    from studio.music.jazz.soloist import SoloRequest
    from studio.music.jazz.statistics import solo_statistics
    from studio.ui.music_files import write_performance

    player = cache.soloist(entry.value, strength)
    request = SoloRequest(chart, choruses, tempo, style=None if style == ANY else style,
                          soloist=None if soloist == NO_SOLOIST else soloist, config=config, key_lock=lock)
    solo = player.improvise(request)[0]
    name = entry.short_name("jazz")
    midi = perform(solo.notes, chart, choruses, tempo, lead_program=LEADS[lead], seed=seed,
                   meta={**solo.params, "sample": 1}, name=f"{name}-{seed}", **band)
    sheet = score_sheet(solo.notes, chart, choruses, tempo, f"{name}-{seed}")
    manner = f", in the manner of {soloist}" if soloist != NO_SOLOIST else ""
    title = f"Solo in {key} ({name}{manner}, seed {seed})"
    files = write_performance(midi, new_folder("blues"), f"{name}-{seed}", title, sheet=sheet, chart=sheet.chart)
    v.warn_all(files.notes)
    beats = [bar[b * len(bar) // 4] for _ in range(choruses) for bar in chart.bars for b in range(4)]
    stats = solo_statistics(solo.notes, beats, choruses * chart.num_bars, player.training_phrases)
    if not solo.notes:
        gr.Warning("the soloist laid out this time; try another seed or a higher temperature")
    style_words = f", {style}" if style != ANY else ""
    much = f" (strength {player.soloist_strength:g})" if soloist != NO_SOLOIST else ""
    info = (f"**{name}**{style_words}{manner}{much}, seed **{seed}**, {choruses} × {chart.num_bars} bars at {tempo:g} "
            f"bpm ({midi.get_end_time():.1f} s), {mode}; the band swings with the solo's feel.")
    return str(files.wav), str(files.roll), files.sheet_html, files.downloads, shown_statistics(stats), info


def shown_statistics(stats: dict[str, float]) -> dict[str, float | None]:
    """A jazz solo's statistics for people (``studio.music.jazz.statistics``): shares as percentages."""
    shown = {"notes per bar": ("notes_per_bar", 1), "sixteenths (% of onsets)": ("ioi_sixteenth", 100),
             "eighth triplets (%)": ("ioi_triplet", 100), "eighths (%)": ("ioi_eighth", 100),
             "steps (%)": ("steps", 100), "leaps (%)": ("leaps", 100), "chord tones (%)": ("chord_tones", 100),
             "chord or blues-scale tones (%)": ("chord_or_blues", 100),
             "pitch-class entropy per bar (bits)": ("pc_entropy", 1), "grooving similarity": ("grooving", 1),
             "phrases copied from training (%)": ("copied_phrases", 100)}
    out: dict[str, float | None] = {}
    for label, (key, scale) in shown.items():
        value = stats.get(key)
        out[label] = None if value is None or math.isnan(value) else round(value * scale, 2)
    return out


def shown_metrics(metrics: dict[str, float]) -> dict[str, float | None]:
    """The piece's metrics for people: shares as percentages, rounded; n/a (None) where undefined."""
    shown = {"chord-tone share (%)": ("chord_tone_share", 100), "blues-scale share (%)": ("blues_share", 100),
             "novelty (%)": ("novelty", 100), "notes": ("notes", 1), "notes per bar": ("note_density", 1),
             "pitch range (semitones)": ("pitch_range", 1), "repetition (%)": ("repetition", 100)}
    out: dict[str, float | None] = {}
    for label, (key, scale) in shown.items():
        value = metrics.get(key)
        out[label] = None if value is None or math.isnan(value) else round(value * scale, 1)
    return out


def _sampling_defaults(cache: ModelCache, model: Any) -> tuple[float, float, float]:
    """The temperature, top-p and soloist strength a jazz model's card recommends (chosen on validation solos);
    1.0, 0.95 and 1 (the entries as trained) else."""
    try:
        card = cache.entry(SOLOISTS, model).card
    except StudioError:
        card = {}
    sampling = card.get("sampling") or {}
    return (float(sampling.get("temperature") or 1.0), float(sampling.get("top_p") or 0.95),
            card_soloist_strength(card))


def build(cache: ModelCache) -> dict[str, Any]:
    """Lay out the Blues tab (inside an open ``gr.Tab``) and wire its actions; returns its model dropdown."""
    with gr.Row():
        with gr.Column(scale=2):
            with gr.Row():
                form = gr.Dropdown(list(FORMS), value="12-bar", label="Form", info="fills the chart below")
                key = gr.Dropdown(list(KEYS), value="Bb", label="Key")
            chart = gr.Textbox(value=chart_for("12-bar", "Bb"), lines=3, max_lines=8, label="Chord chart",
                               info="bars separated by |, e.g. C7 | F7 | C7 C7 G7 G7 (1, 2 or 4 chords a bar)")
            with gr.Row():
                tempo = gr.Slider(*TEMPO, value=160, step=1, label="Tempo (bpm)")
                swing = gr.Slider(*SWING, value=0.62, step=0.01, label="Swing (blues model)",
                                  info="0.5 straight, 0.67 triplet; the jazz soloist's band follows its solo")
                choruses = gr.Slider(*CHORUSES, value=1, step=1, label="Choruses")
            with gr.Row():
                bass = gr.Radio(list(BASS_STYLES), value="walking", label="Bass")
                comping = gr.Radio(list(COMPING), value="piano", label="Comping")
            with gr.Row():
                drums = gr.Checkbox(value=True, label="Drums")
                key_lock = gr.Checkbox(value=False, label="Key lock", info="only the blues scale of the key")
                lead = gr.Dropdown(list(LEADS), value="tenor sax", label="Lead")
        with gr.Column(scale=1):
            first = cache.default(SOLOISTS, "jazz")
            model = gr.Dropdown(model_choices(cache), value=first, label="Soloist model", allow_custom_value=True)
            style = gr.Dropdown(list(STYLES), value=ANY, label="Style (jazz)", elem_id="blues-style")
            # The players depend on the model chosen: the list is checked against it when a solo is asked for.
            manner = gr.Dropdown(soloist_names(cache, first), value=NO_SOLOIST, label="In the manner of (jazz)",
                                 elem_id="blues-soloist", allow_custom_value=True)
            sampling = _sampling_defaults(cache, first)
            strength = gr.Slider(0.0, MAX_SOLOIST_STRENGTH, value=sampling[2], step=0.25,
                                 label="How much like them (jazz)", elem_id="blues-strength",
                                 info="0: not at all, 1: the player's entry as trained, 2: exaggerated; the "
                                 "model's default predicted the players' unseen solos best")
            temperature = gr.Slider(*TEMPERATURE, value=sampling[0], step=0.05, label="Temperature")
            top_p = gr.Slider(*TOP_P, value=sampling[1], step=0.01, label="Top-p")
            beam = gr.Slider(*BEAMS, value=1, step=1, label="Beam",
                             info="above 1: beam search, deterministic (temperature and top-p unused)")
            with gr.Row():
                seed, dice = seed_controls("blues-seed")
            go = gr.Button("Compose", variant="primary", elem_id="blues-compose")
    info = gr.Markdown(elem_id="blues-info")
    audio = audio_player("The band", "blues-audio")
    roll = gr.Image(type="filepath", label="Piano roll", interactive=False, elem_id="blues-roll")
    with gr.Row():
        downloads = gr.File(file_count="multiple", label="Downloads (MIDI, WAV, MusicXML)", interactive=False,
                            elem_id="blues-downloads")
        metrics = gr.JSON(label="Metrics", elem_id="blues-metrics")
    sheet = gr.HTML(label="Sheet music", elem_id="blues-sheet")

    fill = v.user_errors(chart_for)
    gr.on([form.change, key.change], fill, [form, key], chart, api_name="blues_chart", concurrency_limit=None)
    dice.click(v.random_seed, None, seed, api_name="blues_random_seed", concurrency_limit=None)
    def players(model: Any) -> dict[str, Any]:
        return gr.update(choices=soloist_names(cache, model), value=NO_SOLOIST)

    model.change(players, model, manner, api_name="blues_soloists", concurrency_limit=None)

    def defaults(model: Any) -> tuple[float, float, float]:
        return _sampling_defaults(cache, model)  # what its card recommends: chosen for it on validation

    model.change(defaults, model, [temperature, top_p, strength], api_name="blues_sampling", concurrency_limit=None)

    @v.user_errors
    def compose(chart: str, key: str, tempo: float, swing: float, choruses: int, bass: str, drums: bool,
                comping: str, lead: str, key_lock: bool, model: str, temperature: float, top_p: float, beam: int,
                seed: Any, style: str, soloist: str, strength: float) -> tuple:
        return compose_blues(cache, chart, key, tempo, swing, choruses, bass, drums, comping, lead, key_lock,
                             model, temperature, top_p, beam, seed, style, soloist, strength)

    go.click(compose, [chart, key, tempo, swing, choruses, bass, drums, comping, lead, key_lock, model, temperature,
                       top_p, beam, seed, style, manner, strength], [audio, roll, sheet, downloads, metrics, info],
             api_name="compose_blues")
    return {"model": model}
