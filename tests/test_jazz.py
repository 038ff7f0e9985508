"""The jazz soloist family: chords as the Weimar Jazz Database spells them, the reader, the tokenizer's round trip,
the conditioned network's one-step path, training, scoring, improvising over any chart, statistics and the
performance with its band. Solos come from a small folder in the jazz layout written here (``jazz_support``); the
real corpus is read too where ../shared has it."""

from __future__ import annotations

import gzip
import json
import math
import sys
from pathlib import Path

import pytest
import torch
from jazz_support import write_jazz_folder

from studio.cli import main
from studio.config import GenerationConfig, ModelConfig
from studio.errors import StudioError
from studio.models import RNNLanguageModel, SingleStepper
from studio.music.jazz.corpus import TICKS_PER_BAR, SoloNote, read_jazz_corpus, split_of
from studio.music.jazz.evaluation import evaluate_jazz
from studio.music.jazz.performance import PERFORMED_GRID, dynamics, perform, place, straight_eighth_place, swing_of
from studio.music.jazz.phrases import copied_share, phrase_hashes
from studio.music.jazz.scoring import encode_all, score_solos, summary
from studio.music.jazz.soloist import Soloist, SoloRequest
from studio.music.jazz.statistics import solo_statistics
from studio.music.jazz.tokenizer import MAX_TICKS, REST_GAP, JazzTokenizer
from studio.music.theory.chords import Chord, ChordChart, blues_chart, parse_chord

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "corpora" / "jazz"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return write_jazz_folder(tmp_path_factory.mktemp("jazz"), solos=12, bad_row=True, waltz=True)


@pytest.fixture(scope="module")
def trained(folder, tmp_path_factory) -> Path:
    """A tiny soloist trained by the real command on the folder (seconds on a CPU)."""
    out = tmp_path_factory.mktemp("runs") / "jazz-tiny"
    code = main(["train", "jazz", "--corpus", str(folder), "--out", str(out), "--hidden", "24", "--embedding", "8",
                 "--batch-size", "4", "--seq-len", "32", "--max-steps", "30", "--eval-every", "15", "--warmup", "5",
                 "--device", "cpu", "--seed", "3"])
    assert code == 0
    return out


# -- chords ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("symbol", "root", "quality"), [
    ("Bb7", 10, "7"), ("D-7", 2, "m7"), ("Fj7", 5, "maj7"), ("C79b", 0, "7"), ("F79#", 5, "7"),
    ("Am7b5", 9, "m7b5"), ("Fsus7913", 5, "7sus4"), ("Ebj7911#", 3, "maj7"), ("C-6", 0, "m6"), ("Co7", 0, "dim7"),
    ("Bbsus", 10, "sus4"), ("C-j7", 0, "mmaj7"), ("D-69/Ab", 2, "m6"), ("G+", 7, "aug"), ("E6911#", 4, "6"),
])
def test_the_weimar_spellings_parse(symbol: str, root: int, quality: str) -> None:
    assert parse_chord(symbol) == Chord(root, quality)
    assert parse_chord("NC").is_rest


def test_an_unknown_chord_names_the_accepted_forms() -> None:
    with pytest.raises(StudioError, match=r"unknown chord symbol 'Hx9'.*C-7, Cj7, C79b"):
        parse_chord("Hx9")


# -- reading ----------------------------------------------------------------------------------------------------------
def test_the_reader_keeps_4_4_solos_and_reports_the_rest(folder) -> None:
    solos, report = read_jazz_corpus(folder)
    assert len(solos) == 12 and report.notes == sum(len(s.notes) for s in solos)
    assert any("3/4" in line for line in report.skipped)
    assert any(line.startswith("wjd_notes.csv.gz line ") and "not-a-pitch" in line for line in report.bad_rows)
    solo = solos[0]
    assert solo.beats[0] == parse_chord("Bb7") and len(solo.beats) == 4 * solo.num_bars
    assert solo.form_bars[:13] == [*range(12), 0]  # two choruses of the blues
    assert all(a.onset < b.onset for a, b in zip(solo.notes, solo.notes[1:], strict=False))
    assert solo.chart().num_bars == solo.num_bars and solo.form_length == 12


def test_a_solo_starts_with_its_player_and_is_cut_at_long_silences() -> None:
    from studio.music.jazz.corpus import LONG_SILENCE, Solo, playing_parts

    c7, f7 = Chord(0, "7"), Chord(5, "7")
    beats = [c7] * 20 + [f7] * 20  # ten bars
    notes = [SoloNote(3 * TICKS_PER_BAR + 6, 6, 60), SoloNote(3 * TICKS_PER_BAR + 12, 6, 62),  # bar 3, after silence
             SoloNote(9 * TICKS_PER_BAR, 12, 65)]  # after more than LONG_SILENCE: a new part
    assert 9 * TICKS_PER_BAR - (3 * TICKS_PER_BAR + 18) >= LONG_SILENCE
    solo = Solo("X_Tune_FINAL.sv", "X", "Tune", "BEBOP", 200.0, True, notes, beats, list(range(10)))
    first, second = playing_parts(solo)
    assert first.notes[0].onset == 6 and first.beats[0] == c7 and first.form_bars[0] == 3
    assert second.id == "X_Tune_FINAL.sv#2" and second.notes == [SoloNote(0, 12, 65)] and second.beats[0] == f7
    assert split_of(second.id) == split_of(solo.id)


def test_a_folder_in_another_layout_is_refused_with_what_it_needs(tmp_path) -> None:
    with pytest.raises(StudioError, match=r"wjd_solos\.csv, wjd_notes\.csv\.gz, wjd_beats\.csv\.gz"):
        read_jazz_corpus(tmp_path)


def test_a_damaged_file_is_named(tmp_path) -> None:
    folder = write_jazz_folder(tmp_path / "j", solos=2)
    (folder / "wjd_notes.csv.gz").write_bytes(gzip.compress(b"melid,onset\n1,2\n"))
    with pytest.raises(StudioError, match=r"wjd_notes.csv.gz has no column\(s\) bar"):
        read_jazz_corpus(folder)


def test_the_split_is_fixed_by_solo() -> None:
    assert split_of("ArtPepper_Anthropology_FINAL.sv") == split_of("ArtPepper_Anthropology_FINAL.sv")
    shares = [split_of(f"solo-{i}") for i in range(2000)]
    assert abs(shares.count("train") / 2000 - 0.8) < 0.03 and abs(shares.count("test") / 2000 - 0.1) < 0.02


# -- the tokenizer --------------------------------------------------------------------------------------------------
def test_round_trip_keeps_every_onset_and_pitch(folder) -> None:
    solos, _ = read_jazz_corpus(folder)
    tok = JazzTokenizer(soloists=["Test Bird"])
    for solo in solos:
        events = tok.encode(solo)
        assert {len(v) for v in events.conditions.values()} == {len(events.tokens)}
        assert [(n.onset, n.pitch) for n in tok.decode(events.tokens)] == [(n.onset, n.pitch) for n in solo.notes]
        assert events.notes == len(solo.notes)


@pytest.mark.skipif(not REAL.is_dir(), reason="the Weimar Jazz Database is in ../shared/corpora/jazz")
def test_the_whole_real_corpus_round_trips_to_the_grid() -> None:
    solos, report = read_jazz_corpus(REAL)
    assert len(solos) > 450 and report.notes > 190_000
    tok = JazzTokenizer()
    for solo in solos:
        back = tok.decode(tok.encode(solo).tokens)
        assert [(n.onset, n.pitch) for n in back] == [(n.onset, n.pitch) for n in solo.notes], solo.id


def test_rests_long_notes_and_the_grid() -> None:
    tok = JazzTokenizer()
    notes = [SoloNote(0, 4, 60), SoloNote(4, 4, 62), SoloNote(8, 1, 64),  # a triplet, the last one short
             SoloNote(12, 2, 65),  # a sixteenth followed by a rest of 10 ticks (>= REST_GAP)
             SoloNote(24, 300, 67)]  # longer than two bars: sounds MAX_TICKS, then rests
    events = tok.events(notes)
    assert events[:4] == [(60, 0, 4), (62, 4, 4), (64, 8, 4), (65, 12, 2)]
    assert events[4] == (None, 14, 10) and REST_GAP <= 10
    assert events[5] == (67, 24, MAX_TICKS)
    back = tok.decode([tok.BOS] + [t for p, _, n in events for t in
                                   ((tok.REST if p is None else tok.pitch_id(p)), tok.length_id(n))])
    assert [n.onset for n in back] == [0, 4, 8, 12, 24]


def test_unknown_style_or_soloist_lists_the_known_ones() -> None:
    tok = JazzTokenizer(soloists=["Charlie Parker", "Miles Davis"])
    assert tok.soloist_id("charlie parker") == 1 and tok.style_id("Hard bop") == 1 + 4
    with pytest.raises(StudioError, match="Charlie Parker, Miles Davis"):
        tok.soloist_id("Nobody")
    with pytest.raises(StudioError, match="bebop, cool"):
        tok.style_id("grunge")


# -- the network's inputs -------------------------------------------------------------------------------------------
def test_one_step_path_matches_the_module_with_every_input() -> None:
    torch.manual_seed(0)
    config = ModelConfig(vocab_size=20, cell="lstm", num_layers=2, embedding_size=6, hidden_size=10,
                         chord_vocab_size=7, chord_features=5, chord_embedding=4, next_chord=True, bar_positions=48,
                         position_embedding=3, conditions=(("styles", 9, 2), ("forms", 3, 2)))
    model = RNNLanguageModel(config).eval()
    model.set_chord_features(torch.randn(7, 5))
    tokens = torch.randint(0, 20, (3, 6))
    cond = {"chords": torch.randint(0, 7, (3, 6)), "next_chords": torch.randint(0, 7, (3, 6)),
            "positions": torch.randint(0, 48, (3, 6)), "styles": torch.randint(0, 9, (3, 6)),
            "forms": torch.randint(0, 3, (3, 6))}
    full, _ = model(tokens, **cond)
    stepper = SingleStepper(model)
    state = model.initial_state(3)
    for t in range(6):
        logits, state = stepper(tokens[:, t:t + 1], state, **{k: v[:, t:t + 1] for k, v in cond.items()})
        assert torch.allclose(logits, full[:, t], atol=1e-5)
    with pytest.raises(ValueError, match="styles"):
        model(tokens, **{k: v for k, v in cond.items() if k != "styles"})


def test_bad_condition_settings_are_refused() -> None:
    with pytest.raises(StudioError, match="next_chord needs chord conditioning"):
        ModelConfig(next_chord=True)
    with pytest.raises(StudioError, match="distinct"):
        ModelConfig(conditions=(("styles", 3, 2), ("styles", 3, 2)))


# -- training, scoring, improvising ----------------------------------------------------------------------------------
def test_training_writes_a_card_with_the_split(trained) -> None:
    card = json.loads((trained / "best" / "model.json").read_text())
    assert card["model_kind"] == "jazz" and card["tokenizer"]["kind"] == "jazz"
    assert set(card["soloists"]) <= {"Test Bird", "Test Trane", "Test Miles"}
    assert card["corpus"]["split"].startswith("by solo")
    assert (trained / "best" / "phrases.safetensors").exists()


def test_scoring_parts_add_up_and_inputs_matter(trained, folder) -> None:
    soloist = Soloist(trained)
    solos, _ = read_jazz_corpus(folder)
    scores = score_solos(soloist.loaded.model, soloist.tokenizer, solos)
    total = summary(scores)
    assert total["notes"] == sum(len(s.notes) for s in solos)
    assert math.isclose(total["nats_per_note"], total["pitch_nats_per_note"] + total["timing_nats_per_note"])
    # Per event the same nats over notes and rests, every rest the tokenizer writes counted once.
    rests = sum(e.tokens.count(soloist.tokenizer.REST) for e in encode_all(solos, soloist.tokenizer))
    assert rests > 0 and total["events"] == total["notes"] + rests
    assert math.isclose(total["nats_per_event"] * total["events"], total["nats_per_note"] * total["notes"])
    without = summary(score_solos(soloist.loaded.model, soloist.tokenizer, solos, style=False, soloist=False))
    assert without["nats_per_note"] != total["nats_per_note"]


def test_eval_reports_nats_per_note_as_json(trained, folder, capsys) -> None:
    result = evaluate_jazz(trained / "best", folder)
    assert result["unit"] == "nats_per_note" and result["split"] in ("test", "valid") and result["own_training_corpus"]
    other = evaluate_jazz(trained / "best", write_jazz_folder(folder.parent / "other", solos=3))
    assert other["split"] == "all" and other["solos"] == 3 and other["nats_per_note"] > 0


def test_studio_eval_scores_a_jazz_folder(trained, folder, capsys) -> None:
    assert main(["eval", "--model", str(trained / "best"), "--corpus", str(folder), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["unit"] == "nats_per_note" and report["kind"] == "jazz" and report["nats_per_note"] > 0
    assert any("3/4" in entry["reason"] for entry in report["skipped"])
    assert main(["eval", "--model", str(trained / "best"), "--corpus", str(folder)]) == 0
    assert f"{report['nats_per_event']:.4f} nats/event (notes and rests)" in capsys.readouterr().out
    assert main(["eval", "--model", str(trained / "best"), "--corpus", str(folder / "wjd_solos.csv"), "--split",
                 "all"]) == 2  # a file, not a folder in the layout


def test_finetune_the_soloist_on_a_folder_of_solos_and_resume(trained, folder, tmp_path, capsys) -> None:
    """studio finetune --base JAZZMODEL --corpus JAZZ-LAYOUT-FOLDER: it starts from the base (scored first), keeps
    its tokenizer, players, styles and sampling defaults, adds its phrases to the copy check, and resumes."""
    out = tmp_path / "bird-finetuned"
    args = ["finetune", "--base", str(trained / "best"), "--corpus", str(folder), "--out", str(out),
            "--batch-size", "4", "--seq-len", "32", "--lr", "1e-2", "--eval-every", "4", "--device", "cpu"]
    assert main([*args, "--max-steps", "4"]) == 0
    assert "validation" in capsys.readouterr().out
    assert main([*args, "--max-steps", "8", "--resume"]) == 0
    card = json.loads((out / "best" / "model.json").read_text())
    base = json.loads((trained / "best" / "model.json").read_text())
    assert card["finetuned_from"]["model"] == str(trained / "best") and card["model_kind"] == "jazz"
    assert card["tokenizer"] == base["tokenizer"] and card["soloists"] == base["soloists"]
    assert card["training"]["steps"] == 8 and card["model_config"] == base["model_config"]
    soloist = Soloist(out / "best")
    assert soloist.training_phrases is not None and soloist.training_phrases.numel() > 0
    solos = soloist.improvise(SoloRequest(blues_chart("12-bar", "F"), 1, 160, soloist="Test Bird",
                                          config=GenerationConfig(seed=1)))
    assert solos[0].notes
    assert main(["finetune", "--base", str(trained / "best"), "--corpus", str(tmp_path), "--out",
                 str(tmp_path / "x")]) == 2  # not a jazz-layout folder: the files it needs are named


def test_a_players_solos_make_a_folder_of_the_same_layout(folder, tmp_path) -> None:
    """scripts/jazz_subset.py: one player's solos, readable as a corpus, each in the split it had in the whole."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import jazz_subset
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    out = tmp_path / "bird"
    assert jazz_subset.main(["--corpus", str(folder), "--performer", "test bird", "--out", str(out)]) == 0
    whole = {s.id: s for s in read_jazz_corpus(folder)[0]}
    solos = read_jazz_corpus(out)[0]
    assert solos and {s.performer for s in solos} == {"Test Bird"}
    assert {s.id for s in solos} == {i for i, s in whole.items() if s.performer == "Test Bird"}
    assert all(s.notes == whole[s.id].notes and split_of(s.id) == split_of(whole[s.id].id) for s in solos)
    assert jazz_subset.main(["--corpus", str(folder), "--performer", "Nobody", "--out", str(tmp_path / "x")]) == 1


def test_the_token_costs_add_up_to_the_nats_per_note(trained, folder, capsys) -> None:
    """benchmarks/jazz_token_costs.py splits studio eval's figure into its kinds of token, and they add up to it."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import jazz_token_costs
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    assert main(["eval", "--model", str(trained / "best"), "--corpus", str(folder), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    costs = jazz_token_costs.token_costs(str(trained / "best"), str(folder), "test", None)
    assert costs["nats_per_note"] == pytest.approx(report["nats_per_note"], rel=1e-3)
    assert sum(row["nats_per_note"] for row in costs["kinds"].values()) == pytest.approx(costs["nats_per_note"])
    assert costs["kinds"]["pitch"]["tokens"] == costs["notes"] and costs["kinds"]["rest length"]["tokens"] == \
        costs["kinds"]["rest"]["tokens"]


def test_a_solo_fills_the_form_and_is_reproducible(trained) -> None:
    soloist = Soloist(trained)
    chart = ChordChart.parse("D-7 | G7 | Cj7 | C79b")
    request = SoloRequest(chart, 2, 180, style="bebop", soloist="Test Bird",
                          config=GenerationConfig(temperature=1.0, seed=5, num_samples=3), low=55, high=80)
    solos = soloist.improvise(request)
    again = soloist.improvise(request)
    assert [s.notes for s in solos] == [s.notes for s in again]
    end = 2 * 4 * TICKS_PER_BAR
    for solo in solos:
        assert all(55 <= n.pitch <= 80 and n.onset + n.duration <= end for n in solo.notes)
    locked = soloist.improvise(SoloRequest(blues_chart("12-bar", "F"), 1, 160, key_lock=[5, 8, 10, 11, 0, 3],
                                           config=GenerationConfig(temperature=1.2, seed=1)))[0]
    assert {n.pitch % 12 for n in locked.notes} <= {5, 8, 10, 11, 0, 3}
    beam = soloist.improvise(SoloRequest(chart, 1, 140, config=GenerationConfig(beams=3, seed=0)))[0]
    assert max((n.onset + n.duration for n in beam.notes), default=0) <= 4 * TICKS_PER_BAR


def test_a_real_solos_form_can_be_replayed(trained) -> None:
    soloist = Soloist(trained)
    chart = ChordChart.parse("Bb7 | Eb7 | Bb7 | F7")
    request = SoloRequest(chart, 1, 160, form_bars=[8, 9, 10, 11])
    tables = soloist._tables(request, 4 * TICKS_PER_BAR)
    assert tables["form_bars"][0] == 8 and tables["form_bars"][3 * TICKS_PER_BAR] == 11
    assert soloist._tables(SoloRequest(chart, 2, 160), 8 * TICKS_PER_BAR)["form_bars"][5 * TICKS_PER_BAR] == 1
    with pytest.raises(StudioError, match="form_bars"):
        soloist.improvise(SoloRequest(chart, form_bars=[]))


def test_the_rhythm_has_its_own_temperature(trained) -> None:
    from studio.music.jazz.soloist import RhythmTemperature

    tok = JazzTokenizer()
    scale = RhythmTemperature(tok, 0.5)
    tokens = torch.tensor([[tok.BOS, tok.pitch_id(60)], [tok.pitch_id(60), tok.length_id(6)]])
    logits = torch.ones(2, tok.vocab_size)
    out = scale(tokens, logits)
    assert torch.equal(out[0], logits[0] * 2) and torch.equal(out[1], logits[1])  # after a pitch: a length slot
    soloist = Soloist(trained)
    chart = blues_chart("12-bar", "C")
    calm = soloist.improvise(SoloRequest(chart, 1, 160, rhythm_temperature=0.3, config=GenerationConfig(seed=4)))[0]
    wild = soloist.improvise(SoloRequest(chart, 1, 160, rhythm_temperature=3.0, config=GenerationConfig(seed=4)))[0]
    assert calm.params["rhythm_temperature"] == 0.3 and calm.notes != wild.notes
    with pytest.raises(StudioError, match="rhythm temperature"):
        soloist.improvise(SoloRequest(chart, 1, 160, rhythm_temperature=0.0))


def test_bad_requests_name_the_range(trained) -> None:
    soloist = Soloist(trained)
    chart = blues_chart("12-bar", "C")
    with pytest.raises(StudioError, match="unknown soloist 'Nobody'; known soloists: Test"):
        soloist.improvise(SoloRequest(chart, soloist="Nobody"))
    with pytest.raises(StudioError, match="choruses"):
        soloist.improvise(SoloRequest(chart, choruses=0))
    with pytest.raises(StudioError, match="form must be one of"):
        soloist.improvise(SoloRequest(chart, form="rondo"))
    with pytest.raises(StudioError, match="not a jazz soloist"):
        Soloist("shakespeare")


def test_compose_writes_every_format_with_the_band(trained, tmp_path) -> None:
    out = tmp_path / "solos"
    code = main(["compose", "--model", str(trained / "best"), "--chart", "Bb7 | Eb7 | Bb7 | F7", "--style", "cool",
                 "--soloist", "Test Miles", "--choruses", "2", "--seed", "2", "--out", str(out),
                 "--formats", "mid,wav,musicxml,png,json"])
    assert code == 0
    stem = next(out.glob("*.json")).with_suffix("")
    for suffix in (".mid", ".wav", ".musicxml", ".png"):
        assert stem.with_suffix(suffix).stat().st_size > 100
    sidecar = json.loads(stem.with_suffix(".json").read_text())
    assert sidecar["style"] == "cool" and sidecar["soloist"] == "Test Miles" and "statistics" in sidecar
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(str(stem.with_suffix(".mid")))
    assert {i.name for i in midi.instruments} >= {"lead", "bass", "drums"}
    velocities = {n.velocity for n in next(i for i in midi.instruments if i.name == "lead").notes}
    assert len(velocities) > 1  # dynamics, not one velocity
    assert main(["compose", "--model", "blues", "--style", "bebop", "--out", str(out)]) == 2


# -- statistics and the performance ----------------------------------------------------------------------------------
def test_statistics_of_a_known_line() -> None:
    c7 = Chord(0, "7")
    # Straight eighths C E G Bb across one bar, then a triplet D Eb E.
    notes = [SoloNote(t, 6, p) for t, p in ((0, 60), (6, 64), (12, 67), (18, 70))]
    notes += [SoloNote(24, 4, 62), SoloNote(28, 4, 63), SoloNote(32, 4, 64)]
    stats = solo_statistics(notes, [c7] * 4, 1)
    assert stats["notes_per_bar"] == 7
    assert math.isclose(stats["ioi_eighth"], 4 / 6) and math.isclose(stats["ioi_triplet"], 2 / 6)
    assert math.isclose(stats["chord_tones"], 5 / 7)  # C E G Bb and the last E
    assert math.isclose(stats["triplet_onsets"], 2 / 7)
    assert math.isclose(stats["steps"], 2 / 6) and math.isclose(stats["leaps"], 1 / 6)  # Bb down to D
    assert math.isnan(stats["copied_phrases"]) and math.isnan(stats["grooving"])  # one bar: no pair to compare


def test_copied_phrases_are_found_in_any_key() -> None:
    line = [SoloNote(t, 3, p) for t, p in ((0, 60), (3, 62), (6, 64), (9, 65))]
    known = phrase_hashes([line])
    assert copied_share([SoloNote(n.onset, n.duration, n.pitch + 5) for n in line], known) == 1.0
    assert copied_share([SoloNote(n.onset, n.duration, 70 - n.pitch % 7) for n in line], known) == 0.0


def test_dynamics_shape_the_line() -> None:
    notes = [SoloNote(0, 3, 60), SoloNote(3, 3, 62), SoloNote(6, 3, 67), SoloNote(9, 3, 64),  # a peak
             SoloNote(12, 2, 65), SoloNote(14, 2, 66), SoloNote(16, 2, 67),  # passing by step
             SoloNote(20, 12, 72)]  # struck before beat 3 and held across it: an anticipation
    v = dynamics(notes)
    assert v[2] > v[1] and v[5] < v[4] + 1 and v[7] > v[3]


def test_the_swing_is_placed_once() -> None:
    eighth = straight_eighth_place(160)
    assert 0.5 < eighth < 0.62 and place(6, eighth) == pytest.approx(eighth)
    assert place(4, eighth) == pytest.approx(1 / 3) and place(8, eighth) == pytest.approx(2 / 3)
    assert [place(p, 0.8) for p in range(13)] == sorted(place(p, 0.8) for p in range(13))  # order kept
    notes = [SoloNote(beat * 12 + p, 6, 60) for beat in range(8) for p in (0, 6)]
    assert swing_of(notes, 160) == pytest.approx(eighth)
    midi = perform(notes, blues_chart("12-bar", "C"), 1, 120.0)
    lead = next(i for i in midi.instruments if i.name == "lead")
    assert lead.notes[1].start == pytest.approx(round(straight_eighth_place(120) * PERFORMED_GRID) / PERFORMED_GRID
                                                * 0.5)
    assert midi.get_end_time() == pytest.approx(12 * 4 * 0.5, abs=0.6)
