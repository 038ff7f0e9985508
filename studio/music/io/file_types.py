"""The music file suffixes Studio reads, in one place that imports nothing heavy.

The page imports these at start-up to say what an upload may be; importing them from the readers would pull in
pretty_midi (and with it pyfluidsynth, which loads libfluidsynth and, under ``CI=1``, prints where it found it).
"""

from __future__ import annotations

MIDI_SUFFIXES = (".mid", ".midi")
# music21 reads these; the value is the format name music21's converter takes.
SCORE_FORMATS = {".musicxml": "musicxml", ".xml": "musicxml", ".mxl": "musicxml", ".abc": "abc", ".krn": "humdrum"}
MUSIC21_SUFFIXES = tuple(SCORE_FORMATS)
IMPRO_VISOR_SUFFIXES = (".ls",)
