"""Files out of a performance: MIDI, WAV audio and piano-roll PNG (sheet music is ``studio.music.io.notation``).

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

import mido
import numpy as np
import pretty_midi

from studio.errors import StudioError
from studio.music.band.render import parse_meta_texts
from studio.music.theory.chords import STEPS_PER_BAR, ChordChart, Note

# Better General MIDI soundfonts first (Debian's fluid-soundfont-gm, MuseScore's), pretty_midi's 6 MB one last.
SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/soundfonts/FluidR3_GM.sf2",
              "/usr/share/sounds/sf2/MuseScore_General.sf2", "/usr/share/sounds/sf2/default-GM.sf2")
TAIL_SECONDS = 1.0          # let the last notes and the reverb ring out
PEAK = 0.89                 # normalise to -1 dBFS: loud, never clipped
FLUID_GAIN = 0.3            # FluidSynth's master gain: a full band peaks near 15% of its 16-bit output, no clipping


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[str]:
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
    with atomic_path(path) as tmp:
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
    with atomic_path(path) as tmp, wave.open(tmp, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        for start in range(0, len(audio), 1 << 20):
            block = np.rint(audio[start:start + (1 << 20)].astype(np.float64) * scale)
            out.writeframes(np.clip(block, -32767, 32767).astype("<i2").tobytes())


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
