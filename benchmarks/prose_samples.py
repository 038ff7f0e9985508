"""Does the prose model write text a reader accepts? Twenty samples, read for WikiText's scaffolding.

    python benchmarks/prose_samples.py --model prose --samples 20 --length 200 --temperatures 0.8,1.0

Each sample starts from nothing (the model's own start of a passage) and is read twice: as the model wrote it
(``--raw``) and as ``studio write`` shows it (``studio.text.tidy``: ended at the last whole sentence, headings that
no text follows dropped). Counted per sample: a heading with no text after it (stacked on another heading, empty, or
at the end), a text that stops mid-sentence, WikiText artefacts (``<unk>``, ``@-@``/``@,@``/``@.@``, a space before
punctuation), and the words kept.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio.config import GenerationConfig  # noqa: E402
from studio.text.generator import GenerationRequest, Generator  # noqa: E402
from studio.text.tidy import empty_headings, last_sentence_end  # noqa: E402

ARTEFACT = re.compile(r"<unk>|@[-,.]@| [,.;:!?)]")


def read(texts: list[str]) -> dict[str, float]:
    """Shares of samples with each problem, and the mean words a sample."""
    n = len(texts)
    unfinished = sum(last_sentence_end(t, finished=True) != len(t.rstrip()) for t in texts)
    return {"samples": n,
            "with_empty_heading": sum(empty_headings(t) > 0 for t in texts) / n,
            "stopping_mid_sentence": unfinished / n,
            "with_artefacts": sum(ARTEFACT.search(t) is not None for t in texts) / n,
            "words": sum(len(t.split()) for t in texts) / n}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="prose")
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--length", type=int, default=200, help="tokens a sample")
    parser.add_argument("--temperatures", default="0.8,1.0")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", default=None)
    parser.add_argument("--show", type=int, default=0, help="print the first N tidied samples of each temperature")
    args = parser.parse_args(argv)
    generator = Generator(args.model)
    rows = {}
    for temperature in (float(t) for t in args.temperatures.split(",")):
        config = GenerationConfig(length=args.length, temperature=temperature, num_samples=args.samples,
                                  seed=args.seed)
        raw = generator.generate(GenerationRequest("", config, raw=True)).texts
        tidy = generator.generate(GenerationRequest("", config)).texts  # the same draws (same seed), tidied
        rows[str(temperature)] = {"raw": read(raw), "tidy": read(tidy), "examples": tidy[: args.show]}
    print(f"{args.model}: {args.samples} samples of {args.length} tokens a temperature, seed {args.seed}")
    print(f"{'temperature':>11s} {'text':>5s} {'empty heading':>13s} {'mid-sentence':>12s} {'artefacts':>9s} "
          f"{'words':>6s}")
    for temperature, row in rows.items():
        for kind in ("raw", "tidy"):
            r = row[kind]
            print(f"{temperature:>11s} {kind:>5s} {r['with_empty_heading']:13.0%} {r['stopping_mid_sentence']:12.0%} "
                  f"{r['with_artefacts']:9.0%} {r['words']:6.1f}")
        for example in row["examples"]:
            print("\n" + example.strip() + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps({"settings": vars(args), "temperatures": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
