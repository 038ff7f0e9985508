"""Fine-tuning on a user's folder: bad files skipped, vocabulary growth, lower held-out loss than the base, no new
model from a run that learned nothing."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import torch

from studio.config import ModelConfig, TokenizerConfig, TrainConfig
from studio.errors import StudioError
from studio.text.finetune import finetune_text, grow_vocabulary, grow_weights
from studio.text.training import train_text
from studio.tokenizers import BPETokenizer, CharTokenizer, WordTokenizer

BASE_TEXT = "the cat sat on the mat and the dog sat on the log\n" * 80
NEW_TEXT = "le chat était là, près de la fenêtre; voilà où il dort\n"


@pytest.fixture(scope="module")
def base_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("base")
    (root / "base.txt").write_text(BASE_TEXT, encoding="utf-8")
    train_text(root / "base.txt", root / "run", {"hidden_size": 48, "embedding_size": 16, "num_layers": 1},
               TokenizerConfig(), TrainConfig(batch_size=4, seq_len=32, max_steps=60, eval_every=60, warmup_steps=5),
               command="test")
    return root / "run"


def _user_corpus(root: Path) -> Path:
    folder = root / "mine"
    folder.mkdir()
    for i in range(5):
        (folder / f"note{i}.txt").write_text(NEW_TEXT * (20 + i), encoding="utf-8")
    (folder / "copy.txt").write_text(NEW_TEXT * 20, encoding="utf-8")  # same bytes as note0.txt
    (folder / "empty.txt").write_text("", encoding="utf-8")
    (folder / "latin1.txt").write_bytes("voilà l'été\n".encode("latin-1") * 30)
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (folder / "empty.zip").write_bytes(b"")
    with zipfile.ZipFile(folder / "more.zip", "w") as archive:
        archive.writestr("inside/extra.txt", NEW_TEXT * 25 + "fin.\n")
        archive.writestr("inside/image.png", b"\x89PNG....")
    return folder


def test_finetune_grows_the_vocabulary_and_beats_the_base(base_model: Path, tmp_path: Path) -> None:
    notes: list[str] = []
    result = finetune_text(base_model, _user_corpus(tmp_path), tmp_path / "tuned",
                           TrainConfig(batch_size=4, seq_len=32, max_steps=80, eval_every=20, warmup_steps=5,
                                       lr=3e-3), samples=2, on_note=notes.append)
    joined = "\n".join(notes)
    for reason in ("duplicate of", "copy.txt", "empty.txt: empty", "binary.txt: binary", "empty.zip: empty zip",
                   "latin1.txt is not valid UTF-8"):
        assert reason in joined, reason
    assert "vocabulary grows" in joined
    assert {"é", "ê", "à", "è"} <= set(result.added_symbols)
    assert result.best_valid["valid_nats_per_token"] < result.base_valid["valid_nats_per_token"] - 0.3
    assert len(result.samples) == 2 and all(n is None or 0 <= n <= 1 for n in result.novelty)
    assert (tmp_path / "tuned" / "best" / "model.json").exists()
    assert any("small for this model" in w for w in result.warnings)


def test_vocabulary_growth_keeps_old_ids() -> None:
    char = CharTokenizer.train("abc")
    grown, added = grow_vocabulary(char, "abcxyz")
    assert added == ["x", "y", "z"] and grown.encode("abc") == char.encode("abc") and grown.vocab_size == 7
    word = WordTokenizer.train("a b c")
    grown_word, new_words = grow_vocabulary(word, "a b d d e")
    assert new_words == ["d", "e"] and grown_word.encode("a b") == word.encode("a b")
    bpe = BPETokenizer.train("hello world " * 20, vocab_size=270)
    assert grow_vocabulary(bpe, "ünïcödé")[1] == []  # nothing is unknown to byte-level BPE


def test_new_rows_start_at_the_mean() -> None:
    config = ModelConfig(vocab_size=4, num_layers=1, embedding_size=3, hidden_size=5)
    weights = {"embedding.weight": torch.arange(12.0).view(4, 3), "decoder.weight": torch.ones(4, 5),
               "decoder.bias": torch.tensor([1.0, 2.0, 3.0, 4.0])}
    grown = grow_weights(weights, config, 6)
    assert grown["embedding.weight"].shape == (6, 3)
    mean, spread = torch.tensor([4.5, 5.5, 6.5]), 0.1 * float(weights["embedding.weight"].std())
    new_rows = grown["embedding.weight"][4:]
    assert float((new_rows - mean).abs().max()) < 5 * spread  # the mean, plus a little noise
    assert not torch.equal(new_rows[0], new_rows[1])  # ... so new tokens can be told apart
    assert torch.equal(grown["embedding.weight"][:4], weights["embedding.weight"])
    assert torch.equal(grown["decoder.bias"][4:], torch.tensor([2.5, 2.5]))


def test_finetune_refuses_a_missing_base(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(StudioError, match="unknown model"):
        finetune_text("no-such-model", tmp_path, tmp_path / "out", TrainConfig(max_steps=1))


def _letters(root: Path) -> Path:
    """Two files of very unequal size under names that once sent the big one to validation."""
    folder = root / "letters"
    folder.mkdir()
    (folder / "letters.txt").write_text(NEW_TEXT * 400, encoding="utf-8")
    (folder / "letter1.txt").write_text("voilà, mon ami.\n" * 3, encoding="utf-8")
    return folder


def test_a_run_that_learns_nothing_leaves_no_new_model(base_model: Path, tmp_path: Path) -> None:
    notes: list[str] = []
    # A learning rate of 1e-12 moves no weight measurably: no evaluation can beat the base model.
    result = finetune_text(base_model, _letters(tmp_path), tmp_path / "flat",
                           TrainConfig(batch_size=4, seq_len=32, max_steps=6, eval_every=3, warmup_steps=0,
                                       lr=1e-12), samples=2, on_note=notes.append)
    assert result.steps == 6 and not result.new_model and result.best_valid == {} and result.samples == []
    assert "never beat the base model's" in result.no_model and "more minutes or more text" in result.no_model
    assert not (tmp_path / "flat" / "best").exists()  # nothing for a model list to offer
    assert (tmp_path / "flat" / "last" / "model.json").exists()  # but the run can go on (--resume)
    split = next(n for n in notes if n.startswith("validation: the last"))
    assert "letters.txt" in split and "letter1.txt" in split


def test_a_budget_spent_before_the_first_step_leaves_no_new_model(base_model: Path, tmp_path: Path) -> None:
    result = finetune_text(base_model, _letters(tmp_path), tmp_path / "late",
                           TrainConfig(batch_size=4, seq_len=32, max_steps=100_000, minutes=0.0005, warmup_steps=0))
    assert result.steps == 0 and not result.new_model and not (tmp_path / "late" / "best").exists()
    assert "ran out before the first training step" in result.no_model and "more minutes" in result.no_model


def test_the_time_budget_covers_the_whole_run_and_validation_is_a_fixed_sample(base_model: Path,
                                                                               tmp_path: Path) -> None:
    events: list = []
    notes: list[str] = []
    budget_s = 6.0
    result = finetune_text(base_model, _letters(tmp_path), tmp_path / "timed",
                           TrainConfig(batch_size=4, seq_len=32, max_steps=100_000, minutes=budget_s / 60,
                                       eval_every=2, warmup_steps=0, lr=3e-3), callbacks=[events.append], samples=1,
                           on_note=notes.append)
    assert result.stop_reason == "time budget" and result.new_model
    # The run keeps room for its last step, final evaluation and sample; on a CPU shared with other work one step
    # can take seconds, hence the slack.
    assert result.elapsed_s <= 1.5 * budget_s, f"a {budget_s} s budget took {result.elapsed_s:.1f} s"
    assert result.samples or "no samples: the time budget is spent" in notes[-1]  # late samples are left out
    card = json.loads((tmp_path / "timed" / "best" / "model.json").read_text(encoding="utf-8"))
    sample = card["train_config"]["eval_sample_tokens"]
    assert 0 < sample < card["corpus"]["valid_tokens"]  # many evaluations: each reads a sample
    scored = {e.data["valid_tokens"] for e in events if e.kind in ("eval", "base_eval")}
    assert len(scored) == 1 and scored.pop() <= 1.2 * sample  # the base and every evaluation read the same tokens
    progress = [e.data for e in events if e.kind == "base_progress"]
    assert progress[0] == {"done": 0, "total": 0} and progress[-1]["done"] == progress[-1]["total"] > 0
    assert [e.kind for e in events].index("base_eval") < [e.kind for e in events].index("step")
