"""Files out of a performance or a lead sheet: MIDI, WAV audio, MusicXML, SVG sheet music and piano-roll PNG.

Every writer writes a temporary file beside the target and renames it into place, so a crash or a bad input never
leaves a half-written file; errors a user can cause raise ``StudioError``. Heavy libraries (music21, verovio,
matplotlib, FluidSynth) are imported only when their writer runs.
"""

from __future__ import annotations

import contextlib
import os
import uuid
import warnings
import wave
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from xml.etree import ElementTree

import mido
import numpy as np
import pretty_midi

from studio.errors import StudioError
from studio.music.chords import NOTE_NAMES, STEPS_PER_BAR, STEPS_PER_BEAT, ChordChart, LeadSheet, Note
from studio.music.render import parse_meta_texts

# Better General MIDI soundfonts first (Debian's fluid-soundfont-gm, MuseScore's), pretty_midi's 6 MB one last.
SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/soundfonts/FluidR3_GM.sf2",
              "/usr/share/sounds/sf2/MuseScore_General.sf2", "/usr/share/sounds/sf2/default-GM.sf2")
TAIL_SECONDS = 1.0          # let the last notes and the reverb ring out
PEAK = 0.89                 # normalise to -1 dBFS: loud, never clipped
FLUID_GAIN = 0.3            # FluidSynth's master gain: a full band peaks near 15% of its 16-bit output, no clipping


@contextlib.contextmanager
def _atomic(path: str | os.PathLike[str]) -> Iterator[str]:
    """Yield a temporary path beside ``path`` (same suffix); rename it onto ``path`` only if the block succeeds."""
    target = Path(path)
    if target.is_dir():
        raise StudioError(f"cannot write {target}: it is a folder; give a file name")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StudioError(f"cannot write {target}: {error.strerror or error}") from None
    # A fresh name the writer creates itself, so the file gets the usual permissions (mkstemp's are owner-only).
    tmp = str(target.parent / f".{target.stem}.{uuid.uuid4().hex[:12]}.tmp{target.suffix}")
    try:
        yield tmp
        os.replace(tmp, target)
    except OSError as error:
        raise StudioError(f"cannot write {target}: {error.strerror or error}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _require_midi(pm: object) -> pretty_midi.PrettyMIDI:
    if not isinstance(pm, pretty_midi.PrettyMIDI):
        raise StudioError(f"expected a pretty_midi.PrettyMIDI performance (from render_midi), got {type(pm).__name__}")
    return pm


# -- MIDI ---------------------------------------------------------------------------------------------------------
def write_midi(pm: pretty_midi.PrettyMIDI, path: str | os.PathLike[str]) -> Path:
    """Write a Standard MIDI File (type 1, one track per part, meta text events kept). Returns the path."""
    _require_midi(pm)
    with _atomic(path) as tmp:
        pm.write(tmp)
    return Path(path)


def read_meta(path: str | os.PathLike[str]) -> dict[str, object]:
    """The ``studio:`` meta data stored in a MIDI file by ``render_midi`` (``{}`` for files from elsewhere)."""
    try:
        midi = mido.MidiFile(str(path))
    except (OSError, EOFError, ValueError, KeyError, IndexError) as error:
        raise StudioError(f"cannot read MIDI file {path}: {error or 'it is not a Standard MIDI File'}") from None
    return parse_meta_texts([m.text for track in midi.tracks for m in track if m.type == "text"])


# -- audio --------------------------------------------------------------------------------------------------------
def find_soundfont(soundfont: str | os.PathLike[str] | None = None) -> Path:
    """The soundfont to play with: ``soundfont``, else ``$STUDIO_SOUNDFONT``, else the best GM font installed,
    else pretty_midi's bundled TimGM6mb.sf2."""
    chosen = soundfont or os.environ.get("STUDIO_SOUNDFONT")
    if chosen:
        if not Path(chosen).is_file():
            raise StudioError(f"soundfont {chosen} not found: give the path of a .sf2 file")
        return Path(chosen)
    for candidate in SOUNDFONTS:
        if Path(candidate).is_file():
            return Path(candidate).resolve()  # default-GM.sf2 is a link: name the real font in reports
    return Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"


def _load_fluidsynth() -> ModuleType | None:
    """pyfluidsynth, or None when it or the libfluidsynth library it wraps is missing."""
    try:
        import fluidsynth
    except (ImportError, OSError):
        return None
    return fluidsynth if hasattr(fluidsynth, "Synth") else None


def write_wav(pm: pretty_midi.PrettyMIDI, path: str | os.PathLike[str], sample_rate: int = 44100,
              soundfont: str | os.PathLike[str] | None = None) -> str:
    """Render a performance to a 16-bit stereo WAV file, peak-normalised to -1 dBFS.

    Parameters
    ----------
    pm : pretty_midi.PrettyMIDI
        The performance (drum instruments play on channel 10).
    path : str or PathLike
        Where to write the ``.wav`` file.
    sample_rate : int
        8000 to 96000 samples per second.
    soundfont : str or PathLike, optional
        A General MIDI ``.sf2``; by default the best installed (see ``find_soundfont``).

    Returns
    -------
    str
        The synthesizer used: ``"fluidsynth:<soundfont path>"``, or ``"sine"`` when FluidSynth is missing and
        pretty_midi's sine-wave synthesis (no drums) stood in, with a warning saying how to install it.
    """
    _require_midi(pm)
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or not 8000 <= sample_rate <= 96000:
        raise StudioError(f"sample_rate must be a whole number in [8000, 96000], got {sample_rate!r}")
    if not any(instrument.notes for instrument in pm.instruments):
        raise StudioError("nothing to play: the performance has no notes")
    font = find_soundfont(soundfont)
    fluidsynth = _load_fluidsynth()
    if fluidsynth is not None:
        audio, used = _fluidsynth_audio(pm, fluidsynth, font, sample_rate), f"fluidsynth:{font}"
    else:
        warnings.warn("FluidSynth is not available (pip install pyfluidsynth, and apt-get install libfluidsynth3 "
                      "or brew install fluid-synth); writing sine waves without drums instead", RuntimeWarning,
                      stacklevel=2)
        mono = pm.synthesize(fs=sample_rate)
        audio, used = np.repeat(mono[:, None], 2, axis=1), "sine"
    _write_pcm16(audio, path, sample_rate)
    return used


def _fluidsynth_audio(pm: pretty_midi.PrettyMIDI, fluidsynth: ModuleType, soundfont: Path,
                      sample_rate: int) -> np.ndarray:
    """All parts through one synthesizer, each on its own channel as in the MIDI file: (frames, 2) int16.

    One pass over the whole band is about twice as fast as pretty_midi's one pass per instrument, and keeps
    the soundfont's stereo image and reverb.
    """
    synth = fluidsynth.Synth(gain=FLUID_GAIN, samplerate=float(sample_rate),
                             **{"synth.cpu-cores": min(4, os.cpu_count() or 1)})
    try:
        font_id = synth.sfload(str(soundfont))
        if font_id < 0:
            raise StudioError(f"FluidSynth cannot load soundfont {soundfont}: is it a .sf2 file?")
        events: list[tuple[float, int, str, int, int, int]] = []
        melodic = iter([c for c in range(16) if c != 9] * 8)  # pretty_midi.write's channel order
        for instrument in pm.instruments:
            channel = 9 if instrument.is_drum else next(melodic)
            bank = 128 if instrument.is_drum else 0
            if synth.program_select(channel, font_id, bank, instrument.program) == -1:  # not in this soundfont:
                synth.program_select(channel, font_id, bank, 0)                          # its first kit or piano
            # Sort key (time, order): controllers, then note-offs, then note-ons, so a repeated pitch re-sounds.
            events += [(c.time, 0, "cc", channel, c.number, c.value) for c in instrument.control_changes]
            events += [(b.time, 0, "bend", channel, b.pitch, 0) for b in instrument.pitch_bends]
            events += [(n.end, 1, "off", channel, n.pitch, 0) for n in instrument.notes]
            events += [(n.start, 2, "on", channel, n.pitch, n.velocity) for n in instrument.notes]
        events.sort(key=lambda e: (e[0], e[1]))
        total = round((pm.get_end_time() + TAIL_SECONDS) * sample_rate)
        audio = np.zeros((total, 2), dtype=np.int16)
        done = 0
        for time, _, kind, channel, a, b in events:
            frame = min(total, round(time * sample_rate))
            if frame > done:
                audio[done:frame] = np.asarray(synth.get_samples(frame - done)).reshape(-1, 2)
                done = frame
            if kind == "on":
                synth.noteon(channel, a, b)
            elif kind == "off":
                synth.noteoff(channel, a)
            elif kind == "cc":
                synth.cc(channel, a, b)
            else:
                synth.pitch_bend(channel, a)
        if total > done:
            audio[done:] = np.asarray(synth.get_samples(total - done)).reshape(-1, 2)
        return audio
    finally:
        synth.delete()


def _write_pcm16(audio: np.ndarray, path: str | os.PathLike[str], sample_rate: int) -> None:
    """Peak-normalise (frames, 2) audio and write it as 16-bit PCM, in blocks to bound memory."""
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if peak == 0.0:
        raise StudioError("the rendered audio is silent: check the parts' notes and velocities (without FluidSynth, "
                          "drums cannot be heard)")
    scale = PEAK * 32767.0 / peak
    with _atomic(path) as tmp, wave.open(tmp, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        for start in range(0, len(audio), 1 << 20):
            block = np.rint(audio[start:start + (1 << 20)].astype(np.float64) * scale)
            out.writeframes(np.clip(block, -32767, 32767).astype("<i2").tobytes())


# -- sheet music --------------------------------------------------------------------------------------------------
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
    with _atomic(path) as tmp:
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


# -- piano roll ---------------------------------------------------------------------------------------------------
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
        with _atomic(path) as tmp:
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
