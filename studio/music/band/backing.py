"""The backing band: a walking or shuffle bass, comping chords and a swing drummer for any chord chart.

Everything is written on the straight 16th-note grid of ``studio.music.theory.chords`` (swing is applied only when
``studio.music.band.render`` turns steps into seconds). Drum notes use General MIDI percussion key numbers as pitches.
Each part draws from its own seeded random stream, so switching one part off leaves the others note-for-note the
same, and the same seed always gives the same band.

The players live in ``bass``, ``comping`` and ``drums``; each reads the chart as ``spans.chord_spans``.
"""

from __future__ import annotations

import random

from studio.config import check_range
from studio.errors import StudioError
from studio.music.band.bass import BASS_STYLES, shuffle_bass, walking_bass
from studio.music.band.comping import comp
from studio.music.band.drums import swing_drums
from studio.music.band.spans import chord_spans
from studio.music.theory.chords import ChordChart, Note

MAX_CHORUSES = 1000


def backing_band(chart: ChordChart, choruses: int, bass: str | None = "walking", comping: bool = True,
                 drums: bool = True, seed: int = 0) -> dict[str, list[Note]]:
    """A rhythm section for ``choruses`` times through ``chart``.

    Parameters
    ----------
    chart : ChordChart
        The form; it is played ``choruses`` times back to back.
    choruses : int
        How many times through the form, 1 to 1000.
    bass : {"walking", "shuffle"} or None
        Walking quarter notes (root on each chord's first beat, approach notes into the next root) or a boogie
        shuffle in 8ths (to be swung at rendering); None leaves the bass out.
    comping, drums : bool
        Include chord voicings (Charleston, 2-and-4 and pushed rhythms) and the swing drum kit.
    seed : int
        The same seed gives the same band, note for note.

    Returns
    -------
    dict of str to list of Note
        ``"bass"``, ``"comping"`` and ``"drums"`` (those switched on), each sorted by start; times in grid steps,
        drum pitches are General MIDI percussion keys (play them on channel 10).
    """
    if not isinstance(chart, ChordChart) or not chart.bars:
        raise StudioError("the backing band needs a chord chart with at least one bar, e.g. blues_chart('12-bar')")
    for i, bar in enumerate(chart.bars):
        if len(bar) not in (1, 2, 4):  # whole beats per chord, as ChordChart.parse guarantees
            raise StudioError(f"bar {i + 1} of the chart has {len(bar)} chords; the band plays bars of 1, 2 or 4")
    check_range("choruses", choruses, 1, MAX_CHORUSES, integer=True)
    check_range("seed", seed, 0, None, integer=True)
    if bass is not None and bass not in BASS_STYLES:
        raise StudioError(f"bass must be one of {', '.join(BASS_STYLES)} or None (no bass); got {bass!r}")
    spans = chord_spans(chart, choruses)
    parts: dict[str, list[Note]] = {}
    if bass == "walking":
        parts["bass"] = walking_bass(spans, _rng(seed, "bass"))
    elif bass == "shuffle":
        parts["bass"] = shuffle_bass(spans, _rng(seed, "bass"))
    if comping:
        parts["comping"] = comp(spans, _rng(seed, "comping"))
    if drums:
        parts["drums"] = swing_drums(spans, _rng(seed, "drums"))
    return {name: sorted(notes, key=lambda n: (n.start, n.pitch)) for name, notes in parts.items()}


def _rng(seed: int, part: str) -> random.Random:
    # A string seed is hashed with SHA-512 by ``random``: stable across runs and Python versions, one stream a part.
    return random.Random(f"studio-band:{part}:{seed}")


