"""The chart as the band reads it: each chord's stretch of the piece in grid steps, never longer than a bar.

A "chord" here is a run of equal chords inside one bar (``C7 C7 C7 F7`` is C7 for three beats, then F7); a chord
that lasts several bars starts again at every bar line, as a bassist plays it.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.music.theory.chords import STEPS_PER_BAR, STEPS_PER_BEAT, Chord, ChordChart


@dataclass(frozen=True)
class Span:
    """One chord's stretch of the piece in grid steps (never longer than a bar); ``last_in_chorus`` marks the
    final span of a chorus, where the drummer fills."""

    start: int
    end: int
    chord: Chord
    last_in_chorus: bool = False

    @property
    def beats(self) -> int:
        return (self.end - self.start) // STEPS_PER_BEAT


def chord_spans(chart: ChordChart, choruses: int) -> list[Span]:
    """The chart played ``choruses`` times as spans: equal neighbouring chords inside a bar are merged."""
    spans: list[Span] = []
    for chorus in range(choruses):
        for bar_index, bar in enumerate(chart.bars):
            bar_start = (chorus * chart.num_bars + bar_index) * STEPS_PER_BAR
            step = STEPS_PER_BAR // len(bar)
            for i, chord in enumerate(bar):
                start = bar_start + i * step
                if i and spans and spans[-1].chord == chord:
                    spans[-1] = Span(spans[-1].start, start + step, chord)
                else:
                    spans.append(Span(start, start + step, chord))
        spans[-1] = Span(spans[-1].start, spans[-1].end, spans[-1].chord, last_in_chorus=True)
    return spans
