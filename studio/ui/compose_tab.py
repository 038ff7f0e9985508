"""The Compose tab: continue a primer, start a piece, or harmonise a melody, with a polyphonic model.

Two kinds of model compose here. A REMI model (``polyphonic``, e.g. the shipped ``chorale``) writes tokens: it
continues a primer or starts a piece, through ``studio.music.remi.training.continue_primer``. A piano-roll model
(``piano_roll``, e.g. the shipped ``jsb`` and ``folk``) writes frames of 88 keys (a beat or half a beat each): it
continues or starts too, and it harmonises a melody, keeping the melody's top line as written and writing the
voices below it, through ``studio.music.pianoroll.compose.compose_rolls`` (the services ``studio compose
--primer/--melody`` uses). Both write MIDI, WAV and a piano roll.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from studio.errors import StudioError
from studio.music.io.file_types import MIDI_SUFFIXES, MUSIC21_SUFFIXES
from studio.ui import validation as v
from studio.ui.model_cache import PIANO_ROLL, POLYPHONIC, ModelCache, ModelEntry
from studio.ui.widgets import audio_player, seed_controls
from studio.ui.workspace import new_folder

KINDS = (POLYPHONIC, PIANO_ROLL)
KIND_LABELS = {POLYPHONIC: "REMI composer", PIANO_ROLL: "piano-roll harmoniser"}
MUSIC_TYPES = MIDI_SUFFIXES + MUSIC21_SUFFIXES  # what studio.music.io.midi reads
MAX_MUSIC_BYTES = 2_000_000
KEY_FROM_NOTES = "from its notes"
# Tonics only: the piano-roll models' data put major and minor pieces on one tonic (A for A minor).
KEYS_OFFERED = (KEY_FROM_NOTES, "C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
LENGTH = (16, 2000)      # REMI tokens, or piano-roll frames (whose own limit is 1..4000)
TEMPERATURE = (0.05, 2.0)
TOP_K = (0, 200)
TOP_P = (0.05, 1.0)
MAX_NOTES = (0, 8)       # keys sounding at once in a piano-roll frame; a chorale has four voices


def model_choices(cache: ModelCache) -> list[tuple[str, str]]:
    """(label, value) pairs for the model dropdown: REMI and piano-roll models, each label saying which it is."""
    return cache.choices(KINDS, KIND_LABELS)


def model_help(cache: ModelCache, value: Any) -> str:
    """One paragraph on what the chosen model does with the inputs (empty for a model the page does not offer)."""
    try:
        entry = cache.entry(KINDS, value)
    except StudioError:
        return ""
    name = entry.short_name()
    if entry.kind == PIANO_ROLL:
        fpb = int(entry.card.get("frames_per_beat", 1))
        frame = {1: "a quarter note", 2: "an eighth note", 4: "a sixteenth note"}.get(fpb, f"1/{fpb} of a beat")
        return (f"**{name}** is a piano-roll model (88 keys, a frame is {frame}): upload a *melody* to harmonise "
                "it (your top line kept as written, the voices below written by the model), a *primer* to continue "
                "it, or neither to start a piece. Length counts frames; top-k and top-p do not apply.")
    return (f"**{name}** is a REMI model (note tokens): upload a *primer* to continue it, or none to start a "
            "piece. Length counts tokens (three or four a note). It cannot harmonise a melody: use a piano-roll "
            "model for that.")


def compose_music(cache: ModelCache, model: str, primer: Any, tokens: int, temperature: float, top_k: int,
                  top_p: float, seed: Any, melody: Any = None, max_notes: int = 4, key: str = KEY_FROM_NOTES) -> tuple:
    """Continue ``primer``, harmonise ``melody`` (piano-roll models) or, given neither, start a piece.

    ``tokens`` is the length: REMI tokens, or frames for a piano-roll model (a harmonised melody sets its own).
    ``top_k``/``top_p`` apply to REMI models, ``max_notes`` and ``key`` (the input's key, or ``KEY_FROM_NOTES``)
    to piano-roll ones. Returns (wav, piano roll png,
    midi download, info).
    """
    from studio.ui.music_files import write_performance

    entry = cache.entry(KINDS, model)
    primer_path = v.upload("primer", primer, MUSIC_TYPES, MAX_MUSIC_BYTES) if primer else None
    melody_path = v.upload("melody", melody, MUSIC_TYPES, MAX_MUSIC_BYTES) if melody else None
    if primer_path and melody_path:
        raise StudioError("give a primer to continue or a melody to harmonise, not both")
    if melody_path and entry.kind != PIANO_ROLL:
        raise StudioError(f"harmonising a melody needs a piano-roll model such as {_roll_example(cache)}; "
                          f"{entry.short_name()} is a REMI model (upload the melody as a primer to continue it "
                          "instead)")
    length = v.number("length", tokens, *LENGTH, integer=True)
    temperature = v.number("temperature", temperature, *TEMPERATURE)
    top_k = v.number("top-k", top_k, *TOP_K, integer=True)
    top_p = v.number("top-p", top_p, *TOP_P)
    max_notes = v.number("notes at once", max_notes, *MAX_NOTES, integer=True)
    seed = v.seed(seed)
    if key not in KEYS_OFFERED:
        raise StudioError(f"key {key!r}: choose one of {', '.join(KEYS_OFFERED)}")
    if entry.kind == PIANO_ROLL:
        midi, done = _roll_piece(cache, entry, primer_path, melody_path, length, temperature, max_notes, seed,
                                 None if key == KEY_FROM_NOTES else key)
    else:
        midi, done = _remi_piece(entry, primer_path, length, temperature, top_k, top_p, seed)
    name = entry.short_name()
    notes = sum(len(instrument.notes) for instrument in midi.instruments)
    if notes == 0:
        gr.Warning("the model wrote no notes this time; try another seed, a longer length or a primer")
        return None, None, None, f"**{name}**, seed **{seed}**: no notes; nothing to play."
    source = melody_path or primer_path
    title = f"{name}, seed {seed}" + (f", after {source.name}" if source else "")
    files = write_performance(midi, new_folder("compose"), f"{name}-{seed}", title)
    v.warn_all(files.notes)
    info = f"**{name}**, seed **{seed}**: {done}; {notes} notes, {midi.get_end_time():.1f} s."
    return str(files.wav), str(files.roll), str(files.midi), info


def _remi_piece(entry: ModelEntry, primer: Path | None, tokens: int, temperature: float, top_k: int, top_p: float,
                seed: int) -> tuple[Any, str]:
    """A REMI model's continuation of ``primer`` (None: a new piece), and what was done, in words."""
    from studio.config import GenerationConfig
    from studio.music.remi.training import continue_primer

    config = GenerationConfig(temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
    piece = continue_primer(entry.path, primer, tokens, config)[0]
    if primer is None:
        return piece.midi, f"started a piece ({tokens} tokens at most)"
    return piece.midi, f"continued {primer.name} ({piece.params['primer_tokens']} primer tokens, {tokens} more at most)"


def _roll_piece(cache: ModelCache, entry: ModelEntry, primer: Path | None, melody: Path | None, frames: int,
                temperature: float, max_notes: int, seed: int, key: str | None = None) -> tuple[Any, str]:
    """A piano-roll model's harmonisation of ``melody``, continuation of ``primer`` or new piece, and what was done,
    in words."""
    from studio.music.io.midi import load_midi
    from studio.music.pianoroll.compose import RollRequest, compose_rolls

    model = cache.roll_model(entry.value)
    # A harmonised melody gets exactly `max_notes` parts (4: soprano, alto, tenor, bass): a drawn frame can drop a
    # voice, and filling it from the model's most probable keys agrees with Bach more (BENCHMARKS.md).
    request = RollRequest(frames=frames, temperature=temperature, max_notes=max_notes, seed=seed,
                          min_notes=max_notes if melody is not None else 0, key=key)
    piece = compose_rolls(model, request, primer=load_midi(primer) if primer else None,
                          melody=load_midi(melody) if melody else None)[0]
    shift = int(piece.params["transposed_by"])
    # Say so when the input was moved: a model trained on pieces all in C (JSB: an octave up) hears every input there.
    moved = f", moved {shift:+d} semitones to the model's key and register and back" if shift else ""
    tempo = f"at {piece.params['tempo']:.0f} bpm"
    if melody is not None:
        return piece.midi, f"harmonised {melody.name} ({piece.new_frames} frames{moved}) {tempo}"
    if primer is not None:
        given = piece.roll.shape[0] - piece.new_frames
        return piece.midi, (f"continued {primer.name} ({given} frames) by {piece.new_frames} frames{moved}, "
                            f"{tempo}")
    return piece.midi, f"started a piece of {piece.new_frames} frames {tempo}"


def _roll_example(cache: ModelCache) -> str:
    """A piano-roll model to suggest: the shipped ``jsb`` when offered (or none is), else the first offered."""
    values = [value for _, value in cache.choices(PIANO_ROLL)]
    return "jsb" if "jsb" in values or not values else values[0]


def build(cache: ModelCache) -> dict[str, Any]:
    """Lay out the Compose tab (inside an open ``gr.Tab``) and wire its actions; returns its model dropdown."""
    first = cache.default(KINDS, "chorale")
    with gr.Row():
        with gr.Column():
            model = gr.Dropdown(model_choices(cache), value=first, label="Model", allow_custom_value=True,
                                elem_id="compose-model")
            about = gr.Markdown(model_help(cache, first), elem_id="compose-model-help")
            primer = gr.File(label="Primer to continue (MIDI, MusicXML, ABC or kern; optional)",
                             file_types=list(MUSIC_TYPES), file_count="single", type="filepath",
                             elem_id="compose-primer")
            melody = gr.File(label="Melody to harmonise (MIDI, MusicXML, ABC or kern; optional)",
                             file_types=list(MUSIC_TYPES), file_count="single", type="filepath",
                             elem_id="compose-melody")
            key = gr.Dropdown(list(KEYS_OFFERED), value=KEY_FROM_NOTES, label="Key of the melody or primer",
                              info="piano-roll models: read from its notes unless you say (a tune that ends on its "
                              "third can fool it); a minor key by its tonic, A for A minor", elem_id="compose-key")
            tokens = gr.Slider(*LENGTH, value=400, step=1, label="Length (REMI: tokens · piano roll: frames)",
                               info="piano-roll frames: quarter notes (jsb), eighths (folk); a melody sets its own",
                               elem_id="compose-length")
        with gr.Column():
            temperature = gr.Slider(*TEMPERATURE, value=0.9, step=0.05, label="Temperature",
                                    info="below 1 plays safer, above 1 wilder")
            max_notes = gr.Slider(*MAX_NOTES, value=4, step=1, label="Notes at once",
                                  info="piano-roll models: at most this many; a harmonised melody gets exactly this "
                                  "many parts; 0: no cap", elem_id="compose-max-notes")
            top_k = gr.Slider(*TOP_K, value=0, step=1, label="Top-k", info="REMI models only; 0: off")
            top_p = gr.Slider(*TOP_P, value=0.95, step=0.01, label="Top-p", info="REMI models only")
            with gr.Row():
                seed, dice = seed_controls("compose-seed")
            go = gr.Button("Compose", variant="primary", elem_id="compose-go")
    info = gr.Markdown(elem_id="compose-info")
    audio = audio_player("Audio", "compose-audio")
    roll = gr.Image(type="filepath", label="Piano roll", interactive=False, elem_id="compose-roll")
    midi = gr.File(label="MIDI", interactive=False, elem_id="compose-midi")

    dice.click(v.random_seed, None, seed, api_name="compose_random_seed", concurrency_limit=None)
    model.change(lambda value: model_help(cache, value), model, about, api_name="compose_model_help",
                 concurrency_limit=None)

    # New inputs come last, with defaults, so API calls written before them (without melody, max_notes) still work.
    @v.user_errors
    def compose(model: str, primer: Any, tokens: int, temperature: float, top_k: int, top_p: float,
                seed: Any, melody: Any = None, max_notes: int = 4, key: str = KEY_FROM_NOTES) -> tuple:
        return compose_music(cache, model, primer, tokens, temperature, top_k, top_p, seed, melody, max_notes, key)

    go.click(compose, [model, primer, tokens, temperature, top_k, top_p, seed, melody, max_notes, key],
             [audio, roll, midi, info], api_name="compose_music")
    return {"model": model}
