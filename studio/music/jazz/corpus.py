"""Read transcribed jazz solos in the jazz layout: the Weimar Jazz Database (and Charlie Parker's Omnibook).

A folder holds ``wjd_solos.csv`` (one row a solo), ``wjd_notes.csv.gz`` (one row a note: onset, duration in seconds,
MIDI pitch, bar, ``mcm_48`` position on a 48-per-bar grid, chord) and ``wjd_beats.csv.gz`` (every beat with its
chord and chorus), and optionally ``omnibook_solos.csv`` / ``omnibook_notes.csv.gz`` (no times, no beat track).
Each solo becomes a ``Solo``: its notes on the 48-per-bar grid (``TICKS_PER_BAR``; 12 per beat, so sixteenths,
eighth-note triplets and swung eighths are all exact), the chord sounding on every beat, and the bar of the form
each bar is. Only 4/4 solos are read (the soloist plays 4/4); others are skipped and listed, as are malformed rows
(file and line) and solos without usable notes. Nothing here needs pandas.

A solo starts at the bar of its first note: beat tracks often begin bars before the soloist does (the head, an
intro), and a model that learned those silences opens half its solos by laying out for the whole chorus. For the
same reason a solo is cut where its player is silent for ``LONG_SILENCE`` or more (another player's chorus, a band
interlude): each part is a ``Solo`` of its own (``id#2``...), kept in the split of the whole solo.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from studio.errors import StudioError
from studio.music.theory.chords import NO_CHORD, Chord, ChordChart, parse_chord

TICKS_PER_BEAT = 12
BEATS_PER_BAR = 4
TICKS_PER_BAR = TICKS_PER_BEAT * BEATS_PER_BAR
STYLES = ("TRADITIONAL", "SWING", "BEBOP", "COOL", "HARDBOP", "POSTBOP", "FREE", "FUSION")
WJD_FILES = ("wjd_solos.csv", "wjd_notes.csv.gz", "wjd_beats.csv.gz")
OMNIBOOK_FILES = ("omnibook_solos.csv", "omnibook_notes.csv.gz")
OMNIBOOK_LONGEST = 2 * TICKS_PER_BEAT  # the Omnibook gives no lengths: a note holds to the next, at most a half note
LONG_SILENCE = 4 * TICKS_PER_BAR       # a silence this long is not part of a solo's line: the solo is cut there


@dataclass(frozen=True)
class SoloNote:
    """A note of a solo: ``onset`` and ``duration`` in ticks (48 a bar) from the solo's first bar, MIDI ``pitch``."""

    onset: int
    duration: int
    pitch: int


@dataclass
class Solo:
    """One transcribed solo with its changes.

    Attributes
    ----------
    id : str
        The corpus's id of the solo (``ArtPepper_Anthropology_FINAL.sv``, ``Another_Hairdo.krn``).
    performer, title, style : str
        ``style`` is one of ``STYLES`` (the Omnibook is BEBOP).
    tempo : float
        Mean tempo in beats per minute.
    blues : bool
        Played over a blues form.
    notes : list of SoloNote
        Sorted by onset, one note at a time (monophonic).
    beats : list of Chord
        The chord sounding on each beat from the first bar on (4 per bar).
    form_bars : list of int
        For each bar, its bar within the chorus of the form (0 = the form's first bar).
    """

    id: str
    performer: str
    title: str
    style: str
    tempo: float
    blues: bool
    notes: list[SoloNote]
    beats: list[Chord]
    form_bars: list[int]
    source: str = "wjd"

    @property
    def num_bars(self) -> int:
        return len(self.form_bars)

    def chord_at(self, tick: int) -> Chord:
        """The chord sounding at ``tick`` (no chord past the end of the beat track)."""
        beat = tick // TICKS_PER_BEAT
        return self.beats[beat] if 0 <= beat < len(self.beats) else NO_CHORD

    def chart(self) -> ChordChart:
        """The solo's changes as a chart, bar by bar (a bar holds 1, 2 or 4 chords, as ``ChordChart`` does)."""
        bars = []
        for start in range(0, len(self.beats), BEATS_PER_BAR):
            beats = (self.beats[start:start + BEATS_PER_BAR] + [self.beats[-1]] * BEATS_PER_BAR)[:BEATS_PER_BAR]
            if beats.count(beats[0]) == BEATS_PER_BAR:
                bars.append([beats[0]])
            elif beats[0] == beats[1] and beats[2] == beats[3]:
                bars.append([beats[0], beats[2]])
            else:
                bars.append(beats)
        return ChordChart(bars)

    @property
    def form_length(self) -> int:
        """Bars in one chorus of the solo's form."""
        return max(self.form_bars, default=0) + 1

    def transpose(self, semitones: int) -> Solo:
        return Solo(self.id, self.performer, self.title, self.style, self.tempo, self.blues,
                    [SoloNote(n.onset, n.duration, n.pitch + semitones) for n in self.notes],
                    [c.transpose(semitones) for c in self.beats], list(self.form_bars), self.source)


@dataclass
class JazzCorpusReport:
    """What reading a jazz folder kept and left out (with reasons), for the person who asked."""

    solos: int = 0
    notes: int = 0
    skipped: list[str] = field(default_factory=list)  # "id: reason"
    # solos counts whole solos; the list read holds their playing parts (a solo is cut at long silences)
    bad_rows: list[str] = field(default_factory=list)  # "file line N: reason"

    def lines(self) -> list[str]:
        out = [f"read {self.solos} solos ({self.notes:,} notes)"]
        out += [f"skipped {line}" for line in self.skipped]
        shown = self.bad_rows[:20]
        out += [f"bad row: {line}" for line in shown]
        if len(self.bad_rows) > len(shown):
            out.append(f"... and {len(self.bad_rows) - len(shown)} more bad rows")
        return out


def split_of(solo_id: str) -> str:
    """``train``, ``valid`` or ``test`` for a solo (80/10/10 by a hash of its id: fixed, whatever else is read); a
    part of a solo (``id#2``) goes where the whole solo goes."""
    bucket = int(hashlib.sha256(solo_id.split("#")[0].encode("utf-8")).hexdigest()[:8], 16) % 100
    return "train" if bucket < 80 else "valid" if bucket < 90 else "test"


def is_jazz_folder(path: str | Path) -> bool:
    """True when ``path`` is a folder in the jazz layout (its three WJD files at least)."""
    folder = Path(path)
    return folder.is_dir() and all((folder / name).is_file() for name in WJD_FILES)


def read_jazz_corpus(path: str | Path, omnibook: bool = True) -> tuple[list[Solo], JazzCorpusReport]:
    """Every usable 4/4 solo of a jazz-layout folder (WJD, and the Omnibook when present and ``omnibook``).

    Raises
    ------
    StudioError
        When the folder lacks the WJD files (the message names them).
    """
    folder = Path(path)
    if not is_jazz_folder(folder):
        raise StudioError(f"{folder} is not a jazz corpus folder: it needs {', '.join(WJD_FILES)} (the Weimar Jazz "
                          "Database layout, e.g. ../shared/corpora/jazz); omnibook_solos.csv and "
                          "omnibook_notes.csv.gz are read too when present")
    report = JazzCorpusReport()
    solos = _read_wjd(folder, report)
    if omnibook and all((folder / name).is_file() for name in OMNIBOOK_FILES):
        solos += _read_omnibook(folder, report)
    report.solos = len(solos)
    parts = [part for solo in solos for part in playing_parts(solo)]
    report.notes = sum(len(s.notes) for s in parts)
    return parts, report


def playing_parts(solo: Solo) -> list[Solo]:
    """The solo from the bar of its first note, cut where it is silent for ``LONG_SILENCE`` or more."""
    groups: list[list[SoloNote]] = [[]]
    for note in solo.notes:
        last = groups[-1][-1] if groups[-1] else None
        if last is not None and note.onset - (last.onset + last.duration) >= LONG_SILENCE:
            groups.append([])
        groups[-1].append(note)
    parts = []
    for k, notes in enumerate(g for g in groups if g):
        first = notes[0].onset // TICKS_PER_BAR
        end = max(n.onset + n.duration for n in notes)
        last = min(solo.num_bars, -(-end // TICKS_PER_BAR)) if solo.form_bars else -(-end // TICKS_PER_BAR)
        shift = first * TICKS_PER_BAR
        beats = solo.beats[first * BEATS_PER_BAR:max(last, first + 1) * BEATS_PER_BAR]
        parts.append(Solo(solo.id if k == 0 else f"{solo.id}#{k + 1}", solo.performer, solo.title, solo.style,
                          solo.tempo, solo.blues, [SoloNote(n.onset - shift, n.duration, n.pitch) for n in notes],
                          beats or [NO_CHORD] * BEATS_PER_BAR, solo.form_bars[first:max(last, first + 1)] or [0],
                          solo.source))
    return parts


# -- reading rows -------------------------------------------------------------------------------------------------
def _rows(path: Path, report: JazzCorpusReport, needed: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """``(line, row)`` of a CSV (gzip or not); a file without a needed column is refused, naming it."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in needed if c not in (reader.fieldnames or [])]
            if missing:
                raise StudioError(f"{path.name} has no column(s) {', '.join(missing)}: is it the jazz layout?")
            for row in reader:
                yield reader.line_num, row
    except (OSError, EOFError, csv.Error, UnicodeDecodeError) as err:
        raise StudioError(f"{path.name} cannot be read ({err})") from err


def _number(row: dict[str, str], key: str, kind: type = int) -> float:
    value = row.get(key, "")
    try:
        return kind(float(value)) if kind is int else kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key}={value!r} is not a number") from None


def _chord(symbol: str) -> Chord:
    symbol = (symbol or "").strip()
    return NO_CHORD if not symbol else parse_chord(symbol)


def _read_wjd(folder: Path, report: JazzCorpusReport) -> list[Solo]:
    meta: dict[int, dict[str, str]] = {}
    for line, row in _rows(folder / "wjd_solos.csv", report, ("melid", "id", "performer", "style", "signature",
                                                             "avgtempo", "template")):
        try:
            meta[int(_number(row, "melid"))] = row
        except ValueError as err:
            report.bad_rows.append(f"wjd_solos.csv line {line}: {err}")
    beats: dict[int, list[tuple[int, int, float, Chord, int]]] = defaultdict(list)
    for line, row in _rows(folder / "wjd_beats.csv.gz", report, ("melid", "bar", "beat", "duration", "chord",
                                                                "chorus_id")):
        try:
            beats[int(_number(row, "melid"))].append((int(_number(row, "bar")), int(_number(row, "beat")),
                                                      float(_number(row, "duration", float)), _chord(row["chord"]),
                                                      int(_number(row, "chorus_id"))))
        except (ValueError, StudioError) as err:
            report.bad_rows.append(f"wjd_beats.csv.gz line {line}: {err}")
    notes: dict[int, list[tuple[int, int, int, float, int]]] = defaultdict(list)
    for line, row in _rows(folder / "wjd_notes.csv.gz", report, ("melid", "bar", "beat", "mcm_48", "duration",
                                                                "pitch")):
        try:
            pitch = int(_number(row, "pitch"))
            position = int(_number(row, "mcm_48"))
            if not 0 <= pitch <= 127 or not 0 <= position < TICKS_PER_BAR:
                raise ValueError(f"pitch {pitch} or mcm_48 {position} out of range")
            notes[int(_number(row, "melid"))].append((int(_number(row, "bar")), int(_number(row, "beat")), position,
                                                      float(_number(row, "duration", float)), pitch))
        except ValueError as err:
            report.bad_rows.append(f"wjd_notes.csv.gz line {line}: {err}")
    solos = []
    for melid, row in sorted(meta.items()):
        name = row["id"] or f"melid {melid}"
        if row.get("signature") != "4/4":
            report.skipped.append(f"{name}: in {row.get('signature') or 'an unknown meter'}, not 4/4")
            continue
        if not beats.get(melid) or not notes.get(melid):
            report.skipped.append(f"{name}: no {'beat track' if not beats.get(melid) else 'notes'}")
            continue
        solo = _wjd_solo(name, row, beats[melid], notes[melid])
        if solo.notes:
            solos.append(solo)
        else:
            report.skipped.append(f"{name}: no usable notes")
    return solos


def _wjd_solo(name: str, row: dict[str, str], beat_rows: list, note_rows: list) -> Solo:
    first_bar = min(bar for bar, *_ in beat_rows)
    last_bar = max(max(bar for bar, *_ in beat_rows), max(bar for bar, *_ in note_rows))
    bars = last_bar - first_bar + 1
    chords: list[Chord | None] = [None] * (bars * BEATS_PER_BAR)
    seconds = {}  # (bar, beat) -> length of that beat in seconds: a tick's length where the note starts
    chorus_of_bar: dict[int, int] = {}
    for bar, beat, duration, chord, chorus in beat_rows:
        if 1 <= beat <= BEATS_PER_BAR:
            chords[(bar - first_bar) * BEATS_PER_BAR + beat - 1] = chord
            seconds[bar, beat] = duration
            chorus_of_bar.setdefault(bar, chorus)
    filled, last = [], NO_CHORD
    for chord in chords:  # a beat the track does not cover keeps the chord before it
        last = chord if chord is not None else last
        filled.append(last)
    form_bars, start_of = [], {}
    for bar in range(first_bar, last_bar + 1):
        chorus = chorus_of_bar.get(bar, -1)
        start_of.setdefault(chorus, bar)
        form_bars.append(bar - start_of[chorus] if chorus >= 1 else 0)
    by_onset: dict[int, SoloNote] = {}
    for bar, beat, position, duration, pitch in note_rows:
        onset = (bar - first_bar) * TICKS_PER_BAR + position
        tick_seconds = seconds.get((bar, beat), 60.0 / max(_number(row, "avgtempo", float), 1.0)) / TICKS_PER_BEAT
        ticks = max(1, round(duration / tick_seconds)) if tick_seconds > 0 else 1
        if onset not in by_onset or pitch > by_onset[onset].pitch:  # a double stop keeps its top note
            by_onset[onset] = SoloNote(onset, ticks, pitch)
    style = (row.get("style") or "").upper()
    return Solo(name, row.get("performer", ""), row.get("title", ""), style if style in STYLES else "",
                float(_number(row, "avgtempo", float)), (row.get("template") or "").strip().lower() == "blues",
                [by_onset[k] for k in sorted(by_onset)], filled, form_bars, "wjd")


def _read_omnibook(folder: Path, report: JazzCorpusReport) -> list[Solo]:
    meta = {row["id"]: row for _, row in _rows(folder / "omnibook_solos.csv", report, ("id", "avgtempo", "template"))}
    rows: dict[str, list[tuple[int, int, int, Chord]]] = defaultdict(list)
    for line, row in _rows(folder / "omnibook_notes.csv.gz", report, ("id", "metrical_position", "mcm_48", "pitch",
                                                                     "chord")):
        try:
            fields = row["metrical_position"].split(".")  # period.division.bar.beat.tatum
            if len(fields) != 5 or fields[0] != "4":
                raise ValueError(f"metrical_position {row['metrical_position']!r} is not a 4/4 position")
            position, pitch = int(_number(row, "mcm_48")), int(_number(row, "pitch"))
            if not 0 <= position < TICKS_PER_BAR or not 0 <= pitch <= 127:
                raise ValueError(f"pitch {pitch} or mcm_48 {position} out of range")
            rows[row["id"]].append((int(fields[2]), position, pitch, _chord(row["chord"])))
        except (ValueError, StudioError) as err:
            report.bad_rows.append(f"omnibook_notes.csv.gz line {line}: {err}")
    solos = []
    for name, note_rows in rows.items():
        info = meta.get(name, {})
        blues = (info.get("template") or "").strip().lower() == "blues"
        first_bar = min(bar for bar, *_ in note_rows)
        bars = max(bar for bar, *_ in note_rows) - first_bar + 1
        onsets = sorted({((bar - first_bar) * TICKS_PER_BAR + pos, pitch, chord) for bar, pos, pitch, chord in
                         note_rows}, key=lambda t: (t[0], -t[1]))
        beats: list[Chord] = []
        by_onset: dict[int, tuple[int, Chord]] = {}
        for onset, pitch, chord in onsets:
            by_onset.setdefault(onset, (pitch, chord))  # a double stop keeps its top note
        ticks = sorted(by_onset)
        last = NO_CHORD
        for beat in range(bars * BEATS_PER_BAR):  # the chord of the last note at or before each beat
            inside = [t for t in ticks if beat * TICKS_PER_BEAT <= t < (beat + 1) * TICKS_PER_BEAT]
            last = by_onset[inside[0]][1] if inside else last
            beats.append(last)
        notes = [SoloNote(t, max(1, min(nxt - t, OMNIBOOK_LONGEST)), by_onset[t][0])
                 for t, nxt in zip(ticks, [*ticks[1:], ticks[-1] + TICKS_PER_BEAT], strict=True)]
        form = 12 if blues else 32
        try:
            tempo = float(_number(info, "avgtempo", float))
        except ValueError:
            tempo = 160.0
        solos.append(Solo(name, "Charlie Parker", info.get("title", name), "BEBOP", tempo, blues, notes, beats,
                          [bar % form for bar in range(bars)], "omnibook"))
    if not rows:
        report.skipped.append("the Omnibook: no readable notes")
    return solos
