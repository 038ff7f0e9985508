"""Impro-Visor lead sheets (.ls): small snippets written here, so the suite needs nothing outside the project."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.music.io.impro_visor import parse_impro_visor, read_impro_visor, read_impro_visor_details
from studio.music.theory.chords import Chord, Note

HEADER = """(title Test Blues)
(composer Some One)
(meter 4 4)
(key -1)
(tempo 140.0)
(style swing
    (swing 0.67)
    (bass-high g-)
)
"""

SHEET = HEADER + """(part
    (type chords)
    (title Untitled Part)
    (key -1)
    (roadmap (blocks (brick (name On) (key A) (blocks (chord F7 480)))))
)
(section (style swing))

F7 | Bb7 Bo7 | F7 | / |

(part
    (type melody)
    (title Chorus 1)
    (key -1)
    (stave treble)
)
 c+4 a8 f8 r4 eb+4

 bb4. r8 d+2

 f1

 r1
"""

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "blues" / "impro-visor-leadsheets"


def _melody(body: str, chords: str = "C7 |") -> list[Note]:
    return parse_impro_visor(f"{chords}\n{body}\n").sheet.melody


def test_a_whole_sheet(tmp_path):
    path = tmp_path / "test.ls"
    path.write_text(SHEET)
    details = read_impro_visor_details(path)
    sheet = details.sheet
    assert (details.title, details.composer, details.key, details.chorus_bars, details.choruses) == \
        ("Test Blues", "Some One", -1, 4, 1)
    assert sheet.tempo == 140.0 and sheet.name == "Test Blues"
    assert [(n.pitch, n.start, n.duration) for n in sheet.melody] == [
        (72, 0, 4), (69, 4, 2), (65, 6, 2), (75, 12, 4),        # c+4 a8 f8 r4 eb+4
        (70, 16, 6), (74, 24, 8),                                # bb4. r8 d+2
        (65, 32, 16)]                                            # f1, then a bar of rest
    assert sheet.chart.bars == [[Chord(5, "7")], [Chord(10, "7"), Chord(11, "dim7")], [Chord(5, "7")],
                                [Chord(5, "7")]]                 # "/" continues F7
    assert read_impro_visor(path) == sheet


def test_octaves_accidentals_and_default_duration():
    melody = _melody("c-4 c4 c+4 c++4 f#4 gb4 bb-4 b4 cs4 d e2")
    assert [n.pitch for n in melody] == [48, 60, 72, 84, 66, 66, 58, 71, 61, 62, 64]
    assert [n.duration for n in melody][-3:] == [4, 2, 8]        # "d" alone is an eighth, as in Impro-Visor


def test_triplets_ties_and_dots():
    melody = _melody("c8/3 d8/3 e8/3 f4+8 g8 a2/3+16/3 b4.")
    # 8th triplets are 1.33 steps: onsets 0, 1.33 and 2.67 round to 0, 1 and 3; f4+8 is one tied note
    assert [(n.pitch, n.start, n.duration) for n in melody] == [
        (60, 0, 1), (62, 1, 2), (64, 3, 1), (65, 4, 6), (67, 10, 2), (69, 12, 6), (71, 18, 6)]


def test_sixteenth_triplets_that_share_a_grid_step_are_dropped_and_counted():
    details = parse_impro_visor("C7 |\nc16/3 d16/3 e16/3 f4\n")
    assert [(n.pitch, n.start) for n in details.sheet.melody] == [(60, 0), (62, 1), (65, 2)]
    assert details.dropped == 1


def test_each_melody_part_is_a_chorus_over_the_repeated_chords():
    text = ("C7 | F7 |\n(part (type melody))\nc4 d4 e4 f4\n"
            "(part (type melody) (title Chorus 2))\ng1 a1\n(part (type melody))\nb1\n")
    details = parse_impro_visor(text)
    assert details.choruses == 3 and details.chorus_bars == 2
    assert [n.start for n in details.sheet.melody] == [0, 4, 8, 12, 32, 48, 64]   # chorus 2 starts at bar 3
    assert details.sheet.chart.num_bars == 6
    assert details.sheet.chart.text() == "C7 | F7 | C7 | F7 | C7 | F7"


def test_transpose_and_headerless_sheets():
    details = parse_impro_visor("(transpose 2)\nC7 | F7 Bb7 |\nc4 r4 e2\n")
    assert [n.pitch for n in details.sheet.melody] == [62, 66]
    assert details.sheet.chart.text() == "D7 | G7 C7"
    assert details.sheet.tempo == 160.0                           # Impro-Visor's default tempo


def test_chord_spellings_and_bars_of_three_or_eight():
    sheet = parse_impro_visor("F13_ | FM69 Dm69 Fm+ | C7 D7 E7 F7 G7 A7 B7 C7 | Gm7 C7 NC C7 |\n").sheet
    assert sheet.chart.bars == [
        [Chord(5, "7")],
        [Chord(5, "6"), Chord(5, "6"), Chord(2, "m6"), Chord(5, "min")],   # three chords: the one at each beat
        [Chord(0, "7"), Chord(4, "7"), Chord(7, "7"), Chord(11, "7")],     # eight: the one at each beat
        [Chord(7, "m7"), Chord(0, "7"), Chord(None), Chord(0, "7")]]
    assert sheet.melody == []


@pytest.mark.parametrize("text, reason", [
    ("(title Broken\nC7 |\n", "never closed"),
    ("C7 |)\n", "no '('"),
    ("(meter 3 4)\nC7 |\n", "meter 3/4 is not supported"),
    ("C7 |\nc4 h4\n", "unreadable note 'h4'"),
    ("C7 |\nc4x\n", "unreadable duration"),
    ("C7 |\nc0\n", "zero duration"),
    ("Hm7 |\n", "unknown chord symbol 'Hm7'"),
    ("C7 |\n123\n", "unexpected item '123'"),
    ("(key 9)\nC7 |\n", "key 9"),
    ("(tempo fast)\nC7 |\n", "tempo"),
    ("C7 C7 C7 C7 C7 C7 C7 |\n", "7 chords"),
    ("(title Nothing)\n", "no chords and no melody"),
])
def test_malformed_sheets_raise_studio_error_naming_the_file(tmp_path, text, reason):
    path = tmp_path / "bad.ls"
    path.write_text(text)
    with pytest.raises(StudioError) as error:
        read_impro_visor(path)
    assert str(path) in str(error.value) and reason in str(error.value)


def test_missing_file(tmp_path):
    with pytest.raises(StudioError, match="cannot read"):
        read_impro_visor(tmp_path / "missing.ls")


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared corpora not present (a fresh clone has none)")
def test_the_impro_visor_blues_sheets_in_four_four_parse():
    details = read_impro_visor_details(SHARED / "leadsheets" / "solos" / "12-BarBluesSolo8Choruses.ls")
    assert (details.choruses, details.chorus_bars, details.sheet.chart.num_bars) == (8, 12, 96)
    assert len(details.sheet.melody) > 600
    failures = []
    for path in sorted(SHARED.rglob("*.ls")):
        try:
            read_impro_visor(path)
        except StudioError as error:
            failures.append(str(error))
    assert len(failures) <= 14 and all("meter" in f for f in failures)
