"""``studio train ntm``: the Neural Turing Machine (or the LSTM beside it) on the copy or associative-recall task
(``studio.memory``)."""

from __future__ import annotations

import argparse

from studio.cli.common import add_block_options, block_settings


def add_parser(train_sub: argparse._SubParsersAction) -> None:
    """``studio train ntm`` and its options (each with its valid range)."""
    p = train_sub.add_parser("ntm", help="train a Neural Turing Machine (or the LSTM baseline) on the copy or "
                             "associative-recall task of Graves et al. 2014")
    p.add_argument("--task", default="copy", help="copy (8-bit vectors, trained on 1-20) or recall (items of three "
                   "6-bit vectors, trained on 2-6 items) (default copy)")
    p.add_argument("--machine", default="ntm", help="ntm or lstm (the baseline) (default ntm)")
    p.add_argument("--out", default=None, help="run folder (default runs/ntm-TASK-MACHINE)")
    p.add_argument("--controller", type=int, default=100, help="ntm: LSTM controller units, 1..65536 (default 100)")
    p.add_argument("--memory-rows", type=int, default=128, help="ntm: memory locations N, 2..65536 (default 128)")
    p.add_argument("--memory-width", type=int, default=20, help="ntm: width M of a location, 1..65536 (default 20)")
    p.add_argument("--shift-range", type=int, default=1,
                   help="ntm: heads shift by -S..S locations, 0..(rows-1)/2 (default 1)")
    p.add_argument("--hidden", type=int, default=120, help="lstm: units a layer, 1..65536 (default 120, about the "
                   "NTM's parameter count)")
    p.add_argument("--layers", type=int, default=1, help="lstm: stacked layers, 1..16 (default 1)")
    add_block_options(p, what="sequences", batch_size=32, grad_clip=10.0, max_steps=20_000, eval_every=250)


def cmd_train_ntm(args: argparse.Namespace) -> int:
    from studio.config import check_choice
    from studio.memory.evaluation import evaluate_sizes
    from studio.memory.tasks import get_task
    from studio.memory.training import MACHINES, MachineTrainConfig, build_machine, load_machine, train_machine

    task = get_task(args.task)
    check_choice("machine", args.machine, MACHINES)
    if args.machine == "ntm":
        shape = {"controller_size": args.controller, "memory_rows": args.memory_rows,
                 "memory_width": args.memory_width, "shift_range": args.shift_range}
    else:
        shape = {"hidden_size": args.hidden, "num_layers": args.layers}
    build_machine(args.machine, task, shape)  # a bad shape is refused before anything is written
    config = MachineTrainConfig(**block_settings(args))
    out = args.out or f"runs/ntm-{args.task}-{args.machine}"

    def show(row: dict) -> None:
        mark = " *best*" if row["improved"] else ""
        print(f"step {row['step']}: train {row['train_bits_per_sequence']:.3f} bits/seq, valid "
              f"{row['valid_bits_per_sequence']:.3f} bits/seq, {row['valid_bit_errors_per_sequence']:.2f} bit "
              f"errors/seq{mark} ({row['elapsed_s']:.0f} s)", flush=True)

    best = train_machine(args.task, args.machine, out, shape, config, resume=args.resume, on_eval=show)
    model, task, _ = load_machine(best)
    print(f"test ({task.size_word}: bit errors per sequence, share perfect):")
    for size, row in evaluate_sizes(model, task).items():
        print(f"  {size:>4}: {row['bit_errors_per_sequence']:.2f} ({row['perfect']:.0%})")
    print(f"done. Model: {best}")
    return 0
