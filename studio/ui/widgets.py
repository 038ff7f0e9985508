"""Controls several tabs share."""

from __future__ import annotations

import gradio as gr

from studio.ui.validation import MAX_SEED, RANDOM_SEED


def seed_controls(elem_id: str | None = None) -> tuple[gr.Number, gr.Button]:
    """A seed box (-1: a fresh seed each time, reported with the result) and a button that draws one to keep."""
    seed = gr.Number(value=RANDOM_SEED, precision=0, minimum=RANDOM_SEED, maximum=MAX_SEED, label="Seed",
                     info="-1: a new one each time", elem_id=elem_id)
    dice = gr.Button("Random seed", size="sm")
    return seed, dice


def audio_player(label: str, elem_id: str) -> gr.Audio:
    """An output audio player with the browser's own controls (no waveform drawn over the recording)."""
    return gr.Audio(type="filepath", label=label, interactive=False, elem_id=elem_id,
                    waveform_options=gr.WaveformOptions(show_recording_waveform=False))
