"""Ingestion: MIDI (type 0/1, drums, tempo and meter changes), MusicXML/ABC/kern through music21, bad files, and the
reduction of a piece to a lead sheet (melody skyline on the grid, chords from an accompaniment or chord symbols).

Every file is written by the test or comes with music21 (its Bach chorales), so a fresh clone needs nothing else.
"""

from __future__ import annotations

import copy
import io
import os
import re
from pathlib import Path

import mido
import pretty_midi
import pytest
from music21 import bar, corpus, stream

from studio.errors import StudioError
from studio.music.io.leadsheet_extract import (
    chart_from_sounding,
    chord_from_pitch_classes,
    leadsheet_from_midi,
    leadsheet_from_music21,
    load_leadsheet,
    pickup_steps,
    skyline,
)
from studio.music.io.midi import (
    MAX_MIDI_BYTES,
    load_midi,
    load_score,
    midi_from_bytes,
    score_to_midi,
    strip_repeats,
)
from studio.music.theory.chords import NO_CHORD, ChordChart, Note, parse_chord

TPQ = 480
# (pitch, start beat, duration in beats): a pickup, eighths, a dotted eighth, 16ths, a long note.
MELODY = [(67, 3, 1), (72, 4, 1), (71, 5, 0.5), (69, 5.5, 0.5), (67, 6, 2), (65, 8, 1), (69, 9, 1), (72, 10, 2),
          (71, 12, 1.5), (74, 13.5, 0.5), (77, 14, 1), (74, 15, 1), (72, 16, 3), (64, 19, 0.25), (65, 19.25, 0.25),
          (67, 19.5, 0.5), (72, 20, 4)]
# A chord track as in the Nottingham files: block chords (one inversion), two chords in bar 4.
CHORDS = [((48, 52, 55), 4, 4), ((53, 57, 60), 8, 4), ((43, 47, 50, 53), 12, 4), ((48, 52, 57), 16, 2),
          ((50, 53, 57, 60), 18, 2), ((48, 52, 55), 20, 4)]
EXPECTED_CHART = "N.C. | C | F | G7 | Am Dm7 | C"
DRUMS = [(36 if b % 2 == 0 else 42, b, 0.25) for b in range(24)]


def expected_melody() -> list[tuple[int, int, int]]:
    return [(p, round(s * 4), round(d * 4)) for p, s, d in MELODY]


def chord_notes() -> list[tuple[int, float, float]]:
    return [(p, s, d) for pitches, s, d in CHORDS for p in pitches]


def write_midi(path: Path, parts: list[tuple[int, int, list[tuple[int, float, float]]]], midi_type: int = 1,
               tempos: tuple[tuple[float, float], ...] = ((0, 120.0),),
               meters: tuple[tuple[float, int, int], ...] = ((0, 4, 4),)) -> Path:
    """Write a Standard MIDI File with mido. ``parts`` are (channel, program, notes in beats); ``tempos`` are
    (beat, bpm) and ``meters`` (beat, numerator, denominator). Type 1 gets a conductor track and one track per
    part; type 0 puts every event in a single track."""
    conductor = [(round(b * TPQ), 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))) for b, bpm in tempos]
    conductor += [(round(b * TPQ), 0, mido.MetaMessage("time_signature", numerator=n, denominator=d))
                  for b, n, d in meters]
    tracks = [conductor]
    for channel, program, notes in parts:
        events = [(0, 0, mido.Message("program_change", channel=channel, program=program))]
        for pitch, start, dur in notes:
            events.append((round(start * TPQ), 1, mido.Message("note_on", channel=channel, note=pitch, velocity=80)))
            events.append((round((start + dur) * TPQ), 0, mido.Message("note_off", channel=channel, note=pitch)))
        tracks.append(events)
    if midi_type == 0:
        tracks = [[e for t in tracks for e in t]]
    mid = mido.MidiFile(type=midi_type, ticks_per_beat=TPQ)
    for events in tracks:
        track = mido.MidiTrack()
        now = 0
        for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):  # note-offs before note-ons at a tick
            track.append(msg.copy(time=tick - now))
            now = tick
        mid.tracks.append(track)
    mid.save(str(path))
    return path


def tune_parts() -> list[tuple[int, int, list[tuple[int, float, float]]]]:
    return [(0, 73, MELODY), (1, 0, chord_notes()), (9, 0, DRUMS)]


def melody_tuples(sheet) -> list[tuple[int, int, int]]:
    return [(n.pitch, n.start, n.duration) for n in sheet.melody]


@pytest.fixture(scope="module")
def chorales() -> list[tuple[str, stream.Score]]:
    """The first 12 Bach chorales music21 ships (parsed once for this module)."""
    out = []
    for score in corpus.chorales.Iterator():
        out.append((str(score.metadata.corpusFilePath), score))
        if len(out) == 12:
            break
    return out


# -- MIDI files ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("midi_type", [0, 1])
def test_type0_and_type1_with_drums_and_tempo_and_meter_changes(tmp_path: Path, midi_type: int) -> None:
    path = write_midi(tmp_path / f"tune{midi_type}.mid", tune_parts(), midi_type,
                      tempos=((0, 120.0), (8, 90.0), (14, 140.0)), meters=((0, 4, 4), (20, 3, 4)))
    pm = load_midi(path)
    assert sum(inst.is_drum for inst in pm.instruments) == 1
    sheet = leadsheet_from_midi(pm, name="tune")
    # The grid follows the beats: notes after both tempo changes land exactly where they were written.
    assert melody_tuples(sheet) == expected_melody()
    assert sheet.chart.text() == EXPECTED_CHART
    assert sheet.tempo == pytest.approx(120.0)  # the first tempo
    assert sheet.name == "tune"


def test_pretty_midi_file_with_drums(tmp_path: Path) -> None:
    """A type-1 file written by pretty_midi (seconds, 100 bpm) gives the same lead sheet."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=100.0)
    beat = 60.0 / 100.0
    for program, is_drum, notes in ((73, False, MELODY), (0, False, chord_notes()), (0, True, DRUMS)):
        inst = pretty_midi.Instrument(program, is_drum=is_drum)
        inst.notes = [pretty_midi.Note(90, p, s * beat, (s + d) * beat) for p, s, d in notes]
        pm.instruments.append(inst)
    path = tmp_path / "pm.mid"
    pm.write(str(path))
    sheet = load_leadsheet(path)
    assert melody_tuples(sheet) == expected_melody()
    assert sheet.chart.text() == EXPECTED_CHART
    assert sheet.tempo == pytest.approx(100.0, abs=0.01)
    assert sheet.name == "pm"


def test_melody_only_file_gets_no_chords_and_keeps_its_pickup(tmp_path: Path) -> None:
    sheet = leadsheet_from_midi(load_midi(write_midi(tmp_path / "m.mid", [(0, 0, MELODY)])))
    assert melody_tuples(sheet) == expected_melody()
    assert sheet.melody[0].start == 12  # the pickup stays at the end of the file's first bar
    assert {c for bar_ in sheet.chart.bars for c in bar_} == {NO_CHORD}
    assert sheet.chart.num_bars == 6


def test_melody_is_the_highest_line_and_its_skyline(tmp_path: Path) -> None:
    """A polyphonic right hand over a monophonic bass: the melody is the right hand's top voice."""
    top = [(76, b, 1) for b in range(8)]
    right_hand = top + [(p, b, 1) for b in range(8) for p in (67, 72)]
    bass = [(36 + (b % 4), b, 1) for b in range(8)]
    sheet = leadsheet_from_midi(load_midi(write_midi(tmp_path / "piano.mid", [(0, 0, bass), (1, 0, right_hand)])))
    assert melody_tuples(sheet) == [(76, 4 * b, 4) for b in range(8)]


def test_unquantised_notes_snap_to_the_nearest_step(tmp_path: Path) -> None:
    played = [(60, 0.02, 0.95), (62, 0.98, 1.05), (64, 2.1, 0.4)]  # a human's timing, within an eighth of a 16th
    sheet = leadsheet_from_midi(load_midi(write_midi(tmp_path / "human.mid", [(0, 0, played)])))
    assert melody_tuples(sheet) == [(60, 0, 4), (62, 4, 4), (64, 8, 2)]


# -- bad files ----------------------------------------------------------------------------------------------------
def _tiny_midi() -> bytes:
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(0)
    inst.notes = [pretty_midi.Note(90, 60 + i, i * 0.5, i * 0.5 + 0.5) for i in range(8)]
    pm.instruments.append(inst)
    buffer = io.BytesIO()
    pm.write(buffer)
    return buffer.getvalue()


def _mido_bytes(messages: list, midi_type: int = 1) -> bytes:
    mid = mido.MidiFile(type=midi_type)
    mid.tracks.append(mido.MidiTrack(messages))
    buffer = io.BytesIO()
    mid.save(file=buffer)
    return buffer.getvalue()


NOTE = [mido.Message("note_on", note=60, time=0), mido.Message("note_off", note=60, time=100)]
BAD_FILES = {
    "random bytes": (os.urandom(2048), "not a MIDI file"),
    "empty": (b"", "not a MIDI file"),
    "header then garbage": (b"MThd" + bytes(range(256)) * 4, "corrupt or truncated"),
    "truncated": (_tiny_midi()[:40], "corrupt or truncated"),
    "bad data byte": (_tiny_midi().replace(b"\x90\x3c", b"\x90\xfc", 1), "corrupt or truncated"),
    "absurd tempo": (_mido_bytes([mido.MetaMessage("set_tempo", tempo=5), *NOTE]), "absurd tempo"),
    "absurd ticks": (_mido_bytes([NOTE[0], NOTE[1].copy(time=2**27)]), "absurd length"),
    "no notes": (_mido_bytes([mido.MetaMessage("set_tempo", tempo=500000)]), "no notes"),
    "type 2": (_mido_bytes(NOTE, midi_type=2), "type 2"),
    "zero division": (_tiny_midi()[:12] + b"\x00\x00" + _tiny_midi()[14:], "absurd time division"),
    "SMPTE division": (_tiny_midi()[:12] + b"\xe7\x28" + _tiny_midi()[14:], "SMPTE"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_midi_files_raise_studio_error_naming_file_and_reason(tmp_path: Path, case: str) -> None:
    data, reason = BAD_FILES[case]
    path = tmp_path / "song.mid"
    path.write_bytes(data)
    with pytest.raises(StudioError, match=reason) as err:
        load_midi(path)
    assert str(path) in str(err.value)


def test_too_large_missing_and_unknown_files(tmp_path: Path) -> None:
    big = tmp_path / "huge.mid"
    big.write_bytes(b"MThd" + bytes(MAX_MIDI_BYTES))
    with pytest.raises(StudioError, match=re.escape("huge.mid: too large")):
        load_midi(big)
    with pytest.raises(StudioError, match=re.escape("nothere.mid: cannot be read")):
        load_midi(tmp_path / "nothere.mid")
    with pytest.raises(StudioError, match=re.escape("gone.abc: cannot be read")):
        load_midi(tmp_path / "gone.abc")
    (tmp_path / "folder.mid").mkdir()
    with pytest.raises(StudioError, match=re.escape("folder.mid: cannot be read (not a file)")):
        load_midi(tmp_path / "folder.mid")
    (tmp_path / "notes.txt").write_text("C D E")
    with pytest.raises(StudioError, match=re.escape("unknown music file type '.txt'")):
        load_midi(tmp_path / "notes.txt")
    with pytest.raises(StudioError, match=re.escape("raw.bin: the MIDI file has no notes")):
        midi_from_bytes(_mido_bytes([mido.MetaMessage("set_tempo", tempo=500000)]), name="raw.bin")


def test_drums_only_file_has_no_melody(tmp_path: Path) -> None:
    pm = load_midi(write_midi(tmp_path / "drums.mid", [(9, 0, DRUMS)]))
    with pytest.raises(StudioError, match="no pitched"):
        leadsheet_from_midi(pm)


@pytest.mark.parametrize("suffix,content", [(".abc", "garbage ][ nonsense g a b"), (".musicxml", "<not xml"),
                                            (".mxl", "PK\x03\x04 broken zip"), (".krn", "**kern\n*-\nblah\n")])
def test_bad_score_files_raise_studio_error(tmp_path: Path, suffix: str, content: str) -> None:
    path = tmp_path / f"bad{suffix}"
    path.write_text(content)
    with pytest.raises(StudioError) as err:
        load_midi(path)
    assert str(path) in str(err.value)


# -- scores through music21 ---------------------------------------------------------------------------------------
ABC_BOOK = """X:1
T:Test Reel
M:4/4
L:1/8
Q:1/4=100
K:G
D2|"G"G2A2 B2c2|"D7"d2c2 B2A2|"G"G4 "C"E4|"D"D8|

X:2
T:Second Tune
M:3/4
L:1/4
K:D
"D"d2 A|"A7"c3|"D"d3|
"""


def test_abc_with_pickup_and_chord_symbols(tmp_path: Path) -> None:
    path = tmp_path / "book.abc"
    path.write_text(ABC_BOOK)
    sheet = load_leadsheet(path)
    # The one-beat pickup is moved so the first full bar starts at step 16.
    assert melody_tuples(sheet) == [(62, 12, 4), (67, 16, 4), (69, 20, 4), (71, 24, 4), (72, 28, 4), (74, 32, 4),
                                    (72, 36, 4), (71, 40, 4), (69, 44, 4), (67, 48, 8), (64, 56, 8), (62, 64, 16)]
    assert sheet.chart.text() == "N.C. | G | D7 | G C | D"
    assert sheet.tempo == pytest.approx(100.0)
    pm = load_midi(path)  # the first tune, as MIDI
    assert [n.pitch for n in pm.instruments[0].notes] == [n.pitch for n in sheet.melody]


def test_abc_book_index(tmp_path: Path) -> None:
    path = tmp_path / "book.abc"
    path.write_text(ABC_BOOK)
    second = load_score(path, index=1)
    assert second.metadata.title == "Second Tune"
    sheet = leadsheet_from_music21(second)
    assert sheet.name == "Second Tune"
    assert [c.symbol for bar_ in sheet.chart.bars for c in bar_][:2] == ["D", "D"]
    with pytest.raises(StudioError, match="has 2 tunes; tune 5 does not exist"):
        load_score(path, index=5)
    empty = tmp_path / "empty.abc"
    empty.write_text("X:1\nT:Nothing\nK:C\n")
    with pytest.raises(StudioError, match="no notes"):
        load_score(empty)


@pytest.mark.parametrize("fmt,suffix", [("musicxml", ".musicxml"), ("mxl", ".mxl")])
def test_musicxml_files_match_the_score(tmp_path: Path, chorales, fmt: str, suffix: str) -> None:
    name, score = chorales[3]
    path = Path(score.write(fmt, fp=tmp_path / f"chorale{suffix}"))
    pm = load_midi(path)
    direct = score_to_midi(score, name)
    assert len(pm.instruments) == 4
    assert [[(n.pitch, round(n.start, 4)) for n in i.notes] for i in pm.instruments] == \
        [[(n.pitch, round(n.start, 4)) for n in i.notes] for i in direct.instruments]


def test_kern_file_with_bad_repeats_loads_once_through_with_a_warning() -> None:
    path = next(p for p in corpus.getWork("bach/bwv277") if str(p).endswith(".krn"))
    with pytest.warns(UserWarning, match="badly formed repeats"):
        pm = load_midi(path)
    assert len(pm.instruments) == 4 and all(inst.notes for inst in pm.instruments)


def _has_repeats(score: stream.Score) -> bool:
    return any(isinstance(b, bar.Repeat) for b in score.recurse().getElementsByClass(bar.Barline))


def test_midi_and_music21_paths_agree_on_chorales(chorales) -> None:
    """The soprano read from the score equals the melody read from music21's MIDI of it, up to the pickup shift
    (a MIDI file starts at its first note; the score path moves a pickup to end on a bar line)."""
    for name, original in chorales[:6]:
        score = strip_repeats(copy.deepcopy(original))  # the MIDI writer plays repeats; the lead sheet reads once
        assert not _has_repeats(score)
        from_score = leadsheet_from_music21(score, name=name)
        from_midi = leadsheet_from_midi(score_to_midi(score, name), name=name)
        shift = (-pickup_steps(score.parts[0])) % 16
        assert melody_tuples(from_score) == [(p, s + shift, d) for p, s, d in melody_tuples(from_midi)], name


def test_chorale_lead_sheet_follows_the_soprano(chorales) -> None:
    for name, score in chorales:
        sheet = leadsheet_from_music21(score, name=name)
        soprano = [n for n in score.parts[0].stripTies().flatten().notes]
        assert [n.pitch for n in sheet.melody] == [n.pitch.midi for n in soprano], name
        assert sheet.chart.num_bars * 16 >= sheet.melody[-1].end
        # chords come from the lower voices, so most quarters have one
        chords = [c for bar_ in sheet.chart.bars for c in bar_]
        assert sum(c != NO_CHORD for c in chords) >= 0.8 * len(chords), name


# -- building blocks ----------------------------------------------------------------------------------------------
def test_skyline_rules() -> None:
    notes = [Note(60, 0, 8), Note(64, 0, 4),        # struck together: the higher wins
             Note(55, 2, 1),                        # a lower inner voice inside the sounding note: dropped
             Note(67, 6, 4),                        # higher, starts while 64 sounds? no: 64 ended; starts a new note
             Note(65, 9, 4),                        # lower but outlasts 67 (legato successor): cuts 67 at 9
             Note(72, 20, 0)]                       # zero length becomes one step
    assert [(n.pitch, n.start, n.duration) for n in skyline(notes)] == \
        [(64, 0, 4), (67, 6, 3), (65, 9, 4), (72, 20, 1)]


def test_chart_inference_from_sounding_notes() -> None:
    c, g7, am = (48, 52, 55), (43, 47, 50, 53), (45, 48, 52)

    def block(pitches, start, end):
        return [(p, start, end) for p in pitches]

    sounding = block(c, 16, 32) + block(g7, 32, 40) + [(45, 40, 44)] + block(am, 44, 48) + block((52, 55, 59), 64, 80)
    chart = chart_from_sounding(sounding, 5)
    # bar 0 silent: N.C.; a lone bass A (a G7 non-tone) then Am: a new chord per quarter; bar 3 silent keeps Am
    assert chart.text() == "N.C. | C | G7 G7 A Am | Am | Em"
    assert chord_from_pitch_classes(2, {2, 5, 9, 0}) == parse_chord("Dm7")
    assert chord_from_pitch_classes(7, {7, 11, 2}) == parse_chord("G")


def test_partial_chords_keep_the_previous_chord() -> None:
    """B+D after G7 is still G7 (alone, over a B bass, it reads as Bm); a lone E after C is still C (alone: E)."""
    sounding = ([(p, 0, 4) for p in (43, 47, 50, 53)] + [(p, 4, 8) for p in (47, 50)]
                + [(p, 8, 12) for p in (48, 52, 55)] + [(40, 12, 16)])
    assert chart_from_sounding(sounding, 1).bars == ChordChart.parse("G7 C").bars
    assert chart_from_sounding([(47, 0, 4), (50, 0, 4)], 1).text() == "Bm"


def test_compound_meter_chords_follow_its_dotted_quarter_beats(tmp_path: Path) -> None:
    """A 6/8 accompaniment changing chord every dotted quarter: chords are read per beat of the file's meter, so
    no quarter note blends two of them into a seventh chord (as quarter-note cells would)."""
    c, g = (48, 52, 55), (43, 47, 50)
    accompaniment = [(p, 1.5 * k, 1.5) for k in range(8) for p in (c if k % 2 == 0 else g)]
    melody = [(72 + k % 3, 0.5 * k, 0.5) for k in range(24)]
    path = write_midi(tmp_path / "jig.mid", [(0, 0, melody), (1, 0, accompaniment)], meters=((0, 6, 8),))
    sheet = leadsheet_from_midi(load_midi(path))
    assert {ch.symbol for bar_ in sheet.chart.bars for ch in bar_} == {"C", "G"}
    sounding = [(p, s * 4, (s + d) * 4) for p, s, d in accompaniment]
    blended = chart_from_sounding(sounding, 3)  # quarter-note cells straddle the changes
    assert {ch.symbol for bar_ in blended.bars for ch in bar_} - {"C", "G"}
