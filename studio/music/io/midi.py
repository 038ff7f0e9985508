"""Read the music files a user may have as ``pretty_midi.PrettyMIDI``.

``load_midi`` reads Standard MIDI Files (type 0 or 1: many tracks, drums, tempo and time-signature changes) and
the score formats music21 reads (MusicXML ``.musicxml``/``.xml``/``.mxl``, ABC ``.abc``, Humdrum ``.krn``), and
always returns a ``pretty_midi.PrettyMIDI``. Every failure a file can cause (missing, too large, random bytes,
truncated, absurd ticks or tempo, no notes) raises ``StudioError`` naming the file and the reason.

Reducing a piece to a lead sheet (melody + chord chart) is ``studio.music.io.leadsheet_extract``'s job.
"""

from __future__ import annotations

import copy
import io
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pretty_midi

from studio.errors import StudioError
from studio.music.io.file_types import MIDI_SUFFIXES, SCORE_FORMATS

MAX_MIDI_BYTES = 8 * 2**20      # far above any real song file; a bigger "MIDI" would cost GBs as Python objects
MAX_SCORE_BYTES = 32 * 2**20    # MusicXML is verbose: a full orchestral score is a few MB
MAX_TICKS = 2**24               # pretty_midi allocates one float per tick up to the last event
MAX_SECONDS = 4 * 3600.0        # longer than any piece: a corrupt delta time, not music
MIN_TEMPO_US = 30_000           # faster than 2000 beats per minute is a corrupt tempo


# -- loading ------------------------------------------------------------------------------------------------------
def load_midi(path: str | Path) -> pretty_midi.PrettyMIDI:
    """Read a MIDI file, or a MusicXML/ABC/kern score converted to MIDI, as a ``PrettyMIDI``.

    Parameters
    ----------
    path : str or Path
        ``.mid``/``.midi`` (type 0 or 1), ``.musicxml``/``.xml``/``.mxl``, ``.abc`` (the first tune of a
        multi-tune file; use ``load_score`` for others) or ``.krn``.

    Raises
    ------
    StudioError
        Naming the file and why it cannot be used.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in SCORE_FORMATS:
        return score_to_midi(load_score(path), name=str(path))
    if suffix not in MIDI_SUFFIXES:
        raise StudioError(f"{path}: unknown music file type {suffix or '(none)'!r}; use "
                          f"{', '.join(MIDI_SUFFIXES + tuple(SCORE_FORMATS))}")
    return midi_from_bytes(_read_bytes(path, MAX_MIDI_BYTES), name=str(path))


def _check_file(path: Path, limit: int) -> None:
    """Refuse a missing, unreadable or oversized file before any parser sees it (their messages are cryptic)."""
    try:
        size = path.stat().st_size
    except OSError as err:
        raise StudioError(f"{path}: cannot be read ({err.strerror or err})") from err
    if not path.is_file():
        raise StudioError(f"{path}: cannot be read (not a file)")
    if size > limit:
        raise StudioError(f"{path}: too large ({size / 2**20:.1f} MB; the limit is {limit // 2**20} MB)")


def _read_bytes(path: Path, limit: int) -> bytes:
    _check_file(path, limit)
    try:
        return path.read_bytes()
    except OSError as err:
        raise StudioError(f"{path}: cannot be read ({err.strerror or err})") from err


def midi_from_bytes(data: bytes, name: str = "<bytes>") -> pretty_midi.PrettyMIDI:
    """Validate and parse Standard MIDI File bytes; ``name`` is used in error messages."""
    import mido

    if len(data) > MAX_MIDI_BYTES:
        raise StudioError(f"{name}: too large ({len(data) / 2**20:.1f} MB; the limit is {MAX_MIDI_BYTES // 2**20} MB)")
    if not data.startswith(b"MThd"):
        raise StudioError(f"{name}: not a MIDI file (it does not start with the MIDI header 'MThd')")
    try:
        mid = mido.MidiFile(file=io.BytesIO(data))
    except Exception as err:  # mido raises OSError, EOFError, ValueError, KeyError... for damaged files
        detail = str(err) or "the data ends too early"
        raise StudioError(f"{name}: corrupt or truncated MIDI file ({type(err).__name__}: {detail})") from err
    _check_sane(mid, name)
    try:
        with warnings.catch_warnings():
            # "Tempo ... events found on non-zero tracks" is common (the Nottingham files) and harmless.
            warnings.simplefilter("ignore", RuntimeWarning)
            pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    except Exception as err:  # pretty_midi re-parses with mido and may still fail on odd events
        raise StudioError(f"{name}: unreadable MIDI file ({type(err).__name__}: {err})") from err
    if not any(inst.notes for inst in pm.instruments):
        raise StudioError(f"{name}: the MIDI file has no notes")
    return pm


def _check_sane(mid: Any, name: str) -> None:
    """Refuse what would make pretty_midi allocate gigabytes or divide by zero."""
    if mid.type == 2:
        raise StudioError(f"{name}: MIDI type 2 (independent sequences) is not supported; save it as type 0 or 1")
    if mid.ticks_per_beat < 0 or mid.ticks_per_beat >= 0x8000:  # the top bit of the division: SMPTE time code
        raise StudioError(f"{name}: uses SMPTE time code (frames per second) instead of ticks per beat, which "
                          "Studio cannot place on a beat grid; re-export it with ticks per quarter note")
    if mid.ticks_per_beat == 0:
        raise StudioError(f"{name}: absurd time division (0 ticks per beat)")
    last_tick = 0
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo" and msg.tempo < MIN_TEMPO_US:
                raise StudioError(f"{name}: absurd tempo ({msg.tempo} microseconds per beat)")
        last_tick = max(last_tick, tick)
    if last_tick > MAX_TICKS:
        raise StudioError(f"{name}: absurd length ({last_tick} ticks; the limit is {MAX_TICKS})")
    if mid.length > MAX_SECONDS:
        raise StudioError(f"{name}: absurd length ({mid.length / 3600:.1f} hours)")


def load_score(path: str | Path, index: int = 0) -> Any:
    """Parse a MusicXML, ABC or kern file with music21; a multi-tune file (an ABC book) gives tune ``index``.

    Returns
    -------
    music21.stream.Score
    """
    from music21 import converter, stream

    path = Path(path)
    fmt = SCORE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise StudioError(f"{path}: not a score file; use {', '.join(SCORE_FORMATS)}")
    _check_file(path, MAX_SCORE_BYTES)
    try:
        parsed = converter.parse(str(path), format=fmt)
    except Exception as err:  # music21 raises a different exception type per format
        raise StudioError(f"{path}: cannot be read as {fmt} ({type(err).__name__}: {err})") from err
    if isinstance(parsed, stream.Opus):
        scores = list(parsed.scores)
        if not 0 <= index < len(scores):
            raise StudioError(f"{path}: has {len(scores)} tunes; tune {index} does not exist")
        parsed = scores[index]
    elif not isinstance(parsed, stream.Score):
        parsed = stream.Score([parsed])
    if not pitched_elements(parsed.flatten().notes):
        raise StudioError(f"{path}: the score has no notes")
    return parsed


def pitched_elements(elements: Iterable[Any]) -> list[Any]:
    """Notes and chords that sound: chord symbols (ABC's "G7") and unpitched percussion are not melody."""
    from music21 import chord as m21chord
    from music21 import harmony, note

    return [e for e in elements if isinstance(e, (note.Note, m21chord.Chord))
            and not isinstance(e, harmony.ChordSymbol) and not e.duration.isGrace]


def strip_repeats(score: Any) -> Any:
    """Remove repeat barlines, endings and jumps in place (so music21 plays the music once, as written).

    music21's MIDI writer expands repeats and refuses badly formed ones (e.g. ``bach/bwv277``).
    """
    from music21 import bar, repeat, spanner, stream

    for measure in score.recurse().getElementsByClass(stream.Measure):
        if isinstance(measure.leftBarline, bar.Repeat):
            measure.leftBarline = None
        if isinstance(measure.rightBarline, bar.Repeat):
            measure.rightBarline = bar.Barline("regular")
    for element in list(score.recurse().getElementsByClass((spanner.RepeatBracket, repeat.RepeatExpression))):
        site = element.activeSite
        if site is not None:
            site.remove(element)
    for bracket in list(score.spanners.getElementsByClass(spanner.RepeatBracket)):
        score.remove(bracket)
    return score


def score_to_midi(score: Any, name: str = "<score>") -> pretty_midi.PrettyMIDI:
    """A music21 score as ``PrettyMIDI`` (through music21's MIDI writer; repeats are played).

    Chord symbols are not played (music21 would realise only some of them; ``leadsheet_from_music21`` reads them
    as a chart). Badly formed repeats are dropped with a warning rather than refused.
    """
    from music21 import harmony, midi, repeat

    original = score
    if any(True for _ in score.recurse().getElementsByClass(harmony.ChordSymbol)):
        score = copy.deepcopy(score)  # the caller's score stays as it was
        for symbol in list(score.recurse().getElementsByClass(harmony.ChordSymbol)):
            symbol.activeSite.remove(symbol)
    try:
        try:
            data = midi.translate.streamToMidiFile(score).writestr()
        except repeat.ExpanderException:
            warnings.warn(f"{name}: badly formed repeats; reading it once through, as written", stacklevel=2)
            once = strip_repeats(copy.deepcopy(score) if score is original else score)
            data = midi.translate.streamToMidiFile(once).writestr()
    except StudioError:
        raise
    except Exception as err:  # music21's writer fails on some malformed scores in many ways
        raise StudioError(f"{name}: cannot be converted to MIDI ({type(err).__name__}: {err})") from err
    return midi_from_bytes(data, name)
