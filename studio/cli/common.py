"""What the ``studio`` subcommands share: exit codes, configs from options, small file helpers."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from studio.errors import StudioError

EXIT_NO_MODEL, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def model_config_from_args(args: argparse.Namespace, default_embedding: int) -> dict[str, Any]:
    from studio.config import ModelConfig

    drop = args.dropout
    config = {"cell": args.cell, "num_layers": args.layers, "hidden_size": args.hidden,
              "embedding_size": args.embedding or default_embedding, "tie_weights": args.tie,
              "forget_bias": args.forget_bias,
              "dropout_embedding": drop if args.dropout_embedding is None else args.dropout_embedding,
              "dropout_between": drop if args.dropout_between is None else args.dropout_between,
              "dropout_output": drop if args.dropout_output is None else args.dropout_output,
              "weight_drop": args.weight_drop}
    ModelConfig(vocab_size=2, **config)  # validate before any data is read
    return config


def train_config_from_args(args: argparse.Namespace) -> Any:
    from studio.config import TrainConfig

    budget = {k: v for k, v in (("max_steps", args.max_steps), ("minutes", args.minutes)) if v is not None}
    return TrainConfig(batch_size=args.batch_size, seq_len=args.seq_len, optimizer=args.optimizer, lr=args.lr,
                       momentum=args.momentum, weight_decay=args.weight_decay, grad_clip=args.grad_clip,
                       warmup_steps=args.warmup, schedule=args.schedule, decay_start=args.decay_start,
                       decay_every=args.decay_every, decay_factor=args.decay_factor,
                       eval_every=args.eval_every, eval_tokens=args.eval_tokens, patience=args.patience,
                       valid_fraction=args.valid_fraction, seed=args.seed, device=args.device, amp=not args.no_amp,
                       **budget)


def no_new_model(reason: str, count: int, counter: str) -> int:
    """Say that a fine-tune made no new model, why and what helps; the exit status says so too."""
    import sys

    print(f"no new model after {count} {counter}: {reason} (to go on from here: the same command plus --resume and "
          "a larger --minutes)", file=sys.stderr)
    return EXIT_NO_MODEL


def finetune_outcome(result: Any, data: str) -> int:
    """Report how a token fine-tune ended (interrupted, no new model, or its validation before and after) and give
    the exit status; ``data`` names what more of would help ("music", "solos")."""
    import sys

    if result.stop_reason == "interrupted":
        print("interrupted; checkpoint saved in last/. Continue with the same command plus --resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    if result.no_model(data=data):
        return no_new_model(result.no_model(data=data), result.steps, "steps")
    before = (result.base_metrics or {}).get("valid_nats_per_token", float("nan"))
    loss = result.best_metrics.get("valid_nats_per_token", float("nan"))
    print(f"done ({result.stop_reason}) after {result.steps} steps: validation {before:.4f} -> {loss:.4f} "
          f"nats/token. Model: {result.best_path}")
    return 0


def parse_shifts(text: str) -> list[int]:
    """"-5:6" -> -5..6; "0,5,7" -> [0, 5, 7]."""
    try:
        if ":" in text:
            lo, hi = (int(x) for x in text.split(":"))
            shifts = list(range(lo, hi + 1))
        else:
            shifts = [int(x) for x in text.split(",")]
    except ValueError as err:
        raise StudioError(f"--transpose {text!r}: write a range like -5:6 or a list like 0,5,7") from err
    if not shifts or any(abs(s) > 24 for s in shifts):
        raise StudioError(f"--transpose {text!r}: shifts must lie in -24..24 semitones")
    return shifts


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_piece_files(stem: Path, midi: Any, sidecar: dict[str, Any], formats: list[str]) -> int:
    """Write ``stem``.mid/.wav/.png (those in ``formats``) and the ``stem``.json sidecar of a composed piece;
    return its number of notes."""
    import json

    from studio.music.io.audio import write_wav
    from studio.music.io.export import write_midi
    from studio.music.io.roll_png import piano_roll_png

    if "mid" in formats:
        write_midi(midi, stem.with_suffix(".mid"))
    if "wav" in formats:
        write_wav(midi, stem.with_suffix(".wav"))
    if "png" in formats:
        piano_roll_png(midi, stem.with_suffix(".png"), title=stem.name)
    atomic_write(stem.with_suffix(".json"), json.dumps(sidecar, indent=2))
    return sum(len(instrument.notes) for instrument in midi.instruments)




def add_block_options(p: argparse.ArgumentParser, *, what: str, batch_size: int, grad_clip: float, max_steps: int,
                      eval_every: int, lr: float = 1e-3) -> None:
    """The options of a block loop (``studio.training.blocks``: NTM and DRAW training), with this command's
    defaults; ``block_settings`` reads them back."""
    p.add_argument("--batch-size", type=int, default=batch_size, help=f"{what} a step, 1..65536 "
                   f"(default {batch_size})")
    p.add_argument("--lr", type=float, default=lr, help=f"Adam's learning rate, (0, 1] (default {lr:g})")
    p.add_argument("--grad-clip", type=float, default=grad_clip,
                   help=f"gradient-norm clip, 0 (off)..1e9 (default {grad_clip:g})")
    p.add_argument("--max-steps", type=int, default=max_steps, help=f"optimiser steps, >= 1 (default {max_steps})")
    p.add_argument("--minutes", type=float, default=0.0, help="wall-clock budget in minutes, >= 0 (0: none)")
    p.add_argument("--eval-every", type=int, default=eval_every,
                   help=f"steps between validations and checkpoints, >= 1 (default {eval_every})")
    p.add_argument("--patience", type=int, default=0,
                   help="evaluations without improvement before stopping, >= 0 (0: never)")
    p.add_argument("--seed", type=int, default=0, help="random seed, 0..2147483647 (default 0)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")


def block_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The block-loop settings ``add_block_options`` parsed, as keyword arguments of a ``BlockTrainConfig``."""
    return {name: getattr(args, name) for name in ("batch_size", "lr", "grad_clip", "max_steps", "minutes",
                                                    "eval_every", "patience", "seed")}
