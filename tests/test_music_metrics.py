"""Musical metrics on hand-made examples with known answers, and on the procedural corpus."""

from __future__ import annotations

import math

import pytest

from studio.errors import StudioError
from studio.music.leadsheet import metrics
from studio.music.leadsheet.procedural import generate_blues_corpus
from studio.music.theory.chords import ChordChart, LeadSheet, Note

C7_F7 = ChordChart.parse("C7 | F7")
# Over C7: C (chord tone), E (chord tone), D (neither chord tone nor blues scale);
# over F7: A (chord tone), B (the b5: blues scale only), Gb (the b9: neither).
MELODY = [Note(60, 0, 4), Note(64, 4, 4), Note(62, 8, 4), Note(69, 16, 4), Note(71, 20, 4), Note(66, 24, 4)]
SHEET = LeadSheet(MELODY, C7_F7, 120.0, "hand-made")


@pytest.fixture(scope="module")
def corpus() -> list[LeadSheet]:
    return generate_blues_corpus(60, seed=11)


def _sheet(phrases: list[list[tuple[int, int, int]]], chart: str) -> LeadSheet:
    """A sheet with one phrase of (pitch, onset, duration) per two-bar window (None leaves the window empty)."""
    notes = [Note(p, 32 * w + s, d) for w, phrase in enumerate(phrases) for p, s, d in (phrase or [])]
    return LeadSheet(notes, ChordChart.parse(chart))


LICK = [(67, 0, 2), (70, 2, 2), (72, 4, 4), (67, 10, 6)]


def test_chord_tone_and_blues_shares():
    assert metrics.chord_tone_share(SHEET) == pytest.approx(3 / 6)
    assert metrics.blues_share(SHEET) == pytest.approx(4 / 6)
    assert metrics.chord_tone_share(MELODY, C7_F7) == metrics.chord_tone_share(SHEET)   # melody + chart form
    with pytest.raises(StudioError, match="chart"):
        metrics.blues_share(MELODY)


def test_notes_over_no_chord_are_not_counted():
    chart = ChordChart.parse("N.C. | C7")
    sheet = LeadSheet([Note(61, 0, 4), Note(64, 16, 4), Note(61, 20, 4)], chart)
    assert metrics.chord_tone_share(sheet) == pytest.approx(1 / 2)
    assert math.isnan(metrics.chord_tone_share(LeadSheet([Note(61, 0, 4)], chart)))
    assert math.isnan(metrics.blues_share(LeadSheet([], chart)))


def test_change_tone_share_counts_the_first_beat_of_each_new_chord():
    chart = ChordChart.parse("C7 F7 | G7")            # changes at steps 0, 8 and 16
    notes = [Note(60, 0, 2), Note(62, 2, 2),          # first beat of C7: C (tone), D (not)
             Note(69, 8, 4), Note(67, 12, 4),         # first beat of F7: A (tone); beat 2 is not counted
             Note(71, 17, 4), Note(61, 24, 4)]        # first beat of G7: B (tone); beat 3 is not counted
    assert metrics.change_tone_share(notes, chart) == pytest.approx(3 / 4)


def test_range_density_and_rhythm():
    assert metrics.pitch_range(SHEET) == (11, 60, 71)
    assert metrics.pitch_range(LeadSheet([], C7_F7)) == (0, 0, 0)
    assert metrics.note_density(SHEET) == pytest.approx(3.0)
    # a melody running past its 2-bar chart counts the extra bar
    assert metrics.note_density([*MELODY, Note(60, 40, 4)], C7_F7) == pytest.approx(7 / 3)
    assert metrics.rhythmic_variety(SHEET) == pytest.approx(1 / 2)        # bars 1 and 2 share onsets 0, 4, 8
    assert metrics.rhythmic_variety([Note(60, 0, 4), Note(60, 17, 4)]) == pytest.approx(1.0)
    assert metrics.duration_entropy(SHEET) == pytest.approx(0.0)
    two = [Note(60, 0, 2), Note(60, 2, 2), Note(60, 4, 4), Note(60, 8, 4)]
    assert metrics.duration_entropy(two) == pytest.approx(1.0)
    assert math.isnan(metrics.rhythmic_variety([]))


def test_phrase_keys_skip_empty_windows_and_cut_at_the_window():
    sheet = _sheet([LICK, None, [(60, 30, 8)]], "C7 | C7 | C7 | C7 | C7 | C7")
    keys = metrics.phrase_keys(sheet)
    assert len(keys) == 2
    assert keys[0] == ((0, 2, 0, 7), (2, 2, 3, 10), (4, 4, 5, 0), (10, 6, 0, 7))
    assert keys[1] == ((30, 2, 0, 0),)                 # the held note is cut at the end of its window


def test_repetition_counts_restatements_including_transposed_ones():
    a, b = LICK, [(60, 0, 8), (63, 8, 8)]
    assert metrics.repetition(_sheet([a, a, b, a], "C7 | C7 | C7 | C7 | C7 | C7 | C7 | C7")) == pytest.approx(2 / 4)
    up_a_fourth = [(p + 5, s, d) for p, s, d in a]
    assert metrics.repetition(_sheet([a, up_a_fourth], "C7 | C7 | F7 | F7")) == pytest.approx(1 / 2)
    # the same pitches over a different chord are a different phrase (their relation to the harmony changed)
    assert metrics.repetition(_sheet([a, a], "C7 | C7 | F7 | F7")) == pytest.approx(0.0)
    assert math.isnan(metrics.repetition(LeadSheet([], C7_F7)))


def test_novelty_is_zero_on_training_data_and_transposition_invariant(corpus):
    training = metrics.phrase_set(corpus)
    assert all(metrics.novelty(s, training) == 0.0 for s in corpus)
    sheet = corpus[0]
    for semitones in range(-6, 7):
        assert metrics.novelty(sheet.transpose(semitones), training) == 0.0
    shifted = LeadSheet([Note(n.pitch, n.start + 1, n.duration) for n in sheet.melody], sheet.chart)
    assert metrics.novelty(shifted, training) > 0.9
    other = generate_blues_corpus(20, seed=99)
    assert 0.3 < sum(metrics.novelty(s, training) for s in other) / len(other) <= 1.0


def test_novelty_of_a_partly_copied_piece():
    training = metrics.phrase_set([_sheet([LICK], "C7 | C7")])
    piece = _sheet([LICK, [(60, 0, 4)], LICK, [(62, 0, 4)]], "C7 | C7 | C7 | C7 | C7 | C7 | C7 | C7")
    assert metrics.novelty(piece, training) == pytest.approx(2 / 4)


def test_summarise_and_summarise_corpus(corpus):
    summary = metrics.summarise(SHEET)
    assert summary["chord_tone_share"] == pytest.approx(0.5) and summary["pitch_range"] == 11
    assert summary["notes"] == 6 and summary["bars"] == 2 and "novelty" not in summary
    assert metrics.summarise(SHEET, metrics.phrase_set([SHEET]))["novelty"] == 0.0
    total = metrics.summarise_corpus(corpus)
    assert total["notes"] == sum(len(s.melody) for s in corpus)
    assert total["lowest"] == min(metrics.pitch_range(s)[1] for s in corpus)
    assert 0.6 < total["chord_tone_share"] < 0.85 and total["blues_share"] > 0.85
    with pytest.raises(StudioError, match="no sheet"):
        metrics.summarise_corpus([LeadSheet([], C7_F7)])


def test_random_pitch_baseline_keeps_rhythm_and_loses_harmony(corpus):
    sheet = corpus[0]
    baseline = metrics.random_pitch_baseline(sheet, seed=1)
    assert [(n.start, n.duration, n.velocity) for n in baseline.melody] == \
        [(n.start, n.duration, n.velocity) for n in sheet.melody]
    low, high = metrics.pitch_range(sheet)[1:]
    assert all(low <= n.pitch <= high for n in baseline.melody)
    assert baseline == metrics.random_pitch_baseline(sheet, seed=1)
    assert baseline.melody != metrics.random_pitch_baseline(sheet, seed=2).melody
    ours = metrics.summarise_corpus(corpus)["chord_tone_share"]
    theirs = metrics.summarise_corpus([metrics.random_pitch_baseline(s, i) for i, s in enumerate(corpus)])
    assert ours > theirs["chord_tone_share"] + 0.2
