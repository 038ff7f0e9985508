"""Train a chord-conditioned lead-sheet model (the blues improviser): lead sheets in, a model bundle out.

Lead sheets become three aligned streams, one entry per 16th-note step: the melody event (rest / hold / note-on),
the chord sounding, and the position in the bar. Pieces are joined into one stream (with a bar of rest under "no
chord" between them, so the model learns where a piece starts) and trained with the same Trainer as text: the
model reads each event with the chord and bar position of the step it predicts (Eck & Schmidhuber 2002;
Magenta's Improv RNN). The split into training and validation is by piece and deterministic.
"""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from studio.config import ModelConfig, TrainConfig
from studio.errors import StudioError
from studio.loading import finetune_base
from studio.music.leadsheet.tokenizer import LeadSheetTokenizer
from studio.music.theory.chords import CHORD_VOCAB, NO_CHORD, STEPS_PER_BAR, LeadSheet, chord_features
from studio.training.resume import read_resumable
from studio.training.trainer import Callback, Trainer, TrainResult

CONDITIONED_DEFAULTS = {"chord_vocab_size": len(CHORD_VOCAB), "chord_features": 25, "chord_embedding": 32,
                        "bar_positions": STEPS_PER_BAR, "position_embedding": 8}


def chord_feature_table() -> torch.Tensor:
    """Features of every chord in ``CHORD_VOCAB``, shape (len(CHORD_VOCAB), 25): the model's chord table."""
    return torch.tensor([chord_features(c) for c in CHORD_VOCAB], dtype=torch.float32)


def sheets_to_streams(sheets: Sequence[LeadSheet], tokenizer: LeadSheetTokenizer,
                      transpositions: Sequence[int] = (0,), moved: Counter[int] | None = None
                      ) -> dict[str, torch.Tensor]:
    """Encode lead sheets (each in every given transposition) into aligned ``tokens``/``chords``/``positions``
    streams, shape (n,) each, with one bar of rest under no chord before every piece. Pitches outside the
    tokenizer's range are moved by octaves into it and counted in ``moved`` when given."""
    tokens: list[int] = []
    chords: list[int] = []
    positions: list[int] = []
    gap_chord = NO_CHORD.index
    for sheet in sheets:
        for shift in transpositions:
            events = tokenizer.encode(sheet.transpose(shift) if shift else sheet)
            if moved is not None:
                moved.update(tokenizer.last_out_of_range)
            tokens += [tokenizer.REST] * STEPS_PER_BAR + list(events.tokens)
            chords += [gap_chord] * STEPS_PER_BAR + list(events.chords)
            positions += list(range(STEPS_PER_BAR)) + list(events.positions)
    if not tokens:
        raise StudioError("no lead sheets to train on")
    return {name: torch.tensor(values, dtype=torch.long)
            for name, values in (("tokens", tokens), ("chords", chords), ("positions", positions))}


PHRASES_EXTRA = "phrases"  # the extra tensor file of a lead-sheet model: hashes of its training phrases


def phrase_hashes(sheets: Sequence[LeadSheet]) -> torch.Tensor:
    """Stable 64-bit hashes of every two-bar phrase of ``sheets`` (``studio.music.leadsheet.metrics.phrase_keys``),
    sorted and distinct, shape (count,): what "was this phrase in the training data?" is asked against."""
    from studio.music.leadsheet.metrics import phrase_keys

    values = {phrase_hash(key) for sheet in sheets for key in phrase_keys(sheet)}
    return torch.tensor(sorted(values), dtype=torch.int64)


def phrase_hash(key: Any) -> int:
    """A phrase key's hash, the same in every process (Python's own ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.blake2b(repr(key).encode(), digest_size=8).digest(), "big", signed=True)


def split_sheets(sheets: Sequence[LeadSheet], valid_fraction: float) -> tuple[list[LeadSheet], list[LeadSheet]]:
    """Deterministic split by piece: a piece goes to validation when the hash of its name falls in the tail."""
    def bucket(sheet: LeadSheet) -> float:
        digest = hashlib.sha256(f"{sheet.name}|{len(sheet.melody)}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    train = [s for s in sheets if bucket(s) >= valid_fraction]
    valid = [s for s in sheets if bucket(s) < valid_fraction]
    if not valid or not train:  # tiny corpora: fall back on the last piece for validation
        train, valid = list(sheets[:-1]) or list(sheets), list(sheets[-1:])
    return train, valid


@dataclass
class LeadSheetSplit:
    """The streams ``train_leadsheets`` trains and validates on (so a caller can size batches before a run)."""

    dense: list[LeadSheet]           # the sheets kept (dense enough to learn from)
    train_sheets: list[LeadSheet]
    valid_sheets: list[LeadSheet]
    train: dict[str, torch.Tensor]   # tokens, chords, positions (``sheets_to_streams``)
    valid: dict[str, torch.Tensor]
    moved: Counter[int]              # notes moved by octaves into the tokenizer's range, by piece


def leadsheet_split(sheets: Sequence[LeadSheet], tokenizer: LeadSheetTokenizer, valid_fraction: float,
                    min_notes_per_bar: float = 0.5, transpositions: Sequence[int] = (0,)) -> LeadSheetSplit:
    """Leave out sparse sheets, split the rest by piece, and encode both parts (training augmented by
    ``transpositions``); a StudioError when no sheet is dense enough."""
    dense = [s for s in sheets if len(s.melody) >= min_notes_per_bar * (s.num_steps // STEPS_PER_BAR)]
    if not dense:
        raise StudioError(f"no lead sheet has at least {min_notes_per_bar} notes per bar to learn from")
    train_sheets, valid_sheets = split_sheets(dense, valid_fraction)
    moved: Counter[int] = Counter()
    train = sheets_to_streams(train_sheets, tokenizer, transpositions, moved)
    valid = sheets_to_streams(valid_sheets, tokenizer, moved=moved)
    return LeadSheetSplit(dense, list(train_sheets), list(valid_sheets), train, valid, moved)


def train_leadsheets(sheets: Sequence[LeadSheet], out_dir: str | Path, model_config: dict[str, Any] | None = None,
                     train_config: TrainConfig | None = None, callbacks: list[Callback] | None = None,
                     low: int = 36, high: int = 96, transpositions: Sequence[int] = (0,),
                     save_dtype: str = "float32", corpus_card: dict[str, Any] | None = None,
                     command: str | None = None, min_notes_per_bar: float = 0.5,
                     base: str | Path | None = None, resume: bool = False,
                     budget_overrides: dict[str, Any] | None = None) -> TrainResult:
    """Train a chord-conditioned lead-sheet model on ``sheets`` into ``out_dir`` (a new run folder), or continue
    the run there (``resume``: its own settings come from ``out_dir/last``, only ``budget_overrides`` change).

    Parameters
    ----------
    model_config : dict
        ModelConfig fields; vocabulary and conditioning sizes are filled in (``CONDITIONED_DEFAULTS``).
    transpositions : sequence of int
        Semitone shifts applied to every training piece (data augmentation; validation is not augmented).
    min_notes_per_bar : float
        Pieces sparser than this are left out: a lead sheet that is mostly empty bars under chords (a chart with a
        placeholder melody) teaches the improviser to sit out, and it then does.
    base : str or Path, optional
        Fine-tune this lead-sheet model (shipped name or folder) instead of starting from scratch: its tokenizer,
        shape and weights are kept; notes outside its pitch range are moved by octaves into it and reported.
    """
    out = Path(out_dir)
    run = read_resumable(out, budget_overrides, live=train_config) if resume else None
    if run is None and ((out / "last").exists() or (out / "best").exists()):
        raise StudioError(f"{out} already holds a training run; continue it with --resume, or choose another --out")
    tconf = run.train_config if run else train_config or TrainConfig()
    tokenizer = LeadSheetTokenizer(low=low, high=high)
    initial_weights = None
    base_card: dict[str, Any] = {}
    if run is not None:
        tokenizer = LeadSheetTokenizer.from_dict(run.bundle.card["tokenizer"])
        model_config, base_card = run.model_config.to_dict(), run.card
        transpositions = base_card["corpus"]["transpositions"]
        min_notes_per_bar = base_card["corpus"]["min_notes_per_bar"]
    elif base is not None:
        start = finetune_base(base, "leadsheet", LeadSheetTokenizer.from_dict)
        tokenizer, model_config, initial_weights, base_card = (start.tokenizer, start.model_config, start.weights,
                                                               start.card)
    split = leadsheet_split(sheets, tokenizer, tconf.valid_fraction, min_notes_per_bar, transpositions)
    dense, train_sheets, valid_sheets, train, valid, moved = (split.dense, split.train_sheets, split.valid_sheets,
                                                              split.train, split.valid, split.moved)
    sparse = len(sheets) - len(dense)
    mconf = ModelConfig(**{**CONDITIONED_DEFAULTS, **(model_config or {}), "vocab_size": tokenizer.vocab_size})
    card = {**base_card, "name": out.name, "model_kind": "leadsheet",
            "notes_moved_into_range": sum(moved.values()),
            "command": base_card.get("command") or command or " ".join(["studio", *sys.argv[1:]]),
            "corpus": {**base_card.get("corpus", {}), **(corpus_card or {}), "pieces": len(dense),
                       "left_out_sparse": sparse, "min_notes_per_bar": min_notes_per_bar,
                       "train_pieces": len(train_sheets), "valid_pieces": len(valid_sheets),
                       "train_steps": int(train["tokens"].numel()), "valid_steps": int(valid["tokens"].numel()),
                       "transpositions": list(transpositions)}}
    conds = ("chords", "positions")
    trainer = Trainer(mconf, tconf, tokenizer, train["tokens"], valid["tokens"], out, card=card,
                      callbacks=callbacks, save_dtype=save_dtype, initial_weights=initial_weights,
                      train_conditions={k: train[k] for k in conds}, valid_conditions={k: valid[k] for k in conds},
                      model_setup=lambda model: model.set_chord_features(chord_feature_table()),
                      best_extras={PHRASES_EXTRA: {"hashes": phrase_hashes(train_sheets)}},
                      resume=run.bundle if run else None)
    return trainer.fit()
