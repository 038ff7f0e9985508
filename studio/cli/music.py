"""``studio compose``, ``train leadsheet``, ``train midi`` and music fine-tuning: the music faces of the services."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from studio.cli.common import (
    atomic_write,
    finetune_outcome,
    model_config_from_args,
    parse_shifts,
    train_config_from_args,
    write_piece_files,
)
from studio.errors import StudioError


def cmd_train_leadsheet(args: argparse.Namespace) -> int:
    from studio.cli.progress import ProgressBar
    from studio.config import check_range
    from studio.music.leadsheet.training import train_leadsheets
    from studio.training.log import MetricsLog

    check_range("--procedural", args.procedural, 0, 100_000, integer=True)
    check_range("--low", args.low, 0, 127, integer=True)
    check_range("--high", args.high, args.low, 127, integer=True)
    if not args.corpus and not args.procedural:
        raise StudioError("nothing to train on: give --corpus FOLDER and/or --procedural N")
    model_config = model_config_from_args(args, default_embedding=32)
    train_config = train_config_from_args(args)
    shifts = parse_shifts(args.transpose)
    out = Path(args.out)
    sheets = []
    corpus_card: dict[str, Any] = {"sources": []}
    if args.corpus:
        from studio.music.io.corpus import read_leadsheet_corpus

        found, report = read_leadsheet_corpus(args.corpus)
        for note in report.lines():
            print(f"note: {note}", file=sys.stderr)
        print(f"read {len(found)} lead sheets from {len(report.used)} files ({len(report.skipped)} skipped)",
              file=sys.stderr)
        sheets += found
        corpus_card["sources"] += [{"path": str(p), "files": len(report.used), "skipped": len(report.skipped)}
                                   for p in args.corpus]
    if args.procedural:
        from studio.music.leadsheet.procedural import generate_blues_corpus

        sheets += generate_blues_corpus(args.procedural, seed=args.procedural_seed)
        corpus_card["sources"].append({"procedural_blues": args.procedural, "seed": args.procedural_seed})
    result = train_leadsheets(sheets, out, model_config, train_config, callbacks=[MetricsLog(out), ProgressBar()],
                              low=args.low, high=args.high, transpositions=shifts, save_dtype=args.save_dtype,
                              corpus_card=corpus_card)
    best = result.best_metrics
    loss = best.get("valid_nats_per_token")
    summary = f" best validation {loss:.4f} nats/step at step {best.get('step')}" if loss is not None else ""
    print(f"done ({result.stop_reason}) after {result.steps} steps;{summary}. Model: {result.best_path}")
    return 0


def cmd_train_midi(args: argparse.Namespace) -> int:
    from studio.cli.progress import ProgressBar
    from studio.music.remi.training import train_polyphonic
    from studio.training.log import MetricsLog

    if not args.corpus:
        raise StudioError("give --corpus FOLDER of MIDI, MusicXML, ABC or kern files")
    model_config = model_config_from_args(args, default_embedding=128)
    train_config = train_config_from_args(args)
    from studio.music.io.corpus import load_music_files

    pieces, skipped = load_music_files(args.corpus)
    for line in skipped:
        print(f"note: skipped {line}", file=sys.stderr)
    out = Path(args.out)
    result = train_polyphonic(pieces, out, model_config, train_config, callbacks=[MetricsLog(out), ProgressBar()],
                              save_dtype=args.save_dtype, corpus_card={"paths": args.corpus, "skipped": len(skipped)})
    loss = result.best_metrics.get("valid_nats_per_token")
    summary = f" best validation {loss:.4f} nats/token" if loss is not None else ""
    print(f"done ({result.stop_reason}) after {result.steps} steps;{summary}. Model: {result.best_path}")
    return 0


FORMATS = ("mid", "wav", "musicxml", "png", "json")


def cmd_compose(args: argparse.Namespace) -> int:
    from studio.config import GenerationConfig, check_range
    from studio.loading import read_card, resolve_model

    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise StudioError(f"--formats {args.formats!r}: choose from {', '.join(FORMATS)}")
    kind = read_card(resolve_model(args.model)).get("model_kind")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise StudioError(f"--out {out} exists and is not a folder")
    if kind == "piano_roll":
        from studio.cli.rolls import compose_rolls_cli

        return compose_rolls_cli(args, formats, out)
    if args.melody:
        raise StudioError(f"--melody is harmonised by piano-roll models (e.g. --model jsb); {args.model} is not one")
    if args.frames is not None or args.max_notes is not None or args.min_notes is not None:
        raise StudioError(f"--frames, --max-notes and --min-notes are for piano-roll models (e.g. --model jsb); "
                          f"{args.model} is not one (--tokens sets a REMI model's length)")
    if kind != "jazz" and (args.style or args.soloist or args.form != "auto" or args.rhythm_temperature):
        raise StudioError(f"--style, --soloist, --form and --rhythm-temperature are the jazz soloist's "
                          f"(--model jazz); {args.model} has none")
    if args.tempo is None:
        args.tempo = 160.0 if kind == "jazz" else 120.0
    check_range("tempo", args.tempo, 20, 400)
    if args.swing is not None:
        check_range("swing", args.swing, 0.5, 0.8)
    check_range("choruses", args.choruses, 1, 64, integer=True)
    check_range("lead_program", args.lead_program, 0, 127, integer=True)
    config = GenerationConfig(length=1, temperature=args.temperature if args.temperature is not None or args.greedy
                              or args.beam > 1 else 0.9, top_k=args.top_k, top_p=args.top_p, greedy=args.greedy,
                              beams=args.beam, repetition_penalty=args.repetition_penalty,
                              num_samples=args.num_samples, seed=args.seed)
    if kind == "polyphonic":
        return _compose_polyphonic(args, config, formats, out)
    if args.primer:
        raise StudioError(f"--primer continues polyphonic models; {args.model} improvises over --chart")
    if kind == "jazz":
        from studio.cli.jazz import compose_jazz

        return compose_jazz(args, config, formats, out)
    return _compose_blues(args, config, formats, out)


def _compose_blues(args: argparse.Namespace, config: Any, formats: list[str], out: Path) -> int:
    from tqdm.auto import tqdm

    from studio.music.band.render import render_midi
    from studio.music.io.audio import write_wav
    from studio.music.io.export import write_midi
    from studio.music.io.notation import write_musicxml
    from studio.music.io.roll_png import piano_roll_png
    from studio.music.leadsheet.composer import Composer, ComposeRequest
    from studio.music.theory.chords import Chord, blues_scale, chart_from_text_or_form, pitch_class

    key = args.key or "C"
    chart = chart_from_text_or_form(args.chart, key)
    # The key lock is the blues scale over the tonic (a dominant seventh chord on the key's root).
    key_lock = sorted(blues_scale(Chord(pitch_class(key), "7"))) if args.key_lock else None
    composer = Composer(args.model, device=args.device)
    pieces = composer.compose(ComposeRequest(chart, args.choruses, args.tempo, config, key_lock=key_lock))
    out.mkdir(parents=True, exist_ok=True)
    parts = {"bass": args.bass != "none", "comping": args.comping != "none", "drums": not args.no_drums}
    rows = []
    for i, piece in enumerate(tqdm(pieces, desc="rendering", unit="piece", disable=len(pieces) < 2)):
        meta = {**piece.params, "sample": i + 1}
        midi = render_midi(piece.sheet, tempo=args.tempo, swing=0.62 if args.swing is None else args.swing,
                           lead_program=args.lead_program,
                           bass_style=args.bass if args.bass != "none" else "walking",
                           comping_instrument=args.comping if args.comping != "none" else "piano", parts=parts,
                           seed=piece.seed + i, meta=meta)
        stem = out / f"{Path(str(args.model)).name}-{piece.seed}-{i + 1:03d}"
        metrics = composer.metrics(piece.sheet)
        if "mid" in formats:
            write_midi(midi, stem.with_suffix(".mid"))
        if "wav" in formats:
            write_wav(midi, stem.with_suffix(".wav"))
        if "musicxml" in formats:
            write_musicxml(piece.sheet, stem.with_suffix(".musicxml"), title=stem.name)
        if "png" in formats:
            piano_roll_png(midi, stem.with_suffix(".png"), title=f"{stem.name}: {args.chart} in {key}")
        atomic_write(stem.with_suffix(".json"), json.dumps({**meta, "logprob": piece.logprob, "metrics": metrics},
                                                            indent=2, default=float))
        rows.append((stem.name, metrics))
    print_metrics(rows)
    print(f"wrote {len(pieces)} piece(s) to {out} (seed {pieces[0].seed})", file=sys.stderr)
    return 0


BLUES_COLUMNS = [("chord tones", "chord_tone_share", "{:.0%}"), ("blues tones", "blues_share", "{:.0%}"),
                 ("novelty", "novelty", "{:.0%}"), ("notes/bar", "note_density", "{:.1f}"),
                 ("range", "pitch_range", "{:.0f}"), ("repetition", "repetition", "{:.0%}")]


def print_metrics(rows: list[tuple[str, dict[str, float]]], cols: list[tuple[str, str, str]] = BLUES_COLUMNS) -> None:
    """The table a batch ends with: one line per piece, then the means."""
    print("piece".ljust(28) + "".join(name.rjust(13) for name, _, _ in cols))
    for name, metrics in rows:
        print(name.ljust(28) + "".join(_fmt_metric(metrics.get(key), fmt).rjust(13) for _, key, fmt in cols))
    if len(rows) > 1:
        import math

        means = {key: [m[key] for _, m in rows if key in m and not math.isnan(m[key])] for _, key, _ in cols}
        print("mean".ljust(28) + "".join(_fmt_metric(sum(v) / len(v) if v else None, fmt).rjust(13)
                                         for (_, key, fmt), v in zip(cols, means.values(), strict=True)))


def _fmt_metric(value: float | None, fmt: str) -> str:
    import math

    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt.format(value)


def _compose_polyphonic(args: argparse.Namespace, config: Any, formats: list[str], out: Path) -> int:
    from studio.config import check_range
    from studio.music.remi.training import continue_primer

    tokens = 512 if args.tokens is None else args.tokens
    check_range("tokens", tokens, 1, 100_000, integer=True)
    pieces = continue_primer(args.model, args.primer, tokens, config, device=args.device)
    out.mkdir(parents=True, exist_ok=True)
    for i, piece in enumerate(pieces):
        stem = out / f"{Path(str(args.model)).name}-{piece.seed}-{i + 1:03d}"
        notes = write_piece_files(stem, piece.midi, {**piece.params, "sample": i + 1, "logprob": piece.logprob},
                                  formats)
        print(f"{stem.name}: {notes} notes, {piece.midi.get_end_time():.1f} s")
    print(f"wrote {len(pieces)} piece(s) to {out} (seed {pieces[0].seed})", file=sys.stderr)
    return 0


def finetune_music(args: argparse.Namespace, kind: str, out: Path, train_config: Any,
                   budget: dict[str, Any] | None = None) -> int:
    """Fine-tune a blues (lead-sheet) or chorale (polyphonic) model on a folder or zip of music files, or continue
    such a run (``--resume``: the run's own settings, only ``budget`` changes)."""
    from studio.cli.progress import ProgressBar
    from studio.music.io.corpus import unzipped_corpus
    from studio.training.log import MetricsLog

    corpus = unzipped_corpus(Path(args.corpus), out)
    callbacks = [MetricsLog(out), ProgressBar()]
    resume = {"resume": args.resume, "budget_overrides": budget}
    train_config = None if args.resume else train_config  # a resumed run keeps its own settings
    if kind == "leadsheet":
        from studio.music.io.corpus import read_leadsheet_corpus
        from studio.music.leadsheet.training import train_leadsheets

        sheets, report = read_leadsheet_corpus([corpus])
        for line in report.lines():
            print(f"note: {line}", file=sys.stderr)
        if not sheets:
            raise StudioError(f"no usable lead sheet in {args.corpus}")
        result = train_leadsheets(sheets, out, train_config=train_config, callbacks=callbacks, base=args.base,
                                  corpus_card={"path": str(args.corpus), "files": len(report.used),
                                               "skipped": len(report.skipped)}, **resume)
    else:
        from studio.music.io.corpus import load_music_files
        from studio.music.remi.training import train_polyphonic

        pieces, skipped = load_music_files([corpus])
        for line in skipped:
            print(f"note: skipped {line}", file=sys.stderr)
        result = train_polyphonic(pieces, out, train_config=train_config, callbacks=callbacks, base=args.base,
                                  corpus_card={"path": str(args.corpus), "skipped": len(skipped)}, **resume)
    return finetune_outcome(result, "music")
