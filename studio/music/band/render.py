"""Lead sheet + backing band -> a multi-track General MIDI performance (``pretty_midi.PrettyMIDI``).

The score stays on the straight 16th-note grid; swing exists only here, where grid steps become seconds. Within
each beat, a point at fraction ``f`` of the beat moves piecewise-linearly so that the off-beat 8th (``f = 0.5``)
lands at ``f = swing``: ``0.5`` is straight, ``2/3`` triplet swing, ``0.75`` a dotted-8th-and-16th shuffle. Beats
themselves never move, so the bass, the drums and the chord changes stay exactly where the score puts them.

Everything needed to reproduce a file (the model, its seed, every sampling and rendering parameter) travels inside
it as MIDI text meta events ``studio:<key>=<JSON value>`` on the first track; ``studio.music.io.export.read_meta``
reads them back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pretty_midi

from studio.config import check_choice, check_range
from studio.errors import StudioError
from studio.music.band.backing import MAX_CHORUSES, backing_band
from studio.music.band.bass import BASS_PROGRAMS, BASS_STYLES
from studio.music.band.comping import COMPING_PROGRAMS
from studio.music.io.export import meta_texts
from studio.music.theory.chords import BEATS_PER_BAR, STEPS_PER_BAR, STEPS_PER_BEAT, LeadSheet, Note

PARTS = ("lead", "bass", "comping", "drums")
TEMPO_RANGE = (20.0, 400.0)     # beats per minute; outside it a performance is a drone or a blur
SWING_RANGE = (0.5, 0.8)        # share of the beat the first of two 8ths takes
# A starting mix (GM controller 7 volume, 10 pan): the lead in front, piano and bass either side of the drums.
MIX = {"lead": (110, 70), "bass": (104, 58), "comping": (84, 44), "drums": (96, 64)}
RESOLUTION = 480                # ticks per quarter note: swung 8ths at 2/3 land within 1/1440 of a beat


def step_seconds(step: float, tempo: float, swing: float = 0.5, steps_per_beat: int = STEPS_PER_BEAT) -> float:
    """The time in seconds of grid ``step`` at ``tempo`` beats per minute with ``swing``.

    Parameters
    ----------
    step : float
        Position in 16th-note grid steps from the start.
    tempo : float
        Quarter notes per minute.
    swing : float
        Where the off-beat 8th falls, as a fraction of the beat (0.5 = straight).
    steps_per_beat : int
        The grid: 4 (16th notes, lead sheets) or 12 (the jazz soloist's 48-per-bar grid).

    Returns
    -------
    float
        Seconds from the start of the piece.
    """
    beat, fraction = divmod(step / steps_per_beat, 1.0)
    # Two linear pieces: [0, 0.5] of the beat stretches onto [0, swing], [0.5, 1] squeezes onto [swing, 1].
    swung = fraction * swing / 0.5 if fraction <= 0.5 else swing + (fraction - 0.5) * (1.0 - swing) / 0.5
    return (beat + swung) * 60.0 / tempo


def chorus_count(sheet: LeadSheet) -> int:
    """How many times through its chart the sheet's melody runs (at least once)."""
    chorus_steps = sheet.chart.num_bars * STEPS_PER_BAR
    return max(1, math.ceil(sheet.num_steps / chorus_steps))


def render_midi(sheet: LeadSheet, *, tempo: float | None = None, swing: float = 0.5, choruses: int | None = None,
                lead_program: int = 66, bass_style: str = "walking", comping_instrument: str = "piano",
                parts: Mapping[str, bool] | None = None, seed: int = 0,
                meta: Mapping[str, object] | None = None, lead_grid: int = STEPS_PER_BEAT) -> pretty_midi.PrettyMIDI:
    """Perform a lead sheet with a backing band as General MIDI.

    Parameters
    ----------
    sheet : LeadSheet
        The lead melody (grid steps) and its chord chart; the chart repeats for as long as the band plays.
    tempo : float, optional
        Beats (quarter notes) per minute, 20 to 400; defaults to ``sheet.tempo``.
    swing : float
        0.5 (straight) to 0.8: where the off-beat 8th falls within the beat (2/3 is classic triplet swing).
    choruses : int, optional
        Times through the chart for the band; defaults to as many as the melody needs.
    lead_program : int
        General MIDI program of the lead (0-127): 66 tenor sax, 0 piano, 65 alto sax, 56 trumpet.
    bass_style : {"walking", "shuffle"}
        Walking quarter notes (GM 32, acoustic bass) or a boogie shuffle (GM 33, electric bass).
    comping_instrument : {"piano", "guitar"}
        Who plays the chords (GM 0 or 26).
    parts : mapping of str to bool, optional
        Switches for ``"lead"``, ``"bass"``, ``"comping"`` and ``"drums"``; a part not named is on.
    seed : int
        Seed of the backing band (the same seed gives the same band).
    meta : mapping of str to object, optional
        Facts to store in the file (model, its seed, sampling parameters...), JSON-serialisable values. The
        rendering parameters are added under ``render.*`` keys.
    lead_grid : int
        Grid steps per beat of the lead's notes: 4 (16ths, swung by ``swing`` like the band), or any other grid
        whose notes already say where they fall (the jazz soloist's): the lead is then placed exactly, never swung
        again.

    Returns
    -------
    pretty_midi.PrettyMIDI
        One instrument per part that has notes (named after the part; drums on channel 10), tempo and 4/4 time
        signature at time 0, and the meta data as text events.
    """
    if not isinstance(sheet, LeadSheet):
        raise StudioError(f"render_midi needs a LeadSheet, got {type(sheet).__name__}")
    tempo = sheet.tempo if tempo is None else tempo
    check_range("tempo (beats per minute)", tempo, *TEMPO_RANGE)
    check_range("swing (where the off-beat 8th falls: 0.5 straight, 0.67 triplet swing)", swing, *SWING_RANGE)
    check_range("lead_program (General MIDI program)", lead_program, 0, 127, integer=True)
    check_range("lead_grid (steps per beat)", lead_grid, 1, 960, integer=True)
    check_choice("bass_style", bass_style, BASS_STYLES)
    check_choice("comping_instrument", comping_instrument, tuple(COMPING_PROGRAMS))
    switches = _switches(parts)
    choruses = chorus_count(sheet) if choruses is None else choruses
    check_range("choruses", choruses, 1, MAX_CHORUSES, integer=True)
    _check_melody(sheet.melody)

    band = backing_band(sheet.chart, choruses, bass=bass_style if switches["bass"] else None,
                        comping=switches["comping"], drums=switches["drums"], seed=seed)
    pm = pretty_midi.PrettyMIDI(resolution=RESOLUTION, initial_tempo=float(tempo))
    pm.time_signature_changes.append(pretty_midi.TimeSignature(BEATS_PER_BAR, 4, 0.0))
    tracks = [("lead", lead_program, False, sheet.melody if switches["lead"] else []),
              ("bass", BASS_PROGRAMS[bass_style], False, band.get("bass", [])),
              ("comping", COMPING_PROGRAMS[comping_instrument], False, band.get("comping", [])),
              ("drums", 0, True, band.get("drums", []))]
    for name, program, is_drum, notes in tracks:
        if notes:
            lead = name == "lead" and lead_grid != STEPS_PER_BEAT
            instrument = _instrument(name, program, is_drum, notes, float(tempo), 0.5 if lead else swing,
                                     lead_grid if lead else STEPS_PER_BEAT)
            volume, pan = MIX[name]
            instrument.control_changes += [pretty_midi.ControlChange(7, volume, 0.0),
                                           pretty_midi.ControlChange(10, pan, 0.0)]
            pm.instruments.append(instrument)

    settings = {"tempo": tempo, "swing": swing, "lead_grid": lead_grid, "choruses": choruses,
                "lead_program": lead_program,
                "bass_style": bass_style, "comping_instrument": comping_instrument, "parts": switches,
                "band_seed": seed, "chart": sheet.chart.text(), "sheet": sheet.name}
    events = {**dict(meta or {}), **{f"render.{key}": value for key, value in settings.items()}}
    pm.text_events.extend(pretty_midi.Text(text, 0.0) for text in meta_texts(events))
    return pm


def _switches(parts: Mapping[str, bool] | None) -> dict[str, bool]:
    switches = dict.fromkeys(PARTS, True)
    for name, on in (parts or {}).items():
        if name not in switches:
            raise StudioError(f"unknown part {name!r}; the parts are {', '.join(PARTS)}")
        if not isinstance(on, bool):
            raise StudioError(f"part {name!r} must be switched on or off with true or false, got {on!r}")
        switches[name] = on
    return switches


def _check_melody(melody: list[Note]) -> None:
    for i, note in enumerate(melody):
        if not (0 <= note.pitch <= 127 and 1 <= note.velocity <= 127 and note.start >= 0 and note.duration >= 1):
            raise StudioError(f"melody note {i} ({note}) is not playable: pitch and velocity must be MIDI values "
                              "(0-127, velocity >= 1), start >= 0 and duration >= 1 grid step")


def _instrument(name: str, program: int, is_drum: bool, notes: list[Note], tempo: float,
                swing: float, steps_per_beat: int = STEPS_PER_BEAT) -> pretty_midi.Instrument:
    instrument = pretty_midi.Instrument(program=program, is_drum=is_drum, name=name)
    seconds: dict[int, float] = {}  # many notes share start and end steps: compute each time once

    def at(step: int) -> float:
        if step not in seconds:
            seconds[step] = step_seconds(step, tempo, swing, steps_per_beat)
        return seconds[step]

    instrument.notes = [pretty_midi.Note(velocity=n.velocity, pitch=n.pitch, start=at(n.start), end=at(n.end))
                        for n in notes]
    return instrument


