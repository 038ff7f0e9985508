"""The piano-roll picture of a performance (PNG): every part in its own colour, bars and chord symbols marked.

matplotlib is imported only when a picture is drawn.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pretty_midi

from studio.errors import StudioError
from studio.music.io.export import atomic_path
from studio.music.theory.chords import STEPS_PER_BAR, ChordChart, Note


def piano_roll_png(music: pretty_midi.PrettyMIDI | Mapping[str, list[Note]], path: str | os.PathLike[str],
                   title: str = "", chart: ChordChart | None = None) -> Path:
    """Draw a piano roll, one colour per part, with chord names along the top when ``chart`` is given.

    Parameters
    ----------
    music : pretty_midi.PrettyMIDI or mapping of str to list of Note
        A performance (x axis in seconds, bars from its downbeats) or parts on the grid (x axis in bars).
    path : str or PathLike
        The ``.png`` to write.
    title : str
        Drawn above the roll.
    chart : ChordChart, optional
        Its chord names are written at each change along the top (repeating the chart for the whole length).
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: never open a window
    import matplotlib.pyplot as plt

    parts, bar_times = _roll_parts(music)
    end = max((s + d for rows in parts.values() for s, d, _ in rows), default=0.0)
    if end <= 0:
        raise StudioError("nothing to draw: the music has no notes")
    width = min(40.0, max(8.0, 2.0 + 0.5 * len(bar_times)))
    fig, ax = plt.subplots(figsize=(width, 5.0), dpi=100)
    try:
        colours = plt.get_cmap("tab10").colors
        for i, (name, rows) in enumerate(parts.items()):
            if rows:
                starts, durations, pitches = (np.array(column, dtype=float) for column in zip(*rows, strict=True))
                ax.barh(pitches, durations, left=starts, height=0.8, color=colours[i % 10], label=name)
        for t in bar_times:
            ax.axvline(t, color="0.85", linewidth=0.6, zorder=0)
        if chart is not None:
            _chord_labels(ax, chart, bar_times)
        ax.set_xlim(0, end)
        ax.set_xlabel("seconds" if isinstance(music, pretty_midi.PrettyMIDI) else "bars")
        ax.set_ylabel("MIDI pitch (drums: GM key)")
        ax.set_title(title, pad=18 if chart is not None else 6)
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize="small")  # beside the roll, not on it
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
    return Path(path)


def _roll_parts(music) -> tuple[dict[str, list[tuple[float, float, int]]], list[float]]:
    """(start, duration, pitch) rows per part and the time of every bar line, in the x axis's units."""
    if isinstance(music, pretty_midi.PrettyMIDI):
        parts = {_part_name(i):
                 [(n.start, n.end - n.start, n.pitch) for n in i.notes] for i in music.instruments}
        bars = [float(t) for t in music.get_downbeats()] if parts else []
        if len(bars) >= 2:  # get_downbeats stops before the end: add the closing bar line for the labels
            bars.append(2 * bars[-1] - bars[-2])
        return parts, bars
    if not isinstance(music, Mapping) or not all(isinstance(n, Note) for notes in music.values() for n in notes):
        raise StudioError("piano_roll_png draws a PrettyMIDI performance or a dict of part name -> list of Note")
    parts = {name: [(n.start / STEPS_PER_BAR, n.duration / STEPS_PER_BAR, n.pitch) for n in notes]
             for name, notes in music.items()}
    bars = int(np.ceil(max((s + d for rows in parts.values() for s, d, _ in rows), default=0.0)))
    return parts, [float(b) for b in range(bars + 1)]


def _part_name(instrument: pretty_midi.Instrument) -> str:
    name = instrument.name or pretty_midi.program_to_instrument_name(instrument.program)
    return f"{name} (drums)" if instrument.is_drum and "drum" not in name.lower() else name


def _chord_labels(ax, chart: ChordChart, bar_times: list[float]) -> None:
    previous = None
    for b in range(len(bar_times) - 1):
        chords = chart.bars[b % chart.num_bars]
        for i, chord in enumerate(chords):
            if chord != previous:
                x = bar_times[b] + (bar_times[b + 1] - bar_times[b]) * i / len(chords)
                ax.annotate(chord.symbol, (x, 1.0), xycoords=("data", "axes fraction"), xytext=(1, 3),
                            textcoords="offset points", fontsize=8, annotation_clip=False)
            previous = chord
