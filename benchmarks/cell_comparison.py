"""Recurrent cells compared in the manner of Chung et al. (2014) and Jozefowicz et al. (2015): tanh RNN, GRU, LSTM,
CP-LSTM (peepholes) and LN-LSTM (layer norm) at equal parameter counts and equal wall-clock budgets.

Tasks: tiny-shakespeare (character model, validation nats per character: the last 10% of the text, as Studio's
shipped model is scored), and the JSB Chorales and Nottingham piano rolls (test nats per frame of the model chosen on
validation), trained with the shipped top-down recipe (``scripts/train-jsb.sh``, ``scripts/train-folk.sh``: one
layer, each key reading the keys above it through 150 masked hidden units, dropout 0.5, AdamW 1e-2, batches of 8,
Nottingham length-bucketed, early stopping after 20 epochs without a better validation loss). Every cell of a task
gets the hidden size whose model has the parameter count nearest the reference LSTM's (``--text-lstm-hidden``,
``--roll-lstm-hidden``), the same hyper-parameters and the same ``--minutes`` (evaluations included), once per seed.
Throughput is tokens (characters or frames) trained per second of the whole run, evaluations included.

Each run is one process with one torch thread; ``--jobs`` runs that many side by side (one per core). The defaults
are the full comparison, for a machine with cores to spare::

    python benchmarks/cell_comparison.py --jobs 16 --json benchmarks/results/cell-comparison.json

and a reduced one names what it leaves out::

    python benchmarks/cell_comparison.py --tasks jsb --seeds 1,2,3 --minutes 2 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
CELLS = ("rnn", "gru", "lstm", "cplstm", "lnlstm")
NAMES = {"rnn": "tanh RNN", "gru": "GRU", "lstm": "LSTM", "cplstm": "CP-LSTM", "lnlstm": "LN-LSTM"}
TASKS = {"shakespeare": {"kind": "text", "unit": "nats/char", "data": "tinyshakespeare/input.txt"},
         "jsb": {"kind": "rolls", "unit": "nats/frame", "data": "polyphonic/json/jsb_chorales.json", "bucket": False},
         "nottingham": {"kind": "rolls", "unit": "nats/frame", "data": "polyphonic/json/nottingham.json",
                        "bucket": True}}
ROLL_RECIPE = {"layers": 1, "frame_hidden": 150, "dropout": 0.5, "lr": 1e-2, "weight_decay": 1e-4, "batch": 8,
               "patience": 20}


# -- equal parameter counts -------------------------------------------------------------------------------------------
def text_model_config(cell: str, hidden: int, vocab: int, args: argparse.Namespace) -> Any:
    from studio.config import ModelConfig

    return ModelConfig(vocab_size=vocab, cell=cell, num_layers=args.text_layers, embedding_size=args.text_embedding,
                       hidden_size=hidden, dropout_embedding=args.text_dropout, dropout_between=args.text_dropout,
                       dropout_output=args.text_dropout)


def roll_model_config(cell: str, hidden: int) -> Any:
    from studio.models.piano_roll import PianoRollConfig

    d = ROLL_RECIPE["dropout"]
    return PianoRollConfig(cell=cell, num_layers=ROLL_RECIPE["layers"], hidden_size=hidden, dropout_input=d / 2,
                           dropout_between=d, dropout_output=d, within_frame="top_down",
                           frame_hidden=ROLL_RECIPE["frame_hidden"])


def count_parameters(config: Any) -> int:
    """Parameters of the model ``config`` builds (built on the CPU: milliseconds at these sizes, and the meta device
    would first import torch's reference ops, seconds)."""
    from studio.models import PianoRollModel, RNNLanguageModel

    return (RNNLanguageModel if hasattr(config, "vocab_size") else PianoRollModel)(config).num_parameters()


def solve_hidden(make_config, target: int) -> int:
    """The hidden size whose model's parameter count is nearest ``target`` (counts grow with the hidden size)."""
    low, high = 1, 1
    while count_parameters(make_config(high)) < target:
        low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if count_parameters(make_config(mid)) < target else (low, mid)
    return min((low, high), key=lambda h: abs(count_parameters(make_config(h)) - target))


# -- one run -----------------------------------------------------------------------------------------------------------
def run_text(spec: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    from studio.config import TokenizerConfig, TrainConfig
    from studio.text.training import prepare_text
    from studio.training.trainer import Trainer

    data = prepare_text(Path(args.corpora, TASKS["shakespeare"]["data"]), TokenizerConfig(kind="char"), 0.1)
    vocab = data.tokenizer.vocab_size
    target = count_parameters(text_model_config("lstm", args.text_lstm_hidden, vocab, args))
    hidden = solve_hidden(lambda h: text_model_config(spec["cell"], h, vocab, args), target)
    mconf = text_model_config(spec["cell"], hidden, vocab, args)
    tconf = TrainConfig(batch_size=args.text_batch, seq_len=args.text_seq_len, lr=args.text_lr, warmup_steps=50,
                        max_steps=args.text_steps or 100_000_000, minutes=0.0 if args.text_steps else args.minutes,
                        eval_every=args.text_eval_every,
                        seed=spec["seed"], device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        result = Trainer(mconf, tconf, data.tokenizer, data.train, data.valid, Path(tmp) / "run",
                         card={"name": "cell-comparison"}).fit()
    tokens = result.steps * tconf.batch_size * tconf.seq_len
    return {"hidden": hidden, "parameters": count_parameters(mconf), "target_parameters": target,
            "score": result.best_metrics["valid_nats_per_token"] / data.valid_chars_per_token,
            "split": "valid (last 10%)", "steps": result.steps, "seconds": round(result.elapsed_s, 1),
            "tokens_per_s": round(tokens / result.elapsed_s, 1), "stop": result.stop_reason}


def run_rolls(spec: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    from studio.music.pianoroll.training import RollTrainConfig, evaluate_rolls, load_splits, train_piano_roll

    task = TASKS[spec["task"]]
    splits = load_splits(Path(args.corpora, task["data"]))
    target = count_parameters(roll_model_config("lstm", args.roll_lstm_hidden))
    hidden = solve_hidden(lambda h: roll_model_config(spec["cell"], h), target)
    mconf = roll_model_config(spec["cell"], hidden)
    tconf = RollTrainConfig(batch_size=ROLL_RECIPE["batch"], lr=ROLL_RECIPE["lr"],
                            weight_decay=ROLL_RECIPE["weight_decay"], max_epochs=500, minutes=args.minutes,
                            patience=ROLL_RECIPE["patience"], bucket=task["bucket"], seed=spec["seed"])
    result = train_piano_roll(mconf, tconf, splits["train"], splits["valid"])
    frames = sum(roll.shape[0] for roll in splits["train"]) * result.epochs
    return {"hidden": hidden, "parameters": result.model.num_parameters(), "target_parameters": target,
            "score": evaluate_rolls(result.model, splits["test"]), "valid": result.best_valid, "split": "test",
            "epochs": result.epochs, "best_epoch": result.best_epoch, "seconds": round(result.seconds, 1),
            "tokens_per_s": round(frames / result.seconds, 1), "stop": result.stop_reason}


def run_one(spec: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Train and score one (task, cell, seed) on one thread."""
    torch.set_num_threads(1)
    started = time.time()
    run = run_text if TASKS[spec["task"]]["kind"] == "text" else run_rolls
    row = {**spec, "unit": TASKS[spec["task"]]["unit"], **run(spec, args)}
    row["wall_s"] = round(time.time() - started, 1)
    return row


# -- the comparison ----------------------------------------------------------------------------------------------------
def summarise(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per task and cell: mean and sample standard deviation of the score over seeds, and mean throughput."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        out.setdefault(row["task"], {}).setdefault(row["cell"], []).append(row)
    for task, cells in out.items():
        for cell, runs in cells.items():
            scores = [r["score"] for r in runs]
            cells[cell] = {"seeds": len(runs), "hidden": runs[0]["hidden"], "parameters": runs[0]["parameters"],
                           "mean": statistics.mean(scores),
                           "std": statistics.stdev(scores) if len(scores) > 1 else None,
                           "tokens_per_s": statistics.mean(r["tokens_per_s"] for r in runs)}
        out[task] = cells
    return out


def table(summary: dict[str, dict[str, Any]], minutes: float) -> str:
    lines = [f"| task | cell | hidden | parameters | seeds | score (mean ± sd) | tokens/s | ({minutes:g} min a run) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for task, cells in summary.items():
        for cell in CELLS:
            if cell in cells:
                s = cells[cell]
                spread = f" ± {s['std']:.3f}" if s["std"] is not None else ""
                lines.append(f"| {task} | {NAMES[cell]} | {s['hidden']} | {s['parameters']:,} | {s['seeds']} | "
                             f"{s['mean']:.3f}{spread} {TASKS[task]['unit']} | {s['tokens_per_s']:,.0f} | |")
    return "\n".join(lines)


def report(r: dict[str, Any]) -> None:
    print(f"{r['task']} {r['cell']} seed {r['seed']}: {r['score']:.4f} {r['unit']} (hidden {r['hidden']}, "
          f"{r['parameters']:,} parameters, {r['tokens_per_s']:,.0f} tokens/s, {r['seconds']:.0f} s, {r['stop']})",
          flush=True)


def run_all(specs: list[dict[str, Any]], args: argparse.Namespace, argv: list[str]) -> list[dict[str, Any]]:
    """Every run as its own process (one thread each), ``args.jobs`` at a time; rows in the order of ``specs``.
    ``--jobs 0`` runs them one after another in this process instead (quicker to start, for tests)."""
    if args.jobs == 0:
        rows_here = []
        for spec in specs:
            rows_here.append(run_one(spec, args))
            report(rows_here[-1])
        return rows_here
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    pending, running, rows = list(enumerate(specs)), [], {}
    while pending or running:
        while pending and len(running) < args.jobs:
            index, spec = pending.pop(0)
            command = [sys.executable, __file__, *argv, "--one", json.dumps(spec)]
            running.append((index, spec, subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                                          stderr=subprocess.PIPE, text=True)))
        time.sleep(1)
        for entry in [e for e in running if e[2].poll() is not None]:
            running.remove(entry)
            index, spec, process = entry
            out, err = process.communicate()
            if process.returncode:
                raise SystemExit(f"run {spec} failed:\n{err[-3000:]}")
            rows[index] = json.loads(out.strip().splitlines()[-1])
            report(rows[index])
    return [rows[i] for i in range(len(specs))]


def merge(args: argparse.Namespace) -> None:
    """One summary of the runs of several result files (a run of the same task, cell and seed counted once)."""
    results = [json.loads(Path(path).read_text()) for path in args.merge]
    runs = {(r["task"], r["cell"], r["seed"]): r for result in results for r in result["runs"]}
    rows = [runs[key] for key in sorted(runs, key=lambda k: (k[0], CELLS.index(k[1]), k[2]))]
    budgets = sorted({result["minutes"] for result in results})
    summary = summarise(rows)
    print(table(summary, budgets[0] if len(budgets) == 1 else float("nan")))
    if args.json:
        merged = {"merged": list(args.merge), "commands": [result["command"] for result in results],
                  "minutes": budgets, "summary": summary, "runs": rows}
        Path(args.json).write_text(json.dumps(merged, indent=1))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="shakespeare,jsb,nottingham", help="comma-separated: " + ", ".join(TASKS))
    parser.add_argument("--cells", default=",".join(CELLS), help="comma-separated: " + ", ".join(CELLS))
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated seeds; every (task, cell) runs once each")
    parser.add_argument("--minutes", type=float, default=30.0, help="wall-clock budget of every run")
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs side by side, one process and thread each (0: one after another in this process)")
    parser.add_argument("--corpora", default=str(ROOT.parent / "shared" / "corpora"))
    parser.add_argument("--text-lstm-hidden", type=int, default=512,
                        help="the reference LSTM's hidden size; every text cell matches its parameter count")
    parser.add_argument("--text-layers", type=int, default=2)
    parser.add_argument("--text-embedding", type=int, default=64)
    parser.add_argument("--text-dropout", type=float, default=0.2)
    parser.add_argument("--text-batch", type=int, default=32)
    parser.add_argument("--text-seq-len", type=int, default=128)
    parser.add_argument("--text-lr", type=float, default=2e-3)
    parser.add_argument("--text-eval-every", type=int, default=200)
    parser.add_argument("--text-steps", type=int, default=0,
                        help="text runs train this many steps instead of for --minutes (equal steps, not equal time)")
    parser.add_argument("--roll-lstm-hidden", type=int, default=300,
                        help="the reference piano-roll LSTM's hidden size (the shipped jsb/folk models: 300)")
    parser.add_argument("--json", default="", help="write every run and the summary here")
    parser.add_argument("--merge", nargs="+", default=[], metavar="RESULT",
                        help="train nothing: summarise the runs of these result files together (e.g. the seeds of "
                             "two invocations)")
    parser.add_argument("--one", default="", help=argparse.SUPPRESS)  # a worker: run this one spec, print JSON
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.one:
        print(json.dumps(run_one(json.loads(args.one), args)))
        return
    if args.merge:
        merge(args)
        return
    tasks, cells = args.tasks.split(","), args.cells.split(",")
    unknown = sorted(set(tasks) - set(TASKS)) + sorted(set(cells) - set(CELLS))
    if unknown:
        raise SystemExit(f"unknown task or cell: {', '.join(unknown)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    # Seeds outermost, cells innermost: with jobs side by side, the cells of one seed share the machine's load alike.
    specs = [{"task": task, "cell": cell, "seed": seed} for task in tasks for seed in seeds for cell in cells]
    started = time.time()
    rows = run_all(specs, args, argv)
    summary = summarise(rows)
    print("\n" + table(summary, args.minutes))
    if args.json:
        result = {"command": " ".join(["python", "benchmarks/cell_comparison.py", *argv]),
                  "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
                  "torch": torch.__version__, "threads_per_run": 1, "jobs": args.jobs, "minutes": args.minutes,
                  "settings": {k: v for k, v in vars(args).items() if k not in ("one", "json")},
                  "roll_recipe": ROLL_RECIPE, "wall_s": round(time.time() - started), "summary": summary,
                  "runs": rows}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
