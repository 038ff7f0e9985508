"""Compose-and-render latency of the shipped blues model, the figure a musician waits for.

* one chorus: compose one 12-bar chorus (sampling) and render it with the full band to MIDI and WAV (FluidSynth);
  goal <= 2 s on the 2-core CPU;
* fifty choruses: compose 50 one-chorus takes as one batch and render each to MIDI and WAV; goal <= 60 s.

Medians of ``--reps`` repetitions for the single chorus; the batch runs once.

    python benchmarks/compose_speed.py [--model blues] [--reps 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from studio.config import GenerationConfig
from studio.music.band.render import render_midi
from studio.music.io.audio import write_wav
from studio.music.io.export import write_midi
from studio.music.leadsheet.composer import Composer, ComposeRequest
from studio.music.theory.chords import blues_chart


def compose_and_render(composer: Composer, n: int, folder: Path, seed: int) -> tuple[float, float]:
    """Seconds spent composing ``n`` choruses (one batch) and rendering them all to MIDI + WAV."""
    start = time.perf_counter()
    pieces = composer.compose(ComposeRequest(blues_chart("12-bar", "Bb"), tempo=120,
                                             config=GenerationConfig(temperature=0.9, num_samples=n, seed=seed)))
    composed = time.perf_counter()
    for i, piece in enumerate(pieces):
        midi = render_midi(piece.sheet, tempo=120, swing=0.62, seed=i, meta=piece.params)
        write_midi(midi, folder / f"take-{i}.mid")
        write_wav(midi, folder / f"take-{i}.wav")
    return composed - start, time.perf_counter() - composed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="blues")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    composer = Composer(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        compose_and_render(composer, 1, folder, seed=0)  # warm-up: imports, soundfont load, allocator
        singles = [compose_and_render(composer, 1, folder, seed=r + 1) for r in range(args.reps)]
        batch = compose_and_render(composer, args.batch, folder, seed=99)
    result = {"benchmark": "compose_speed", "model": args.model, "reps": args.reps,
              "one_chorus_compose_s": statistics.median(c for c, _ in singles),
              "one_chorus_render_s": statistics.median(r for _, r in singles),
              "one_chorus_total_s": statistics.median(c + r for c, r in singles),
              "batch": args.batch, "batch_compose_s": batch[0], "batch_render_s": batch[1],
              "batch_total_s": sum(batch)}
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:>22}: {value:.3f}" if isinstance(value, float) else f"{key:>22}: {value}")


if __name__ == "__main__":
    main()
