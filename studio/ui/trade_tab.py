"""The Trade tab: play a call (on the page's keyboard, or upload one) and the model answers over the next bars of
the chart, with the band; hear both, see them in two colours, see where each answer note looked in the call.

``trade`` is the whole action (validate, read the call, answer with ``studio.music.trade.responder``, perform,
write MIDI, WAV, score, piano roll and the attention picture), as ``studio trade`` does; ``build`` lays out the
controls and wires them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gradio as gr

from studio.errors import StudioError
from studio.music.io.file_types import MIDI_SUFFIXES, MUSIC21_SUFFIXES
from studio.music.theory.chords import BLUES_FORMS, NOTE_NAMES
from studio.music.trade.listen_settings import DEFAULT_LISTEN_LR
from studio.ui import validation as v
from studio.ui.keyboard import KEYBOARD_CSS, KEYBOARD_JS, KEYS_HTML
from studio.ui.model_cache import TRADE, ModelCache
from studio.ui.widgets import audio_player, seed_controls
from studio.ui.workspace import new_folder

TEMPO = (40, 300)
BARS = (1, 8)
ROUNDS = (1, 8)
TEMPERATURE = (0.05, 2.0)
LISTEN = (0.0, 1.0)
MAX_PLAYED_CHARS = 200_000
CALL_TYPES = [*MIDI_SUFFIXES, *MUSIC21_SUFFIXES]


def trade(cache: ModelCache, played: str, upload: Any, chart: str, key: str, tempo: float, bars: int, rounds: int,
          model: str, temperature: float, seed: Any, listen: float = DEFAULT_LISTEN_LR) -> tuple:
    """Answer the call (after learning it at rate ``listen``, 0: off). Returns (wav, piano roll png, attention
    png, sheet html, downloads, info)."""
    from studio.config import GenerationConfig
    from studio.music.jazz.corpus import TICKS_PER_BAR, SoloNote
    from studio.music.jazz.performance import score_sheet
    from studio.music.theory.chords import ChordChart, chart_from_text_or_form
    from studio.music.trade.calls import call_from_file, call_from_played
    from studio.music.trade.performance import attention_png, perform_trade
    from studio.music.trade.responder import TradeRequest
    from studio.ui.music_files import write_performance

    chart_text = v.text("chord chart", chart, 2000, required=True)
    key = v.choice("key", key, NOTE_NAMES)
    tempo = v.number("tempo", tempo, *TEMPO)
    bars = v.number("bars", bars, *BARS, integer=True)
    rounds = v.number("rounds", rounds, *ROUNDS, integer=True)
    temperature = v.number("temperature", temperature, *TEMPERATURE)
    listen = v.number("listen", listen, *LISTEN)
    seed = v.seed(seed)
    responder = cache.responder(model)
    if upload:
        path = Path(upload if isinstance(upload, str) else upload.name)
        if path.suffix.lower() not in CALL_TYPES:
            raise StudioError(f"{path.name}: upload a call as {', '.join(CALL_TYPES)}")
        call = call_from_file(path, bars)
    else:
        text = v.text("played call", played, MAX_PLAYED_CHARS)
        try:
            notes = json.loads(text) if text.strip() else []
        except json.JSONDecodeError:
            raise StudioError("the played call could not be read; record it again") from None
        if not isinstance(notes, list):
            raise StudioError("the played call could not be read; record it again")
        call = call_from_played(notes, tempo, bars)
    parsed = chart_from_text_or_form(chart_text, key)
    result = responder.trade(TradeRequest(call, parsed, bars, rounds, GenerationConfig(temperature=temperature,
                                                                                        seed=seed), listen=listen))
    midi = perform_trade(result, parsed, tempo, seed=seed)
    folder = new_folder("trade")
    name = f"trade-{seed}"
    line = [*result.rounds[0].call]
    for exchange in result.rounds:
        line += [SoloNote(n.onset + exchange.start_bar * TICKS_PER_BAR, n.duration, n.pitch) for n in exchange.answer]
    total = result.rounds[-1].start_bar + bars
    sheet = score_sheet(line, ChordChart([parsed.bars[b % parsed.num_bars] for b in range(total)]), 1, tempo, name)
    files = write_performance(midi, folder, name, f"Trading {bars}s in {key} (seed {seed})", sheet=sheet,
                              chart=sheet.chart)
    v.warn_all(files.notes)
    picture = attention_png(result, folder / f"{name}-attention.png", f"where each answer note looked (seed {seed})")
    reuse = [r.motif_reuse for r in result.rounds]
    shown = ", ".join("n/a" if r is None else f"{r:.0%}" for r in reuse)
    info = (f"**{len(call)}-note call**, {rounds} answer(s) of {bars} bars at {tempo:g} bpm, seed **{seed}**; "
            f"motifs taken from the call: {shown}" + (f" (listening at {listen:g})." if listen else "."))
    return str(files.wav), str(files.roll), picture, files.sheet_html, files.downloads, info


def build(cache: ModelCache) -> dict[str, Any]:
    """Lay out the Trade tab (inside an open ``gr.Tab``) and wire its action; returns its model dropdown."""
    with gr.Row():
        with gr.Column(scale=2):
            gr.HTML(KEYS_HTML, css_template=KEYBOARD_CSS, js_on_load=KEYBOARD_JS, elem_id="trade-keyboard",
                    apply_default_css=False)
            played = gr.Textbox(label="Your call as played (pitch, start, end in seconds)", lines=2, max_lines=4,
                                elem_id="trade-played")
            upload = gr.File(label="...or upload a call (MIDI or MusicXML)", file_types=CALL_TYPES,
                             elem_id="trade-upload")
        with gr.Column(scale=1):
            with gr.Row():
                form = gr.Dropdown(list(BLUES_FORMS), value="12-bar", label="Form")
                key = gr.Dropdown(list(NOTE_NAMES), value="F", label="Key")
            chart = gr.Textbox(value="12-bar", label="Chord chart", lines=2, info="a form name or bars: C7 | F7 | ...")
            tempo = gr.Slider(*TEMPO, value=140, step=1, label="Tempo (bpm)", elem_id="trade-tempo")
            with gr.Row():
                bars = gr.Slider(*BARS, value=4, step=1, label="Bars each", elem_id="trade-bars")
                rounds = gr.Slider(*ROUNDS, value=1, step=1, label="Answers")
            model = gr.Dropdown(cache.choices(TRADE), value=cache.default(TRADE, "trade"), label="Model",
                                allow_custom_value=True)
            temperature = gr.Slider(*TEMPERATURE, value=1.0, step=0.05, label="Temperature")
            listen = gr.Slider(*LISTEN, value=DEFAULT_LISTEN_LR, step=0.05, label="Listen to the call",
                               info="learn the call before answering (0: off); more takes up more of its figures",
                               elem_id="trade-listen")
            with gr.Row():
                seed, dice = seed_controls("trade-seed")
            go = gr.Button("Answer", variant="primary", elem_id="trade-go")
    info = gr.Markdown(elem_id="trade-info")
    audio = audio_player("Call and answer, with the band", "trade-audio")
    with gr.Row():
        roll = gr.Image(type="filepath", label="Piano roll (call and response in two colours)", interactive=False,
                        elem_id="trade-roll")
        attention = gr.Image(type="filepath", label="Attention: answer notes x call notes", interactive=False,
                             elem_id="trade-attention")
    downloads = gr.File(file_count="multiple", label="Downloads (MIDI, WAV, MusicXML)", interactive=False,
                        elem_id="trade-downloads")
    sheet = gr.HTML(label="Sheet music", elem_id="trade-sheet")
    form.change(lambda f: f, form, chart, api_name="trade_form", concurrency_limit=None)
    dice.click(v.random_seed, None, seed, api_name="trade_random_seed", concurrency_limit=None)

    @v.user_errors
    def answer(played: str, upload: Any, chart: str, key: str, tempo: float, bars: int, rounds: int, model: str,
               temperature: float, seed: Any, listen: float = DEFAULT_LISTEN_LR) -> tuple:
        return trade(cache, played, upload, chart, key, tempo, bars, rounds, model, temperature, seed, listen)

    # listen comes last: a gradio_client call written before it still works (the client fills in the slider's
    # default, so such a call now listens)
    go.click(answer, [played, upload, chart, key, tempo, bars, rounds, model, temperature, seed, listen],
             [audio, roll, attention, sheet, downloads, info], api_name="trade")
    return {"model": model}
