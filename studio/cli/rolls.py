"""``studio train rolls`` and ``studio compose`` with a piano-roll model: the faces of
``studio.music.pianoroll.training`` and ``studio.music.pianoroll.compose``."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from studio.cli.common import EXIT_INTERRUPTED, no_new_model, write_piece_files
from studio.errors import StudioError


def cmd_train_rolls(args: argparse.Namespace) -> int:
    import torch

    from studio.config import check_range
    from studio.models.piano_roll import PianoRollConfig
    from studio.music.pianoroll.training import (
        RollTrainConfig,
        data_profile,
        evaluate_rolls,
        load_splits,
        rolls_from_music,
        save_roll_model,
        train_piano_roll,
        write_history,
    )

    check_range("frames_per_beat", args.frames_per_beat, 1, 16, integer=True)
    check_range("lr", args.lr, 0.0, 1.0, low_open=True)
    check_range("weight_decay", args.weight_decay, 0.0, 1.0)
    check_range("batch_size", args.batch_size, 1, 4096, integer=True)
    check_range("minutes", args.minutes, 0.0, 1e6)
    check_range("max_epochs", args.max_epochs, 1, 1_000_000, integer=True)
    check_range("patience", args.patience, 0, 1_000_000, integer=True)
    check_range("transpose", args.transpose, 0, 12, integer=True)
    check_range("seed", args.seed, 0, 2**63 - 1, integer=True)
    check_range("threads", args.threads, 0, 1024, integer=True)
    from studio.loading import DTYPES

    if args.save_dtype not in DTYPES:  # before training, not after it
        raise StudioError(f"--save-dtype must be one of {', '.join(DTYPES)}, got {args.save_dtype!r}")
    model_config = PianoRollConfig(cell=args.cell, num_layers=args.layers, hidden_size=args.hidden,
                                   dropout_input=args.dropout / 2, dropout_between=args.dropout,
                                   dropout_output=args.dropout, beat_periods=_periods(args.beat_periods),
                                   within_frame=args.within_frame, frame_hidden=args.frame_hidden)
    out = Path(args.out)
    if (out / "best").exists():
        raise StudioError(f"{out} already holds a model; choose another --out")
    if args.threads:
        torch.set_num_threads(args.threads)
    jsons = [d for d in args.data if d.lower().endswith(".json")]
    if jsons and len(args.data) > 1:
        raise StudioError("--data takes one .json data set, or music files and folders, not both")
    if jsons:
        splits, skipped = load_splits(jsons[0]), []
    else:
        splits, skipped = rolls_from_music(args.data, args.frames_per_beat)
    for line in skipped:
        print(f"note: skipped {line}", file=sys.stderr)
    print(", ".join(f"{k} {len(v)} pieces / {sum(r.shape[0] for r in v):,} frames" for k, v in splits.items() if v),
          file=sys.stderr)
    train_config = RollTrainConfig(batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                                   max_epochs=args.max_epochs, minutes=args.minutes, patience=args.patience,
                                   transpose=args.transpose, bucket=args.bucket, seed=args.seed, device=args.device)

    started = time.time()
    result = train_piano_roll(model_config, train_config, splits["train"], splits["valid"], on_epoch=_show_epoch)
    card = {"name": out.name, "frames_per_beat": args.frames_per_beat, "data": data_profile(splits["train"]),
            "corpus": {"paths": [str(d) for d in args.data], "skipped": len(skipped),
                       **{f"{k}_pieces": len(v) for k, v in splits.items()}},
            "train_config": vars(train_config), "command": "studio " + shlex.join(sys.argv[1:])}
    path = save_roll_model(result, out / "best", card, dtype=args.save_dtype)
    metrics: dict[str, Any] = {}
    if splits.get("test"):  # tested as saved (e.g. fp16), the weights that ship, and added to the card
        from studio.checkpoint import read_bundle, write_bundle
        from studio.music.pianoroll.compose import load_roll_model

        metrics["test_nats_per_frame"] = evaluate_rolls(load_roll_model(path).model, splits["test"])
        bundle = read_bundle(path)
        bundle.card["metrics"].update(metrics)
        write_bundle(path, bundle)
    write_history(out, result.history)
    test = f", test {metrics['test_nats_per_frame']:.3f}" if metrics else ""
    print(f"best epoch {result.best_epoch} of {result.epochs} ({result.stop_reason}): valid "
          f"{result.best_valid:.3f}{test} nats per frame; {time.time() - started:.0f} s; model in {path}")
    return 0


def _show_epoch(row: dict[str, Any]) -> None:
    """One line per epoch on stderr (epoch 0 of a fine-tune: the base model before training)."""
    if row["epoch"] == 0:
        print(f"base model on these pieces: valid {row['valid']:.3f} nats per frame", file=sys.stderr, flush=True)
        return
    print(f"epoch {row['epoch']:4d}  train {row['train']:.3f}  valid {row['valid']:.3f}  lr {row['lr']:.2g}  "
          f"{row['seconds']:.0f} s", file=sys.stderr, flush=True)


def _periods(text: str) -> tuple[int, ...]:
    """"12,16" -> (12, 16); "" -> ()."""
    try:
        return tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError as err:
        raise StudioError(f"--beat-periods {text!r}: give whole numbers in [2, 64] separated by commas") from err


def compose_rolls_cli(args: argparse.Namespace, formats: list[str], out: Path) -> int:
    """``studio compose`` for a piano-roll model: continue --primer, harmonise --melody, or start a piece."""
    from studio.music.io.midi import load_midi
    from studio.music.pianoroll.compose import RollRequest, compose_rolls, load_roll_model

    if args.chart != "12-bar" or args.beam > 1 or args.top_k or args.top_p:
        raise StudioError("piano-roll models take --primer or --melody, --key, --frames, --temperature, --max-notes "
                          "and --seed; --chart, --beam, --top-k and --top-p are for the other models")
    if args.tokens is not None:
        raise StudioError("--tokens sets a REMI model's length; a piano-roll model counts --frames")
    if "musicxml" in formats:
        print("note: no MusicXML for piano-roll pieces (it is written for lead sheets); the other formats follow",
              file=sys.stderr)
    model = load_roll_model(args.model, device=args.device)
    max_notes = 4 if args.max_notes is None else args.max_notes
    min_notes = (max_notes if args.min_notes is None else args.min_notes) if args.melody else 0
    if args.min_notes is not None and not args.melody:
        raise StudioError("--min-notes applies when harmonising a --melody")
    request = RollRequest(frames=64 if args.frames is None else args.frames,
                          temperature=1.0 if args.temperature is None else args.temperature, max_notes=max_notes,
                          min_notes=min_notes, num_samples=args.num_samples, seed=args.seed, tempo=args.tempo,
                          key=args.key)
    primer = load_midi(args.primer) if args.primer else None
    melody = load_midi(args.melody) if args.melody else None
    pieces = compose_rolls(model, request, primer=primer, melody=melody)
    out.mkdir(parents=True, exist_ok=True)
    for piece in pieces:
        stem = out / f"{Path(str(args.model)).name}-{piece.seed}-{piece.params['sample']:03d}"
        notes = write_piece_files(stem, piece.midi, {**piece.params, "logprob": piece.logprob}, formats)
        print(f"{stem.name}: {notes} notes, {piece.midi.get_end_time():.1f} s ({piece.params['mode']})")
    print(f"wrote {len(pieces)} piece(s) to {out} (seed {pieces[0].seed})", file=sys.stderr)
    return 0


def finetune_rolls_cli(args: argparse.Namespace, out: Path) -> int:
    """``studio finetune --base jsb --corpus FOLDER``: a piano-roll model fine-tuned on the user's music files.

    Piano-roll training runs by epochs with AdamW: --max-steps (if given) counts epochs (at most 500), --minutes,
    --patience (epochs without a better validation loss), --lr, --weight-decay, --grad-clip, --batch-size (pieces
    per step), --valid-fraction, --seed and --device apply; the rate halves after half the patience. With --resume
    the run's own settings apply, and --max-steps and --minutes may change. Options of the token models' Trainer
    that have no meaning here are named and ignored.
    """
    from studio.config import check_range
    from studio.loading import DTYPES
    from studio.music.pianoroll.finetune import finetune_config, finetune_rolls

    check_range("lr", args.lr, 0.0, 1.0, low_open=True)
    check_range("valid_fraction", args.valid_fraction, 0.0, 0.5, low_open=True)
    if args.max_steps is not None:
        check_range("max_steps (epochs for a piano-roll model)", args.max_steps, 1, 500, integer=True)
    if args.save_dtype not in DTYPES:
        raise StudioError(f"--save-dtype must be one of {', '.join(DTYPES)}, got {args.save_dtype!r}")
    ignored = [flag for flag, used in (("--optimizer", args.optimizer != "adamw"),
                                       ("--schedule", args.schedule != "cosine"), ("--warmup", args.warmup != 20),
                                       ("--eval-every", args.eval_every != 50), ("--seq-len", args.seq_len != 128),
                                       ("--samples", args.samples != 3)) if used]
    if ignored:
        print(f"note: {', '.join(ignored)} do not apply to piano-roll fine-tuning (AdamW, one validation per "
              "epoch, no text samples); ignored", file=sys.stderr)
    config = finetune_config(lr=args.lr, batch_size=args.batch_size, weight_decay=min(args.weight_decay, 1.0),
                             grad_clip=args.grad_clip, max_epochs=args.max_steps or 500, minutes=args.minutes or 0.0,
                             patience=args.patience or 4, seed=args.seed, device=args.device)
    if args.resume:  # the run's own budgets unless given again
        from studio.checkpoint import read_card

        stored = read_card(out / "last")["train_config"]
        config.max_epochs = args.max_steps or stored["max_epochs"]
        config.minutes = stored["minutes"] if args.minutes is None else args.minutes
    from studio.music.io.corpus import unzipped_corpus

    corpus = unzipped_corpus(Path(args.corpus), out)
    try:
        tuned = finetune_rolls(args.base, [corpus], out, config, on_epoch=_show_epoch, dtype=args.save_dtype,
                               valid_fraction=args.valid_fraction, resume=args.resume)
    except KeyboardInterrupt:
        print("interrupted; the last whole epoch is saved in last/. Continue with the same command plus --resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    for line in tuned.skipped:
        print(f"note: skipped {line}", file=sys.stderr)
    result = tuned.result
    if tuned.path is None:
        return no_new_model(f"no epoch beat the base model's validation loss ({tuned.base_valid:.3f} nats per "
                            "frame); give it more minutes or more music", result.epochs, "epochs")
    print(f"done ({result.stop_reason}) after {result.epochs} epochs: validation {tuned.base_valid:.3f} -> "
          f"{result.best_valid:.3f} nats per frame. Model: {tuned.path}")
    print(f"compose with it: studio compose --model {out} --melody YOUR_TUNE.mid", file=sys.stderr)
    return 0
