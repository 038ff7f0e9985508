"""Fine-tuning on a small folder of one's own writing, with and without weight drop (``--weight-drop``).

The setting a writer meets: the shipped 2x720 ``shakespeare`` model (6.5M parameters) fine-tuned on far fewer
characters than it can memorise. The stand-in for "my own writing" is the first ``--chars`` characters of WikiText-2
made readable (``studio.text.wikitext``): modern encyclopaedic prose, nothing like the base model's verse. Each run is
the real ``studio finetune`` command with the same steps, data and seed, differing only in ``--weight-drop``; runs go
side by side, one thread each (``--seeds`` repeats each setting with other seeds). Reported per run: the base
model's validation loss on the new text, the best validation loss (and its step: ``best/`` is what a user keeps),
the last one (how far it fell back after its best), and the training loss over the last 50 steps (how far below
validation it went). The JSON (``--json``, and always OUT/result.json) holds every evaluation too.

    python benchmarks/weight_drop.py [--base shakespeare] [--chars 100000] [--steps 400] [--weight-drops 0,0.5]
                                     [--seeds 1] [--jobs 2] [--out runs/weight-drop-CHARS]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from studio.text.wikitext import detokenize_wikitext

ROOT = Path(__file__).resolve().parent.parent


def records(run: Path, kind: str) -> list[dict]:
    """The run's metrics.jsonl records of one kind ("eval" or "step"), in step order."""
    lines = (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if r.get("kind") == kind]


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
    parser.add_argument("--seeds", default="1", help="comma-separated seeds; every setting runs once per seed")
    parser.add_argument("--jobs", type=int, default=2, help="runs side by side (one thread each)")
    parser.add_argument("--out", default=None,
                        help="folder of the runs, emptied first (default runs/weight-drop-CHARS)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    drops = [float(v) for v in args.weight_drops.split(",")]
    seeds = [int(v) for v in args.seeds.split(",")]
    out = Path(args.out or f"runs/weight-drop-{args.chars}").resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    base = str(Path(args.base).resolve()) if Path(args.base).exists() else args.base  # a folder, or a model name
    source = Path(args.corpus).read_text(encoding="utf-8")
    text = (source if args.plain else detokenize_wikitext(source))[: args.chars]
    settings = [(drop, seed) for seed in seeds for drop in drops]
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "my-writing.txt"
        corpus.write_text(text, encoding="utf-8")
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
        pending, running = list(settings), []
        while pending or running:
            while pending and len(running) < args.jobs:
                drop, seed = pending.pop(0)
                run = out / name_of(drop, seed)
                command = [sys.executable, "-m", "studio", "finetune", "--base", base, "--corpus", str(corpus),
                           "--out", str(run), "--weight-drop", str(drop), "--max-steps", str(args.steps),
                           "--eval-every", str(args.eval_every), "--patience", "0", "--batch-size",
                           str(args.batch_size), "--seq-len", str(args.seq_len), "--seed", str(seed), "--samples",
                           "0", "--device", "cpu"]
                log = open(out / f"{run.name}.log", "w")  # noqa: SIM115 (closed when the run ends)
                running.append((run, log, subprocess.Popen(command, cwd=ROOT, env=env, stdout=log,
                                                           stderr=subprocess.STDOUT)))
            run, log, proc = running.pop(0)
            code = proc.wait()
            log.close()
            if code != 0:
                raise SystemExit(f"{run.name}: fine-tuning failed, see {out / (run.name + '.log')}")
    rows = []
    for drop, seed in settings:
        run = out / name_of(drop, seed)
        evals, steps = records(run, "eval"), records(run, "step")
        best = min(evals, key=lambda r: r["valid_nats_per_token"])
        base_valid = json.loads((run / "best" / "model.json").read_text(encoding="utf-8"))["base_valid"]
        late = [r["loss"] for r in steps if r["step"] > args.steps - 50]
        rows.append({"weight_drop": drop, "seed": seed, "base_valid": base_valid["valid_nats_per_token"],
                     "best_valid": best["valid_nats_per_token"], "best_step": best["step"],
                     "last_valid": evals[-1]["valid_nats_per_token"], "last_step": evals[-1]["step"],
                     "late_train_loss": statistics.mean(late) if late else None,
                     "evaluations": [[r["step"], round(r["valid_nats_per_token"], 5)] for r in evals]})
    result = {"benchmark": "weight_drop", "base": args.base, "chars": len(text), "steps": args.steps,
              "batch": f"{args.batch_size}x{args.seq_len}", "command": " ".join(["python", *sys.argv]),
              "torch": __import__("torch").__version__, "runs": rows}
    (out / "result.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.base} fine-tuned on {len(text):,} characters; {args.steps} steps of {result['batch']}")
    print("\n| --weight-drop | seed | base model | best validation (step) | last validation | training, last 50 steps"
          " |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        late = "" if r["late_train_loss"] is None else f"{r['late_train_loss']:.3f}"
        print(f"| {r['weight_drop']:g} | {r['seed']} | {r['base_valid']:.3f} | {r['best_valid']:.3f} "
              f"({r['best_step']}) | {r['last_valid']:.3f} | {late} |")
    for drop in drops:
        bests = [r["best_valid"] for r in rows if r["weight_drop"] == drop]
        print(f"--weight-drop {drop:g}: best validation, mean of {len(bests)}: {statistics.mean(bests):.4f}")


def name_of(drop: float, seed: int) -> str:
    """A run's folder name, e.g. weight-drop-0.5-seed-1."""
    return f"weight-drop-{drop:g}-seed-{seed}"


if __name__ == "__main__":
    main()
