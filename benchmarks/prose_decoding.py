"""How decoding strategies change prose: repetition and diversity of greedy, beam, diverse beam and sampling.

For the same prompts and length, each strategy's continuation is measured at the word level:

* repetition: the share of the text's word 4-grams that repeat an earlier 4-gram of the same text (lower is better;
  greedy and beam search are known to loop);
* distinct-2: distinct word bigrams / all word bigrams (Li et al. 2016; higher is more varied);
* novelty: the share of the model's BPE 4-grams absent from its training text (the copy check).

    python benchmarks/prose_decoding.py [--model prose] [--length 120] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics

from studio.config import GenerationConfig
from studio.text.generator import Generator

PROMPTS = ["The history of the city", "In 1998, the band released", "The species is found in",
           "During the Second World War,", "The game received positive reviews"]

STRATEGIES = {
    "greedy": dict(greedy=True),
    "beam 5": dict(beams=5),
    "beam 5 + no-repeat 3-gram": dict(beams=5, no_repeat_ngram=3),
    "diverse beam 6 (3 groups, 0.5)": dict(beams=6, beam_groups=3, diversity=0.5),
    "sample, temperature 1.0": dict(temperature=1.0),
    "sample, temperature 0.7": dict(temperature=0.7),
    "sample, top-p 0.9": dict(temperature=1.0, top_p=0.9),
    "sample, top-p 0.9 + repetition penalty 1.2": dict(temperature=1.0, top_p=0.9, repetition_penalty=1.2),
}


def repetition(words: list[str], n: int = 4) -> float:
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


def distinct(words: list[str], n: int = 2) -> float:
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="prose")
    parser.add_argument("--length", type=int, default=120, help="BPE tokens per continuation")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    generator = Generator(args.model)
    rows = []
    for name, settings in STRATEGIES.items():
        reps, dists, novs = [], [], []
        for prompt in PROMPTS:
            result = generator.generate(prompt, GenerationConfig(length=args.length, seed=args.seed, **settings))
            words = result.texts[0][len(prompt):].split()
            reps.append(repetition(words))
            dists.append(distinct(words))
            if result.novelty[0] is not None:
                novs.append(result.novelty[0])
        rows.append({"strategy": name, "repetition_4gram": statistics.mean(reps),
                     "distinct_2": statistics.mean(dists),
                     "novelty": statistics.mean(novs) if novs else None})
    if args.json:
        print(json.dumps(rows))
        return
    print("| strategy | repeated 4-grams | distinct-2 | novelty |\n| --- | --- | --- | --- |")
    for r in rows:
        nov = "n/a" if r["novelty"] is None else f"{r['novelty']:.0%}"
        print(f"| {r['strategy']} | {r['repetition_4gram']:.1%} | {r['distinct_2']:.3f} | {nov} |")


if __name__ == "__main__":
    main()
