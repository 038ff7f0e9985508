"""The soloist entry's strength: 0 is "none", 1 the entry as trained, set once per model and never compounded."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import torch
from jazz_support import write_jazz_folder

from studio.cli import main
from studio.config import GenerationConfig, ModelConfig
from studio.errors import StudioError
from studio.loading import load_model
from studio.models import RNNLanguageModel
from studio.music.io.export import read_meta
from studio.music.jazz.corpus import Solo, SoloNote
from studio.music.jazz.entries import DEFAULT_SOLOIST_STRENGTH, card_soloist_strength, set_soloist_strength
from studio.music.jazz.scoring import score_solos, summary
from studio.music.jazz.soloist import Soloist, SoloRequest
from studio.music.jazz.tokenizer import JazzTokenizer
from studio.music.theory.chords import chart_from_text_or_form, parse_chord

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "checkpoints" / "jazz"


@pytest.fixture()
def soloist():
    loaded = load_model(SHIPPED, read_tokenizer=JazzTokenizer.from_dict)
    return loaded.tokenizer, loaded.model.float().eval()


def _bebop_line(performer: str) -> Solo:
    """Four bars of eighths and a triplet over a ii-V-I in F, credited to ``performer``."""
    line = [(0, 6, 67), (6, 6, 69), (12, 6, 70), (18, 6, 72), (24, 4, 74), (28, 4, 72), (32, 4, 70), (36, 12, 69)]
    notes = [SoloNote(48 * bar + onset, length, pitch - 2 * bar) for bar in range(4) for onset, length, pitch in line]
    beats = [parse_chord(c) for c in ("G-7", "C7", "Fj7", "Fj7") for _ in range(4)]
    return Solo("line", performer, "t", "BEBOP", 200.0, False, notes, beats, [0, 1, 2, 3], "wjd")


def _figure(model, tok, solo: Solo, strength: float) -> float:
    set_soloist_strength(model, strength)
    return summary(score_solos(model, tok, [solo]))["nats_per_note"]


def test_strength_draws_the_entry_from_none_to_the_player(soloist) -> None:
    tok, model = soloist
    solo = _bebop_line("Charlie Parker")
    trained = model.condition_tables["soloists"].weight.detach().clone()
    none = summary(score_solos(model, tok, [solo], soloist=False))["nats_per_note"]
    as_trained = _figure(model, tok, solo, 1.0)
    assert _figure(model, tok, solo, 0.0) == pytest.approx(none, abs=1e-6)  # strength 0 is the entry "none"
    half = _figure(model, tok, solo, 0.5)
    assert half not in (pytest.approx(none, abs=1e-4), pytest.approx(as_trained, abs=1e-4))
    table = model.condition_tables["soloists"].weight
    assert torch.allclose(table, trained[:1] + 0.5 * (trained - trained[:1]))
    # Setting a strength again starts from the table as trained: 0.5 then 1 is the entry as trained, exactly.
    assert _figure(model, tok, solo, 1.0) == pytest.approx(as_trained, abs=1e-6)
    assert torch.equal(table, trained) and torch.equal(table[0], trained[0])


def test_a_bad_strength_names_the_range_and_a_model_without_players_is_left_alone(soloist) -> None:
    _, model = soloist
    with pytest.raises(StudioError, match=r"--soloist-strength must be in \[0, 2\]"):
        set_soloist_strength(model, 2.5)
    with pytest.raises(StudioError, match="must be a number"):
        set_soloist_strength(model, float("nan"))
    plain = RNNLanguageModel(ModelConfig(vocab_size=20, hidden_size=16, embedding_size=8))
    before = [p.detach().clone() for p in plain.parameters()]
    set_soloist_strength(plain, 0.0)
    assert all(torch.equal(p, q) for p, q in zip(before, plain.parameters(), strict=True))


def test_the_card_sets_it_else_the_entry_as_trained() -> None:
    assert card_soloist_strength({}) == DEFAULT_SOLOIST_STRENGTH == 1.0
    assert card_soloist_strength({"sampling": {"temperature": 1.0}}) == 1.0
    assert card_soloist_strength({"sampling": {"soloist_strength": 0.5}}) == 0.5
    # The shipped soloist's, chosen on its validation solos.
    assert card_soloist_strength(json.loads((SHIPPED / "model.json").read_text())) == 0.5


def test_the_soloist_plays_at_the_strength_asked_and_says_so() -> None:
    chart = chart_from_text_or_form("12-bar", "F")
    request = SoloRequest(chart, 1, 200.0, soloist="Charlie Parker", config=GenerationConfig(seed=3))
    full = Soloist("jazz", soloist_strength=1.0)
    assert full.soloist_strength == 1.0 and Soloist("jazz").soloist_strength == 0.5
    played = full.improvise(request)[0]
    assert played.params["soloist_strength"] == 1.0 and played.notes
    # No entry asked: no strength to report, and the same solo at any strength (row 0 never moves).
    plain = SoloRequest(chart, 1, 200.0, config=GenerationConfig(seed=3))
    none_full, none_zero = full.improvise(plain)[0], Soloist("jazz", soloist_strength=0.0).improvise(plain)[0]
    assert none_full.params["soloist_strength"] is None and none_full.notes == none_zero.notes
    with pytest.raises(StudioError, match=r"--soloist-strength must be in \[0, 2\]"):
        Soloist("jazz", soloist_strength=-1.0)


def test_studio_eval_and_compose_take_the_strength(tmp_path, capsys) -> None:
    folder = write_jazz_folder(tmp_path / "solos", solos=3)
    solos = folder / "wjd_solos.csv"  # credited to players the shipped model knows, so their entries are read
    solos.write_text(solos.read_text(encoding="utf-8").replace("Test Bird", "Charlie Parker")
                     .replace("Test Trane", "John Coltrane").replace("Test Miles", "Miles Davis"), encoding="utf-8")
    model = str(SHIPPED)

    def evaluated(*flags: str) -> dict:
        assert main(["eval", "--model", model, "--corpus", str(folder), "--json", *flags]) == 0
        return json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    full, shipped, none = evaluated("--soloist-strength", "1"), evaluated(), evaluated("--soloist-strength", "0")
    assert (full["soloist_strength"], shipped["soloist_strength"], none["soloist_strength"]) == (1.0, 0.5, 0.0)
    assert len({round(r["nats_per_note"], 6) for r in (full, shipped, none)}) == 3  # the entries are read
    text = tmp_path / "words.txt"
    text.write_text("the soloist listens " * 50)
    assert main(["eval", "--model", str(ROOT / "checkpoints" / "prose"), "--corpus", str(text),
                 "--soloist-strength", "1"]) == 2
    assert "--soloist-strength is for the jazz soloist" in capsys.readouterr().err
    out = tmp_path / "out"
    assert main(["compose", "--model", "jazz", "--soloist", "Charlie Parker", "--soloist-strength", "3",
                 "--out", str(out)]) == 2
    assert "--soloist-strength must be in [0, 2]" in capsys.readouterr().err
    assert main(["compose", "--model", "jazz", "--soloist", "Charlie Parker", "--soloist-strength", "1.5",
                 "--formats", "mid", "--seed", "1", "--out", str(out)]) == 0
    (midi,) = sorted(out.glob("*.mid"))
    assert read_meta(midi)["soloist"] == "Charlie Parker" and read_meta(midi)["soloist_strength"] == 1.5


def test_the_page_keeps_one_soloist_per_strength(tmp_path) -> None:
    from studio.ui.model_cache import MAX_VARIANTS, ModelCache

    cache = ModelCache(tmp_path / "runs")
    default, strong = cache.soloist("jazz"), cache.soloist("jazz", 1.5)
    assert default.soloist_strength == 0.5 and strong.soloist_strength == 1.5 and default is not strong
    assert cache.soloist("jazz", 1.5) is strong and cache.soloist("jazz") is default  # loaded once each
    # Each instance holds its own weights: setting one never moves the other.
    row = default.loaded.model.condition_tables["soloists"].weight[1]
    assert not torch.equal(row, strong.loaded.model.condition_tables["soloists"].weight[1])
    # Walking the slider keeps at most MAX_VARIANTS of one model loaded, the most recent ones.
    for strength in (0.0, 0.25, 0.75, 1.0):
        cache.soloist("jazz", strength)
    assert len(cache.loaded()) == MAX_VARIANTS == 3
    assert cache.soloist("jazz", 1.0) is cache.soloist("jazz", 1.0)


def test_studio_models_says_the_strength_of_each_soloist(tmp_path, capsys) -> None:
    assert main(["models", "--dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("jazz "))
    block = list(itertools.takewhile(lambda line: line.startswith(" "), lines[start + 1:]))  # its own lines
    assert any("soloist strength: 0.5 (--soloist-strength 0..2" in line for line in block), block
