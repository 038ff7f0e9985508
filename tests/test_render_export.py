"""Rendering (swing, tempo, parts, meta data) and every export format, checked by reading real files back."""

from __future__ import annotations

import struct
import wave
from itertools import pairwise
from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest
from hypothesis import given
from hypothesis import strategies as st

from studio.errors import StudioError
from studio.music.band.render import render_midi, step_seconds
from studio.music.io import audio as audio_out
from studio.music.io import export, notation, roll_png
from studio.music.theory.chords import ChordChart, LeadSheet, Note, blues_chart

CHART = ChordChart.parse("C7 | F7 | C7 | G7 F7")
# Quarters, 8ths, a 16th, a note of five steps, one across the bar line and one across the middle of a bar.
MELODY = [Note(60, 0, 4, 100), Note(63, 4, 2), Note(64, 6, 2), Note(67, 8, 1), Note(70, 9, 5), Note(72, 14, 6),
          Note(58, 22, 2), Note(65, 36, 8), Note(66, 48, 3), Note(67, 52, 12)]
SHEET = LeadSheet(MELODY, CHART, tempo=120.0, name="test sheet")


def _notes(pm: pretty_midi.PrettyMIDI) -> dict[str, list[tuple[int, float, float, int]]]:
    return {i.name: sorted((n.pitch, round(n.start, 3), round(n.end, 3), n.velocity) for n in i.notes)
            for i in pm.instruments}


# -- render -------------------------------------------------------------------------------------------------------
def test_swing_moves_offbeat_eighths_and_leaves_beats_alone():
    straight = render_midi(SHEET, swing=0.5, parts={"bass": False, "comping": False, "drums": False})
    swung = render_midi(SHEET, swing=2 / 3, parts={"bass": False, "comping": False, "drums": False})
    beat = 0.5  # seconds at 120 bpm
    starts = [n.start for n in swung.instruments[0].notes]
    assert starts[0] == pytest.approx(0.0)
    assert starts[1] == pytest.approx(1 * beat)                   # step 4: beat 2, unmoved
    assert starts[2] == pytest.approx((1 + 2 / 3) * beat)         # step 6: the "and" of 2, a triplet late
    assert starts[3] == pytest.approx(2 * beat)
    assert starts[4] == pytest.approx((2 + 1 / 3) * beat)         # step 9: the 16th after beat 3 stretches too
    assert [n.start for n in straight.instruments[0].notes][:3] == pytest.approx([0.0, 0.5, 0.75])
    assert swung.instruments[0].notes[1].end == pytest.approx((1 + 2 / 3) * beat)  # a swung 8th is long


def test_swing_never_moves_the_band_on_the_beat():
    straight, swung = render_midi(SHEET, swing=0.5, seed=3), render_midi(SHEET, swing=0.75, seed=3)
    moved = 0
    for a, b in zip(straight.instruments, swung.instruments, strict=True):
        for m, n in zip(a.notes, b.notes, strict=True):
            if round(m.start / 0.5, 6).is_integer():  # on a beat at 120 bpm
                assert n.start == pytest.approx(m.start), (a.name, m)
            else:
                moved += n.start > m.start
    assert moved > 20, "off-beat notes of the band (ride skip notes, pushes, 8ths) swing late"


@given(st.floats(0.5, 0.8), st.floats(20, 400))
def test_step_time_is_increasing_and_beats_are_fixed(swing, tempo):
    times = [step_seconds(s, tempo, swing) for s in range(33)]
    assert all(b > a for a, b in pairwise(times))
    assert [times[s] for s in range(0, 33, 4)] == pytest.approx([60.0 / tempo * b for b in range(9)])
    assert times[2] == pytest.approx(swing * 60.0 / tempo)


def test_tempo_time_signature_parts_and_drum_channel_survive_the_file(tmp_path):
    pm = render_midi(SHEET, tempo=96.0, comping_instrument="guitar", bass_style="shuffle")
    path = export.write_midi(pm, tmp_path / "take.mid")
    midi = mido.MidiFile(path)
    tempos = [m.tempo for t in midi.tracks for m in t if m.type == "set_tempo"]
    assert tempos == [mido.bpm2tempo(96.0)]
    signatures = [(m.numerator, m.denominator) for t in midi.tracks for m in t if m.type == "time_signature"]
    assert signatures == [(4, 4)]
    channels = {}
    for track in midi.tracks:
        name = next((m.name for m in track if m.type == "track_name"), None)
        channels[name] = {m.channel for m in track if m.type == "note_on"}
    assert channels["drums"] == {9}, "drums must play on MIDI channel 10"
    assert all(9 not in c for n, c in channels.items() if n != "drums")
    reloaded = pretty_midi.PrettyMIDI(str(path))
    programs = {i.name: (i.program, i.is_drum) for i in reloaded.instruments}
    assert programs == {"lead": (66, False), "bass": (33, False), "comping": (26, False), "drums": (0, True)}
    assert reloaded.get_tempo_changes()[1][0] == pytest.approx(96.0)


def test_part_switches_leave_parts_out():
    pm = render_midi(SHEET, lead_program=0, parts={"drums": False, "comping": False})
    assert [(i.name, i.program) for i in pm.instruments] == [("lead", 0), ("bass", 32)]
    assert [i.name for i in render_midi(SHEET, parts={"lead": False}).instruments] == ["bass", "comping", "drums"]


def test_meta_data_is_written_as_text_events_and_read_back(tmp_path):
    meta = {"model": "blues-lstm", "seed": 42, "temperature": 0.9, "top_p": None, "primer": ["C7", "F7"],
            "title": "Blues für Elise"}
    path = export.write_midi(render_midi(SHEET, swing=0.6, meta=meta, seed=5), tmp_path / "meta.mid")
    texts = [m.text for t in mido.MidiFile(path).tracks for m in t if m.type == "text"]
    assert "studio:model=\"blues-lstm\"" in texts and "studio:seed=42" in texts
    stored = export.read_meta(path)
    assert {k: stored[k] for k in meta} == meta
    assert stored["render.swing"] == 0.6 and stored["render.band_seed"] == 5 and stored["render.tempo"] == 120.0
    assert stored["render.chart"] == CHART.text()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"tempo": 19.0}, r"tempo.*\[20, 400\]"), ({"tempo": 401}, r"tempo.*\[20, 400\]"),
    ({"swing": 0.45}, r"swing.*\[0.5, 0.8\]"), ({"swing": 0.81}, r"swing.*\[0.5, 0.8\]"),
    ({"lead_program": 128}, r"\[0, 127\]"), ({"parts": {"horns": True}}, "lead, bass, comping, drums"),
    ({"parts": {"drums": "no"}}, "true or false"), ({"bass_style": "funk"}, "walking, shuffle"),
    ({"comping_instrument": "organ"}, "piano, guitar"), ({"meta": {"when": object()}}, "cannot be stored"),
    ({"meta": {"a=b": 1}}, "without '='"), ({"choruses": 0}, r"\[1, 1000\]"),
])
def test_bad_render_settings_are_refused_naming_the_range(kwargs, message):
    with pytest.raises(StudioError, match=message):
        render_midi(SHEET, **kwargs)


def test_unplayable_melody_is_refused():
    with pytest.raises(StudioError, match="melody note 0"):
        render_midi(LeadSheet([Note(130, 0, 4)], CHART))


# -- MIDI and WAV -------------------------------------------------------------------------------------------------
def test_midi_file_reloads_with_the_same_notes_and_nothing_half_written(tmp_path):
    pm = render_midi(SHEET, swing=0.62, seed=1)
    path = export.write_midi(pm, tmp_path / "out" / "take.mid")
    assert _notes(pretty_midi.PrettyMIDI(str(path))) == _notes(pm)
    assert [p.name for p in path.parent.iterdir()] == ["take.mid"]
    with pytest.raises(StudioError, match="folder"):
        export.write_midi(pm, tmp_path)
    with pytest.raises(StudioError, match="PrettyMIDI"):
        export.write_midi(SHEET, tmp_path / "x.mid")  # type: ignore[arg-type]
    (tmp_path / "junk.mid").write_text("not midi")
    with pytest.raises(StudioError, match="cannot read MIDI file"):
        export.read_meta(tmp_path / "junk.mid")


def _read_wav(path: Path) -> tuple[np.ndarray, int, int, int]:
    with wave.open(str(path)) as wav:
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        return frames.reshape(-1, wav.getnchannels()), wav.getsampwidth(), wav.getframerate(), wav.getnchannels()


def test_wav_is_a_real_normalised_16_bit_file_of_the_right_length(tmp_path):
    pm = render_midi(SHEET, swing=0.6)
    path = tmp_path / "take.wav"
    synthesizer = audio_out.write_wav(pm, path, sample_rate=22050)
    audio, width, rate, channels = _read_wav(path)
    assert (width, rate, channels) == (2, 22050, 2)
    assert len(audio) / rate == pytest.approx(pm.get_end_time() + audio_out.TAIL_SECONDS, abs=0.05)
    assert 0.8 * 32767 <= np.abs(audio).max() <= 0.9 * 32767, "peak-normalised to -1 dBFS, not clipped"
    assert np.sqrt(np.mean(audio.astype(float) ** 2)) > 300, "audible, not near-silence"
    if audio_out._load_fluidsynth() is None:
        pytest.skip("libfluidsynth cannot be loaded here: the sine-wave fallback test covers this machine")
    assert synthesizer == f"fluidsynth:{audio_out.find_soundfont()}"


def test_wav_falls_back_to_sine_waves_with_a_warning_without_fluidsynth(tmp_path, monkeypatch):
    monkeypatch.setattr(audio_out, "_load_fluidsynth", lambda: None)  # as on a machine without libfluidsynth
    path = tmp_path / "sine.wav"
    with pytest.warns(RuntimeWarning, match="FluidSynth is not available"):
        assert audio_out.write_wav(render_midi(SHEET), path, sample_rate=16000) == "sine"
    audio, width, rate, _ = _read_wav(path)
    assert (width, rate) == (2, 16000) and np.abs(audio).max() > 0.8 * 32767


def test_wav_refuses_bad_input(tmp_path):
    pm = render_midi(SHEET)
    with pytest.raises(StudioError, match="no notes"):
        audio_out.write_wav(pretty_midi.PrettyMIDI(), tmp_path / "empty.wav")
    with pytest.raises(StudioError, match="soundfont"):
        audio_out.write_wav(pm, tmp_path / "x.wav", soundfont=tmp_path / "missing.sf2")
    with pytest.raises(StudioError, match=r"\[8000, 96000\]"):
        audio_out.write_wav(pm, tmp_path / "x.wav", sample_rate=1000)
    assert list(tmp_path.iterdir()) == []


# -- sheet music --------------------------------------------------------------------------------------------------
def test_musicxml_parses_back_with_the_same_pitches_durations_chords_key_and_tempo(tmp_path):
    from music21 import converter, harmony, note, tempo

    sheet = LeadSheet(MELODY, blues_chart("12-bar", "F"), tempo=132.0)
    path = notation.write_musicxml(sheet, tmp_path / "sheet.musicxml", title="Test blues")
    score = converter.parse(str(path))
    assert score.metadata.bestTitle == "Test blues"
    part = score.parts[0]
    measures = list(part.getElementsByClass("Measure"))
    assert len(measures) == 12 and all(m.duration.quarterLength == 4.0 for m in measures)
    sounding: list[list[float]] = []  # [midi, quarter length] with tied pieces joined
    for n in part.recurse().notes:
        if isinstance(n, harmony.ChordSymbol) or not isinstance(n, note.Note):
            continue
        if n.tie is not None and n.tie.type in ("continue", "stop"):
            sounding[-1][1] += n.quarterLength
        else:
            sounding.append([n.pitch.midi, n.quarterLength])
    assert sounding == [[n.pitch, n.duration / 4] for n in MELODY]
    symbols = [(cs.root().pitchClass, frozenset(p.pitchClass for p in cs.pitches))
               for cs in part.recurse().getElementsByClass(harmony.ChordSymbol)]
    changes = [0, 4, 6, 8, 9, 10, 11]  # bars where the 12-bar blues changes chord
    assert symbols == [(sheet.chart.bars[b][0].root, sheet.chart.bars[b][0].pitch_classes) for b in changes]
    assert part.recurse().getElementsByClass("KeySignature")[0].sharps == -1  # F
    assert part.recurse().getElementsByClass(tempo.MetronomeMark)[0].number == 132


def test_musicxml_refuses_bad_input(tmp_path):
    with pytest.raises(StudioError, match="LeadSheet"):
        notation.write_musicxml(CHART, tmp_path / "x.musicxml")  # type: ignore[arg-type]
    with pytest.raises(StudioError, match="unknown key"):
        notation.write_musicxml(SHEET, tmp_path / "x.musicxml", key="H")
    with pytest.raises(StudioError, match=r"\.mxl"):
        notation.write_musicxml(SHEET, tmp_path / "x.mxl")
    assert list(tmp_path.iterdir()) == []


def test_verovio_engraves_the_lead_sheet_as_svg(tmp_path):
    path = notation.write_musicxml(SHEET, tmp_path / "sheet.xml")
    pages = notation.musicxml_to_svg(path)
    assert len(pages) >= 1 and all("<svg" in page for page in pages)
    assert notation.musicxml_to_svg(path.read_text()) == pages
    with pytest.raises(StudioError, match="verovio cannot read"):
        notation.musicxml_to_svg("<score-partwise>broken")
    with pytest.raises(StudioError, match="cannot read MusicXML file"):
        notation.musicxml_to_svg(tmp_path / "missing.xml")


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_piano_roll_png_from_a_performance_and_from_grid_parts(tmp_path):
    from studio.music.band.backing import backing_band

    width, height = _png_size(roll_png.piano_roll_png(render_midi(SHEET), tmp_path / "a.png", "take", CHART))
    assert 600 <= width <= 4000 and 300 <= height <= 1000
    parts = {"lead": MELODY, **backing_band(CHART, 2)}
    width, height = _png_size(roll_png.piano_roll_png(parts, tmp_path / "b.png", chart=CHART))
    assert 600 <= width <= 4000 and 300 <= height <= 1000
    with pytest.raises(StudioError, match="no notes"):
        roll_png.piano_roll_png({"lead": []}, tmp_path / "c.png")
    with pytest.raises(StudioError, match="PrettyMIDI performance or a dict"):
        roll_png.piano_roll_png([1, 2], tmp_path / "d.png")  # type: ignore[arg-type]


def test_sheet_music_engraves_from_any_thread(tmp_path) -> None:
    """verovio keeps its font path per thread; a web server engraves from worker threads."""
    from concurrent.futures import ThreadPoolExecutor

    from studio.music.io.notation import musicxml_to_svg, write_musicxml
    from studio.music.theory.chords import LeadSheet, Note, blues_chart

    path = write_musicxml(LeadSheet([Note(60, 0, 4), Note(63, 4, 8)], blues_chart("12-bar", "C"), 120.0),
                          tmp_path / "s.musicxml")
    with ThreadPoolExecutor(max_workers=1) as pool:
        pages = pool.submit(musicxml_to_svg, path).result()
    assert pages and "<svg" in pages[0][:500]
