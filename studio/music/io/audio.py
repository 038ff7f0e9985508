"""Audio out of a performance: WAV rendered by FluidSynth with a General MIDI soundfont, or sine waves without it.

The file is written beside the target and renamed into place (``studio.music.io.export.atomic_path``); FluidSynth
is imported only when a WAV is written.
"""

from __future__ import annotations

import os
import warnings
import wave
from pathlib import Path
from types import ModuleType

import numpy as np
import pretty_midi

from studio.errors import StudioError
from studio.music.io.export import atomic_path, require_midi

# Better General MIDI soundfonts first (Debian's fluid-soundfont-gm, MuseScore's), pretty_midi's 6 MB one last.
SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/soundfonts/FluidR3_GM.sf2",
              "/usr/share/sounds/sf2/MuseScore_General.sf2", "/usr/share/sounds/sf2/default-GM.sf2")
TAIL_SECONDS = 1.0          # let the last notes and the reverb ring out
PEAK = 0.89                 # normalise to -1 dBFS: loud, never clipped
FLUID_GAIN = 0.3            # FluidSynth's master gain: a full band peaks near 15% of its 16-bit output, no clipping


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
    require_midi(pm)
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
