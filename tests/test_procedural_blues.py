"""The procedural blues corpus: determinism, well-formed notes and charts, musical properties, MIDI round trip."""

from __future__ import annotations

import importlib.util
import itertools
import json
import time
from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.music.io.leadsheet_midi import read_corpus, write_corpus
from studio.music.leadsheet.licks import BLUES_SCALE, LICKS, parse_lick
from studio.music.leadsheet.procedural import HIGHEST, LOWEST, generate_blues_corpus
from studio.music.theory.chords import BLUES_FORMS, STEPS_PER_BAR, Chord, ChordChart, LeadSheet, Note, blues_chart

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus() -> list[LeadSheet]:
    return generate_blues_corpus(150, seed=0)


def _form_of(sheet: LeadSheet) -> tuple[str, int, int]:
    """(form, key, choruses) whose repeated chart is exactly the sheet's chart; fails the test if none is."""
    first = sheet.chart.bars[0][0]
    for form in BLUES_FORMS:
        for key in range(12):
            if first.root != key:
                continue
            chorus = blues_chart(form, key).bars
            count, rest = divmod(sheet.chart.num_bars, len(chorus))
            if not rest and sheet.chart.bars == chorus * count:
                return form, key, count
    pytest.fail(f"{sheet.name}: chart {sheet.chart.text()} is no blues form repeated")


def _changes(chart: ChordChart) -> set[int]:
    steps, previous, step = set(), None, 0
    for bar in chart.bars:
        for chord in bar:
            if chord != previous:
                steps.add(step)
            previous, step = chord, step + STEPS_PER_BAR // len(bar)
    return steps


def test_same_seed_same_corpus_and_larger_corpora_extend_smaller_ones():
    a, b = generate_blues_corpus(40, seed=7), generate_blues_corpus(40, seed=7)
    assert a == b
    assert a != generate_blues_corpus(40, seed=8)
    small = generate_blues_corpus(15, seed=7)
    assert small[:-1] == a[:len(small) - 1]


def test_chorus_count_forms_keys_and_tempi(corpus):
    forms = [_form_of(s) for s in corpus]
    assert sum(count for _, _, count in forms) == 150
    assert {f for f, _, _ in forms} == set(BLUES_FORMS)
    assert len({k for _, k, _ in forms}) >= 9
    assert all(1 <= count <= 3 for _, _, count in forms)
    assert all(80 <= s.tempo <= 200 for s in corpus) and len({s.tempo for s in corpus}) > 20


def test_forms_and_keys_can_be_restricted():
    sheets = generate_blues_corpus(12, seed=1, forms=("minor", "8-bar"), keys=("Bb", 3))
    for sheet in sheets:
        form, key, _ = _form_of(sheet)
        assert form in ("minor", "8-bar") and key in (10, 3)


def test_notes_sorted_non_overlapping_in_range_and_covered_by_the_chart(corpus):
    for sheet in corpus:
        notes = sheet.melody
        assert notes, sheet.name
        for a, b in itertools.pairwise(notes):
            assert a.start < b.start and a.end <= b.start, (sheet.name, a, b)
        assert all(n.duration >= 1 and LOWEST <= n.pitch <= HIGHEST and 1 <= n.velocity <= 127 for n in notes)
        assert notes[-1].end <= sheet.chart.num_bars * STEPS_PER_BAR


def test_chord_tones_land_on_chord_changes(corpus):
    on_change = first_beat = first_beat_tones = tones = 0
    for sheet in corpus:
        changes = _changes(sheet.chart)
        for n in sheet.melody:
            chord_tone = n.pitch % 12 in sheet.chart.chord_at(n.start).pitch_classes
            if n.start in changes:
                on_change += 1
                tones += chord_tone
            if n.start - n.start % 4 in changes:
                first_beat += 1
                first_beat_tones += chord_tone
    assert first_beat > 500
    assert first_beat_tones / first_beat > 0.7
    assert tones / on_change > 0.85              # a note struck exactly on the change is nearly always a chord tone


def test_phrases_breathe_between_two_bar_windows(corpus):
    for sheet in corpus:
        ends = range(2 * STEPS_PER_BAR, sheet.chart.num_bars * STEPS_PER_BAR, 2 * STEPS_PER_BAR)
        for boundary in ends:
            assert not any(n.start < boundary and n.end > boundary - 2 for n in sheet.melody), (sheet.name, boundary)


def test_rhythmic_vocabulary(corpus):
    notes = [n for s in corpus for n in s.melody]
    durations = {n.duration for n in notes}
    assert {1, 2, 3, 4, 6, 8} <= durations                       # graces, 8ths, swung 8ths, quarters, held notes
    off_beat = sum(n.start % 2 for n in notes) / len(notes)      # notes entering on an odd 16th: syncopation
    assert 0.05 < off_beat < 0.5
    bends = sum(1 for s in corpus for a, b in itertools.pairwise(s.melody)
                if a.duration == 1 and b.start == a.end and 1 <= b.pitch - a.pitch <= 2)
    assert bends > 50


def test_blue_notes_occur_and_resolve(corpus):
    blue = resolved = 0
    for sheet in corpus:
        for a, b in itertools.pairwise(sheet.melody):
            chord = sheet.chart.chord_at(a.start)
            interval = (a.pitch - chord.root) % 12
            major = (chord.root + 4) % 12 in chord.pitch_classes
            if a.pitch % 12 in chord.pitch_classes or not (interval == 6 or (interval == 3 and major)):
                continue
            blue += 1
            resolved += b.start - a.end <= 4 and (abs(b.pitch - a.pitch) <= 2 or b.pitch % 12 == chord.root)
    assert blue > 0.02 * sum(len(s.melody) for s in corpus)
    assert resolved / blue > 0.95


def test_the_call_of_bars_1_2_comes_back_in_bars_5_6(corpus):
    def onsets(sheet, bar):
        return {n.start - bar * STEPS_PER_BAR for n in sheet.melody
                if bar * STEPS_PER_BAR <= n.start < (bar + 2) * STEPS_PER_BAR}

    def jaccard(a, b):
        return len(a & b) / len(a | b) if a | b else 0.0

    twelve = [s for s in corpus if s.chart.num_bars % 12 == 0]
    repeat = sum(jaccard(onsets(s, 0), onsets(s, 4)) for s in twelve) / len(twelve)
    fresh = sum(jaccard(onsets(s, 0), onsets(s, 8)) for s in twelve) / len(twelve)
    assert repeat > fresh + 0.2


def test_register_in_range_and_generation_is_fast():
    started = time.perf_counter()
    sheets = generate_blues_corpus(1000, seed=3)
    assert time.perf_counter() - started < 10
    pitches = [n.pitch for s in sheets for n in s.melody]
    assert min(pitches) >= LOWEST and max(pitches) <= HIGHEST
    assert 58 <= sum(pitches) / len(pitches) <= 72


@pytest.mark.parametrize("kwargs, message", [
    ({"choruses": -1}, "choruses"), ({"choruses": 2.5}, "choruses"), ({"choruses": 2, "forms": ("polka",)}, "polka"),
    ({"choruses": 2, "keys": ()}, "keys"), ({"choruses": 2, "keys": ("H",)}, "note name"),
])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(StudioError, match=message):
        generate_blues_corpus(**kwargs)


def test_zero_choruses_is_an_empty_corpus():
    assert generate_blues_corpus(0) == []


def test_lick_vocabulary_is_well_formed():
    assert len(LICKS) >= 25
    for lick in LICKS:
        assert lick.length <= 2 * STEPS_PER_BAR - 2, lick.text
        ends = [n.offset + n.duration for n in lick.notes]
        assert all(e <= b.offset for e, b in zip(ends[:-1], lick.notes[1:], strict=True)), lick.text
        if lick.mood == "minor":
            assert all(n.interval % 12 in BLUES_SCALE for n in lick.notes), lick.text
    bend = parse_lick("3~4/4 r2 0/2")
    assert [(n.interval, n.offset, n.duration, n.grace) for n in bend.notes] == [
        (3, 0, 1, True), (4, 1, 3, False), (0, 6, 2, False)]
    for bad in ("x/4", "3~4/1", "r2", "4"):
        with pytest.raises(StudioError, match="lick"):
            parse_lick(bad)


def test_midi_round_trip(tmp_path, corpus):
    odd = LeadSheet([Note(60, 0, 3, 70), Note(63, 3, 1, 50), Note(72, 8, 24, 110)],
                    ChordChart([[Chord(0, "7"), Chord(0, "dim7"), Chord(3, "aug"), Chord(5, "m7b5")],
                                [Chord(7, "sus4"), Chord(10, "maj7")]]), 97.0, "odd bars")
    sheets = [*corpus[:6], odd]
    paths = write_corpus(sheets, tmp_path / "out")
    assert [p.name for p in paths] == [f"{s.name.replace(' ', '_')}.mid" for s in sheets]
    back = {s.name: s for s in read_corpus(tmp_path / "out")}
    for sheet, path in zip(sheets, paths, strict=True):
        got = back[path.stem]
        assert got.melody == sheet.melody
        assert got.chart.bars == sheet.chart.bars
        assert got.tempo == pytest.approx(sheet.tempo, abs=1e-3)


def test_write_corpus_makes_names_unique_and_read_corpus_explains_problems(tmp_path):
    sheet = LeadSheet([Note(60, 0, 4)], ChordChart([[Chord(0, "7")]]), 120.0, "")
    paths = write_corpus([sheet, sheet, LeadSheet(sheet.melody, sheet.chart, 120.0, "a/b: c")], tmp_path)
    assert len({p.name for p in paths}) == 3 and all(p.exists() for p in paths)
    assert not list(tmp_path.glob(".*partial"))
    with pytest.raises(StudioError, match="does not exist"):
        read_corpus(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StudioError, match="no MIDI files"):
        read_corpus(tmp_path / "empty")
    (tmp_path / "empty" / "broken.mid").write_bytes(b"MThd not really")
    with pytest.raises(StudioError, match=r"broken\.mid"):
        read_corpus(tmp_path / "empty")


def test_make_blues_corpus_script(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("make_blues_corpus", ROOT / "corpora" / "make_blues_corpus.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "corpus"
    assert script.main(["--choruses", "5", "--seed", "2", "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["choruses"] == 5 and manifest["seed"] == 2
    assert sorted(manifest["files"]) == sorted(p.name for p in out.glob("*.mid"))
    assert len(read_corpus(out)) == manifest["sheets"]
    assert script.main(["--choruses", "5", "--seed", "2", "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert script.main(["--choruses", "5", "--seed", "2", "--out", str(out), "--overwrite"]) == 0
    assert json.loads((out / "manifest.json").read_text())["files"] == manifest["files"]   # byte-identical again
