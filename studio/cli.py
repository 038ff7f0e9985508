"""The ``studio`` command: train, write, eval and models. A thin face over the Trainer and the Generator.

A user error prints one line (``studio: error: ...``) and exits with status 2; Ctrl-C exits with 130. Heavy
libraries are imported inside the commands so ``studio --help`` answers at once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from studio.config import MAX_GENERATION_LENGTH
from studio.errors import StudioError

EXIT_USAGE, EXIT_INTERRUPTED = 2, 130


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error instead of the usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(EXIT_USAGE)


def _add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--cell", default="lstm", help="recurrent cell: rnn (tanh), lstm or gru (default lstm)")
    g.add_argument("--layers", type=int, default=2, help="stacked recurrent layers, 1..16 (default 2)")
    g.add_argument("--hidden", type=int, default=512, help="hidden units per layer, 1..65536 (default 512)")
    g.add_argument("--embedding", type=int, default=None,
                   help="embedding width, 1..65536 (default: 64 for char, else the hidden size)")
    g.add_argument("--dropout", type=float, default=0.0,
                   help="dropout on embeddings, between layers and on outputs, 0..0.95 (default 0)")
    g.add_argument("--dropout-embedding", type=float, default=None, help="override embedding dropout, 0..0.95")
    g.add_argument("--dropout-between", type=float, default=None, help="override between-layer dropout, 0..0.95")
    g.add_argument("--dropout-output", type=float, default=None, help="override output dropout, 0..0.95")
    g.add_argument("--tie", action="store_true", help="tie the embedding and output weights")
    g.add_argument("--forget-bias", type=float, default=1.0, help="LSTM forget-gate bias at init, -10..10")


def _add_train_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--batch-size", type=int, default=64, help="parallel streams per step, 1..65536 (default 64)")
    g.add_argument("--seq-len", type=int, default=128, help="BPTT window in tokens, 1..100000 (default 128)")
    g.add_argument("--lr", type=float, default=2e-3, help="peak AdamW learning rate, (0, 10] (default 2e-3)")
    g.add_argument("--weight-decay", type=float, default=0.01, help="AdamW weight decay, 0..10 (default 0.01)")
    g.add_argument("--grad-clip", type=float, default=1.0, help="gradient-norm clip, 0 (off)..1e6 (default 1)")
    g.add_argument("--warmup", type=int, default=100, help="linear warm-up steps, >= 0 (default 100)")
    g.add_argument("--schedule", default="cosine", help="after warm-up: cosine, plateau or constant (default cosine)")
    g.add_argument("--max-steps", type=int, default=None, help="optimiser steps, >= 1 (default 2000)")
    g.add_argument("--minutes", type=float, default=None, help="wall-clock budget in minutes, >= 0 (0: none)")
    g.add_argument("--eval-every", type=int, default=200, help="steps between validations, >= 1 (default 200)")
    g.add_argument("--eval-tokens", type=int, default=0, help="cap on validation tokens, >= 0 (0: all)")
    g.add_argument("--patience", type=int, default=0,
                   help="stop after this many evaluations without improvement, >= 0 (0: never)")
    g.add_argument("--valid-fraction", type=float, default=0.1,
                   help="tail share of the corpus held out for validation, (0, 0.5] (default 0.1)")
    g.add_argument("--seed", type=int, default=1337, help="random seed, >= 0 (default 1337)")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto)")
    g.add_argument("--no-amp", action="store_true", help="train in float32 on GPU instead of bf16 autocast")
    g.add_argument("--save-dtype", default="float32",
                   help="dtype of the best model's weights: float32, float16 or bfloat16 (default float32)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="studio", description="Make music and prose with recurrent neural networks.")
    parser.add_argument("--version", action="version", version=f"studio {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    train = sub.add_parser("train", help="train a model from scratch")
    train_sub = train.add_subparsers(dest="domain", metavar="DOMAIN", parser_class=_Parser)
    text = train_sub.add_parser("text", help="train a text model on a .txt file or a folder of them")
    text.add_argument("--corpus", required=True, help="a text file or a folder of .txt/.md files")
    text.add_argument("--valid-corpus", default=None,
                      help="validate on this file or folder instead of the corpus's tail (--valid-fraction)")
    text.add_argument("--out", default=None, help="run folder (default runs/<corpus name>)")
    text.add_argument("--tokenizer", default="char", help="char, word or bpe (default char)")
    text.add_argument("--vocab-size", type=int, default=8000, help="bpe vocabulary size, 260..1000000 (default 8000)")
    text.add_argument("--min-count", type=int, default=1, help="word: rarer words become <unk>, >= 1 (default 1)")
    text.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    _add_model_options(text)
    _add_train_options(text)

    lead = train_sub.add_parser("leadsheet", help="train a chord-conditioned improviser on lead sheets "
                                "(melody + chords: MIDI, MusicXML, ABC, kern, Impro-Visor .ls)")
    lead.add_argument("--corpus", action="append", default=[], help="a file or folder of lead sheets; repeatable")
    lead.add_argument("--procedural", type=int, default=0,
                      help="also train on this many choruses of the procedural blues corpus, 0..100000")
    lead.add_argument("--procedural-seed", type=int, default=0, help="seed of the procedural corpus (default 0)")
    lead.add_argument("--transpose", default="0", help="semitone shifts for augmentation, e.g. -5:6 or 0,5,7 "
                      "(default 0: none)")
    lead.add_argument("--low", type=int, default=36, help="lowest MIDI pitch the model writes, 0..127 (default 36)")
    lead.add_argument("--high", type=int, default=96, help="highest MIDI pitch, 0..127 (default 96)")
    lead.add_argument("--out", default="runs/leadsheet", help="run folder (default runs/leadsheet)")
    _add_model_options(lead)
    _add_train_options(lead)

    fine = sub.add_parser("finetune", help="fine-tune a model on your own folder or zip of text or music")
    fine.add_argument("--base", default="shakespeare", help="shipped model name or model folder to start from: "
                      "shakespeare or prose (text), blues (lead sheets), chorale (polyphonic MIDI)")
    fine.add_argument("--corpus", required=True, help="a file, a folder, or a .zip: text (.txt/.md) for text "
                      "models, MIDI/MusicXML/ABC/kern/.ls for music models")
    fine.add_argument("--out", default=None, help="run folder (default runs/<corpus name>-finetuned)")
    fine.add_argument("--samples", type=int, default=3, help="samples written at the end, 0..16 (default 3)")
    _add_train_options(fine)
    fine.set_defaults(lr=5e-4, warmup=20, eval_every=50, patience=4, batch_size=32, seq_len=128, max_steps=None)

    poly = train_sub.add_parser("midi", help="train a polyphonic model (MidiTok REMI) on MIDI/MusicXML/ABC/kern files")
    poly.add_argument("--corpus", action="append", default=[], help="a file or folder of music files; repeatable")
    poly.add_argument("--out", default="runs/polyphonic", help="run folder (default runs/polyphonic)")
    _add_model_options(poly)
    _add_train_options(poly)

    comp = sub.add_parser("compose", help="compose music: blues improvisations over a chart with a band, or "
                          "continuations of a primer with a polyphonic model")
    comp.add_argument("--model", default="blues", help="blues (or another lead-sheet model) for --chart; chorale "
                      "(or another polyphonic model) for --primer")
    g = comp.add_argument_group("blues (lead-sheet models)")
    g.add_argument("--chart", default="12-bar", help="a form (12-bar, quick-change, jazz, minor, 8-bar) or a chart "
                   "like 'C7 | F7 | C7 | C7 | ...' (default 12-bar)")
    g.add_argument("--key", default="C", help="key of a named form, e.g. Bb, F#, Eb (default C)")
    g.add_argument("--tempo", type=float, default=120.0, help="beats per minute, 20..400 (default 120)")
    g.add_argument("--swing", type=float, default=0.62, help="swing ratio applied when rendering, 0.5 (straight) "
                   "..0.8 (default 0.62)")
    g.add_argument("--choruses", type=int, default=1, help="times through the form, 1..64 (default 1)")
    g.add_argument("--bass", default="walking", choices=("walking", "shuffle", "none"), help="bass line style")
    g.add_argument("--comping", default="piano", choices=("piano", "guitar", "none"), help="who plays the chords")
    g.add_argument("--no-drums", action="store_true", help="leave the drums out")
    g.add_argument("--lead-program", type=int, default=66, help="General MIDI program of the lead, 0..127 "
                   "(default 66, tenor sax)")
    g.add_argument("--key-lock", action="store_true", help="keep the lead on the blues scale of --key")
    g = comp.add_argument_group("polyphonic models")
    g.add_argument("--primer", default=None, help="a MIDI/MusicXML file to continue")
    g.add_argument("--tokens", type=int, default=512, help="tokens to add to the primer, 1..100000 (default 512)")
    g = comp.add_argument_group("sampling and search (as in studio write)")
    g.add_argument("--temperature", type=float, default=None, help="softmax temperature, (0, 100] (default 0.9)")
    g.add_argument("--top-k", type=int, default=None, help="top-k, 0..1000000 (0: off)")
    g.add_argument("--top-p", type=float, default=None, help="nucleus, (0, 1] (1: off)")
    g.add_argument("--greedy", action="store_true", help="always the most likely event")
    g.add_argument("--beam", type=int, default=1, help="beam width, 1..256")
    g.add_argument("--repetition-penalty", type=float, default=1.0, help="(0, 10]; 1 is off")
    g.add_argument("-n", "--num-samples", type=int, default=1, help="pieces composed as one batch, 1..4096")
    g.add_argument("--seed", type=int, default=None, help="random seed, >= 0 (default: random, reported)")
    g = comp.add_argument_group("output")
    g.add_argument("--formats", default="mid,wav,musicxml,png",
                   help="comma-separated: mid, wav, musicxml, png, json (default mid,wav,musicxml,png)")
    g.add_argument("--out", default="compositions", help="output folder (default ./compositions)")
    g.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (default cpu)")

    write = sub.add_parser("write", help="generate text with a model",
                           description="Generate text. Modes: sampling (default), --greedy, --beam N (beam search), "
                           "--beam N --beam-groups G (diverse beam search), --beam N --sample-beams (stochastic "
                           "beam search).")
    write.add_argument("--model", default="shakespeare", help="shipped model name or model folder "
                       "(default shakespeare; see studio models)")
    write.add_argument("--prompt", default="", help="text to continue (default: start a new passage)")
    write.add_argument("--length", type=int, default=500,
                       help=f"tokens to generate at most, 1..{MAX_GENERATION_LENGTH} (default 500)")
    g = write.add_argument_group("sampling (default mode; also --sample-beams)")
    g.add_argument("--temperature", type=float, default=None,
                   help="softmax temperature, (0, 100] (default 0.8; lower is safer, higher wilder)")
    g.add_argument("--top-k", type=int, default=None, help="draw only from the k most likely tokens, 0..1000000 "
                   "(0: off)")
    g.add_argument("--top-p", type=float, default=None, help="nucleus: draw from the smallest set of tokens whose "
                   "probability reaches p, (0, 1] (1: off)")
    g.add_argument("--greedy", action="store_true", help="always take the most likely token (no sampling)")
    g = write.add_argument_group("every mode")
    g.add_argument("--repetition-penalty", type=float, default=1.0,
                   help="discourage tokens already in the text, (0, 10]; 1 is off, 1.1-1.3 is typical")
    g.add_argument("--no-repeat-ngram", type=int, default=0,
                   help="never repeat an n-gram of this many tokens, 0..100 (0: off)")
    g.add_argument("--stop", action="append", default=[], metavar="TEXT",
                   help="stop at this text (not included); repeat for several")
    g.add_argument("-n", "--num-samples", type=int, default=1,
                   help="samples drawn as one batch, 1..4096; with --beam, the length of the n-best list")
    g.add_argument("--seed", type=int, default=None, help="random seed, >= 0 (default: random, reported)")
    g = write.add_argument_group("beam search")
    g.add_argument("--beam", type=int, default=1, help="beam width, 1..256 (1: no beam search)")
    g.add_argument("--beam-groups", type=int, default=1, help="diverse beam search: groups, 1..beam, dividing beam")
    g.add_argument("--diversity", type=float, default=None,
                   help="diverse beam search: penalty for a token an earlier group chose, 0..100 (default 0.5)")
    g.add_argument("--length-penalty", type=float, default=None,
                   help="rank beams by logprob / length**x, -10..10 (default 1: per-token average)")
    g.add_argument("--sample-beams", action="store_true",
                   help="stochastic beam search (Magenta): extend beams by sampling")
    g.add_argument("--branch-factor", type=int, default=None, help="stochastic beam: branches per beam, 1..64 "
                   "(default 2)")
    g.add_argument("--steps-per-iteration", type=int, default=None,
                   help="stochastic beam: tokens per branch between prunings, >= 1 (default 1)")
    g = write.add_argument_group("output")
    g.add_argument("--stream", action="store_true", help="print the text as it is generated (one sample)")
    g.add_argument("--out", default=None, help="also write each text and a JSON sidecar to this folder")
    g.add_argument("--json", action="store_true", help="print the result as JSON")
    g.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (default cpu)")

    ev = sub.add_parser("eval", help="held-out loss of a model on a text corpus")
    ev.add_argument("--model", required=True, help="shipped model name or model folder")
    ev.add_argument("--corpus", required=True, help="a text file or a folder of .txt/.md files")
    ev.add_argument("--split", default="all", choices=("all", "valid"),
                    help="score all of it, or only its tail share used for validation in training (default all)")
    ev.add_argument("--valid-fraction", type=float, default=0.1, help="tail share for --split valid, (0, 0.5]")
    ev.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto)")
    ev.add_argument("--json", action="store_true", help="print the metrics as JSON")

    models = sub.add_parser("models", help="list shipped and local models with their cards")
    models.add_argument("--dir", default="runs", help="folder of local training runs (default ./runs)")
    models.add_argument("--card", default=None, help="print one model's whole card (name or path)")

    from studio.ui.options import add_arguments as add_ui_arguments

    add_ui_arguments(sub.add_parser("ui", help="serve the Studio page in the browser (same as python ui.py)"))
    return parser


def _version() -> str:
    from studio import __version__

    return __version__


# -- commands --------------------------------------------------------------------------------------------------
def _model_config(args: argparse.Namespace, default_embedding: int) -> dict[str, Any]:
    from studio.config import ModelConfig

    drop = args.dropout
    config = {"cell": args.cell, "num_layers": args.layers, "hidden_size": args.hidden,
              "embedding_size": args.embedding or default_embedding, "tie_weights": args.tie,
              "forget_bias": args.forget_bias,
              "dropout_embedding": drop if args.dropout_embedding is None else args.dropout_embedding,
              "dropout_between": drop if args.dropout_between is None else args.dropout_between,
              "dropout_output": drop if args.dropout_output is None else args.dropout_output}
    ModelConfig(vocab_size=2, **config)  # validate before any data is read
    return config


def _train_config(args: argparse.Namespace) -> Any:
    from studio.config import TrainConfig

    budget = {k: v for k, v in (("max_steps", args.max_steps), ("minutes", args.minutes)) if v is not None}
    return TrainConfig(batch_size=args.batch_size, seq_len=args.seq_len, lr=args.lr, weight_decay=args.weight_decay,
                       grad_clip=args.grad_clip, warmup_steps=args.warmup, schedule=args.schedule,
                       eval_every=args.eval_every, eval_tokens=args.eval_tokens, patience=args.patience,
                       valid_fraction=args.valid_fraction, seed=args.seed, device=args.device, amp=not args.no_amp,
                       **budget)


def _parse_shifts(text: str) -> list[int]:
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


def cmd_train_leadsheet(args: argparse.Namespace) -> int:
    from studio.cli_progress import ProgressBar
    from studio.config import check_range
    from studio.music_training import train_leadsheets
    from studio.train_log import MetricsLog

    check_range("--procedural", args.procedural, 0, 100_000, integer=True)
    check_range("--low", args.low, 0, 127, integer=True)
    check_range("--high", args.high, args.low, 127, integer=True)
    if not args.corpus and not args.procedural:
        raise StudioError("nothing to train on: give --corpus FOLDER and/or --procedural N")
    model_config = _model_config(args, default_embedding=32)
    train_config = _train_config(args)
    shifts = _parse_shifts(args.transpose)
    out = Path(args.out)
    sheets = []
    corpus_card: dict[str, Any] = {"sources": []}
    if args.corpus:
        from studio.music.leadsheet_corpus import read_leadsheet_corpus

        found, report = read_leadsheet_corpus(args.corpus)
        for note in report.lines():
            print(f"note: {note}", file=sys.stderr)
        print(f"read {len(found)} lead sheets from {len(report.used)} files ({len(report.skipped)} skipped)",
              file=sys.stderr)
        sheets += found
        corpus_card["sources"] += [{"path": str(p), "files": len(report.used), "skipped": len(report.skipped)}
                                   for p in args.corpus]
    if args.procedural:
        from studio.music.procedural_blues import generate_blues_corpus

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


def cmd_finetune(args: argparse.Namespace) -> int:
    from studio.cli_progress import ProgressBar
    from studio.config import check_range
    from studio.finetune import finetune_text
    from studio.train_log import MetricsLog

    check_range("--samples", args.samples, 0, 16, integer=True)
    if args.max_steps is None:
        args.max_steps = 100_000 if args.minutes else 1000  # a time budget alone decides when given
    train_config = _train_config(args)
    out = Path(args.out or Path("runs") / f"{Path(args.corpus).stem}-finetuned")
    from studio.loading import read_card, resolve_model

    kind = read_card(resolve_model(args.base)).get("model_kind", "text")
    if kind in ("leadsheet", "polyphonic"):
        return _finetune_music(args, kind, out, train_config)
    result = finetune_text(args.base, args.corpus, out, train_config, callbacks=[MetricsLog(out), ProgressBar()],
                           samples=args.samples, on_note=lambda line: print(f"note: {line}", file=sys.stderr))
    if result.stop_reason == "interrupted":
        print("interrupted; checkpoint saved in last/", file=sys.stderr)
        return EXIT_INTERRUPTED
    base = result.base_valid["valid_nats_per_token"]
    best = result.best_valid.get("valid_nats_per_token", float("nan"))
    print(f"done ({result.stop_reason}) after {result.steps} steps: validation {base:.4f} -> {best:.4f} nats/token. "
          f"Model: {result.best_path}")
    for i, (text, novelty) in enumerate(zip(result.samples, result.novelty, strict=True)):
        share = "n/a" if novelty is None else f"{novelty:.0%}"
        print(f"--- sample {i + 1} (novelty {share} of n-grams not in your corpus) ---\n{text}")
    return 0


def cmd_train_midi(args: argparse.Namespace) -> int:
    from studio.cli_progress import ProgressBar
    from studio.music.midi_io import load_midi, load_score, score_to_midi
    from studio.poly_training import train_polyphonic
    from studio.train_log import MetricsLog

    if not args.corpus:
        raise StudioError("give --corpus FOLDER of MIDI, MusicXML, ABC or kern files")
    model_config = _model_config(args, default_embedding=128)
    train_config = _train_config(args)
    from studio.music.leadsheet_corpus import MIDI_SUFFIXES, music_files

    pieces, skipped = [], []
    for path in args.corpus:
        for file in music_files(path):
            try:
                midi = load_midi(file) if file.suffix.lower() in MIDI_SUFFIXES else score_to_midi(
                    load_score(file), name=file.name)
            except StudioError as err:
                skipped.append((file, str(err)))
                continue
            pieces.append((str(file), midi))
    for file, reason in skipped:
        print(f"note: skipped {file}: {reason}", file=sys.stderr)
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
    check_range("tempo", args.tempo, 20, 400)
    check_range("swing", args.swing, 0.5, 0.8)
    check_range("choruses", args.choruses, 1, 64, integer=True)
    check_range("lead_program", args.lead_program, 0, 127, integer=True)
    config = GenerationConfig(length=1, temperature=args.temperature if args.temperature is not None or args.greedy
                              or args.beam > 1 else 0.9, top_k=args.top_k, top_p=args.top_p, greedy=args.greedy,
                              beams=args.beam, repetition_penalty=args.repetition_penalty,
                              num_samples=args.num_samples, seed=args.seed)
    kind = read_card(resolve_model(args.model)).get("model_kind")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise StudioError(f"--out {out} exists and is not a folder")
    if kind == "polyphonic":
        return _compose_polyphonic(args, config, formats, out)
    if args.primer:
        raise StudioError(f"--primer continues polyphonic models; {args.model} improvises over --chart")
    return _compose_blues(args, config, formats, out)


def _compose_blues(args: argparse.Namespace, config: Any, formats: list[str], out: Path) -> int:
    from tqdm.auto import tqdm

    from studio.compose import Composer, ComposeRequest
    from studio.music.chords import blues_scale, chart_from_text_or_form, parse_chord, pitch_class
    from studio.music.export import piano_roll_png, write_midi, write_musicxml, write_wav
    from studio.music.render import render_midi

    chart = chart_from_text_or_form(args.chart, args.key)
    key_lock = None
    if args.key_lock:
        tonic = parse_chord(f"{args.key}7")
        key_lock = sorted(blues_scale(tonic) if tonic.root is not None else range(12))
        pitch_class(args.key)
    composer = Composer(args.model, device=args.device)
    pieces = composer.compose(ComposeRequest(chart, args.choruses, args.tempo, config, key_lock=key_lock))
    out.mkdir(parents=True, exist_ok=True)
    parts = {"bass": args.bass != "none", "comping": args.comping != "none", "drums": not args.no_drums}
    rows = []
    for i, piece in enumerate(tqdm(pieces, desc="rendering", unit="piece", disable=len(pieces) < 2)):
        meta = {**piece.params, "sample": i + 1}
        midi = render_midi(piece.sheet, tempo=args.tempo, swing=args.swing, lead_program=args.lead_program,
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
            piano_roll_png(midi, stem.with_suffix(".png"), title=f"{stem.name}: {args.chart} in {args.key}")
        _atomic_write(stem.with_suffix(".json"), json.dumps({**meta, "logprob": piece.logprob, "metrics": metrics},
                                                            indent=2, default=float))
        rows.append((stem.name, metrics))
    _print_metrics(rows)
    print(f"wrote {len(pieces)} piece(s) to {out} (seed {pieces[0].seed})", file=sys.stderr)
    return 0


def _print_metrics(rows: list[tuple[str, dict[str, float]]]) -> None:
    """The table a batch ends with: one line per piece, then the means."""
    cols = [("chord tones", "chord_tone_share", "{:.0%}"), ("blues tones", "blues_share", "{:.0%}"),
            ("novelty", "novelty", "{:.0%}"), ("notes/bar", "note_density", "{:.1f}"),
            ("range", "pitch_range", "{:.0f}"), ("repetition", "repetition", "{:.0%}")]
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
    from studio.music.export import piano_roll_png, write_midi, write_wav
    from studio.poly_training import continue_primer

    check_range("tokens", args.tokens, 1, 100_000, integer=True)
    pieces = continue_primer(args.model, args.primer, args.tokens, config, device=args.device)
    out.mkdir(parents=True, exist_ok=True)
    for i, piece in enumerate(pieces):
        stem = out / f"{Path(str(args.model)).name}-{piece.seed}-{i + 1:03d}"
        if "mid" in formats:
            write_midi(piece.midi, stem.with_suffix(".mid"))
        if "wav" in formats:
            write_wav(piece.midi, stem.with_suffix(".wav"))
        if "png" in formats:
            piano_roll_png(piece.midi, stem.with_suffix(".png"), title=stem.name)
        _atomic_write(stem.with_suffix(".json"), json.dumps({**piece.params, "sample": i + 1,
                                                            "logprob": piece.logprob}, indent=2))
        notes = sum(len(inst.notes) for inst in piece.midi.instruments)
        print(f"{stem.name}: {notes} notes, {piece.midi.get_end_time():.1f} s")
    print(f"wrote {len(pieces)} piece(s) to {out} (seed {pieces[0].seed})", file=sys.stderr)
    return 0


def _finetune_music(args: argparse.Namespace, kind: str, out: Path, train_config: Any) -> int:
    """Fine-tune a blues (lead-sheet) or chorale (polyphonic) model on a folder or zip of music files."""
    from studio.cli_progress import ProgressBar
    from studio.train_log import MetricsLog

    corpus = _unzipped(Path(args.corpus), out)
    callbacks = [MetricsLog(out), ProgressBar()]
    if kind == "leadsheet":
        from studio.music.leadsheet_corpus import read_leadsheet_corpus
        from studio.music_training import train_leadsheets

        sheets, report = read_leadsheet_corpus([corpus])
        for line in report.lines():
            print(f"note: {line}", file=sys.stderr)
        if not sheets:
            raise StudioError(f"no usable lead sheet in {args.corpus}")
        result = train_leadsheets(sheets, out, train_config=train_config, callbacks=callbacks, base=args.base,
                                  corpus_card={"path": str(args.corpus), "files": len(report.used),
                                               "skipped": len(report.skipped)})
    else:
        from studio.music.leadsheet_corpus import MIDI_SUFFIXES, music_files
        from studio.music.midi_io import load_midi, load_score, score_to_midi
        from studio.poly_training import train_polyphonic

        pieces, skipped = [], 0
        for file in music_files(corpus):
            try:
                midi = load_midi(file) if file.suffix.lower() in MIDI_SUFFIXES else score_to_midi(load_score(file))
            except StudioError as err:
                print(f"note: skipped {file}: {err}", file=sys.stderr)
                skipped += 1
                continue
            pieces.append((str(file), midi))
        result = train_polyphonic(pieces, out, train_config=train_config, callbacks=callbacks, base=args.base,
                                  corpus_card={"path": str(args.corpus), "skipped": skipped})
    loss = result.best_metrics.get("valid_nats_per_token")
    summary = f" best validation {loss:.4f} nats/token" if loss is not None else ""
    print(f"done ({result.stop_reason}) after {result.steps} steps;{summary}. Model: {result.best_path}")
    return 0


def _unzipped(corpus: Path, out: Path) -> Path:
    """A zip of music files is unpacked (safely: no absolute or parent paths) beside the run; folders pass through."""
    if corpus.suffix.lower() != ".zip":
        return corpus
    import zipfile

    target = out.parent / f".{out.name}-corpus"
    try:
        with zipfile.ZipFile(corpus) as archive:
            for info in archive.infolist():
                name = Path(info.filename)
                if info.is_dir() or name.is_absolute() or ".." in name.parts:
                    continue
                dest = target / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(archive.read(info))
    except (zipfile.BadZipFile, OSError) as err:
        raise StudioError(f"{corpus} is not a readable zip file ({err})") from err
    return target


def cmd_train_text(args: argparse.Namespace) -> int:
    from studio.cli_progress import ProgressBar
    from studio.config import TokenizerConfig, TrainConfig
    from studio.text_training import train_text
    from studio.train_log import MetricsLog

    out = Path(args.out or Path("runs") / Path(args.corpus).stem)
    budget = {k: v for k, v in (("max_steps", args.max_steps), ("minutes", args.minutes)) if v is not None}
    model_config = tokenizer_config = train_config = None
    if not args.resume:
        drop = args.dropout
        embedding = args.embedding or (64 if args.tokenizer == "char" else args.hidden)
        model_config = {"cell": args.cell, "num_layers": args.layers, "hidden_size": args.hidden,
                        "embedding_size": embedding, "tie_weights": args.tie, "forget_bias": args.forget_bias,
                        "dropout_embedding": drop if args.dropout_embedding is None else args.dropout_embedding,
                        "dropout_between": drop if args.dropout_between is None else args.dropout_between,
                        "dropout_output": drop if args.dropout_output is None else args.dropout_output}
        # Validate everything before reading the corpus, so a typo fails at once and writes nothing.
        from studio.config import ModelConfig

        ModelConfig(vocab_size=2, **model_config)
        tokenizer_config = TokenizerConfig(kind=args.tokenizer, vocab_size=args.vocab_size, min_count=args.min_count)
        train_config = TrainConfig(batch_size=args.batch_size, seq_len=args.seq_len, lr=args.lr,
                                   weight_decay=args.weight_decay, grad_clip=args.grad_clip,
                                   warmup_steps=args.warmup, schedule=args.schedule, eval_every=args.eval_every,
                                   eval_tokens=args.eval_tokens, patience=args.patience,
                                   valid_fraction=args.valid_fraction, seed=args.seed, device=args.device,
                                   amp=not args.no_amp, **budget)

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
    from studio.generate import GenerationRequest, Generator

    config = generation_config(args)
    if args.stream and args.json:
        raise StudioError("--stream and --json exclude each other: JSON is printed whole at the end")
    generator = Generator(args.model, device=args.device)
    request = GenerationRequest(args.prompt, config)
    if args.stream:
        if config.seed is None:  # fix the seed first so the streamed text can be reported and made again
            config.seed = _random_seed()
        for piece in generator.stream(request):
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")
        print(f"(seed {config.seed})", file=sys.stderr)
        if args.out:
            _write_samples(Path(args.out), generator.generate(request))
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


def _random_seed() -> int:
    import secrets

    return secrets.randbelow(2**31)


def _write_samples(folder: Path, result: Any) -> None:
    """One ``.txt`` per sample plus a JSON sidecar with the seed, model hash and every parameter."""
    if folder.exists() and not folder.is_dir():
        raise StudioError(f"--out {folder} exists and is not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(result.texts):
        stem = folder / f"sample-{result.seed}-{i + 1:03d}"
        _atomic_write(stem.with_suffix(".txt"), text)
        sidecar = {**result.params, "sample": i + 1, "logprob": result.logprobs[i], "novelty": result.novelty[i]}
        _atomic_write(stem.with_suffix(".json"), json.dumps(sidecar, indent=2, ensure_ascii=False))
    print(f"wrote {len(result.texts)} sample(s) to {folder}", file=sys.stderr)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def cmd_eval(args: argparse.Namespace) -> int:
    from studio.config import check_range
    from studio.data import read_text_corpus, split_text, to_tensor
    from studio.evaluate import evaluate_loss, loss_metrics
    from studio.loading import load_model, pick_device

    check_range("valid_fraction", args.valid_fraction, 0.0, 0.5, low_open=True)
    device = pick_device(args.device)
    loaded = load_model(args.model, device=device)
    text, report = read_text_corpus(args.corpus)
    for note in report.lines():
        print(f"note: {note}", file=sys.stderr)
    if args.split == "valid":
        text = split_text(text, args.valid_fraction)[1]
    ids = loaded.tokenizer.encode(text)
    if loaded.tokenizer.last_unknown:
        print(f"note: {loaded.tokenizer.unknown_report()}", file=sys.stderr)
    nats, count = evaluate_loss(loaded.model, to_tensor(ids), device=device)
    metrics = loss_metrics(nats, count, len(text) / max(1, len(ids)))
    metrics.update(model=str(loaded.path), corpus=str(args.corpus), split=args.split, corpus_sha256=report.sha256)
    if args.json:
        print(json.dumps(metrics))
    else:
        print(f"{metrics['nats_per_token']:.4f} nats/token, {metrics['bits_per_char']:.4f} bits/char, "
              f"perplexity {metrics['perplexity']:.2f} over {count:,} tokens")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from studio.loading import describe, local_models, read_card, resolve_model, shipped_models

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
        try:
            summary = describe(read_card(path))
        except StudioError as err:
            summary = f"unreadable: {err}"
        print(f"{name:<16} {origin:<8} {summary}\n{'':<25} {path}")
    return 0


def _card_without_tokenizer(card: dict[str, Any]) -> dict[str, Any]:
    """The card as shown to people: the tokenizer's full vocabulary is summarised, not dumped."""
    shown = dict(card)
    tok = shown.get("tokenizer", {})
    shown["tokenizer"] = {"kind": tok.get("kind"), "vocab_size": shown.get("model_config", {}).get("vocab_size")}
    return shown


def cmd_ui(args: argparse.Namespace) -> int:
    from studio.ui.app import run

    return run(args)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {"write": cmd_write, "eval": cmd_eval, "models": cmd_models, "finetune": cmd_finetune,
                "compose": cmd_compose, "ui": cmd_ui}
    try:
        if args.command == "train":
            if args.domain == "leadsheet":
                return cmd_train_leadsheet(args)
            if args.domain == "midi":
                return cmd_train_midi(args)
            if args.domain != "text":
                parser.error("say what to train: studio train text --corpus FILE, or studio train leadsheet")
            return cmd_train_text(args)
        if args.command not in handlers:
            parser.print_help()
            return EXIT_USAGE
        return handlers[args.command](args)
    except StudioError as err:
        print(f"studio: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("studio: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `studio write | head` closed the pipe: not an error
        return 0
