"""The ``studio`` command line: every subcommand, option and help text (with each option's valid range)."""

from __future__ import annotations

import argparse
import sys

from studio.cli.common import EXIT_USAGE
from studio.cli.ntm import add_parser as add_ntm_parser
from studio.cli.sketch import add_parsers as add_sketch_parsers
from studio.config import MAX_GENERATION_LENGTH
from studio.music.trade.listen_settings import DEFAULT_LISTEN_LR


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error instead of the usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(EXIT_USAGE)


def _add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--cell", default="lstm", help="recurrent cell: rnn (tanh), lstm, gru, cplstm (LSTM with "
                   "peephole connections, Gers et al.) or lnlstm (layer-normalised LSTM, Ba et al.) (default lstm)")
    g.add_argument("--layers", type=int, default=2, help="stacked recurrent layers, 1..16 (default 2)")
    g.add_argument("--hidden", type=int, default=512, help="hidden units per layer, 1..65536 (default 512)")
    g.add_argument("--embedding", type=int, default=None,
                   help="embedding width, 1..65536 (default: 64 for char, else the hidden size)")
    g.add_argument("--dropout", type=float, default=0.0,
                   help="dropout on embeddings, between layers and on outputs, 0..0.95 (default 0)")
    g.add_argument("--dropout-embedding", type=float, default=None, help="override embedding dropout, 0..0.95")
    g.add_argument("--dropout-between", type=float, default=None, help="override between-layer dropout, 0..0.95")
    g.add_argument("--dropout-output", type=float, default=None, help="override output dropout, 0..0.95")
    g.add_argument("--weight-drop", type=float, default=0.0,
                   help="DropConnect on the recurrent weight matrices while training (AWD-LSTM), 0..0.95 (default 0)")
    g.add_argument("--tie", action="store_true", help="tie the embedding and output weights")
    g.add_argument("--forget-bias", type=float, default=1.0,
                   help="forget-gate bias at init of lstm, cplstm and lnlstm, -10..10")


def _add_train_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--batch-size", type=int, default=64, help="parallel streams per step, 1..65536 (default 64)")
    g.add_argument("--seq-len", type=int, default=128, help="BPTT window in tokens, 1..100000 (default 128)")
    g.add_argument("--optimizer", default="adamw", help="adamw or sgd (default adamw)")
    g.add_argument("--lr", type=float, default=2e-3, help="peak learning rate, (0, 100] (default 2e-3)")
    g.add_argument("--momentum", type=float, default=0.0, help="SGD momentum, 0..0.999 (default 0)")
    g.add_argument("--weight-decay", type=float, default=0.01, help="weight decay of matrices, 0..10 (default 0.01)")
    g.add_argument("--grad-clip", type=float, default=1.0, help="gradient-norm clip, 0 (off)..1e6 (default 1)")
    g.add_argument("--warmup", type=int, default=100, help="linear warm-up steps, >= 0 (default 100)")
    g.add_argument("--schedule", default="cosine",
                   help="after warm-up: cosine, plateau, step or constant (default cosine)")
    g.add_argument("--decay-start", type=int, default=1000,
                   help="step schedule: the first decay happens at this step (default 1000)")
    g.add_argument("--decay-every", type=int, default=1000,
                   help="step schedule: steps between decays, >= 1 (default 1000)")
    g.add_argument("--decay-factor", type=float, default=0.5,
                   help="step schedule: lr multiplier per decay, (0, 1] (default 0.5)")
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

    jazz = train_sub.add_parser("jazz", help="train the jazz soloist on transcribed solos in the jazz layout (the "
                                "Weimar Jazz Database: wjd_solos.csv, wjd_notes.csv.gz, wjd_beats.csv.gz; the "
                                "Omnibook too when present)")
    jazz.add_argument("--corpus", required=True, help="a folder in the jazz layout, e.g. ../shared/corpora/jazz")
    jazz.add_argument("--out", default="runs/jazz", help="run folder (default runs/jazz)")
    jazz.add_argument("--no-omnibook", action="store_true", help="leave the Omnibook out even when it is there")
    jazz.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    jazz.add_argument("--pitch-heads", default="none", help="key-free pitch scores beside the output layer: chord "
                      "(by interval above the chord's root), interval (from the last note), chord,interval or none "
                      "(default none; best added to a trained soloist with --init-from, see scripts/anneal-jazz.sh)")
    jazz.add_argument("--init-from", default=None, help="start from this jazz model's weights (a name or a folder; "
                      "its shape, tokenizer and split), adding the --pitch-heads it lacks at zero, so the run starts "
                      "playing exactly as it does; the model options are then ignored")
    jazz.add_argument("--add-inputs", default="", help="with --init-from: inputs the base does not read to add, "
                      "starting at zero (e.g. tempos, for a soloist trained before the tempo input)")
    _add_model_options(jazz)
    _add_train_options(jazz)
    jazz.set_defaults(hidden=384, embedding=64, dropout=0.3, dropout_embedding=0.1, eval_every=500)

    trade = train_sub.add_parser("trade", help="train a call-and-response model (encoder-decoder with attention) on "
                                 "phrase pairs of the solos in a jazz-layout folder")
    trade.add_argument("--corpus", required=True, help="a folder in the jazz layout, e.g. ../shared/corpora/jazz")
    trade.add_argument("--out", default="runs/trade", help="run folder (default runs/trade)")
    trade.add_argument("--bridge", default="attention", choices=("none", "final", "attention"),
                       help="what the answer reads of the call: nothing, the encoder's final state, or that and "
                       "attention at every step (default attention)")
    trade.add_argument("--copy", action="store_true", help="attention also proposes the call's intervals from the "
                       "answer's last note, gated (a pointer-generator over intervals; needs --bridge attention)")
    trade.add_argument("--aligned", action="store_true", help="attention also reads where each call note falls "
                       "against the answer step (onset offsets; needs --bridge attention)")
    trade.add_argument("--hidden", type=int, default=256, help="decoder units, 1..65536 (default 256)")
    trade.add_argument("--encoder-hidden", type=int, default=128, help="encoder units a direction (default 128)")
    trade.add_argument("--dropout", type=float, default=0.2, help="0..0.95 (default 0.2)")
    trade.add_argument("--batch-size", type=int, default=32, help="pairs per step, 1..4096 (default 32)")
    trade.add_argument("--lr", type=float, default=2e-3, help="AdamW learning rate (default 2e-3)")
    trade.add_argument("--max-epochs", type=int, default=40, help="1..10000 (default 40)")
    trade.add_argument("--minutes", type=float, default=0.0, help="wall-clock budget, 0: none (default 0)")
    trade.add_argument("--patience", type=int, default=4, help="epochs without improvement before stopping")
    trade.add_argument("--max-pairs", type=int, default=0, help="use this many training pairs (0: all)")
    trade.add_argument("--seed", type=int, default=0)
    trade.add_argument("--save-dtype", default="float32", help="float32, float16 or bfloat16 (default float32)")
    trade.add_argument("--resume", action="store_true", help="continue the run in --out from its last epoch")
    trade.add_argument("--init-from", help="start from this call-and-response model or run (its sizes and "
                       "dropout hold; "
                       "--bridge may add to its bridge: a final-state model grows attention that starts at zero, so "
                       "the run starts out playing as the base does and must beat its validation score)")

    add_ntm_parser(train_sub)
    add_sketch_parsers(sub, train_sub)

    fine = sub.add_parser("finetune", help="fine-tune a model on your own folder or zip of text or music")
    fine.add_argument("--base", default="shakespeare", help="shipped model name or model folder to start from: "
                      "shakespeare or prose (text), blues (lead sheets), chorale (polyphonic MIDI), jsb or folk "
                      "(piano roll), jazz (a jazz-layout folder of solos)")
    fine.add_argument("--corpus", required=True, help="a file, a folder, or a .zip: text (.txt/.md) for text "
                      "models, MIDI/MusicXML/ABC/kern/.ls for music models, a folder in the jazz layout "
                      "(wjd_solos.csv, wjd_notes.csv.gz, wjd_beats.csv.gz) for jazz")
    fine.add_argument("--out", default=None, help="run folder (default runs/<corpus name>-finetuned)")
    fine.add_argument("--samples", type=int, default=3, help="samples written at the end, 0..16 (default 3)")
    fine.add_argument("--resume", action="store_true", help="continue the fine-tune in --out from its last "
                      "checkpoint, with the same --corpus (only --minutes, the whole run's, and --max-steps change)")
    fine.add_argument("--weight-drop", type=float, default=None,
                      help="text models: DropConnect on the recurrent weights while fine-tuning, 0..0.95; 0.5 helped "
                      "on 20,000 characters and only slowed learning on 100,000 (default: the base model's, 0 for "
                      "the shipped ones)")
    _add_train_options(fine)
    fine.set_defaults(lr=5e-4, warmup=20, eval_every=50, patience=4, batch_size=32, seq_len=128, max_steps=None)

    poly = train_sub.add_parser("midi", help="train a polyphonic model (MidiTok REMI) on MIDI/MusicXML/ABC/kern files")
    poly.add_argument("--corpus", action="append", default=[], help="a file or folder of music files; repeatable")
    poly.add_argument("--out", default="runs/polyphonic", help="run folder (default runs/polyphonic)")
    _add_model_options(poly)
    _add_train_options(poly)

    rolls = train_sub.add_parser("rolls", help="train a piano-roll model (88 keys per frame, Boulanger-Lewandowski "
                                 "and Chung et al.) on a .json data set or on MIDI/MusicXML/ABC/kern files")
    rolls.add_argument("--data", action="append", default=[], required=True,
                       help="a Boulanger-Lewandowski .json (train/valid/test splits of MIDI numbers per frame), or "
                       "a file or folder of music files (split 90/10 by file name); repeatable for music files")
    rolls.add_argument("--frames-per-beat", type=int, default=1,
                       help="frame grid, 1..16: 1 = quarter notes (JSB Chorales), 2 = eighths (Nottingham)")
    rolls.add_argument("--out", default="runs/rolls", help="run folder; the model goes to OUT/best "
                       "(default runs/rolls)")
    g = rolls.add_argument_group("model")
    g.add_argument("--cell", default="lstm", help="rnn (tanh), lstm, gru, cplstm (peephole LSTM) or lnlstm "
                   "(layer-normalised LSTM) (default lstm)")
    g.add_argument("--layers", type=int, default=1, help="stacked recurrent layers, 1..16 (default 1)")
    g.add_argument("--hidden", type=int, default=300, help="hidden units per layer, 1..65536 (default 300)")
    g.add_argument("--dropout", type=float, default=0.3,
                   help="output and between-layer dropout, 0..0.95; the input gets half (default 0.3)")
    g.add_argument("--beat-periods", default="", help="also read each frame's index modulo these periods, "
                   "e.g. 12,16 (default none: the frame alone, as Chung et al.)")
    g.add_argument("--within-frame", default="independent", help="independent (88 independent keys, as Chung et "
                   "al.) or top_down (each key also reads the keys above it in its frame: chords, and a melody "
                   "that leads the voices; default independent)")
    g.add_argument("--frame-hidden", type=int, default=0, help="top_down: hidden units of the masked layer over "
                   "the frame, 0..65536 (0: a masked linear map only; default 0)")
    g = rolls.add_argument_group("training")
    g.add_argument("--lr", type=float, default=1e-2, help="AdamW learning rate, (0, 1] (default 1e-2)")
    g.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW weight decay, 0..1 (default 1e-4)")
    g.add_argument("--batch-size", type=int, default=8, help="pieces per step, 1..4096 (default 8)")
    g.add_argument("--minutes", type=float, default=3.0, help="wall-clock budget, >= 0 (0: none; default 3)")
    g.add_argument("--max-epochs", type=int, default=500, help="passes over the data, >= 1 (default 500)")
    g.add_argument("--patience", type=int, default=20,
                   help="stop after this many epochs without a better validation loss, >= 0 (0: never)")
    g.add_argument("--bucket", action="store_true", help="batch pieces of similar length (less padding)")
    g.add_argument("--transpose", type=int, default=0, help="augment: shift pieces up to +-N semitones, 0..12")
    g.add_argument("--seed", type=int, default=0, help="random seed, >= 0 (default 0)")
    g.add_argument("--threads", type=int, default=0, help="CPU threads for torch, 0 = torch's default")
    g.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (default cpu: these models are small)")
    g.add_argument("--save-dtype", default="float32", help="float32, float16 or bfloat16 (default float32)")

    comp = sub.add_parser("compose", help="compose music: jazz and blues solos over a chart with a band, or "
                          "continuations of a primer with a polyphonic model")
    comp.add_argument("--model", default="jazz", help="jazz (the soloist learned from the Weimar Jazz Database; "
                      "default) or blues (the older lead-sheet improviser) for --chart; chorale (or another "
                      "polyphonic model) for --primer; jsb or folk (piano-roll models) for --melody to harmonise, "
                      "--primer or neither")
    g = comp.add_argument_group("jazz and blues soloists")
    g.add_argument("--chart", default="12-bar", help="a form (12-bar, quick-change, jazz, minor, 8-bar) or a chart "
                   "like 'C7 | F7 | C7 | C7 | ...' (default 12-bar)")
    g.add_argument("--key", default=None, help="key of a named form, e.g. Bb, F#, Eb (default C); piano-roll "
                   "models: the key of your --melody or --primer (e.g. G, Em) when the one read from its notes is "
                   "wrong (a tune ending on its third can fool it)")
    g.add_argument("--tempo", type=float, default=None, help="beats per minute, 20..400 (default 160 for jazz, 120 "
                   "for blues; piano-roll models: the primer's or melody's tempo, else 90)")
    g.add_argument("--swing", type=float, default=None, help="the band's swing ratio, 0.5 (straight)..0.8 "
                   "(default: jazz, the solo's own feel read from its eighths; blues 0.62, lead and band)")
    g.add_argument("--style", default=None, help="jazz: the style to play in: traditional, swing, bebop, cool, "
                   "hardbop, postbop, free or fusion (default: any; `studio models` lists them)")
    g.add_argument("--soloist", default=None, help="jazz: play in the manner of a Weimar Jazz Database soloist, "
                   "e.g. 'Charlie Parker' (default: none; `studio models` lists them)")
    g.add_argument("--soloist-strength", type=float, default=None, help="jazz: how much in the manner of the "
                   "--soloist, 0 (not at all)..2 (exaggerated); default the model's (the shipped jazz: 0.5, which "
                   "predicted the players' held-out solos best; 1 is the entry as trained)")
    g.add_argument("--form", default="auto", choices=("auto", "blues", "other", "none"),
                   help="jazz: the form input; auto = blues for a 12-bar chart (default auto)")
    g.add_argument("--rhythm-temperature", type=float, default=None, help="jazz: a temperature for the note "
                   "lengths alone, (0, 100] (default: the model's, chosen on validation solos)")
    g.add_argument("--choruses", type=int, default=1, help="times through the form, 1..64 (default 1)")
    g.add_argument("--bass", default="walking", choices=("walking", "shuffle", "none"), help="bass line style")
    g.add_argument("--comping", default="piano", choices=("piano", "guitar", "none"), help="who plays the chords")
    g.add_argument("--no-drums", action="store_true", help="leave the drums out")
    g.add_argument("--lead-program", type=int, default=66, help="General MIDI program of the lead, 0..127 "
                   "(default 66, tenor sax)")
    g.add_argument("--key-lock", action="store_true", help="keep the lead on the blues scale of --key")
    g = comp.add_argument_group("polyphonic and piano-roll models")
    g.add_argument("--primer", default=None, help="a MIDI/MusicXML file to continue")
    g.add_argument("--tokens", type=int, default=None,
                   help="REMI models: tokens to add to the primer, 1..100000 (default 512)")
    g.add_argument("--melody", default=None, help="piano-roll models: a MIDI/MusicXML/ABC/kern file whose top "
                   "line to harmonise (e.g. a hymn tune under --model jsb, a reel under --model folk)")
    g.add_argument("--frames", type=int, default=None, help="piano-roll models: frames to add, 1..4000 (default 64)")
    g.add_argument("--max-notes", type=int, default=None,
                   help="piano-roll models: keys sounding at once at most, 0 (no cap)..88 (default 4)")
    g.add_argument("--min-notes", type=int, default=None,
                   help="piano-roll models, harmonising: keys under each melody note at least, 0..88 (default: "
                   "--max-notes, so a melody gets exactly four parts)")
    g = comp.add_argument_group("sampling and search (as in studio write)")
    g.add_argument("--temperature", type=float, default=None,
                   help="softmax temperature, (0, 100] (default 0.9; 1.0 for piano-roll models)")
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

    tr = sub.add_parser("trade", help="trade fours: answer a call (MIDI or MusicXML) over the next bars of a chart, "
                        "round after round, with the band")
    tr.add_argument("--call", required=True, help="a MIDI or MusicXML file: its top line, in 4/4, at most --bars bars")
    tr.add_argument("--chart", default="12-bar", help="a form (12-bar, jazz, minor...) or a chart 'C7 | F7 | ...'; "
                    "the call is over its first bars, each answer over the next (default 12-bar)")
    tr.add_argument("--key", default="C", help="key of a named form, e.g. Bb (default C)")
    tr.add_argument("--tempo", type=float, default=160.0, help="beats per minute, 20..400 (default 160)")
    tr.add_argument("--bars", type=int, default=4, help="bars a call and an answer last, 1..16 (default 4)")
    tr.add_argument("--rounds", type=int, default=1, help="answers, each to the one before, 1..16 (default 1)")
    tr.add_argument("--model", default="trade", help="a call-and-response model (default: the shipped trade)")
    tr.add_argument("--temperature", type=float, default=None, help="softmax temperature, (0, 100] (default 1.0)")
    tr.add_argument("--top-p", type=float, default=None, help="nucleus, (0, 1] (1: off)")
    tr.add_argument("--beam", type=int, default=1, help="beam width, 1..256")
    tr.add_argument("--listen", type=float, default=None, help="learn each call before answering it: the rate of "
                    f"a few SGD steps on the call, 0..2 (0: off; default {DEFAULT_LISTEN_LR:g}, chosen on validation "
                    "pairs)")
    tr.add_argument("--listen-steps", type=int, default=None, help="SGD steps of listening, 1..50 (default 5)")
    tr.add_argument("--seed", type=int, default=None, help="random seed, >= 0 (default: random, reported)")
    tr.add_argument("--out", default="trades", help="output folder (default ./trades)")
    tr.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (default cpu)")

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
    g.add_argument("--raw", action="store_true",
                   help="the model's text untouched (a prose model's card may ask to end on whole sentences and "
                        "drop headings no text follows)")
    g.add_argument("--out", default=None, help="also write each text and a JSON sidecar to this folder")
    g.add_argument("--json", action="store_true", help="print the result as JSON")
    g.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (default cpu)")

    ev = sub.add_parser("eval", help="held-out loss of any model on a corpus of its kind, one line or JSON",
                        description="Score a model on held-out data of its kind: text models on text (nats/token), "
                        "piano-roll models on a JSON data set of splits or on music files (nats/frame), REMI models "
                        "on music files (nats/token), lead-sheet models on lead sheets (nats/step and nats/note).")
    ev.add_argument("--model", required=True, help="shipped model name or model folder")
    ev.add_argument("--corpus", required=True, help="text models: a text file, a folder of .txt/.md files or a "
                    ".zip; piano-roll models: a .json data set or music files; REMI and lead-sheet models: a "
                    "folder (or file) of MIDI/MusicXML/ABC/kern (and .ls for lead sheets)")
    ev.add_argument("--split", default="auto", choices=("auto", "all", "train", "valid", "test"),
                    help="auto (default): all of a text or a folder, the test split of a JSON data set (all of it "
                    "when it has none); valid: a text's tail share used for validation in training; train, valid, "
                    "test: that split of a JSON data set")
    ev.add_argument("--valid-fraction", type=float, default=None,
                    help="text models: the tail share for --split valid, (0, 0.5] (default 0.1)")
    ev.add_argument("--streams", type=int, default=None,
                    help="text models: side-by-side streams the text is cut into, the state carried within each, "
                    "1..4096 (default 64; training validates with its batch size; 1 reads the whole text as one "
                    "stream, so only its first token lacks context)")
    ev.add_argument("--dynamic-lr", type=float, default=None,
                    help="the jazz soloist: also score with dynamic evaluation, the model adapting to each solo "
                    "by SGD at this rate, (0, 1] (0.03 chosen on validation); the JSON gains "
                    "dynamic_nats_per_note beside the static figure")
    ev.add_argument("--soloist-strength", type=float, default=None,
                    help="the jazz soloist: how strongly it reads each solo's soloist entry, 0 (none)..2 (default: "
                    "the model's card's, else 1; the shipped jazz: 0.5, chosen on validation solos)")
    ev.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto)")
    ev.add_argument("--json", action="store_true", help="print the result as JSON: the unit (nats_per_token, "
                    "nats_per_frame, nats_per_step ...), the loss, items scored and files skipped with reasons")

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
