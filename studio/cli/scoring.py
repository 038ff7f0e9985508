"""``studio eval``: the held-out loss of any model on a corpus of its kind, as one line or as JSON.

Each kind of model (its card's ``model_kind``) has a scorer in its own family, found through ``SCORERS``. A new
family plugs in with one entry there, ``"kind": ("package.module", "function")``, naming a function

    function(model, corpus, split, device, **options) -> dict

that returns a JSON-ready report with at least ``unit`` (``nats_per_token``, ``nats_per_frame``, ``nats_per_note``
...), the loss under that same key, and ``skipped`` (``{"file", "reason"}`` entries, or ``[file, reason]``
pairs); ``items`` and ``item`` (how many of what were scored: ``12``, ``"pieces"``) and ``split`` are printed when
present. ``split`` is ``auto`` unless the person says (``all``, ``train``, ``valid`` or ``test``); a scorer
refuses what its corpora do not have. Options other than those four (``--streams``, ``--dynamic-lr`` ...) reach
only scorers that take them by name; another scorer refuses them with a message that says whose they are.
``READS`` says in words what each kind reads, so a corpus of the wrong kind is refused before anything loads (a
kind without an entry there leaves that to its scorer).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.music.io.file_types import IMPRO_VISOR_SUFFIXES, MIDI_SUFFIXES, MUSIC21_SUFFIXES

SCORERS: dict[str, tuple[str, str]] = {
    "text": ("studio.text.scoring", "score_text"),
    "leadsheet": ("studio.music.leadsheet.scoring", "score_leadsheets"),
    "polyphonic": ("studio.music.remi.scoring", "score_remi"),
    "piano_roll": ("studio.music.pianoroll.scoring", "score_rolls"),
    "jazz": ("studio.music.jazz.evaluation", "evaluate_jazz"),
    "trade": ("studio.music.trade.scoring", "score_trade"),
    "draw": ("studio.sketch.scoring", "score_draw"),
}

# studio.text.corpus.TEXT_SUFFIXES and zips of them (not imported: it pulls in torch, and `studio --help` should not)
_TEXT = (".txt", ".md", ".text", ".rst", ".zip")
_MIDI, _SCORES, _LS = MIDI_SUFFIXES, MUSIC21_SUFFIXES, IMPRO_VISOR_SUFFIXES
# What each kind is, and what it reads: (the model in words, the corpus in words, the suffixes it reads).
READS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "text": ("a text model", "text files (.txt, .md, .text, .rst, or a .zip of them)", _TEXT),
    "leadsheet": ("a music model (a lead-sheet improviser)", "lead sheets: MIDI with a melody and a chord track, "
                  "MusicXML or ABC with chord symbols, kern, or Impro-Visor .ls", (*_MIDI, *_SCORES, *_LS)),
    "polyphonic": ("a music model (polyphonic, REMI)", "MIDI, MusicXML, ABC or kern files", (*_MIDI, *_SCORES)),
    "piano_roll": ("a music model (a piano-roll harmoniser)", "a JSON data set of train/valid/test splits (the "
                   "layout of ../shared/corpora/polyphonic) or MIDI, MusicXML, ABC or kern files",
                   (".json", *_MIDI, *_SCORES)),
    "jazz": ("the jazz soloist", "a folder in the jazz layout (wjd_solos.csv, wjd_notes.csv.gz, wjd_beats.csv.gz, "
             "as ../shared/corpora/jazz)", (".csv", ".gz")),
    "trade": ("a call-and-response model", "a folder in the jazz layout (its solos' phrase pairs)", (".csv", ".gz")),
    "draw": ("an image model (DRAW)", "binarized MNIST as packed bits (an .npz with train/valid/test splits, as "
             "../shared/corpora/binarized-mnist)", (".npz",)),
}
# The options only some scorers take (parsed as None when not given), and whose they are.
OPTIONS = {"streams": "text models", "valid_fraction": "text models", "dynamic_lr": "the jazz soloist",
           "soloist_strength": "the jazz soloist"}


def scorer(kind: str) -> Callable[..., dict[str, Any]]:
    """The scoring function of models of ``kind`` (imported on use, so ``studio --help`` stays quick)."""
    module, name = SCORERS[kind]
    return getattr(importlib.import_module(module), name)


def check_corpus(model: str, kind: str, corpus: str | Path) -> None:
    """A StudioError naming what a model of ``kind`` reads when ``corpus`` holds nothing of that kind."""
    path = Path(corpus)
    if not path.exists():
        raise StudioError(f"corpus {path} does not exist")
    if kind not in READS:
        return
    what, reads, suffixes = READS[kind]
    files = [path] if path.is_file() else (p for p in path.rglob("*") if p.is_file())
    if not any(p.suffix.lower() in suffixes for p in files):
        raise StudioError(f"{model} is {what} and reads {reads}; {path} holds none of those")


def cmd_eval(args: argparse.Namespace) -> int:
    from studio.loading import pick_device, read_card, resolve_model

    kind = read_card(resolve_model(args.model)).get("model_kind", "text")
    if kind not in SCORERS:
        raise StudioError(f"{args.model} is a {kind} model, and studio eval has no scorer for that kind; it scores "
                          f"{', '.join(SCORERS)} models")
    check_corpus(args.model, kind, args.corpus)
    score = scorer(kind)
    takes = inspect.signature(score).parameters
    options = {name: getattr(args, name) for name in OPTIONS if getattr(args, name) is not None}
    for name in options:
        if name not in takes:
            raise StudioError(f"--{name.replace('_', '-')} is for {OPTIONS[name]}; {args.model} is {_words(kind)}")
    if "on_note" in takes:
        options["on_note"] = lambda line: print(f"note: {line}", file=sys.stderr)
    report = score(str(args.model), str(args.corpus), args.split, str(pick_device(args.device)), **options)
    skipped = [tuple(entry.values()) if isinstance(entry, dict) else tuple(entry)
               for entry in report.get("skipped", [])]
    for file, reason, *_ in skipped:
        print(f"note: skipped {file}: {reason}", file=sys.stderr)
    print(json.dumps(report, default=float) if args.json else one_line(report))
    return 0


def one_line(report: dict[str, Any]) -> str:
    """``5.1530 nats/frame over 77 pieces (8,735 frames; test split)``, with a kind's other figures."""
    unit = report["unit"]
    parts = [f"{report[unit]:.4f} {unit.replace('_per_', '/')}"]
    parts += [f"{report[key]:.4f} {words}" for key, words in (("bits_per_char", "bits/char"),
                                                              ("nats_per_note", "nats/note"),
                                                              ("nats_per_event", "nats/event (notes and rests)"))
              if key in report and key != unit]
    if "dynamic_nats_per_note" in report:
        parts.append(f"{report['dynamic_nats_per_note']:.4f} nats/note adapting as it reads (dynamic evaluation)")
    if "perplexity" in report:
        parts.append(f"perplexity {report['perplexity']:.2f}")
    line = ", ".join(parts)
    if "items" in report:
        line += f" over {report['items']:,} {report.get('item', 'items')}"
    counts = [f"{report[key]:,} {key}" for key in ("tokens", "frames", "steps", "notes") if key in report]
    if report.get("split") not in (None, "all"):
        counts.append(f"{report['split']} split")
    if report.get("skipped"):
        counts.append(f"{len(report['skipped'])} file(s) skipped")
    return line + (f" ({'; '.join(counts)})" if counts else "")


def _words(kind: str) -> str:
    return READS[kind][0] if kind in READS else f"a {kind} model"
