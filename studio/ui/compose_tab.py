"""The Compose tab: continue a primer (or start a piece) with a polyphonic model such as the Bach chorales.

``compose_music`` samples with ``studio.poly_training.continue_primer`` (the service ``studio compose --primer``
uses) and writes MIDI, WAV and a piano roll.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from studio.ui import validation as v
from studio.ui.model_cache import POLYPHONIC, ModelCache
from studio.ui.widgets import seed_controls
from studio.ui.workspace import new_folder, safe_name

PRIMER_TYPES = (".mid", ".midi", ".musicxml", ".xml")
MAX_PRIMER_BYTES = 2_000_000
TOKENS = (16, 2000)
TEMPERATURE = (0.05, 2.0)
TOP_K = (0, 200)
TOP_P = (0.05, 1.0)


def compose_music(cache: ModelCache, model: str, primer: Any, tokens: int, temperature: float, top_k: int,
                  top_p: float, seed: Any) -> tuple:
    """Continue ``primer`` (None: start a piece). Returns (wav, piano roll png, midi download, info)."""
    from studio.config import GenerationConfig
    from studio.poly_training import continue_primer
    from studio.ui.music_files import write_performance

    entry = cache.entry(POLYPHONIC, model)
    primer_path = v.upload("primer", primer, PRIMER_TYPES, MAX_PRIMER_BYTES) if primer else None
    tokens = v.number("length (tokens)", tokens, *TOKENS, integer=True)
    temperature = v.number("temperature", temperature, *TEMPERATURE)
    top_k = v.number("top-k", top_k, *TOP_K, integer=True)
    top_p = v.number("top-p", top_p, *TOP_P)
    seed = v.seed(seed)
    config = GenerationConfig(temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
    piece = continue_primer(entry.path, primer_path, tokens, config)[0]
    notes = sum(len(instrument.notes) for instrument in piece.midi.instruments)
    if notes == 0:
        gr.Warning("the model wrote no notes this time; try another seed, more tokens or a primer")
        return None, None, None, f"seed **{seed}**: no notes; nothing to play."
    name = safe_name(Path(str(model)).name, "piece")
    title = f"{name}, seed {seed}" + (f", after {primer_path.name}" if primer_path else "")
    files = write_performance(piece.midi, new_folder("compose"), f"{name}-{seed}", title)
    v.warn_all(files.notes)
    info = (f"**{name}**, seed **{seed}**: {notes} notes, {piece.midi.get_end_time():.1f} s"
            + (f", continuing {primer_path.name} ({piece.params['primer_tokens']} primer tokens)." if primer_path
               else "."))
    return str(files.wav), str(files.roll), str(files.midi), info


def build(cache: ModelCache) -> dict[str, Any]:
    """Lay out the Compose tab (inside an open ``gr.Tab``) and wire its actions; returns its model dropdown."""
    with gr.Row():
        with gr.Column():
            model = gr.Dropdown(cache.choices(POLYPHONIC), value=cache.default(POLYPHONIC, "chorale"),
                                label="Model", allow_custom_value=True)
            primer = gr.File(label="Primer (MIDI or MusicXML, optional)", file_types=list(PRIMER_TYPES),
                             file_count="single", type="filepath")
            tokens = gr.Slider(*TOKENS, value=400, step=1, label="Length (tokens)")
        with gr.Column():
            temperature = gr.Slider(*TEMPERATURE, value=0.9, step=0.05, label="Temperature")
            top_k = gr.Slider(*TOP_K, value=0, step=1, label="Top-k", info="0: off")
            top_p = gr.Slider(*TOP_P, value=0.95, step=0.01, label="Top-p")
            with gr.Row():
                seed, dice = seed_controls("compose-seed")
            go = gr.Button("Compose", variant="primary", elem_id="compose-go")
    info = gr.Markdown()
    audio = gr.Audio(type="filepath", label="Audio", interactive=False, elem_id="compose-audio",
                     waveform_options=gr.WaveformOptions(show_recording_waveform=False))  # the browser's player
    roll = gr.Image(type="filepath", label="Piano roll", interactive=False)
    midi = gr.File(label="MIDI", interactive=False)

    dice.click(v.random_seed, None, seed, api_name="compose_random_seed", concurrency_limit=None)

    @v.user_errors
    def compose(model: str, primer: Any, tokens: int, temperature: float, top_k: int, top_p: float,
                seed: Any) -> tuple:
        return compose_music(cache, model, primer, tokens, temperature, top_k, top_p, seed)

    go.click(compose, [model, primer, tokens, temperature, top_k, top_p, seed], [audio, roll, midi, info],
             api_name="compose_music")
    return {"model": model}
