"""Generation speed of the shipped Shakespeare model, as ratios measured in one run.

Four contenders produce the same number of new tokens after the same one-character prompt:

* ``naive``: the loop a user would write first — ``model(token, state)`` per token under ``torch.no_grad`` with
  default torch settings (oneDNN on), softmax, multinomial;
* ``single``: ``Generator.generate`` for one sample;
* ``batch64``: ``Generator.generate`` for 64 samples at once (tokens/s counts all 64);
* ``beam8``: ``Generator.generate`` with an 8-wide beam (its wall time is compared with ``single``'s).

Repetitions alternate between contenders so machine noise hits all alike; medians are reported with the ratios
the generation issue sets goals for: single >= 2x naive, batch64 >= 20x single, beam8 <= 2.5x single's wall time.

    python benchmarks/generation_speed.py [--length 300] [--reps 5] [--threads N] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from studio.config import GenerationConfig
from studio.text.generator import Generator


def naive_loop(model: torch.nn.Module, first_token: int, length: int, temperature: float = 0.8) -> float:
    """Seconds for ``length`` tokens from the loop a newcomer writes."""
    token = torch.tensor([[first_token]])
    state = None
    start = time.perf_counter()
    with torch.no_grad():
        for _ in range(length):
            logits, state = model(token, state)
            probs = torch.softmax(logits[0, -1] / temperature, dim=-1)
            token = torch.multinomial(probs, 1)[None]
    return time.perf_counter() - start


def timed(generator: Generator, **settings) -> float:
    start = time.perf_counter()
    generator.generate("A", GenerationConfig(seed=1, **settings))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="shakespeare")
    parser.add_argument("--length", type=int, default=300, help="new tokens per run")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    generator = Generator(args.model)
    model = generator.loaded.model
    first = generator.tokenizer.encode("A")[0]
    n = args.length
    times: dict[str, list[float]] = {"naive": [], "single": [], "batch64": [], "beam8": []}
    timed(generator, length=20)  # warm-up
    for _ in range(args.reps):
        times["naive"].append(naive_loop(model, first, n))
        times["single"].append(timed(generator, length=n))
        times["batch64"].append(timed(generator, length=n, num_samples=64))
        times["beam8"].append(timed(generator, length=n, beams=8))
    median = {k: statistics.median(v) for k, v in times.items()}
    rate = {"naive": n / median["naive"], "single": n / median["single"], "batch64": 64 * n / median["batch64"]}
    result = {
        "benchmark": "generation_speed", "model": args.model, "tokens": n, "reps": args.reps,
        "machine": platform.machine(), "threads": torch.get_num_threads(), "torch": torch.__version__,
        "naive_tokens_per_s": rate["naive"], "single_tokens_per_s": rate["single"],
        "batch64_tokens_per_s": rate["batch64"], "beam8_seconds": median["beam8"],
        "single_seconds": median["single"],
        "single_over_naive": rate["single"] / rate["naive"],
        "batch64_over_single": rate["batch64"] / rate["single"],
        "beam8_time_over_single": median["beam8"] / median["single"],
    }
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:>24}: {value:,.3f}" if isinstance(value, float) else f"{key:>24}: {value}")


if __name__ == "__main__":
    main()
