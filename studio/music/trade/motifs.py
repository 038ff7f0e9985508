"""Does the answer take up the call? Three-interval motifs, free of transposition, shared between the two.

A motif is the intervals between four successive notes (``(+2, +2, -3)``); the same figure in another key is the
same motif. ``motif_reuse`` is the share of the answer's motifs that also occur in the call: how much of the call
the answer develops (0 when it has no motif, or the call none).
"""

from __future__ import annotations

from collections.abc import Sequence

from studio.music.jazz.corpus import SoloNote

Motif = tuple[int, int, int]


def motifs(notes: Sequence[SoloNote]) -> list[Motif]:
    """Every three-interval motif of the line, in order."""
    pitches = [n.pitch for n in notes]
    return [(b - a, c - b, d - c) for a, b, c, d in zip(pitches, pitches[1:], pitches[2:], pitches[3:], strict=False)]


def motif_reuse(call: Sequence[SoloNote], answer: Sequence[SoloNote]) -> float | None:
    """The share of the answer's motifs found in the call (None when the answer has none)."""
    said = set(motifs(call))
    answered = motifs(answer)
    if not answered:
        return None
    return sum(m in said for m in answered) / len(answered)
