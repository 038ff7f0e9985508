"""Solos into the aligned token and condition streams the Trainer reads, with the augmentations of training.

Training copies every solo into all 12 keys (-5..+6 semitones) and, per copy, hides its style, soloist and form
with fixed probabilities, so the model learns to play with each input given and without it (a person may choose
"none"). The copies are laid out in a seeded random order: a window of the stream never sees one solo twelve times
running. Validation and test solos are encoded as they are, every input given.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch

from studio.errors import StudioError
from studio.music.jazz.corpus import Solo
from studio.music.jazz.tokenizer import CONDITIONS, JazzEvents, JazzTokenizer
from studio.music.theory.chords import CHORD_VOCAB, chord_features

KEYS = tuple(range(-5, 7))  # all twelve keys, the smallest shifts
HIDE = {"style": 0.25, "soloist": 0.35, "form": 0.25}  # chance that a training copy leaves each input at "none"


def chord_feature_table() -> torch.Tensor:
    """The jazz model's chord table, shape (169, 37): every chord of ``CHORD_VOCAB`` with its intervals above the
    root beside root and pitch classes (``chord_features(..., intervals=True)``): the quality in every key."""
    return torch.tensor([chord_features(c, intervals=True) for c in CHORD_VOCAB], dtype=torch.float32)


def concatenate(encoded: Sequence[JazzEvents]) -> dict[str, torch.Tensor]:
    """One ``tokens`` stream and one stream per condition, shape (n,) each, from encoded solos in order."""
    if not encoded:
        raise StudioError("no solos to encode")
    streams = {"tokens": torch.tensor([t for e in encoded for t in e.tokens], dtype=torch.long)}
    for name in CONDITIONS:
        streams[name] = torch.tensor([v for e in encoded for v in e.conditions[name]], dtype=torch.long)
    return streams


def training_streams(solos: Sequence[Solo], tokenizer: JazzTokenizer, seed: int = 0,
                     keys: Sequence[int] = KEYS) -> dict[str, torch.Tensor]:
    """Every solo in every key of ``keys``, inputs hidden per ``HIDE``, in a seeded random order."""
    rng = random.Random(seed)
    copies = [(solo, shift) for solo in solos for shift in keys]
    rng.shuffle(copies)
    encoded = []
    for solo, shift in copies:
        hide = {name: rng.random() < p for name, p in HIDE.items()}
        encoded.append(tokenizer.encode(solo.transpose(shift) if shift else solo, style=not hide["style"],
                                        soloist=not hide["soloist"], form=not hide["form"]))
    return concatenate(encoded)


def plain_streams(solos: Sequence[Solo], tokenizer: JazzTokenizer) -> dict[str, torch.Tensor]:
    """The solos as they are, every input given (validation)."""
    return concatenate([tokenizer.encode(solo) for solo in solos])
