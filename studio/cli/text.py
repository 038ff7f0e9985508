"""``studio train text``, ``write``, ``eval``, ``models`` and ``finetune``: the text faces of Trainer and Generator."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from studio.cli.common import (
    EXIT_INTERRUPTED,
    atomic_write,
    model_config_from_args,
    no_new_model,
    train_config_from_args,
)
from studio.errors import StudioError


def cmd_train_text(args: argparse.Namespace) -> int:
    from studio.cli.progress import ProgressBar
    from studio.config import TokenizerConfig
    from studio.text.training import train_text
    from studio.training.log import MetricsLog

    out = Path(args.out or Path("runs") / Path(args.corpus).stem)
    budget = {k: v for k, v in (("max_steps", args.max_steps), ("minutes", args.minutes)) if v is not None}
    model_config = tokenizer_config = train_config = None
    if not args.resume:
        # Validate everything before reading the corpus, so a typo fails at once and writes nothing.
        model_config = model_config_from_args(args, default_embedding=64 if args.tokenizer == "char" else args.hidden)
        tokenizer_config = TokenizerConfig(kind=args.tokenizer, vocab_size=args.vocab_size, min_count=args.min_count)
        train_config = train_config_from_args(args)

    def show_notes(data: Any) -> None:
        for note in data.notes:
            print(f"note: {note}", file=sys.stderr)

    if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 talks and writes
        result = train_text(args.corpus, out, model_config, tokenizer_config, train_config, callbacks=[],
                            resume=args.resume, save_dtype=args.save_dtype,
                            budget_overrides=budget if args.resume else None, valid_corpus=args.valid_corpus)
        return EXIT_INTERRUPTED if result.stop_reason == "interrupted" else 0
    result = train_text(args.corpus, out, model_config, tokenizer_config, train_config,
                        callbacks=[MetricsLog(out), ProgressBar()], resume=args.resume,
                        save_dtype=args.save_dtype, budget_overrides=budget if args.resume else None,
                        on_data=show_notes, valid_corpus=args.valid_corpus)
    best = result.best_metrics
    if result.stop_reason == "interrupted":
        print(f"interrupted at step {result.steps}; checkpoint saved. Continue with the same command plus --resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    loss = best.get("valid_nats_per_token")
    summary = f" best validation {loss:.4f} nats/token at step {best.get('step')}" if loss is not None else ""
    print(f"done ({result.stop_reason}) after {result.steps} steps in {result.elapsed_s / 60:.1f} min;{summary}. "
          f"Model: {result.best_path}")
    return 0


def generation_config(args: argparse.Namespace) -> Any:
    """The GenerationConfig the write options describe (validated: a bad combination is a one-line error)."""
    from studio.config import GenerationConfig

    return GenerationConfig(length=args.length, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                            repetition_penalty=args.repetition_penalty, no_repeat_ngram=args.no_repeat_ngram,
                            greedy=args.greedy, beams=args.beam, beam_groups=args.beam_groups,
                            diversity=args.diversity, length_penalty=args.length_penalty,
                            sample_beams=args.sample_beams, branch_factor=args.branch_factor,
                            steps_per_iteration=args.steps_per_iteration, num_samples=args.num_samples,
                            stop=args.stop, seed=args.seed)


def cmd_write(args: argparse.Namespace) -> int:
    from studio.text.generator import GenerationRequest, Generator

    config = generation_config(args)
    if args.stream and args.json:
        raise StudioError("--stream and --json exclude each other: JSON is printed whole at the end")
    generator = Generator(args.model, device=args.device)
    request = GenerationRequest(args.prompt, config, raw=args.raw)
    if args.stream:
        finished = []
        for piece in generator.stream(request, on_result=finished.append):
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")
        print(f"(seed {finished[0].seed})", file=sys.stderr)
        if args.out:
            _write_samples(Path(args.out), finished[0])
        return 0
    result = generator.generate(request)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.out:
        _write_samples(Path(args.out), result)
    if args.json:
        print(json.dumps({"texts": result.texts, "logprobs": result.logprobs, "novelty": result.novelty,
                          "seed": result.seed, "params": result.params}, ensure_ascii=False))
        return 0
    beams = config.beams > 1
    for i, text in enumerate(result.texts):
        if len(result.texts) > 1:
            label = "beam result" if beams else "sample"
            print(f"--- {label} {i + 1} of {len(result.texts)} (logprob {result.logprobs[i]:.1f}) ---")
        print(text)
    novel = [n for n in result.novelty if n is not None]
    extra = f", novelty {100 * sum(novel) / len(novel):.1f}% of n-grams not in the training text" if novel else ""
    print(f"({config.mode.replace('_', ' ')}, seed {result.seed}{extra})", file=sys.stderr)
    return 0


def _write_samples(folder: Path, result: Any) -> None:
    """One ``.txt`` per sample plus a JSON sidecar with the seed, model hash and every parameter."""
    if folder.exists() and not folder.is_dir():
        raise StudioError(f"--out {folder} exists and is not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(result.texts):
        stem = folder / f"sample-{result.seed}-{i + 1:03d}"
        atomic_write(stem.with_suffix(".txt"), text)
        sidecar = {**result.params, "sample": i + 1, "logprob": result.logprobs[i], "novelty": result.novelty[i]}
        atomic_write(stem.with_suffix(".json"), json.dumps(sidecar, indent=2, ensure_ascii=False))
    print(f"wrote {len(result.texts)} sample(s) to {folder}", file=sys.stderr)


def cmd_models(args: argparse.Namespace) -> int:
    from studio.loading import describe, local_models, read_card, resolve_model, shipped_models
    from studio.music.jazz.entries import card_soloist_strength

    if args.card:
        print(json.dumps(_card_without_tokenizer(read_card(resolve_model(args.card))), indent=2,
                         ensure_ascii=False))
        return 0
    rows = [("shipped", name, path) for name, path in shipped_models().items()]
    rows += [("local", name, path) for name, path in local_models(args.dir).items()]
    if not rows:
        print("no models found: train one with `studio train text --corpus FILE`")
        return 0
    for origin, name, path in rows:
        card: dict[str, Any] = {}
        try:
            card = read_card(path)
            summary = describe(card)
        except StudioError as err:
            summary = f"unreadable: {err}"
        print(f"{name:<16} {origin:<8} {summary}\n{'':<25} {path}")
        if card.get("model_kind") == "jazz":  # its inputs, for --style and --soloist
            print(f"{'':<25} styles: {', '.join(card.get('styles', []))}")
            print(f"{'':<25} soloists: {', '.join(card.get('soloists', {}))}")
            print(f"{'':<25} soloist strength: {card_soloist_strength(card):g} (--soloist-strength 0..2; 1 = the "
                  "entries as trained)")
    return 0


def _card_without_tokenizer(card: dict[str, Any]) -> dict[str, Any]:
    """The card as shown to people: the tokenizer's full vocabulary is summarised, not dumped."""
    shown = dict(card)
    tok = shown.get("tokenizer", {})
    shown["tokenizer"] = {"kind": tok.get("kind"), "vocab_size": shown.get("model_config", {}).get("vocab_size")}
    return shown


def cmd_finetune(args: argparse.Namespace) -> int:
    from studio.config import check_range

    check_range("--samples", args.samples, 0, 16, integer=True)
    out = Path(args.out or Path("runs") / f"{Path(args.corpus).stem}-finetuned")
    kind = finetune_kind(args, out)
    if args.weight_drop is not None:
        if kind != "text":
            raise StudioError("--weight-drop is for fine-tuning text models (shakespeare, prose or your own)")
        if args.resume:
            raise StudioError("--weight-drop is the run's own setting: a resumed run keeps it (leave it out)")
        check_range("--weight-drop", args.weight_drop, 0.0, 0.95)
    if kind == "piano_roll":  # trains by epochs: --max-steps, if given, counts them
        from studio.cli.rolls import finetune_rolls_cli

        return finetune_rolls_cli(args, out)
    budget = {k: v for k, v in (("max_steps", args.max_steps), ("minutes", args.minutes)) if v is not None}
    if args.max_steps is None:
        args.max_steps = 100_000 if args.minutes else 1000  # a time budget alone decides when given
    train_config = train_config_from_args(args)
    if kind == "jazz":
        from studio.cli.jazz import finetune_jazz

        return finetune_jazz(args, out, train_config, budget)
    if kind in ("leadsheet", "polyphonic"):
        from studio.cli.music import finetune_music  # music commands import what they need lazily too

        return finetune_music(args, kind, out, train_config, budget)
    return _finetune_text(args, out, train_config, budget)


def finetune_kind(args: argparse.Namespace, out: Path) -> str:
    """The kind of model a fine-tune trains: the base model's, or on --resume the run's own (its last/ card)."""
    from studio.loading import read_card, resolve_model

    if not args.resume:
        return read_card(resolve_model(args.base)).get("model_kind", "text")
    from studio.checkpoint import bundle_exists

    if not bundle_exists(out / "last"):
        raise StudioError(f"nothing to resume in {out}: it holds no last/ checkpoint (a run stopped before its "
                          "first checkpoint starts again without --resume)")
    return read_card(out / "last").get("model_kind", "text")


def _finetune_text(args: argparse.Namespace, out: Path, train_config: Any, budget: dict[str, Any]) -> int:
    from studio.cli.progress import ProgressBar
    from studio.text.finetune import finetune_text
    from studio.training.log import MetricsLog

    train_config = None if args.resume else train_config  # a resumed run keeps its own settings (but budgets)
    result = finetune_text(args.base, args.corpus, out, train_config, callbacks=[MetricsLog(out), ProgressBar()],
                           samples=args.samples, on_note=lambda line: print(f"note: {line}", file=sys.stderr),
                           weight_drop=args.weight_drop, resume=args.resume, budget_overrides=budget)
    if result.stop_reason == "interrupted":
        print("interrupted; checkpoint saved in last/. Continue with the same command plus --resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    if not result.new_model:
        return no_new_model(result.no_model, result.steps, "steps")
    base = result.base_valid.get("valid_nats_per_token", float("nan"))
    best = result.best_valid.get("valid_nats_per_token", float("nan"))
    print(f"done ({result.stop_reason}) after {result.steps} steps in {result.elapsed_s:.0f} s: validation "
          f"{base:.4f} -> {best:.4f} nats/token. Model: {result.best_path}")
    for i, (text, novelty) in enumerate(zip(result.samples, result.novelty, strict=True)):
        share = "n/a" if novelty is None else f"{novelty:.0%}"
        print(f"--- sample {i + 1} (novelty {share} of n-grams not in your corpus) ---\n{text}")
    return 0
