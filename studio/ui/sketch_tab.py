"""The Sketch tab: watch a DRAW model draw digits, glimpse by glimpse.

``sketch`` is the whole action (validate, draw from the model's prior with a seed, write the frames and the GIF
with ``studio.sketch.drawing.write_sketch``), as ``studio sketch`` does; ``build`` lays out the controls and wires
them. Out come the animated GIF, every frame in a gallery (the canvas after each glimpse, the red box where it
wrote), and the files to download.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from studio.errors import StudioError
from studio.ui import validation as v
from studio.ui.model_cache import DRAW, ModelCache
from studio.ui.widgets import seed_controls
from studio.ui.workspace import new_folder

COUNT = (1, 64)
SCALE = 4
NO_MODEL = ("no DRAW model on this server yet: train one with `studio train draw --data "
            "../shared/corpora/binarized-mnist/binarized_mnist.npz` (it appears here when its first evaluation is "
            "saved)")


def model_choices(cache: ModelCache) -> list[tuple[str, str]]:
    return cache.choices(DRAW)


def model_help(cache: ModelCache, value: Any) -> str:
    """A line on the chosen model: its glimpses and its test bound, from its card."""
    from studio.loading import describe

    if not value:
        return NO_MODEL
    try:
        entry = cache.entry(DRAW, value)
    except StudioError as err:
        return str(err)
    return f"{entry.label}: {describe(entry.card)}"


def sketch(cache: ModelCache, model: Any, count: Any, seed: Any, boxes: Any) -> tuple:
    """Draw. Returns (GIF path, gallery of (frame path, caption), files to download, info)."""
    from studio.sketch.drawing import write_sketch

    if not model:
        raise StudioError(NO_MODEL)
    count = v.number("digits", count, *COUNT, integer=True)
    seed = v.seed(seed)
    boxes = v.flag("boxes", boxes)
    drawer = cache.drawer(model)
    name = cache.entry(DRAW, model).short_name("draw")
    record = write_sketch(drawer, new_folder("sketch"), count=count, seed=seed, scale=SCALE, boxes=boxes,
                          model_name=name)
    frames = [(str(p), f"glimpse {t}") for t, p in enumerate(record["frame_paths"], start=1)]
    info = (f"{count} digit{'s' if count != 1 else ''} drawn by {name} in {record['glimpses']} glimpses "
            f"(seed {record['seed']})")
    return str(record["gif_path"]), frames, [str(record["gif_path"]), *map(str, record["frame_paths"])], info


def build(cache: ModelCache) -> dict[str, Any]:
    """Lay out the Sketch tab (inside an open ``gr.Tab``) and wire its action; returns its model dropdown."""
    choices = model_choices(cache)
    first = cache.default(DRAW, "draw")
    with gr.Row():
        with gr.Column():
            model = gr.Dropdown(choices, value=first, label="Model", allow_custom_value=True, elem_id="sketch-model")
            about = gr.Markdown(model_help(cache, first), elem_id="sketch-model-help")
            count = gr.Slider(*COUNT, value=16, step=1, label="Digits", info="drawn at once, in a grid",
                              elem_id="sketch-count")
            boxes = gr.Checkbox(value=True, label="Show where each glimpse wrote (red box)", elem_id="sketch-boxes")
            with gr.Row():
                seed, dice = seed_controls("sketch-seed")
            go = gr.Button("Draw", variant="primary", elem_id="sketch-go")
        with gr.Column():
            gif = gr.Image(type="filepath", label="Drawing (animated)", interactive=False, elem_id="sketch-gif")
    info = gr.Markdown(elem_id="sketch-info")
    frames = gr.Gallery(label="The canvas after each glimpse", columns=8, height="auto", elem_id="sketch-frames")
    files = gr.File(label="GIF and frames", file_count="multiple", interactive=False, elem_id="sketch-files")

    dice.click(v.random_seed, None, seed, api_name="sketch_random_seed", concurrency_limit=None)
    model.change(lambda value: model_help(cache, value), model, about, api_name="sketch_model_help",
                 concurrency_limit=None)

    @v.user_errors
    def draw(model: str, count: int, seed: Any, boxes: bool = True) -> tuple:
        return sketch(cache, model, count, seed, boxes)

    go.click(draw, [model, count, seed, boxes], [gif, frames, files, info], api_name="sketch")
    return {"model": model, "help": about}
