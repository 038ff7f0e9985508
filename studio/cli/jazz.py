"""``studio train jazz`` and ``studio compose --model jazz``: the faces of the jazz soloist (``studio.music.jazz``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from studio.cli.common import model_config_from_args, train_config_from_args


def cmd_train_jazz(args: argparse.Namespace) -> int:
    from studio.cli.progress import ProgressBar
    from studio.config import PITCH_HEADS, check_choice
    from studio.errors import StudioError
    from studio.music.jazz.training import train_jazz
    from studio.training.log import MetricsLog

    out = Path(args.out)
    heads = tuple(h.strip() for h in args.pitch_heads.split(",") if h.strip() and h.strip() != "none")
    for head in heads:  # before the corpus is read
        check_choice("pitch head", head, PITCH_HEADS)
    if args.add_inputs and not args.init_from:
        raise StudioError("--add-inputs adds inputs to a trained soloist: name it with --init-from (a new soloist "
                          "reads every input)")
    model_config = {"pitch_heads": heads} if args.init_from else {
        **model_config_from_args(args, default_embedding=64), "pitch_heads": heads}
    train_config = train_config_from_args(args)
    overrides = {k: v for k, v in (("max_steps", args.max_steps), ("minutes", args.minutes)) if v is not None}
    result = train_jazz(args.corpus, out, model_config, train_config, callbacks=[MetricsLog(out), ProgressBar()],
                        save_dtype=args.save_dtype, omnibook=not args.no_omnibook, resume=args.resume,
                        budget_overrides=overrides, on_note=lambda line: print(f"note: {line}", file=sys.stderr),
                        base=None if args.resume else args.init_from,
                        add_inputs=tuple(n.strip() for n in args.add_inputs.split(",") if n.strip()))
    best = result.best_metrics
    loss = best.get("valid_nats_per_token")
    summary = f" best validation {loss:.4f} nats/token at step {best.get('step')}" if loss is not None else ""
    print(f"done ({result.stop_reason}) after {result.steps} steps;{summary}. Model: {result.best_path}")
    return 0


def finetune_jazz(args: argparse.Namespace, out: Path, train_config: Any, budget: dict[str, Any]) -> int:
    """``studio finetune --base jazz --corpus DIR``: the soloist fine-tuned on a jazz-layout folder (a player's
    solos, a style's), or such a run continued (``--resume``: its own settings, only ``budget`` changes)."""
    from studio.cli.common import finetune_outcome
    from studio.cli.progress import ProgressBar
    from studio.music.jazz.training import train_jazz
    from studio.training.log import MetricsLog

    result = train_jazz(args.corpus, out, train_config=None if args.resume else train_config,
                        callbacks=[MetricsLog(out), ProgressBar()], save_dtype=args.save_dtype, resume=args.resume,
                        budget_overrides=budget, base=None if args.resume else args.base,
                        on_note=lambda line: print(f"note: {line}", file=sys.stderr))
    return finetune_outcome(result, "solos")


JAZZ_COLUMNS = [("notes/bar", "notes_per_bar", "{:.1f}"), ("16ths", "ioi_sixteenth", "{:.0%}"),
                ("triplets", "ioi_triplet", "{:.0%}"), ("steps", "steps", "{:.0%}"), ("leaps", "leaps", "{:.0%}"),
                ("chord tones", "chord_tones", "{:.0%}"), ("copied", "copied_phrases", "{:.0%}")]


def compose_jazz(args: argparse.Namespace, config: Any, formats: list[str], out: Path) -> int:
    """``studio compose`` with a jazz soloist: solos over the chart with the band, in every asked format."""
    import dataclasses
    import json

    from tqdm.auto import tqdm

    from studio.cli.common import atomic_write
    from studio.cli.music import print_metrics
    from studio.music.io.audio import write_wav
    from studio.music.io.export import write_midi
    from studio.music.io.notation import write_musicxml
    from studio.music.io.roll_png import piano_roll_png
    from studio.music.jazz.performance import perform, score_sheet
    from studio.music.jazz.soloist import Soloist, SoloRequest
    from studio.music.jazz.statistics import solo_statistics
    from studio.music.theory.chords import Chord, blues_scale, chart_from_text_or_form, pitch_class

    key = args.key or "C"
    chart = chart_from_text_or_form(args.chart, key)
    key_lock = sorted(blues_scale(Chord(pitch_class(key), "7"))) if args.key_lock else None
    soloist = Soloist(args.model, device=args.device, soloist_strength=args.soloist_strength)
    if args.temperature is None and args.top_p is None and config.mode == "sample":
        config = dataclasses.replace(config, temperature=soloist.default_temperature, top_p=soloist.default_top_p)
    request = SoloRequest(chart, args.choruses, args.tempo, style=args.style, soloist=args.soloist, form=args.form,
                          config=config, key_lock=key_lock, rhythm_temperature=args.rhythm_temperature)
    solos = soloist.improvise(request)
    out.mkdir(parents=True, exist_ok=True)
    parts = {"bass": args.bass != "none", "comping": args.comping != "none", "drums": not args.no_drums}
    beats = [bar[b * len(bar) // 4] for _ in range(args.choruses) for bar in chart.bars for b in range(4)]
    rows = []
    for i, solo in enumerate(tqdm(solos, desc="rendering", unit="solo", disable=len(solos) < 2)):
        meta = {**solo.params, "sample": i + 1}
        stem = out / f"{Path(str(args.model)).name}-{solo.seed}-{i + 1:03d}"
        midi = perform(solo.notes, chart, args.choruses, args.tempo, swing=args.swing, lead_program=args.lead_program,
                       bass_style=args.bass if args.bass != "none" else "walking",
                       comping_instrument=args.comping if args.comping != "none" else "piano", parts=parts,
                       seed=solo.seed + i, meta=meta, name=stem.name)
        stats = solo_statistics(solo.notes, beats, args.choruses * chart.num_bars, soloist.training_phrases)
        if "mid" in formats:
            write_midi(midi, stem.with_suffix(".mid"))
        if "wav" in formats:
            write_wav(midi, stem.with_suffix(".wav"))
        if "musicxml" in formats:
            write_musicxml(score_sheet(solo.notes, chart, args.choruses, args.tempo, stem.name),
                           stem.with_suffix(".musicxml"), title=stem.name)
        if "png" in formats:
            piano_roll_png(midi, stem.with_suffix(".png"), title=f"{stem.name}: {args.chart} in {key}")
        atomic_write(stem.with_suffix(".json"), json.dumps({**meta, "logprob": solo.logprob, "statistics": stats},
                                                            indent=2, default=float))
        rows.append((stem.name, stats))
    print_metrics(rows, JAZZ_COLUMNS)
    print(f"wrote {len(solos)} solo(s) to {out} (seed {solos[0].seed})", file=sys.stderr)
    return 0
