"""The backing band: every part in range and on the grid, walking bass roots and approaches, comping voicings,
the drummer's ride pattern and fills, part switches and seeded determinism."""

from __future__ import annotations

from itertools import pairwise

import pytest

from studio.errors import StudioError
from studio.music.band.backing import backing_band
from studio.music.band.bass import BASS_RANGE
from studio.music.band.comping import COMPING_RANGE
from studio.music.band.drums import CRASH, PEDAL_HAT, RIDE
from studio.music.band.spans import chord_spans
from studio.music.theory.chords import STEPS_PER_BAR, STEPS_PER_BEAT, ChordChart, blues_chart

CHARTS = {
    "12-bar in F": blues_chart("12-bar", "F"),
    "jazz in Bb": blues_chart("jazz", "Bb"),
    "minor in C": blues_chart("minor", "C"),
    "uneven": ChordChart.parse("Cmaj7 | Dm7 G7 | C6 C6 C6 A7 | Dm7b5 G7sus4 Cm6 Ebaug | N.C. | Fsus4 | Ddim7 Cmmaj7"),
}
# The 3rd and 7th of each quality in the jazz blues: what a shell voicing must hold.
GUIDE_TONES = {"7": (4, 10), "m7": (3, 10), "dim7": (3, 9)}


def _all_bands(choruses: int = 2):
    for name, chart in CHARTS.items():
        for bass in ("walking", "shuffle"):
            yield name, chart, bass, backing_band(chart, choruses, bass=bass, seed=7)


def test_every_note_is_on_the_grid_inside_the_piece_and_in_its_instruments_range():
    for name, chart, bass, band in _all_bands():
        total = 2 * chart.num_bars * STEPS_PER_BAR
        assert set(band) == {"bass", "comping", "drums"}, name
        for part, notes in band.items():
            assert notes, (name, part)
            for note in notes:
                assert isinstance(note.start, int) and isinstance(note.duration, int), (name, part, note)
                assert note.start >= 0 and note.duration >= 1 and note.end <= total + 2, (name, part, note)
                assert 1 <= note.velocity <= 127, (name, part, note)
        assert all(BASS_RANGE[0] <= n.pitch <= BASS_RANGE[1] for n in band["bass"]), (name, bass)
        assert all(COMPING_RANGE[0] <= n.pitch <= COMPING_RANGE[1] for n in band["comping"]), name
        assert all(35 <= n.pitch <= 81 for n in band["drums"]), name  # the GM percussion map
        # Only a push into the next bar may ring past the end of the form; the form's last bar never pushes.
        assert max(n.end for n in band["comping"]) <= total, name


def test_walking_bass_plays_quarters_with_the_root_on_each_chords_first_beat():
    for name, chart, bass, band in _all_bands():
        if bass != "walking":
            continue
        by_start = {n.start: n for n in band["bass"]}
        assert len(by_start) == len(band["bass"]), f"{name}: two bass notes at once"
        assert all(n.start % STEPS_PER_BEAT == 0 and n.duration == STEPS_PER_BEAT for n in band["bass"]), name
        spans = chord_spans(chart, 2)
        sounding = [s for s in spans if s.chord.root is not None]
        assert len(band["bass"]) == sum(s.beats for s in sounding), f"{name}: a beat without a bass note"
        for span in sounding:
            assert by_start[span.start].pitch % 12 == span.chord.root, (name, span)


def test_walking_bass_approaches_the_next_root_chromatically_by_step_or_from_its_dominant():
    spans = chord_spans(CHARTS["jazz in Bb"], 3)
    bass = {n.start: n.pitch for n in backing_band(CHARTS["jazz in Bb"], 3, seed=11)["bass"]}
    for span, following in pairwise(spans):
        if span.beats < 2:
            continue
        approach, target = bass[span.end - STEPS_PER_BEAT], bass[following.start]
        assert abs(approach - target) in (1, 2, 3) or approach - target in (-5, 7), (span, approach, target)
    pitches = list(bass.values())
    assert all(a != b for a, b in pairwise(pitches)), "the walking line repeats a note"


def test_shuffle_bass_is_a_boogie_figure_in_eighths_from_each_root():
    chart = CHARTS["12-bar in F"]
    band = backing_band(chart, 1, bass="shuffle", comping=False, drums=False, seed=3)
    notes = band["bass"]
    assert all(n.start % 2 == 0 and n.duration == 2 for n in notes)
    by_start = {n.start: n.pitch for n in notes}
    for span in chord_spans(chart, 1):
        root = by_start[span.start]
        assert root % 12 == span.chord.root
        figure = [by_start[s] - root for s in range(span.start, span.start + 8, 2)]
        assert figure[:4] in ([0, 4, 7, 9], [0, 0, 4, 7]), figure  # root, 3, 5, 6 (or root twice first)


def test_comping_voices_three_or_four_note_shells_with_both_guide_tones_and_smooth_voice_leading():
    chart = CHARTS["jazz in Bb"]
    hits: dict[int, list[int]] = {}
    for note in backing_band(chart, 4, bass=None, drums=False, seed=5)["comping"]:
        hits.setdefault(note.start, []).append(note.pitch)
    assert all(3 <= len(v) <= 4 for v in hits.values())
    assert all(start % 2 == 0 for start in hits), "comping hits fall on 8th notes"
    moves = []
    previous = None
    for start, pitches in sorted(hits.items()):
        chords = {chart.chord_at(start), chart.chord_at(start + 2)}  # a push at the "and" of 4 is the next chord
        assert any({(c.root + i) % 12 for i in GUIDE_TONES[c.quality]} <= {p % 12 for p in pitches}
                   for c in chords), (start, pitches, chords)  # the 3rd and the 7th: a shell voicing
        assert 55 <= sum(pitches) / len(pitches) <= 70, "voicings sit around middle C"
        if previous and set(previous) != set(pitches):
            moves.append(sum(min(abs(p - q) for q in previous) for p in pitches) / len(pitches))
        previous = pitches
    assert sum(moves) / len(moves) <= 3.0, "voice leading: each voice moves a few semitones at most, on average"


def test_comping_rhythms_vary_between_charleston_and_two_and_four():
    chart = ChordChart.parse(" | ".join(["C7"] * 24))
    hits = {n.start for n in backing_band(chart, 1, bass=None, drums=False, seed=2)["comping"]}
    bars = [tuple(sorted(s % STEPS_PER_BAR for s in hits if s // STEPS_PER_BAR == b)) for b in range(24)]
    assert (0, 6) in bars, "no Charleston bar"
    assert (4, 12) in bars, "no 2-and-4 bar"
    assert len(set(bars)) >= 3


def test_drummer_swings_on_the_ride_with_hihat_on_2_and_4_and_fills_into_each_chorus():
    chart = CHARTS["12-bar in F"]
    drums = backing_band(chart, 3, bass=None, comping=False, seed=9)["drums"]
    chorus = chart.num_bars * STEPS_PER_BAR
    ride = {n.start for n in drums if n.pitch == RIDE}
    hats = {n.start for n in drums if n.pitch == PEDAL_HAT}
    for bar in range(3 * chart.num_bars):
        start = bar * STEPS_PER_BAR
        assert {start + 4, start + 12} <= hats, bar
        expected = {4, 6} if bar % chart.num_bars == 11 else {4, 6, 8, 12, 14}
        assert {start + s for s in expected} <= ride, bar
        if bar % chart.num_bars == 11:  # the fill: snare and toms under beats 3 and 4, no ride
            fill = [n for n in drums if start + 8 <= n.start < start + 16]
            assert len(fill) >= 4 and not any(n.pitch == RIDE for n in fill)
            assert all(n.pitch in (36, 38, 41, 45, 47, 50) for n in fill if n.pitch != PEDAL_HAT)
    crashes = sorted(n.start for n in drums if n.pitch == CRASH)
    assert crashes == [chorus, 2 * chorus]


def test_switches_remove_parts_and_leave_the_others_note_for_note_the_same():
    chart = CHARTS["jazz in Bb"]
    full = backing_band(chart, 2, seed=4)
    assert backing_band(chart, 2, bass=None, comping=False, drums=False, seed=4) == {}
    assert backing_band(chart, 2, comping=False, drums=False, seed=4) == {"bass": full["bass"]}
    assert backing_band(chart, 2, bass=None, drums=False, seed=4) == {"comping": full["comping"]}
    assert backing_band(chart, 2, bass=None, comping=False, seed=4) == {"drums": full["drums"]}


def test_the_same_seed_gives_the_same_band_and_another_seed_another():
    chart = CHARTS["12-bar in F"]
    assert backing_band(chart, 2, seed=1) == backing_band(chart, 2, seed=1)
    assert backing_band(chart, 2, bass="shuffle", seed=1) == backing_band(chart, 2, bass="shuffle", seed=1)
    one, two = backing_band(chart, 2, seed=1), backing_band(chart, 2, seed=2)
    assert all(one[part] != two[part] for part in one)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"choruses": 0}, "[1, 1000]"),
    ({"choruses": 1.5}, "whole number"),
    ({"bass": "funk"}, "walking, shuffle"),
    ({"seed": -1}, "seed"),
])
def test_bad_settings_are_refused_with_the_valid_choices(kwargs, message):
    settings = {"chart": CHARTS["12-bar in F"], "choruses": 1, **kwargs}
    with pytest.raises(StudioError, match=message.replace("[", r"\[")):
        backing_band(**settings)


def test_a_chart_of_whole_beat_chords_is_required():
    with pytest.raises(StudioError, match="chord chart"):
        backing_band("C7 | F7", 1)  # type: ignore[arg-type]
    three = ChordChart([CHARTS["uneven"].bars[1] + CHARTS["uneven"].bars[0]])
    with pytest.raises(StudioError, match="1, 2 or 4"):
        backing_band(three, 1)
