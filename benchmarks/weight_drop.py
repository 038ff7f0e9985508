"""Fine-tuning on a small folder of one's own writing, with and without weight drop (``--weight-drop``).

The setting a writer meets: the shipped 2x720 ``shakespeare`` model (6.5M parameters) fine-tuned on far fewer
characters than it can memorise. The stand-in for "my own writing" is the first ``--chars`` characters of WikiText-2
made readable (``studio.wikitext``): modern encyclopaedic prose, nothing like the base model's verse. Each run is
the real ``studio finetune`` command with the same steps, data and seed, differing only in ``--weight-drop``; runs go
side by side, one thread each. Reported per run: the base model's validation loss on the new text, the best
validation loss (and its step), and the last one (how far it fell back after its best).

    python benchmarks/weight_drop.py [--base shakespeare] [--chars 100000] [--steps 400] [--weight-drops 0,0.5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from studio.wikitext import detokenize_wikitext

ROOT = Path(__file__).resolve().parent.parent


def evaluations(run: Path) -> list[dict]:
    """The run's evaluation records, in step order."""
    lines = (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if r.get("kind") == "eval"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="shakespeare", help="the model to fine-tune")
    parser.add_argument("--corpus", default="../shared/corpora/wikitext-2/train.txt",
                        help="WikiText-style tokenized text (detokenized here), or plain text with --plain")
    parser.add_argument("--plain", action="store_true", help="the corpus is plain text: use it as it is")
    parser.add_argument("--chars", type=int, default=100_000, help="characters of the corpus to fine-tune on")
    parser.add_argument("--steps", type=int, default=400, help="fine-tuning steps of every run")
    parser.add_argument("--eval-every", type=int, default=25)
    parser.add_argument("--weight-drops", default="0,0.5", help="comma-separated --weight-drop values, one run each")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--out", default="runs/weight-drop")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    drops = [float(v) for v in args.weight_drops.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    source = Path(args.corpus).read_text(encoding="utf-8")
    text = (source if args.plain else detokenize_wikitext(source))[: args.chars]
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "my-writing.txt"
        corpus.write_text(text, encoding="utf-8")
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
        procs = []
        for drop in drops:
            run = out / f"weight-drop-{drop:g}"
            command = [sys.executable, "-m", "studio", "finetune", "--base", args.base, "--corpus", str(corpus),
                       "--out", str(run), "--weight-drop", str(drop), "--max-steps", str(args.steps),
                       "--eval-every", str(args.eval_every), "--patience", "0", "--batch-size", str(args.batch_size),
                       "--seq-len", str(args.seq_len), "--seed", "1", "--samples", "0", "--device", "cpu"]
            log = open(out / f"weight-drop-{drop:g}.log", "w")  # noqa: SIM115 (closed when the run ends)
            procs.append((drop, run, log, subprocess.Popen(command, cwd=ROOT, env=env, stdout=log,
                                                           stderr=subprocess.STDOUT)))
        for drop, run, log, proc in procs:
            code = proc.wait()
            log.close()
            if code != 0:
                raise SystemExit(f"--weight-drop {drop:g}: fine-tuning failed, see {out / (run.name + '.log')}")
    rows = []
    for drop, run, _, _ in procs:
        evals = evaluations(run)
        best = min(evals, key=lambda r: r["valid_nats_per_token"])
        base = json.loads((run / "best" / "model.json").read_text(encoding="utf-8"))["base_valid"]
        rows.append({"weight_drop": drop, "base_valid": base["valid_nats_per_token"],
                     "best_valid": best["valid_nats_per_token"], "best_step": best["step"],
                     "last_valid": evals[-1]["valid_nats_per_token"], "last_step": evals[-1]["step"]})
    result = {"benchmark": "weight_drop", "base": args.base, "chars": len(text), "steps": args.steps,
              "batch": f"{args.batch_size}x{args.seq_len}", "runs": rows}
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.base} fine-tuned on {len(text):,} characters; {args.steps} steps of {result['batch']}")
    print("\n| --weight-drop | base model | best validation nats/token (step) | last (step) |")
    print("| --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['weight_drop']:g} | {r['base_valid']:.3f} | {r['best_valid']:.3f} ({r['best_step']}) | "
              f"{r['last_valid']:.3f} ({r['last_step']}) |")


if __name__ == "__main__":
    main()
