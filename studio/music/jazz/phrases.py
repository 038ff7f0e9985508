"""Two-bar phrases, to tell whether a solo plays something new or copies a line of the solos it learned from.

A phrase is the notes whose onsets fall in one window of two bars (windows start on even bars), as (onset within
the window, interval from the phrase's first note) pairs: the same line in another key is the same phrase. Windows
with fewer than ``MIN_NOTES`` notes (a held note, a rest) say nothing about copying and are left out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import torch

from studio.music.jazz.corpus import TICKS_PER_BAR, SoloNote

WINDOW = 2 * TICKS_PER_BAR
MIN_NOTES = 3
PHRASES_EXTRA = "phrases"  # the bundle extra of a jazz model: hashes of its training solos' phrases

PhraseKey = tuple[tuple[int, int], ...]


def phrase_keys(notes: Sequence[SoloNote]) -> list[PhraseKey]:
    """The key of every two-bar window of ``notes`` holding at least ``MIN_NOTES`` notes, in time order."""
    windows: dict[int, list[SoloNote]] = {}
    for note in notes:
        windows.setdefault(note.onset // WINDOW, []).append(note)
    keys = []
    for index in sorted(windows):
        inside = windows[index]
        if len(inside) >= MIN_NOTES:
            first = inside[0].pitch
            keys.append(tuple((n.onset - index * WINDOW, n.pitch - first) for n in inside))
    return keys


def phrase_hash(key: PhraseKey) -> int:
    """A phrase's 64-bit hash, the same in every process (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.blake2b(repr(key).encode(), digest_size=8).digest(), "big", signed=True)


def phrase_hashes(solos: Iterable[Sequence[SoloNote]]) -> torch.Tensor:
    """Sorted distinct hashes of every phrase of ``solos`` (lists of notes), shape (count,), int64."""
    return torch.tensor(sorted({phrase_hash(k) for notes in solos for k in phrase_keys(notes)}), dtype=torch.int64)


def copied_share(notes: Sequence[SoloNote], known: torch.Tensor) -> float | None:
    """The share of ``notes``'s phrases found among ``known`` hashes (sorted, from ``phrase_hashes``); None when it
    has no phrase long enough to judge."""
    hashes = torch.tensor([phrase_hash(k) for k in phrase_keys(notes)], dtype=torch.int64)
    if hashes.numel() == 0:
        return None
    if known.numel() == 0:
        return 0.0
    where = torch.searchsorted(known, hashes).clamp(max=known.numel() - 1)
    return float((known[where] == hashes).float().mean())
