"""MIDI <-> binary 88-key frame rolls on a beat grid, the representation of Boulanger-Lewandowski's data sets.

A frame is one slice of the beat grid (JSB Chorales: a quarter note, ``frames_per_beat=1``; Nottingham: an eighth,
``frames_per_beat=2``). A key is on in a frame when a note of that pitch sounds at the frame's sampling point, a
tenth of a frame after its start (so a note played a hair late still counts, and a note ending exactly on the grid
line does not spill into the next frame). Shorter notes between sampling points vanish, as in the published data.

Back to MIDI, consecutive frames of the same key become one held note: a frame roll cannot tell a held half note
from two repeated quarters, and holding is what the chorale data mostly means.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pretty_midi
import torch

from studio.errors import StudioError
from studio.music.theory.keys import key_scores

KEYS = 88          # piano keys, A0 (MIDI 21) .. C8 (MIDI 108); the same as studio.models.piano_roll
LOWEST_MIDI = 21   # MIDI number of key 0
SAMPLE_AT = 0.1    # where in a frame the roll samples which notes sound, as a share of the frame
MAX_FRAMES = 100_000


def frame_times(midi: pretty_midi.PrettyMIDI, frames_per_beat: int) -> np.ndarray:
    """Start times (seconds) of every frame up to the last note: ``frames_per_beat`` frames per quarter note,
    following tempo changes. Returns an array of shape (frames,).

    The grid is counted in MIDI ticks, never in pretty_midi's beats: those follow the time signature (a 6/8 beat
    is a dotted quarter, a 2/2 beat a half note), and a frame must mean the same length in every meter.
    """
    end = midi.get_end_time()
    if end <= 0:
        return np.zeros(0)
    end_tick = midi.time_to_tick(end)
    ticks_per_frame = midi.resolution / frames_per_beat
    count = int(np.ceil(end_tick / ticks_per_frame - 1e-6))  # a note ending on a grid line opens no new frame
    if count > MAX_FRAMES:
        raise StudioError(f"the piece is longer than {MAX_FRAMES} frames; cut it before using it")
    ticks = np.rint(np.arange(count) * ticks_per_frame)
    # Ticks to seconds through the tempo map (a handful of segments), vectorised: pretty_midi's tick_to_time is
    # one Python call per tick.
    change_times, tempi = midi.get_tempo_changes()
    change_ticks = np.array([midi.time_to_tick(t) for t in change_times], dtype=float)
    segment = np.clip(np.searchsorted(change_ticks, ticks, side="right") - 1, 0, None)
    seconds_per_tick = 60.0 / (tempi * midi.resolution)
    return change_times[segment] + (ticks - change_ticks[segment]) * seconds_per_tick[segment]


def midi_to_frames(midi: pretty_midi.PrettyMIDI, frames_per_beat: int = 1) -> torch.Tensor:
    """The pitched notes of ``midi`` as a (frames, 88) float 0/1 roll; drums and notes off the piano are left out.

    Parameters
    ----------
    midi : pretty_midi.PrettyMIDI
    frames_per_beat : int
        Grid resolution: 1 = quarter notes (JSB Chorales), 2 = eighths (Nottingham), 4 = sixteenths.
    """
    if frames_per_beat < 1:
        raise StudioError(f"frames_per_beat must be at least 1, got {frames_per_beat}")
    times = frame_times(midi, frames_per_beat)
    roll = torch.zeros(len(times), KEYS)
    if len(times) == 0:
        return roll
    lengths = np.diff(np.append(times, times[-1] + (times[-1] - times[-2] if len(times) > 1 else 0.5)))
    points = times + SAMPLE_AT * lengths
    for instrument in midi.instruments:
        if instrument.is_drum:
            continue
        for note in instrument.notes:
            key = note.pitch - LOWEST_MIDI
            if not 0 <= key < KEYS:
                continue
            first, last = np.searchsorted(points, [note.start, note.end])  # sampling points inside the note
            roll[first:last, key] = 1.0
    return roll


def frames_to_midi(roll: torch.Tensor | np.ndarray, tempo: float = 90.0, frames_per_beat: int = 1,
                   program: int = 0, velocity: int = 80, melody_keys: Sequence[int | None] | None = None,
                   melody_program: int | None = None) -> pretty_midi.PrettyMIDI:
    """A (frames, 88) 0/1 roll as MIDI; runs of one key in consecutive frames become one held note.

    With ``melody_keys`` (one key or None per frame), those notes go to their own instrument (``melody_program``,
    default ``program``) so a harmonised melody stays its own part in the file.
    """
    roll = np.asarray(roll, dtype=bool)
    if roll.ndim != 2 or roll.shape[1] != KEYS:
        raise StudioError(f"a frame roll has shape (frames, {KEYS}); got {tuple(roll.shape)}")
    seconds = 60.0 / tempo / frames_per_beat
    midi = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    harmony = pretty_midi.Instrument(program=program, name="harmony" if melody_keys is not None else "piano")
    melody = pretty_midi.Instrument(program=program if melody_program is None else melody_program, name="melody")
    melody_mask = np.zeros_like(roll)
    if melody_keys is not None:
        for t, key in enumerate(melody_keys[:len(roll)]):
            if key is not None:
                melody_mask[t, key] = True
    for mask, instrument in ((roll & ~melody_mask, harmony), (roll & melody_mask, melody)):
        padded = np.vstack([np.zeros((1, KEYS), bool), mask, np.zeros((1, KEYS), bool)]).astype(np.int8)
        edges = np.diff(padded, axis=0)  # +1 where a run starts, -1 one past where it ends
        for key in range(KEYS):
            starts, ends = np.flatnonzero(edges[:, key] == 1), np.flatnonzero(edges[:, key] == -1)
            for start, end in zip(starts, ends, strict=True):
                instrument.notes.append(pretty_midi.Note(velocity=velocity, pitch=key + LOWEST_MIDI,
                                                         start=start * seconds, end=end * seconds))
        if instrument.notes:
            instrument.notes.sort(key=lambda n: (n.start, n.pitch))
            midi.instruments.append(instrument)
    return midi


def top_line(roll: torch.Tensor) -> list[int | None]:
    """The highest sounding key of every frame (None where the frame is silent): a melody to harmonise."""
    keys = torch.arange(roll.shape[1])
    tops = torch.where(roll > 0, keys, -1).max(dim=1).values.tolist()
    return [None if k < 0 else int(k) for k in tops]


def first_tempo(midi: pretty_midi.PrettyMIDI, default: float = 90.0) -> float:
    """The piece's opening tempo in quarter notes per minute (``default`` when the file has none)."""
    _, tempi = midi.get_tempo_changes()
    return float(tempi[0]) if len(tempi) else default


def estimate_roll_tonic(roll: torch.Tensor) -> int:
    """The tonic pitch class (0 = C) of a frame roll: its pitch classes, weighted by frames, against the
    Krumhansl-Kessler profiles, with a bonus for the lowest note of the last sounding frame (pieces end at home).
    An empty roll is in C."""
    if roll.numel() == 0 or not bool(roll.any()):
        return 0
    per_key = roll.sum(0).numpy()
    hist = np.array([per_key[(pc - LOWEST_MIDI) % 12::12].sum() for pc in range(12)])
    scores = key_scores(hist)
    sounding = roll.any(1).nonzero().flatten()
    last = roll[int(sounding[-1])].nonzero().flatten()
    scores[(int(last.min()) + LOWEST_MIDI) % 12] += 0.2
    return int(np.argmax(scores))
