"""The copy check: n-gram hashing, novelty, storage in checkpoint bundles, the Trainer's index, the shipped index."""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import studio.text.ngrams as ngrams
from studio.checkpoint import CARD_FILE, Bundle, read_bundle, write_bundle
from studio.config import TokenizerConfig, TrainConfig
from studio.errors import StudioError
from studio.loading import load_model, shipped_models
from studio.text.ngrams import (
    HASH_VERSION,
    NGRAMS_EXTRA,
    NgramIndex,
    corpus_index,
    default_ngram_size,
    novelty_percent,
    window_hashes,
)
from studio.text.training import train_text
from studio.training.trainer import Trainer


def _random_ids(n: int, vocab: int = 50, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, vocab, n)


# -- hashing -----------------------------------------------------------------------------------------------------
def test_hashing_is_deterministic_and_input_type_free() -> None:
    ids = _random_ids(300)
    first = window_hashes(ids, 5)
    assert first.dtype == np.uint32 and first.shape == (296,)
    assert np.array_equal(first, window_hashes(ids, 5))
    for same in (ids.tolist(), ids.astype(np.int32), torch.from_numpy(ids), torch.from_numpy(ids).to(torch.int16)):
        assert np.array_equal(first, window_hashes(same, 5))
    # Pinned values: a change of hash would make stored indexes silently wrong, so it must bump HASH_VERSION.
    assert HASH_VERSION == 1
    assert window_hashes([0, 1, 2, 3], 2).tolist() == [1070164459, 481207879, 4182497439]
    assert window_hashes([7] * 10, 8).tolist() == [window_hashes([7] * 8, 8)[0]] * 3


def test_hash_tells_apart_windows_that_differ_in_order_or_zeros() -> None:
    windows = [[0, 0, 1], [0, 1, 0], [1, 0, 0], [0, 0, 0], [1, 1, 0], [0, 1, 1]]
    hashes = {int(window_hashes(w, 3)[0]) for w in windows}
    assert len(hashes) == len(windows)


@pytest.mark.parametrize("bad", [[[1, 2], [3, 4]], [1.5, 2.0], [-1, 3]])
def test_bad_token_ids_are_refused(bad) -> None:
    with pytest.raises(StudioError):
        window_hashes(bad, 1)


@pytest.mark.parametrize("n", [0, -3, 65, 2.5, True])
def test_bad_ngram_sizes_are_refused(n) -> None:
    with pytest.raises(StudioError, match="n-gram size"):
        NgramIndex.build([1, 2, 3], n)


def test_default_sizes() -> None:
    assert default_ngram_size("char") == 8
    assert default_ngram_size("word") == default_ngram_size("bpe") == 4
    with pytest.raises(StudioError, match="tokenizer kind"):
        default_ngram_size("midi")


# -- queries -----------------------------------------------------------------------------------------------------
def test_index_finds_every_ngram_of_its_own_corpus() -> None:
    ids = _random_ids(5000)
    index = NgramIndex.build(ids, 6)
    assert index.contains(ids).all()
    assert index.novelty(ids) == 0.0
    assert index.novelty(ids[1234:1300]) == 0.0
    assert index.count == len({tuple(ids[i:i + 6]) for i in range(len(ids) - 5)})
    assert index.size_bytes == 4 * index.count


def test_unrelated_sequence_is_almost_all_new() -> None:
    index = NgramIndex.build(_random_ids(5000, seed=0), 6)
    assert index.novelty(_random_ids(2000, seed=1)) > 0.99
    # Ids the corpus never uses at all: nothing can match except by a 2^-32 hash collision.
    assert index.novelty(_random_ids(2000, seed=2) + 100) == 1.0


def test_partial_overlap_gives_the_right_share() -> None:
    index = NgramIndex.build([1, 2, 3, 4, 5, 6], 3)  # (1,2,3) (2,3,4) (3,4,5) (4,5,6)
    query = [2, 3, 4, 9, 4, 5, 6]                     # (2,3,4) (3,4,9) (4,9,4) (9,4,5) (4,5,6)
    assert index.contains(query).tolist() == [True, False, False, False, True]
    assert index.novel_count(query) == (3, 5)
    assert index.novelty(query) == pytest.approx(0.6)
    assert novelty_percent(index.novelty(query)) == "60.0%"


def test_repeated_windows_count_each_time() -> None:
    index = NgramIndex.build([1, 2, 1, 2], 2)
    assert index.count == 2  # (1,2) and (2,1)
    assert index.novel_count([1, 2, 7, 7, 7]) == (3, 4)  # (2,7) and (7,7) twice are new


def test_sequences_shorter_than_n_have_no_novelty() -> None:
    index = NgramIndex.build(_random_ids(100), 4)
    for short in ([], [1], [1, 2, 3]):
        assert index.contains(short).shape == (0,)
        assert index.novel_count(short) == (0, 0)
        assert index.novelty(short) is None
    assert novelty_percent(None) == "n/a"


def test_empty_corpus_gives_an_empty_index() -> None:
    index = NgramIndex.build([1, 2], 3)
    assert index.count == 0 and index.novelty([1, 2, 3, 4]) == 1.0


def test_chunked_build_loses_no_window_at_the_seams(monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _random_ids(3000)
    whole = NgramIndex.build(ids, 7)
    monkeypatch.setattr(ngrams, "_CHUNK", 97)
    chunked = NgramIndex.build(ids, 7)
    assert np.array_equal(whole.hashes, chunked.hashes)


@settings(max_examples=60)
@given(corpus=st.lists(st.integers(0, 5), max_size=60), query=st.lists(st.integers(0, 5), max_size=30),
       n=st.integers(1, 4))
def test_novelty_matches_exact_set_membership(corpus: list[int], query: list[int], n: int) -> None:
    seen = {tuple(corpus[i:i + n]) for i in range(len(corpus) - n + 1)}
    windows = [tuple(query[i:i + n]) for i in range(len(query) - n + 1)]
    index = NgramIndex.build(corpus, n)
    assert index.contains(query).tolist() == [w in seen for w in windows]
    expected = sum(w not in seen for w in windows) / len(windows) if windows else None
    assert index.novelty(query) == expected


# -- storage -----------------------------------------------------------------------------------------------------
def test_tensors_round_trip() -> None:
    index = NgramIndex.build(_random_ids(2000), 5)
    tensors = index.to_tensors()
    assert tensors["hashes"].dtype == torch.int32 and tensors["hashes"].shape == (index.count,)
    back = NgramIndex.from_tensors(tensors)
    assert back.n == 5 and np.array_equal(back.hashes, index.hashes)
    assert back.info() == index.info() == {"n": 5, "count": index.count, "bytes": index.size_bytes,
                                           "hash_version": HASH_VERSION}


@pytest.mark.parametrize("damage", ["missing", "version", "unsorted", "dtype"])
def test_malformed_tensors_are_refused(damage: str) -> None:
    tensors = NgramIndex.build(_random_ids(500), 3).to_tensors()
    if damage == "missing":
        del tensors["n"]
    elif damage == "version":
        tensors["hash_version"] = torch.tensor([HASH_VERSION + 1])
    elif damage == "unsorted":
        tensors["hashes"] = tensors["hashes"].flip(0)
    else:
        tensors["hashes"] = tensors["hashes"].long()
    with pytest.raises(StudioError, match="n-gram index"):
        NgramIndex.from_tensors(tensors)


def _bundle(extras: dict | None = None) -> Bundle:
    weights = {"w": torch.arange(6, dtype=torch.float16).reshape(2, 3)}
    return Bundle({"name": "t"}, weights, extras=extras or {})


def test_extras_round_trip_through_a_bundle(tmp_path) -> None:
    index = NgramIndex.build(_random_ids(2000), 5)
    path = write_bundle(tmp_path / "m", _bundle({NGRAMS_EXTRA: index.to_tensors()}))
    card = json.loads((path / CARD_FILE).read_text())
    assert card["extras"][NGRAMS_EXTRA]["file"] == "ngrams.safetensors"
    assert len(card["extras"][NGRAMS_EXTRA]["sha256"]) == 64
    bundle = read_bundle(path)
    assert np.array_equal(NgramIndex.from_tensors(bundle.extras[NGRAMS_EXTRA]).hashes, index.hashes)
    assert read_bundle(path, with_extras=False).extras == {}


def test_bundle_without_extras_reads_as_before(tmp_path) -> None:
    path = write_bundle(tmp_path / "m", _bundle())
    assert "extras" not in json.loads((path / CARD_FILE).read_text())
    assert read_bundle(path).extras == {}


@pytest.mark.parametrize("damage", ["byte", "truncate", "delete"])
def test_damaged_extras_file_is_caught(tmp_path, damage: str) -> None:
    path = write_bundle(tmp_path / "m", _bundle({NGRAMS_EXTRA: NgramIndex.build(_random_ids(500), 4).to_tensors()}))
    file = path / "ngrams.safetensors"
    data = bytearray(file.read_bytes())
    if damage == "byte":
        data[-5] ^= 0xFF
        file.write_bytes(bytes(data))
    elif damage == "truncate":
        file.write_bytes(bytes(data[: len(data) // 2]))
    else:
        file.unlink()
    with pytest.raises(StudioError, match=r"ngrams\.safetensors"):
        read_bundle(path)


def test_card_with_a_bad_extras_entry_is_caught(tmp_path) -> None:
    path = write_bundle(tmp_path / "m", _bundle({NGRAMS_EXTRA: NgramIndex.build([1, 2, 3], 2).to_tensors()}))
    card = json.loads((path / CARD_FILE).read_text())
    card["extras"] = {"../../escape": card["extras"][NGRAMS_EXTRA]}
    (path / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(StudioError, match="corrupt"):
        read_bundle(path)


@pytest.mark.parametrize("name", ["model", "state", "a/b", "", ".hidden", "x" * 65])
def test_bad_extra_names_are_refused_before_writing(tmp_path, name: str) -> None:
    with pytest.raises(StudioError, match="extra name"):
        write_bundle(tmp_path / "m", _bundle({name: {"t": torch.zeros(1)}}))
    assert not list(tmp_path.iterdir())


def test_rewriting_drops_stale_extras_and_can_keep_companions(tmp_path) -> None:
    path = write_bundle(tmp_path / "m", _bundle({NGRAMS_EXTRA: NgramIndex.build([1, 2, 3], 2).to_tensors()}))
    (path / "loss.png").write_bytes(b"png")
    bundle = read_bundle(path)
    bundle.extras = {}
    write_bundle(path, bundle, keep_companions=True)
    assert sorted(p.name for p in path.iterdir()) == ["loss.png", "model.json", "model.safetensors"]
    assert "extras" not in json.loads((path / CARD_FILE).read_text())
    write_bundle(path, bundle)  # by default the folder is replaced whole
    assert not (path / "loss.png").exists()


# -- training and loading ----------------------------------------------------------------------------------------
def test_training_run_stores_and_loading_exposes_the_index(tmp_path, corpus_file) -> None:
    out = tmp_path / "run"
    tconf = TrainConfig(batch_size=4, seq_len=16, max_steps=3, eval_every=3, warmup_steps=0, schedule="constant",
                        device="cpu")
    train_text(corpus_file, out, {"cell": "gru", "num_layers": 1, "hidden_size": 16, "embedding_size": 8},
               TokenizerConfig(kind="char"), tconf, command="test")
    assert (out / "best" / "ngrams.safetensors").is_file()
    assert not (out / "last" / "ngrams.safetensors").exists()
    loaded = load_model(out)
    index = corpus_index(loaded.extras)
    assert index is not None and index.n == 8
    text = corpus_file.read_text(encoding="utf-8")
    train_part = text[: int(len(text) * (1 - tconf.valid_fraction))]
    ids = loaded.tokenizer.encode(train_part)
    assert index.count == NgramIndex.build(ids, 8).count
    assert loaded.card["ngram_index"] == index.info()
    assert index.novelty(ids[100:400]) == 0.0
    rng = random.Random(0)
    assert index.novelty(loaded.tokenizer.encode("".join(rng.choice("abcdefghij ") for _ in range(300)))) > 0.9


def test_the_trainer_itself_writes_no_index(tmp_path, char_tokenizer, corpus_text, tiny_config) -> None:
    # The copy check is the text family's: the model-agnostic Trainer stores only the extras it is handed.
    ids = torch.tensor(char_tokenizer.encode(corpus_text))
    tconf = TrainConfig(batch_size=2, seq_len=8, max_steps=1, eval_every=1, device="cpu")
    mconf = tiny_config(vocab_size=char_tokenizer.vocab_size)
    cut = int(0.8 * len(ids))
    Trainer(mconf, tconf, char_tokenizer, ids[:cut], ids[cut:], tmp_path / "run").fit()
    assert corpus_index(load_model(tmp_path / "run").extras) is None
    assert "ngram_index" not in read_bundle(tmp_path / "run" / "best").card


def _script():
    path = Path(__file__).resolve().parent.parent / "scripts" / "build_ngram_index.py"
    spec = importlib.util.spec_from_file_location("build_ngram_index", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_adds_the_trainers_index_without_touching_the_weights(tmp_path, corpus_file, capsys) -> None:
    out = tmp_path / "run"
    tconf = TrainConfig(batch_size=4, seq_len=16, max_steps=2, eval_every=2, device="cpu")
    train_text(corpus_file, out, {"cell": "lstm", "num_layers": 1, "hidden_size": 16, "embedding_size": 8},
               TokenizerConfig(kind="char"), tconf, save_dtype="float16", command="test")
    best = out / "best"
    trained = read_bundle(best)
    # Strip the index, as in a bundle from before indexes existed, and keep a companion file beside it.
    card = {k: v for k, v in trained.card.items() if k != "ngram_index"}
    write_bundle(best, Bundle(card, trained.weights))
    (best / "loss.png").write_bytes(b"png")
    weights = (best / "model.safetensors").read_bytes()
    assert corpus_index(load_model(best).extras) is None

    script = _script()
    assert script.main(["--model", str(best), "--corpus", str(corpus_file)]) == 0
    assert "n=8" in capsys.readouterr().out
    assert (best / "model.safetensors").read_bytes() == weights
    assert (best / "loss.png").read_bytes() == b"png"
    rebuilt = read_bundle(best)
    assert rebuilt.card["weights"]["dtype"] == "float16"
    assert torch.equal(rebuilt.extras[NGRAMS_EXTRA]["hashes"], trained.extras[NGRAMS_EXTRA]["hashes"])
    assert {k: v for k, v in rebuilt.card["ngram_index"].items() if k != "command"} == trained.card["ngram_index"]

    other = tmp_path / "other.txt"
    other.write_text(corpus_file.read_text(encoding="utf-8") + "more", encoding="utf-8")
    assert script.main(["--model", str(best), "--corpus", str(other)]) == 2
    assert "is not the one" in capsys.readouterr().err


def test_shipped_shakespeare_carries_a_small_index() -> None:
    path = shipped_models()["shakespeare"]
    assert (path / "ngrams.safetensors").stat().st_size < 5 * 1024 * 1024
    loaded = load_model("shakespeare")
    index = corpus_index(loaded.extras)
    assert index is not None and index.n == 8 and index.size_bytes < 5 * 1024 * 1024
    assert loaded.card["ngram_index"]["count"] == index.count > 100_000
    # The opening of tiny-shakespeare is in its training split; random letters are not.
    opening = "First Citizen:\nBefore we proceed any further, hear me speak."
    assert index.novelty(loaded.tokenizer.encode(opening)) == 0.0
    rng = random.Random(0)
    noise = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(500))
    assert index.novelty(loaded.tokenizer.encode(noise)) > 0.95


def test_a_large_corpus_is_indexed_by_a_consistent_sample() -> None:
    ids = np.random.default_rng(0).integers(0, 1000, 60_000)
    full = NgramIndex.build(ids, 3)
    sampled = NgramIndex.build(ids, 3, max_hashes=10_000)
    assert full.count > 50_000 and sampled.count <= 10_000
    assert 0.1 < sampled.info()["sampled_share"] < 0.25
    assert sampled.novelty(ids[:20_000]) == 0.0  # every sampled window of the corpus is found
    other = np.random.default_rng(1).integers(0, 1000, 20_000)
    estimate, exact = sampled.novelty(other), full.novelty(other)
    assert abs(estimate - exact) < 0.05  # the sample estimates the full index's answer
    again = NgramIndex.from_tensors(sampled.to_tensors())
    assert again.keep_below == sampled.keep_below and again.novelty(other) == estimate
