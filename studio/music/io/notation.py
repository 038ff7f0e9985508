"""Sheet music out of a lead sheet: a music21 score, MusicXML, and SVG pages engraved by verovio.

Notes are split into written values that keep the beat visible and tied across beats and bar lines; the key
signature is the given key or the one the chart's first chord implies. Files are written atomically
(``studio.music.io.export.atomic_path``); music21 and verovio are imported only when a writer runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from xml.etree import ElementTree

from studio.errors import StudioError
from studio.music.io.export import atomic_path
from studio.music.theory.chords import NOTE_NAMES, STEPS_PER_BAR, STEPS_PER_BEAT, ChordChart, LeadSheet

# -- the score --------------------------------------------------------------------------------------------------
_KINDS = {"maj": "major", "min": "minor", "7": "dominant-seventh", "maj7": "major-seventh", "m7": "minor-seventh",
          "6": "major-sixth", "m6": "minor-sixth", "dim": "diminished", "dim7": "diminished-seventh",
          "m7b5": "half-diminished-seventh", "aug": "augmented", "sus4": "suspended-fourth",
          "7sus4": "suspended-fourth-seventh", "mmaj7": "minor-major-seventh"}
_MINOR = {"min", "m7", "m6", "mmaj7", "m7b5", "dim", "dim7"}
_FLATS = ("C", "D-", "D", "E-", "E", "F", "G-", "G", "A-", "A", "B-", "B")
_SHARPS = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_MAJOR_TONICS = ("C", "D-", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B")   # the fewest accidentals
_MINOR_TONICS = ("C", "C#", "D", "E-", "E", "F", "F#", "G", "G#", "A", "B-", "B")
# Written note values in steps, longest first; a value may start only where its own length (undotted) or
# two-thirds of it (dotted) divides the position, so the beat stays visible.
_VALUES = ((16, 16), (12, 8), (8, 8), (6, 4), (4, 4), (3, 2), (2, 2), (1, 1))


def _notated(start: int, length: int) -> list[int]:
    """Split ``length`` steps starting at ``start`` (within one bar) into written note values."""
    pieces = []
    while length > 0:
        position = start % STEPS_PER_BAR
        # Keep beat 3 visible (nothing but a note from the downbeat crosses the middle of the bar), and let a note
        # that starts off the beat end by the next beat.
        limit = STEPS_PER_BAR // 2 if 0 < position < STEPS_PER_BAR // 2 else STEPS_PER_BAR
        if position % STEPS_PER_BEAT:
            limit = min(limit, position - position % STEPS_PER_BEAT + STEPS_PER_BEAT)
        value = next(v for v, align in _VALUES if v <= length and position % align == 0 and position + v <= limit)
        pieces.append(value)
        start, length = start + value, length - value
    return pieces


def _key_of(chart: ChordChart, key: str | None):
    from music21 import key as m21key

    if key is not None:
        try:
            return m21key.Key(key[:1] + key[1:].replace("b", "-"))
        except Exception:  # music21 raises several types for a bad tonic
            raise StudioError(f"unknown key {key!r}: write a tonic such as C, Bb, F# (lower case for minor: a, c#)"
                              ) from None
    chord = next((c for bar in chart.bars for c in bar if c.root is not None), None)
    if chord is None:
        return m21key.Key("C")
    minor = chord.quality in _MINOR
    return m21key.Key((_MINOR_TONICS if minor else _MAJOR_TONICS)[chord.root], "minor" if minor else "major")


def lead_sheet_score(sheet: LeadSheet, title: str = "Studio lead sheet", key: str | None = None):
    """A music21 Score of the lead sheet: melody, chord symbols at every change (and every chorus start), key,
    4/4 time, tempo, notes tied across beats and bar lines as written music needs."""
    from music21 import harmony, metadata, meter, note, stream, tempo, tie

    if not isinstance(sheet, LeadSheet):
        raise StudioError(f"write_musicxml needs a LeadSheet, got {type(sheet).__name__}")
    key_signature = _key_of(sheet.chart, key)
    names = _SHARPS if key_signature.sharps > 0 else _FLATS  # blues notes (b3, b5, b7) read best as flats
    bars = sheet.num_steps // STEPS_PER_BAR
    measures = [stream.Measure(number=i + 1) for i in range(bars)]
    measures[0].append([key_signature, meter.TimeSignature("4/4"),
                        tempo.MetronomeMark(number=round(sheet.tempo, 2), referent=note.Note(type="quarter"))])
    previous = None
    for b, measure in enumerate(measures):
        chart_bar = sheet.chart.bars[b % sheet.chart.num_bars]
        for i, chord in enumerate(chart_bar):
            if chord != previous or (i == 0 and b % sheet.chart.num_bars == 0):
                offset = i * STEPS_PER_BAR // len(chart_bar) / STEPS_PER_BEAT
                if chord.root is None:
                    measure.insert(offset, harmony.NoChord())
                else:
                    root = NOTE_NAMES[chord.root].replace("b", "-")  # music21 writes flats as "-"
                    measure.insert(offset, harmony.ChordSymbol(root=root, kind=_KINDS[chord.quality]))
            previous = chord
    cursor = 0
    # A lead sheet is monophonic: a note ends where the next begins, and of notes struck together the top one sounds.
    melody = sorted(sheet.melody, key=lambda n: (n.start, n.pitch))
    for i, n in enumerate(melody):
        if not 0 <= n.pitch <= 127 or n.duration < 1 or n.start < 0:
            raise StudioError(f"melody note {i} ({n}) cannot be written: it needs a MIDI pitch (0-127), a start "
                              ">= 0 and a duration of at least one grid step")
        end = min(n.end, melody[i + 1].start) if i + 1 < len(melody) else n.end
        _place(measures, cursor, n.start, None, names, note, tie)
        _place(measures, n.start, end, n.pitch, names, note, tie)
        cursor = end
    _place(measures, cursor, bars * STEPS_PER_BAR, None, names, note, tie)
    part = stream.Part(measures)
    part.partName = "Lead"
    score = stream.Score([part])
    score.insert(0, metadata.Metadata(title=title, composer="Studio"))
    return score


def _place(measures: list, start: int, end: int, pitch: int | None, names: tuple[str, ...], note, tie) -> None:
    """Append a note (or rest when ``pitch`` is None) from ``start`` to ``end`` steps, split into written values
    and tied across beats and bar lines."""
    pieces = []
    while start < end:
        bar_end = (start // STEPS_PER_BAR + 1) * STEPS_PER_BAR
        for value in _notated(start, min(end, bar_end) - start):
            pieces.append((start, value))
            start += value
    for i, (at, value) in enumerate(pieces):
        quarter = value / STEPS_PER_BEAT
        if pitch is None:
            element = note.Rest(quarterLength=quarter)
        else:
            element = note.Note(f"{names[pitch % 12]}{pitch // 12 - 1}", quarterLength=quarter)
            if len(pieces) > 1:
                element.tie = tie.Tie("start" if i == 0 else "stop" if i == len(pieces) - 1 else "continue")
        measures[at // STEPS_PER_BAR].append(element)


def write_musicxml(sheet: LeadSheet, path: str | os.PathLike[str], title: str = "Studio lead sheet",
                   key: str | None = None) -> Path:
    """Write the lead sheet as MusicXML (see ``lead_sheet_score``); ``key`` overrides the key read from the chart's
    first chord ("Bb", "F#", lower case for minor: "c"). Returns the path."""
    if Path(path).suffix.lower() == ".mxl":
        raise StudioError(f"cannot write {path}: compressed MusicXML (.mxl) is not supported; use .musicxml or .xml")
    score = lead_sheet_score(sheet, title, key)
    with atomic_path(path) as tmp:
        score.write("musicxml", fp=tmp)
    return Path(path)


def musicxml_to_svg(source: str | os.PathLike[str]) -> list[str]:
    """Engrave MusicXML (a file path or the XML text) with verovio, offline: one SVG document per page."""
    import verovio

    text = str(source)
    if not text.lstrip().startswith("<"):
        try:
            text = Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise StudioError(f"cannot read MusicXML file {source}: {error}") from None
    try:  # verovio engraves an empty page from broken XML without complaint: check it first
        root = ElementTree.fromstring(text.encode("utf-8"))
    except ElementTree.ParseError as error:
        raise StudioError(f"verovio cannot read this MusicXML: it is not well-formed XML ({error})") from None
    if root.tag not in ("score-partwise", "score-timewise"):
        raise StudioError(f"verovio cannot read this MusicXML: its root element is <{root.tag}>, not <score-partwise>")
    verovio.enableLog(verovio.LOG_OFF)
    # verovio keeps its font path per thread, set only in the thread that imported it: set it here, so engraving
    # works from any thread (every web-server worker).
    from importlib.resources import files

    verovio.setDefaultResourcePath(str(files("verovio") / "data"))
    toolkit = verovio.toolkit()
    toolkit.setOptions({"pageWidth": 2100, "pageHeight": 2970, "scale": 40, "adjustPageHeight": True,
                        "footer": "none", "xmlIdSeed": 1})  # a fixed id seed: the same score, the same SVG
    if not toolkit.loadData(text) or toolkit.getPageCount() == 0:
        raise StudioError("verovio cannot read this MusicXML: is it a complete score (write it with write_musicxml)?")
    return [toolkit.renderToSVG(page) for page in range(1, toolkit.getPageCount() + 1)]


