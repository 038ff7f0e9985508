"""The Neural Turing Machine against an LSTM of about its size on the paper's copy or associative-recall task.

    python benchmarks/ntm_tasks.py --task copy --minutes 40 --out runs/ntm-copy      # both runs, then the tables
    python benchmarks/ntm_tasks.py --task recall --minutes 60 --out runs/ntm-recall

Trains ``OUT/ntm`` and then ``OUT/lstm`` (``studio train ntm``'s loop, one after the other, each within
``--minutes`` and ``--max-steps``); run it again with the same arguments and it resumes each run where it stopped
(a finished run is only evaluated again). Then it scores both best models at the task's test sizes (copy: 10, 20,
40, 80, 120 vectors, trained on 1-20; recall: 6, 10, 12, 15, 20 items, trained on 2-6): bits of cross-entropy and
bit errors per sequence, and the share of sequences without an error, over the same seeded sequences for both, and
draws the NTM's read and write weightings over time (the paper's figure 6) at the longest training size and the
two longest test sizes. Writes ``OUT/result.json``, ``OUT/table.md`` and ``OUT/weightings-SIZE.png``; prints the
table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from studio.checkpoint import bundle_exists, read_bundle  # noqa: E402
from studio.memory.evaluation import evaluate_sizes, weightings_png  # noqa: E402
from studio.memory.tasks import get_task  # noqa: E402
from studio.memory.training import MachineTrainConfig, load_machine, train_machine  # noqa: E402

# An LSTM of about the NTM's parameters (copy: the NTM has 62,880, a 120-unit LSTM 63,848; recall, with its
# narrower inputs and outputs: 62,238 and 63,126).
LSTM_SHAPE = {"copy": {"hidden_size": 120}, "recall": {"hidden_size": 120}}


def train_both(args: argparse.Namespace, out: Path) -> dict[str, float]:
    """Train (or resume) the NTM and then the LSTM; returns each run's seconds."""
    seconds = {}
    for machine in ("ntm", "lstm"):
        run = out / machine
        config = MachineTrainConfig(batch_size=args.batch_size, lr=args.lr, max_steps=args.max_steps,
                                    minutes=args.minutes, eval_every=args.eval_every, seed=args.seed)
        resume = bundle_exists(run / "last")
        shape = LSTM_SHAPE[args.task] if machine == "lstm" else {}
        if args.controller and machine == "ntm":
            shape = {"controller_size": args.controller}
        started = time.perf_counter()

        def show(row: dict, machine: str = machine) -> None:
            print(f"{machine} step {row['step']}: train {row['train_bits_per_sequence']:.3f} bits/seq, valid "
                  f"{row['valid_bits_per_sequence']:.3f} bits/seq, {row['valid_bit_errors_per_sequence']:.2f} bit "
                  f"errors/seq ({row['elapsed_s']:.0f} s)", flush=True)

        train_machine(args.task, machine, run, shape, config, resume=resume, command=args.command, on_eval=show)
        seconds[machine] = time.perf_counter() - started
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="copy", choices=("copy", "recall"))
    parser.add_argument("--out", default=None, help="run folder (default runs/ntm-TASK)")
    parser.add_argument("--minutes", type=float, default=40.0, help="budget of each of the two runs (0: none)")
    parser.add_argument("--max-steps", type=int, default=20_000, help="steps of each run")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--controller", type=int, default=0, help="NTM controller units (0: the default 100)")
    parser.add_argument("--sequences", type=int, default=100, help="test sequences a size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared CPU)")
    args = parser.parse_args(argv)
    args.command = " ".join(["python benchmarks/ntm_tasks.py", *(sys.argv[1:] if argv is None else argv)])
    torch.set_num_threads(args.threads)
    out = Path(args.out or f"runs/ntm-{args.task}")
    seconds = train_both(args, out)
    task = get_task(args.task)
    result = {"task": task.name, "trained_on": list(task.train_sizes), "size_word": task.size_word,
              "threads": args.threads, "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
              "seconds_this_call": {k: round(v, 1) for k, v in seconds.items()}, "machines": {}}
    for machine in ("ntm", "lstm"):
        model, _, card = load_machine(out / machine / "best")
        last = read_bundle(out / machine / "last", with_state=True).state["loop"]["history"][-1]
        result["machines"][machine] = {
            "parameters": card["parameters"], "best_step": card["training"]["steps"],
            "train_seconds": card["training"]["seconds"], "valid": card["metrics"],
            "steps_run": last["step"], "seconds_run": last["elapsed_s"],
            "sizes": {str(k): v for k, v in evaluate_sizes(model, task, sequences=args.sequences).items()}}
        if machine == "ntm":
            result["pictures"] = {}
            for size in (task.train_sizes[1], *task.test_sizes[-2:]):
                picture = out / f"weightings-{size}.png"
                result["pictures"][str(size)] = {"file": picture.name,
                                                 **weightings_png(model, task, size, picture)}
    (out / "result.json").write_text(json.dumps(result, indent=2))
    table = render_table(result)
    (out / "table.md").write_text(table + "\n")
    print(table)
    return 0


def render_table(result: dict) -> str:
    """Markdown: one row per size, bit errors per sequence (and the share perfect) for each machine."""
    machines = result["machines"]
    head = " | ".join(f"{m.upper()} ({machines[m]['parameters']:,} params): bit errors/seq (perfect)"
                      for m in machines)
    lines = [f"| {result['size_word']} | {head} |", "| ---: |" + " ---: |" * len(machines)]
    for size in machines["ntm"]["sizes"]:
        cells = " | ".join(f"{machines[m]['sizes'][size]['bit_errors_per_sequence']:.2f} "
                           f"({machines[m]['sizes'][size]['perfect']:.0%})" for m in machines)
        trained = result["trained_on"][0] <= int(size) <= result["trained_on"][1]
        lines.append(f"| {size}{' (trained)' if trained else ''} | {cells} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
