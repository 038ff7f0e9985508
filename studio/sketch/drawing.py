"""Watch DRAW draw: the canvas after each glimpse as PNG frames and an animated GIF.

A sketch draws ``count`` digits at once from the prior (latents from a seed), laid out in a grid; frame ``t`` shows
every canvas after glimpse ``t`` (white ink on black, as MNIST), with the box each write covered in red as in the
paper's figure 7. Frames are ``frame-01.png`` .. ``frame-T.png``; ``sketch.gif`` plays them and holds the finished
picture; ``sketch.json`` records the model, seed and settings, so the same seed draws the same digits.
"""

from __future__ import annotations

import json
import math
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from studio.config import check_range
from studio.models.draw import Draw

MAX_COUNT = 64
MAX_SCALE = 16
GAP = 2                     # pixels of border between the digits of the grid
BOX = (230, 40, 40)         # the write window's colour


@dataclass
class Sketch:
    """What ``draw_sketch`` made: one RGB PIL image a glimpse, and the seed that made them."""

    frames: list[Any]       # PIL.Image.Image, the grid after each glimpse
    seed: int
    count: int


def draw_sketch(model: Draw, count: int = 16, seed: int | None = None, scale: int = 4, boxes: bool = True) -> Sketch:
    """Draw ``count`` digits (1..64) with ``model``; ``scale`` (1..16) enlarges each pixel; ``seed`` None draws one."""
    from PIL import Image, ImageDraw

    check_range("count", count, 1, MAX_COUNT, integer=True)
    check_range("scale", scale, 1, MAX_SCALE, integer=True)
    if seed is None:
        seed = secrets.randbelow(2**31)
    check_range("seed", seed, 0, 2**63 - 1, integer=True)
    drawn = model.sample(count, torch.Generator().manual_seed(seed))
    canvases = drawn["canvases"].cpu()                                   # (T, count, H, W)
    windows = drawn["windows"].cpu() if boxes and drawn["windows"] is not None else None
    _, _, height, width = canvases.shape
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    cell_w, cell_h = width * scale + GAP, height * scale + GAP
    frames = []
    for t in range(canvases.shape[0]):
        grid = Image.new("RGB", (cols * cell_w + GAP, rows * cell_h + GAP), (60, 60, 60))
        pen = ImageDraw.Draw(grid)
        for i in range(count):
            x0, y0 = GAP + (i % cols) * cell_w, GAP + (i // cols) * cell_h
            pixels = (canvases[t, i] * 255).round().to(torch.uint8).numpy()
            digit = Image.fromarray(pixels, mode="L").resize((width * scale, height * scale), Image.NEAREST)
            grid.paste(digit.convert("RGB"), (x0, y0))
            if windows is not None:
                left, top, right, bottom = (float(v) for v in windows[t, i])
                box = [x0 + _clip(left, width) * scale, y0 + _clip(top, height) * scale,
                       x0 + _clip(right + 1, width) * scale - 1, y0 + _clip(bottom + 1, height) * scale - 1]
                if box[2] > box[0] and box[3] > box[1]:
                    pen.rectangle(box, outline=BOX)
        frames.append(grid)
    return Sketch(frames, seed, count)


def _clip(value: float, size: int) -> int:
    return round(min(max(value, 0.0), float(size)))


def write_sketch(model: Draw, out_dir: str | Path, count: int = 16, seed: int | None = None, scale: int = 4,
                 boxes: bool = True, frame_ms: int = 80, hold_ms: int = 1500, model_name: str = "") -> dict[str, Any]:
    """Draw a sketch and write its frames, GIF and record to ``out_dir``; returns the record (with file paths)."""
    check_range("frame_ms", frame_ms, 10, 10_000, integer=True)
    check_range("hold_ms", hold_ms, 10, 60_000, integer=True)
    sketch = draw_sketch(model, count, seed, scale, boxes)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    digits = len(str(len(sketch.frames)))
    paths = []
    for t, frame in enumerate(sketch.frames, start=1):
        path = out / f"frame-{t:0{digits}d}.png"
        frame.save(path)
        paths.append(path)
    gif = out / "sketch.gif"
    durations = [frame_ms] * (len(sketch.frames) - 1) + [hold_ms]
    # GIF frames are palette images; an adaptive palette per frame keeps the grey ramp and the red boxes.
    sketch.frames[0].save(gif, save_all=True, append_images=sketch.frames[1:], duration=durations, loop=0,
                          optimize=False, disposal=1)
    record = {"model": model_name, "seed": sketch.seed, "count": count, "scale": scale, "boxes": boxes,
              "glimpses": len(sketch.frames), "frames": [p.name for p in paths], "gif": gif.name}
    (out / "sketch.json").write_text(json.dumps(record, indent=2))
    return {**record, "frame_paths": paths, "gif_path": gif, "folder": out}


__all__ = ["MAX_COUNT", "Sketch", "draw_sketch", "write_sketch"]
