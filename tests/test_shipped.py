"""The shipped models: present, loadable, within their size limits, and as good as their cards say."""

from __future__ import annotations

from studio.config import GenerationConfig
from studio.generate import Generator
from studio.loading import load_model, shipped_models


def test_shakespeare_is_shipped_small_and_documented() -> None:
    path = shipped_models()["shakespeare"]
    weights = path / "model.safetensors"
    assert weights.stat().st_size <= 15 * 1024 * 1024
    loaded = load_model("shakespeare")
    card = loaded.card
    assert card["weights"]["dtype"] == "float16"
    assert card["tokenizer"]["kind"] == "char"
    assert card["metrics"]["valid_nats_per_token"] <= 1.45
    assert card["evaluation"]["valid_nats_per_token"] <= 1.45
    assert "studio train text" in card["command"]
    assert card["corpus"]["sha256"]


def test_shakespeare_writes_play_like_text() -> None:
    generator = Generator("shakespeare")
    result = generator.generate("ROMEO:", GenerationConfig(length=300, temperature=0.6, num_samples=2, seed=3))
    assert len(result.texts) == 2
    for text in result.texts:
        assert text.startswith("ROMEO:")
        words = text.split()
        assert len(words) > 30
        # A trained model writes mostly real words; an untrained one writes noise.
        common = {"the", "and", "to", "of", "i", "my", "a", "you", "that", "in", "is", "not", "with", "me", "be"}
        assert sum(w.lower().strip(",.;:!?'") in common for w in words) >= 5
    assert result.texts[0] != result.texts[1]


def test_prose_is_shipped_small_and_documented() -> None:
    path = shipped_models()["prose"]
    assert (path / "model.safetensors").stat().st_size <= 15 * 1024 * 1024
    assert (path / "ngrams.safetensors").stat().st_size <= 4 * 1024 * 1024
    loaded = load_model("prose")
    card = loaded.card
    assert card["tokenizer"]["kind"] == "bpe" and card["weights"]["dtype"] == "float16"
    assert loaded.tokenizer.unk_id is not None  # WikiText's <unk> marker is one token, so it can be banned
    assert card["evaluation"]["test_word_perplexity"] < 200
    assert loaded.ngram_index is not None and loaded.ngram_index.n == 4


def test_prose_writes_readable_prose() -> None:
    generator = Generator("prose")
    result = generator.generate("The history of the city", GenerationConfig(length=150, num_samples=4, seed=2,
                                                                             temperature=1.0))
    for text in result.texts:
        assert "<unk>" not in text and "@-@" not in text and " @" not in text
        assert " ," not in text and " ." not in text  # detokenized: no space before punctuation
        assert sum(w.strip(",.") in {"the", "of", "and", "in", "a", "to", "was"} for w in text.split()) >= 5
