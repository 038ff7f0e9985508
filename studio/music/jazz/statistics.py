"""How a solo plays, statistic by statistic, to set generated solos beside real ones (no rule of ours says "good").

Every statistic is computed on the 48-per-bar grid from the notes and the chord under each note's onset:

- ``notes_per_bar``; inter-onset intervals as shares: ``ioi_sixteenth`` (1-3 ticks), ``ioi_triplet`` (4-5: the
  eighth-note triplet, and the short half of a hard-swung pair), ``ioi_eighth`` (6-8: straight or swung),
  ``ioi_quarter_plus`` (9 and more);
- ``offbeat_onsets`` (not on a beat) and ``triplet_onsets`` (on the second or third eighth-note triplet of a beat);
- ``mean_interval`` (semitones between successive notes), ``steps`` (intervals of 0-2 semitones), ``leaps`` (7+);
- ``pc_entropy`` (bits): the entropy of each bar's pitch-class histogram, averaged over bars with notes (Jazz
  Transformer's H1); ``grooving`` (Jazz Transformer's GS): 1 - |a XOR b| / 48 for the onset patterns of every
  pair of bars with notes, averaged;
- ``chord_tones`` (the chord's own notes) and ``chord_or_blues`` (those or the blues scale of its root);
- ``copied_phrases``: the share of two-bar phrases found in the model's training solos (``phrases.copied_share``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from itertools import combinations, pairwise

import torch

from studio.music.jazz.corpus import TICKS_PER_BAR, TICKS_PER_BEAT, SoloNote
from studio.music.jazz.phrases import copied_share
from studio.music.theory.chords import Chord, blues_scale

STATISTICS = ("notes_per_bar", "ioi_sixteenth", "ioi_triplet", "ioi_eighth", "ioi_quarter_plus", "offbeat_onsets",
              "triplet_onsets", "mean_interval", "steps", "leaps", "pc_entropy", "grooving", "chord_tones",
              "chord_or_blues", "copied_phrases")
MAX_GROOVE_PAIRS = 20_000  # bars are compared pairwise; a very long solo compares a fixed sample of pairs


def _share(hits: int, total: int) -> float:
    return hits / total if total else math.nan


def solo_statistics(notes: Sequence[SoloNote], beats: Sequence[Chord], bars: int,
                    training_phrases: torch.Tensor | None = None) -> dict[str, float]:
    """Every statistic of ``STATISTICS`` for one solo (NaN where a solo is too short to say).

    Parameters
    ----------
    notes : sequence of SoloNote
        Sorted by onset, on the 48-per-bar grid.
    beats : sequence of Chord
        The chord on each beat (4 a bar) from tick 0.
    bars : int
        Bars the solo spans (its notes per bar divide by this).
    training_phrases : LongTensor, optional
        Sorted phrase hashes of a model's training solos; without it ``copied_phrases`` is NaN.
    """
    iois = [b.onset - a.onset for a, b in pairwise(notes)]
    intervals = [abs(b.pitch - a.pitch) for a, b in pairwise(notes)]
    positions = [n.onset % TICKS_PER_BEAT for n in notes]
    chords = [beats[n.onset // TICKS_PER_BEAT] if n.onset // TICKS_PER_BEAT < len(beats) else None for n in notes]
    harmonic = [(n.pitch % 12, c) for n, c in zip(notes, chords, strict=True) if c is not None and c.root is not None]
    per_bar: dict[int, list[SoloNote]] = {}
    for n in notes:
        per_bar.setdefault(n.onset // TICKS_PER_BAR, []).append(n)
    copied = copied_share(notes, training_phrases) if training_phrases is not None else None
    return {
        "notes_per_bar": len(notes) / bars if bars else math.nan,
        "ioi_sixteenth": _share(sum(1 <= i <= 3 for i in iois), len(iois)),
        "ioi_triplet": _share(sum(4 <= i <= 5 for i in iois), len(iois)),
        "ioi_eighth": _share(sum(6 <= i <= 8 for i in iois), len(iois)),
        "ioi_quarter_plus": _share(sum(i >= 9 for i in iois), len(iois)),
        "offbeat_onsets": _share(sum(p != 0 for p in positions), len(positions)),
        "triplet_onsets": _share(sum(p in (4, 8) for p in positions), len(positions)),
        "mean_interval": sum(intervals) / len(intervals) if intervals else math.nan,
        "steps": _share(sum(i <= 2 for i in intervals), len(intervals)),
        "leaps": _share(sum(i >= 7 for i in intervals), len(intervals)),
        "pc_entropy": _mean([_entropy(Counter(n.pitch % 12 for n in inside)) for inside in per_bar.values()]),
        "grooving": _grooving([{n.onset % TICKS_PER_BAR for n in inside} for inside in per_bar.values()]),
        "chord_tones": _share(sum(pc in c.pitch_classes for pc, c in harmonic), len(harmonic)),
        "chord_or_blues": _share(sum(pc in blues_scale(c) for pc, c in harmonic), len(harmonic)),
        "copied_phrases": math.nan if copied is None else copied,
    }


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _entropy(counts: Counter[int]) -> float:
    total = sum(counts.values())
    return -sum(c / total * math.log2(c / total) for c in counts.values())


def _grooving(patterns: list[set[int]]) -> float:
    pairs = list(combinations(range(len(patterns)), 2))
    if not pairs:
        return math.nan
    if len(pairs) > MAX_GROOVE_PAIRS:  # an evenly spaced sample keeps it quick and deterministic
        stride = len(pairs) / MAX_GROOVE_PAIRS
        pairs = [pairs[int(k * stride)] for k in range(MAX_GROOVE_PAIRS)]
    return _mean([1 - len(patterns[a] ^ patterns[b]) / TICKS_PER_BAR for a, b in pairs])


def pooled(rows: Sequence[dict[str, float]], weights: Sequence[float]) -> dict[str, float]:
    """The weighted mean of each statistic over solos (weights: e.g. their bars), NaNs left out."""
    out = {}
    for name in STATISTICS:
        pairs = [(r[name], w) for r, w in zip(rows, weights, strict=True) if not math.isnan(r[name])]
        total = sum(w for _, w in pairs)
        out[name] = sum(v * w for v, w in pairs) / total if total else math.nan
    return out
