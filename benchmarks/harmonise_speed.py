"""How long harmonising one chorale melody takes with piano-roll models, as medians and ratios from one run.

The soprano of Bach's BWV 66.6 (music21's corpus, 36 quarter-note frames) is harmonised the way the CLI and the page
do it (32 particles, four parts, temperature 1) by each model in turn; repetitions alternate between the models so
machine noise hits all alike. A top-down model (``--within-frame top_down``) draws each frame key by key, 88 small
steps instead of one; this measures what that costs a user.

    python benchmarks/harmonise_speed.py --models jsb,PATH_TO_AN_INDEPENDENT_KEYS_MODEL [--reps 7] [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import time

import torch
from music21 import corpus, stream

from studio.music.io.midi import score_to_midi
from studio.music.pianoroll.compose import RollRequest, compose_rolls, load_roll_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="jsb", help="comma-separated shipped names or model folders")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--particles", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    soprano = score_to_midi(stream.Score([copy.deepcopy(corpus.parse("bach/bwv66.6").parts[0])]))
    models = {name: load_roll_model(name) for name in args.models.split(",")}
    seconds: dict[str, list[float]] = {name: [] for name in models}
    frames = 0
    for rep in range(args.reps + 1):  # the first round warms up and is not counted
        for name, model in models.items():
            request = RollRequest(seed=rep, particles=args.particles, max_notes=4, min_notes=4)
            start = time.perf_counter()
            piece = compose_rolls(model, request, melody=soprano)[0]
            if rep:
                seconds[name].append(time.perf_counter() - start)
            frames = piece.new_frames
    first = next(iter(models))
    rows = [{"model": name, "within_frame": models[name].model.config.within_frame,
             "median_s": statistics.median(s), "ms_per_frame": 1000 * statistics.median(s) / frames,
             "ratio_to_first": statistics.median(s) / statistics.median(seconds[first])}
            for name, s in seconds.items()]
    print(json.dumps({"machine": platform.processor() or platform.machine(), "threads": args.threads,
                      "frames": frames, "particles": args.particles, "reps": args.reps, "rows": rows}, indent=1))
    print(f"\n| model | keys | median seconds ({frames} frames, {args.particles} particles) | ms per frame | "
          f"ratio to {first} |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['model']} | {r['within_frame']} | {r['median_s']:.3f} | {r['ms_per_frame']:.1f} | "
              f"{r['ratio_to_first']:.2f} |")


if __name__ == "__main__":
    main()
