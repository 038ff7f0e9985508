"""How long one chorus of a jazz solo with the band takes, from asking to MIDI and WAV on disk.

    python benchmarks/jazz_render_speed.py --runs 7

The model is loaded once (as the page and ``studio compose`` keep it); each run improvises one chorus of a 12-bar
blues in Bb at 160 bpm (a new seed each run), performs it with walking bass, piano and drums, and writes the MIDI
file and the WAV (FluidSynth with the General MIDI soundfont, as installed). Prints the median and range of each
part and of the whole, in seconds, with the machine's thread count.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from studio.config import GenerationConfig  # noqa: E402
from studio.music.io.audio import write_wav  # noqa: E402
from studio.music.io.export import write_midi  # noqa: E402
from studio.music.jazz.performance import perform  # noqa: E402
from studio.music.jazz.soloist import Soloist, SoloRequest  # noqa: E402
from studio.music.theory.chords import blues_chart  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="jazz")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--tempo", type=float, default=160.0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    soloist = Soloist(args.model)
    chart = blues_chart("12-bar", "Bb")
    parts: dict[str, list[float]] = {"improvise": [], "perform": [], "midi": [], "wav": [], "total": []}
    with tempfile.TemporaryDirectory() as folder:
        for run in range(args.runs + 1):  # the first run warms caches (FluidSynth, the soundfont) and is not counted
            start = time.perf_counter()
            solo = soloist.improvise(SoloRequest(chart, 1, args.tempo, config=GenerationConfig(seed=run)))[0]
            t1 = time.perf_counter()
            midi = perform(solo.notes, chart, 1, args.tempo, seed=run)
            t2 = time.perf_counter()
            write_midi(midi, Path(folder) / f"{run}.mid")
            t3 = time.perf_counter()
            write_wav(midi, Path(folder) / f"{run}.wav")
            t4 = time.perf_counter()
            if run:
                for name, seconds in zip(parts, (t1 - start, t2 - t1, t3 - t2, t4 - t3, t4 - start), strict=True):
                    parts[name].append(seconds)
    print(f"one chorus (12 bars at {args.tempo:g} bpm, {12 * 4 * 60 / args.tempo:.1f} s of music) with the band, "
          f"{args.runs} runs, torch threads {torch.get_num_threads()}")
    for name, values in parts.items():
        print(f"{name:>10}: median {statistics.median(values):.3f} s (min {min(values):.3f}, max {max(values):.3f})")
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": args.runs, "tempo": args.tempo, "seconds": parts}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
