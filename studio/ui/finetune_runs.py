"""The fine-tuning services, one per kind of base model, as the Train tab's background job calls them.

Each runner calls what ``studio finetune`` calls for that kind (``studio/cli/text.py`` ``cmd_finetune``,
``studio/cli/music.py`` ``finetune_music``, ``studio/cli/rolls.py`` ``finetune_rolls_cli``), with the CLI's
fine-tuning defaults (``make_config``), and sums the outcome up in a ``RunSummary`` for the page. Two things the
page adds, because its people upload a handful of files and cannot pass ``--batch-size``:

- a small music corpus gets smaller batches: the Trainer needs ``batch_size * (seq_len + 1) + 1`` training
  tokens, which a few MIDI files do not have at the CLI's 32 x 128 (``fit_batches``; text is shaped before the run
  from the upload sizes, see ``studio.ui.train_tab.batch_shape``);
- every result reads "validation before -> after": the Trainer (text, lead-sheet, polyphonic) measures the base
  model on the validation stream before its first step (a ``base_eval`` event, ``TrainResult.base_metrics``),
  and piano-roll fine-tuning scores the base model as its epoch 0.

Piano-roll models train by epochs, not steps: their ``max_steps`` counts epochs, and they report epoch rows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.ui.model_cache import LEADSHEET, PIANO_ROLL, POLYPHONIC, TEXT

UNITS = {TEXT: "nats/token", LEADSHEET: "nats/token", POLYPHONIC: "nats/token", PIANO_ROLL: "nats/frame"}
USES = {TEXT: "write with it in the Write tab",
        LEADSHEET: "improvise with it over a chart in the Blues tab",
        POLYPHONIC: "compose with it in the Compose tab (continue a primer, or start a piece)",
        PIANO_ROLL: "compose with it in the Compose tab (harmonise a melody, continue a primer, or start a piece)"}
BATCH, SEQ_LEN, MIN_SEQ_LEN = 32, 128, 16   # `studio finetune`'s batches, and the shortest window the page shrinks to
MAX_EPOCHS = 500                             # `studio finetune --base jsb`'s


@dataclass
class Hooks:
    """Where a run reports to (the job's recorders); each is called from the training thread."""

    on_event: Callable[[Any], None]                 # the Trainer's TrainEvents (text, lead-sheet, polyphonic);
                                                    # "base_eval" carries the base model's validation loss
    on_epoch: Callable[[dict[str, Any]], None]      # piano-roll epoch rows {"epoch", "train", "valid", ...};
                                                    # epoch 0 is the base model's
    on_note: Callable[[str], None]                  # a line for the notes (skipped files, smaller batches...)


@dataclass
class RunSummary:
    """How a fine-tuning run ended, in the terms the page shows."""

    kind: str
    count: int                  # optimiser steps, or epochs for piano-roll models
    stop_reason: str
    before: float | None        # the base model's loss on the user's validation data
    after: float | None         # the fine-tuned model's (the best kept)
    model_path: Path
    no_model: str = ""          # why the run left no new model ("" when it made one), with what would help
    samples: list[str] = field(default_factory=list)        # text models: a sample and its novelty
    novelty: list[float | None] = field(default_factory=list)

    @property
    def new_model(self) -> bool:
        return not self.no_model

    @property
    def unit(self) -> str:
        return UNITS[self.kind]

    @property
    def counter(self) -> str:
        return "epochs" if self.kind == PIANO_ROLL else "steps"


def make_config(kind: str, minutes: float, max_steps: int, batch_size: int = BATCH, seq_len: int = SEQ_LEN) -> Any:
    """``studio finetune``'s defaults for ``kind`` (lr 5e-4, warm-up 20, eval every 50, patience 4, 32 x 128), with
    the page's budgets; a piano-roll model's config counts ``max_steps`` as epochs (at most 500, as the CLI)."""
    if kind == PIANO_ROLL:
        from studio.music.pianoroll.finetune import finetune_config

        return finetune_config(max_epochs=min(MAX_EPOCHS, max_steps), minutes=minutes)
    from studio.config import TrainConfig

    return TrainConfig(lr=5e-4, warmup_steps=min(20, max_steps), eval_every=50, patience=4, batch_size=batch_size,
                       seq_len=seq_len, max_steps=max_steps, minutes=minutes)


def shape_for_tokens(tokens: int, batch_size: int = BATCH, seq_len: int = SEQ_LEN) -> tuple[int, int]:
    """(batch_size, seq_len) that ``tokens`` training tokens can fill: the given shape, or less for a small corpus.

    The window halves (down to 16) until the corpus holds eight windows per row, then the batch takes the rows
    that fit; a batch needs ``batch_size * (seq_len + 1) + 1`` tokens.
    """
    while seq_len > MIN_SEQ_LEN and tokens < 8 * (seq_len + 1):
        seq_len //= 2
    return max(1, min(batch_size, (tokens - 1) // (seq_len + 1))), seq_len


def fit_batches(config: Any, tokens: int, unit: str, note: Callable[[str], None]) -> None:
    """Shrink ``config``'s batches in place to what ``tokens`` training tokens fill (the job's Stop holds the same
    object); a corpus too small even for one window of 16 is an error that says how much more is needed."""
    need = MIN_SEQ_LEN + 2  # one row of one window: seq_len + 1 tokens, plus the last target
    if tokens < need:
        more = need - tokens
        from studio.music.theory.chords import STEPS_PER_BAR

        extra = f" (about {math.ceil(more / STEPS_PER_BAR)} more bar(s))" if unit == "16th-note steps" else ""
        raise StudioError(f"your music is too short to fine-tune on: its training part (a piece is kept for "
                          f"validation) comes to {tokens} {unit}, and a batch needs at least {need}; add {more} more "
                          f"{unit}{extra}, e.g. a longer piece or another one")
    shape = shape_for_tokens(tokens, config.batch_size, config.seq_len)
    if shape != (config.batch_size, config.seq_len):
        note(f"a small corpus ({tokens:,} {unit} to train on): batches of {shape[0]} x {shape[1]} instead of "
             f"{config.batch_size} x {config.seq_len}")
        config.batch_size, config.seq_len = shape


def run(kind: str, base: str, corpus: Path, out: Path, config: Any, hooks: Hooks, command: str,
        weight_drop: float | None = None, resume: bool = False) -> RunSummary:
    """Fine-tune ``base`` (a model of ``kind``) on the files in ``corpus`` into ``out``; blocks until done.
    ``weight_drop`` (text models only, refused for others by the Train tab; None keeps the base's) is DropConnect on
    the recurrent weights. ``resume`` continues the run in ``out`` from its last checkpoint: ``config`` keeps its
    budgets (the whole run's) and takes every other setting from the run."""
    if kind == TEXT:
        return _text(base, corpus, out, config, hooks, command, weight_drop, resume)
    runner = {LEADSHEET: _leadsheet, POLYPHONIC: _polyphonic, PIANO_ROLL: _piano_roll}[kind]
    return runner(base, corpus, out, config, hooks, command, resume)


def _text(base: str, corpus: Path, out: Path, config: Any, hooks: Hooks, command: str,
          weight_drop: float | None = None, resume: bool = False) -> RunSummary:
    from studio.text.finetune import finetune_text

    result = finetune_text(base, corpus, out, config, callbacks=[hooks.on_event], command=command, samples=1,
                           on_note=lambda line: hooks.on_note(_tidy(line, corpus)),
                           weight_drop=None if resume else weight_drop, resume=resume)
    before = result.base_valid.get("valid_nats_per_token")
    return RunSummary(TEXT, result.steps, result.stop_reason, before,
                      result.best_valid.get("valid_nats_per_token"), out, result.no_model, samples=result.samples,
                      novelty=result.novelty)


def _leadsheet(base: str, corpus: Path, out: Path, config: Any, hooks: Hooks, command: str,
               resume: bool = False) -> RunSummary:
    from studio.music.io.corpus import read_leadsheet_corpus
    from studio.music.leadsheet.tokenizer import LeadSheetTokenizer
    from studio.music.leadsheet.training import leadsheet_split, train_leadsheets

    sheets, report = read_leadsheet_corpus([corpus])
    for line in report.lines():
        hooks.on_note(_tidy(line, corpus))
    if not sheets:
        raise StudioError("no usable lead sheet among your files (each needs melody notes; see the notes)")
    if not resume:  # the service's own split and encoding, only to size the batches before it runs
        split = leadsheet_split(sheets, _base_tokenizer(base, LeadSheetTokenizer.from_dict), config.valid_fraction)
        fit_batches(config, int(split.train["tokens"].numel()), "16th-note steps", hooks.on_note)
    result = train_leadsheets(sheets, out, train_config=config, callbacks=[hooks.on_event], base=base,
                              corpus_card=_corpus_card(len(report.used), len(report.skipped)), command=command,
                              resume=resume)
    return _trained(LEADSHEET, result, out)


def _polyphonic(base: str, corpus: Path, out: Path, config: Any, hooks: Hooks, command: str,
                resume: bool = False) -> RunSummary:
    from studio.music.io.corpus import load_music_files
    from studio.music.remi.tokenizer import PolyTokenizer
    from studio.music.remi.training import piece_streams, train_polyphonic

    pieces, skipped_lines = load_music_files([corpus])
    for line in skipped_lines:  # listed, never fatal (as `studio finetune`)
        hooks.on_note(_tidy(f"skipped {line}", corpus))
    skipped = len(skipped_lines)
    if len(pieces) < 2:
        raise StudioError(f"a polyphonic model needs at least 2 usable pieces (one to validate on); your files gave "
                          f"{len(pieces)}: upload {2 - len(pieces)} more")
    if not resume:  # the service's own split and encoding, only to size the batches before it runs
        train, _, _, _ = piece_streams(pieces, _base_tokenizer(base, PolyTokenizer.from_dict), config.valid_fraction)
        fit_batches(config, int(train.numel()), "REMI tokens", hooks.on_note)
    result = train_polyphonic(pieces, out, train_config=config, callbacks=[hooks.on_event], base=base,
                              corpus_card=_corpus_card(len(pieces), skipped), command=command, resume=resume)
    return _trained(POLYPHONIC, result, out)


def _piano_roll(base: str, corpus: Path, out: Path, config: Any, hooks: Hooks, command: str,
                resume: bool = False) -> RunSummary:
    from studio.music.pianoroll.finetune import finetune_rolls

    tuned = finetune_rolls(base, [corpus], out, config, on_epoch=hooks.on_epoch, resume=resume)
    for line in tuned.skipped:
        hooks.on_note(_tidy(f"skipped {line}", corpus))
    result = tuned.result
    why = "" if tuned.path else (f"no epoch beat the base model's validation loss ({tuned.base_valid:.3f} nats per "
                                 "frame); give it more minutes or more music")
    return RunSummary(PIANO_ROLL, result.epochs, result.stop_reason, tuned.base_valid,
                      result.best_valid if tuned.path else None, out, why)


def _base_tokenizer(base: str, read: Callable[[dict[str, Any]], Any]) -> Any:
    """The base model's tokenizer, rebuilt by its family's ``read`` from its card alone (the service reads the
    weights itself, once)."""
    from studio.loading import read_card, resolve_model

    return read(read_card(resolve_model(base))["tokenizer"])


def _trained(kind: str, result: Any, out: Path) -> RunSummary:
    """A Trainer run's summary; the Trainer measured the base model on the same validation stream before step 1,
    and saved a ``best/`` model only if an evaluation beat it."""
    before = (result.base_metrics or {}).get("valid_nats_per_token")
    return RunSummary(kind, result.steps, result.stop_reason, before,
                      result.best_metrics.get("valid_nats_per_token"), out, result.no_model(UNITS[kind], "music"))


def _corpus_card(files: int, skipped: int) -> dict[str, Any]:
    """The card's corpus entry (the CLI's, with the uploads standing in for the corpus path)."""
    return {"name": "files uploaded to the Studio page", "files": files, "skipped": skipped}


def _tidy(line: str, corpus: Path) -> str:
    """A note without the server's corpus folder in it: ``003-song.mid``, or ``songs.zip/a.mid`` for a file from an
    unpacked zip (``studio.ui.corpus_kinds.gather_corpus``)."""
    line = line.replace(f"{corpus}/", "").replace(str(corpus), "your files")
    return re.sub(r"\.\d{3}-([^/\s]+?)-corpus/", r"\1/", line)
