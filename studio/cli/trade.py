"""``studio trade`` and ``studio train trade``: the faces of call and response (``studio.music.trade``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def cmd_trade(args: argparse.Namespace) -> int:
    from studio.cli.common import atomic_write
    from studio.config import GenerationConfig, check_range
    from studio.music.io.audio import write_wav
    from studio.music.io.export import write_midi
    from studio.music.theory.chords import chart_from_text_or_form
    from studio.music.trade.calls import call_from_file
    from studio.music.trade.listening import DEFAULT_LISTEN_LR, DEFAULT_LISTEN_STEPS
    from studio.music.trade.performance import attention_png, perform_trade
    from studio.music.trade.responder import Responder, TradeRequest

    check_range("tempo", args.tempo, 20, 400)
    check_range("bars", args.bars, 1, 16, integer=True)
    chart = chart_from_text_or_form(args.chart, args.key)
    call = call_from_file(args.call, args.bars)
    # 1.0 unless asked, as on the page: the temperature where the answers take most from the call beyond what the
    # decoder alone plays (BENCHMARKS.md, trading fours, chosen on the validation pairs)
    temperature = 1.0 if args.temperature is None else args.temperature
    config = GenerationConfig(temperature=temperature, top_p=args.top_p, beams=args.beam, seed=args.seed)
    responder = Responder(args.model, device=args.device)
    listen = DEFAULT_LISTEN_LR if args.listen is None else args.listen
    steps = DEFAULT_LISTEN_STEPS if args.listen_steps is None else args.listen_steps
    result = responder.trade(TradeRequest(call, chart, args.bars, args.rounds, config, listen=listen,
                                          listen_steps=steps))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"trade-{result.seed}"
    midi = perform_trade(result, chart, args.tempo, seed=result.seed)
    write_midi(midi, stem.with_suffix(".mid"))
    write_wav(midi, stem.with_suffix(".wav"))
    picture = attention_png(result, stem.with_name(stem.name + "-attention.png"), f"{Path(args.call).name}: "
                            f"{args.bars}-bar trades over {args.chart} in {args.key}")
    rounds = [{"answer_bars": [r.start_bar + 1, r.start_bar + args.bars], "notes": len(r.answer),
               "motif_reuse": r.motif_reuse} for r in result.rounds]
    atomic_write(stem.with_suffix(".json"), json.dumps({**result.params, "call": str(args.call), "tempo": args.tempo,
                                                        "rounds_played": rounds}, indent=2))
    for i, r in enumerate(rounds):
        reuse = "n/a" if r["motif_reuse"] is None else f"{r['motif_reuse']:.0%}"
        print(f"round {i + 1}: bars {r['answer_bars'][0]}-{r['answer_bars'][1]}, {r['notes']} notes, "
              f"motifs from the call {reuse}")
    heard = f", after listening to each call at {listen:g} x {steps}" if listen else ""
    print(f"wrote {stem.with_suffix('.mid')}, .wav{', the attention picture' if picture else ''} "
          f"(seed {result.seed}{heard})", file=sys.stderr)
    return 0


def cmd_train_trade(args: argparse.Namespace) -> int:
    from studio.models.seq2seq import CallResponseConfig
    from studio.music.trade.training import TradeTrainConfig, train_trade

    model = CallResponseConfig(bridge=args.bridge, copy=args.copy, aligned=args.aligned, decoder_hidden=args.hidden,
                               encoder_hidden=args.encoder_hidden, dropout=args.dropout)
    config = TradeTrainConfig(batch_size=args.batch_size, lr=args.lr, max_epochs=args.max_epochs,
                              minutes=args.minutes, patience=args.patience, seed=args.seed)

    def show(row: dict) -> None:
        if row["train_nats_per_token"] is None:
            print(f"epoch 0 (the base, as it plays): validation {row['valid_nats_per_note']:.4f} nats/note", flush=True)
            return
        mark = " *best*" if row["improved"] else ""
        print(f"epoch {row['epoch']}: train {row['train_nats_per_token']:.4f} nats/token, validation "
              f"{row['valid_nats_per_note']:.4f} nats/note{mark} ({row['elapsed_s']:.0f} s)", flush=True)

    # On --resume only the budget (--max-epochs, --minutes) is taken from the command line; the run keeps the rest.
    best = train_trade(args.corpus, args.out, model, config, resume=args.resume, save_dtype=args.save_dtype,
                       on_epoch=show, max_pairs=args.max_pairs, base=args.init_from)
    print(f"done. Model: {best}")
    return 0
