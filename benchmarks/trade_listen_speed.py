"""What listening to the call costs in time: one 4-bar answer by the shipped ``trade`` model to a 4-bar call, with
and without listening (``studio.music.trade.listening``), medians of interleaved runs in the same process.

    OMP_NUM_THREADS=1 python benchmarks/trade_listen_speed.py --runs 15
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio.config import GenerationConfig  # noqa: E402
from studio.music.jazz.corpus import SoloNote  # noqa: E402
from studio.music.theory.chords import blues_chart  # noqa: E402
from studio.music.trade.listening import DEFAULT_LISTEN_LR, DEFAULT_LISTEN_STEPS  # noqa: E402
from studio.music.trade.responder import Responder, TradeRequest  # noqa: E402

# 2 bars of eighths, then 2 of notes a dotted eighth apart: 26 notes, about as many as a real 4-bar call (25 on
# average in the test pairs)
CALL = [SoloNote(t, 6, 62 + (t // 6 * 5) % 14) for t in range(0, 96, 6)] + \
       [SoloNote(96 + t, 12, 67 - (t // 12 * 3) % 10) for t in range(0, 96, 9) if t + 12 <= 96]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="trade")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    responder = Responder(args.model)
    chart = blues_chart("12-bar", "F")
    times: dict[str, list[float]] = {"plain": [], "listening": []}
    for run in range(args.runs + 1):  # the first round warms up and is not counted
        for name, listen in (("plain", 0.0), ("listening", DEFAULT_LISTEN_LR)):
            request = TradeRequest(CALL, chart, 4, 1, GenerationConfig(temperature=1.0, seed=run), listen=listen,
                                   listen_steps=DEFAULT_LISTEN_STEPS)
            started = time.perf_counter()
            responder.trade(request)
            if run:
                times[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"{len(CALL)}-note call, {args.runs} runs each: answer {medians['plain'] * 1000:.0f} ms, listening first "
          f"{medians['listening'] * 1000:.0f} ms (x{medians['listening'] / medians['plain']:.2f})")
    if args.json:
        Path(args.json).write_text(json.dumps({"call_notes": len(CALL), "runs": args.runs, "median_s": medians,
                                               "listen_lr": DEFAULT_LISTEN_LR, "listen_steps": DEFAULT_LISTEN_STEPS},
                                              indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
