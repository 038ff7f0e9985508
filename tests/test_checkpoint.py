"""Checkpoint bundles: exact save/load, tied weights, atomic replace, crash recovery, clear errors, no pickle."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from studio.checkpoint import (
    CARD_FILE,
    FORMAT_VERSION,
    STATE_JSON,
    STATE_TENSORS,
    WEIGHTS_FILE,
    Bundle,
    read_bundle,
    read_card,
    sha256_file,
    write_bundle,
)
from studio.errors import StudioError
from studio.loading import (
    build_model,
    load_model,
    local_models,
    model_from_bundle,
    model_weights,
    resolve_model,
    shipped_models,
)
from studio.models import RNNLanguageModel

CELLS = ("rnn", "lstm", "gru")


def _make(tiny_config, tokenizer, seed: int = 0, **overrides) -> RNNLanguageModel:
    torch.manual_seed(seed)
    model = RNNLanguageModel(tiny_config(vocab_size=tokenizer.vocab_size, **overrides))
    # Push weights away from their init so a load that silently kept init values would be caught.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


def _save(path: Path, model: RNNLanguageModel, tokenizer, dtype=torch.float32, **card) -> Path:
    full_card = {"model_config": model.config.to_dict(), "tokenizer": tokenizer.to_dict(), **card}
    return write_bundle(path, Bundle(full_card, model_weights(model, dtype)))


def _logits(model: RNNLanguageModel, tokenizer, text: str = "Tyger Tyger, burning bright") -> torch.Tensor:
    ids = torch.tensor([tokenizer.encode(text)])
    with torch.no_grad():
        return model(ids)[0]


@pytest.fixture
def bundle_path(tmp_path, tiny_config, char_tokenizer) -> Path:
    return _save(tmp_path / "model", _make(tiny_config, char_tokenizer), char_tokenizer)


# -- exact round trips ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("kind", ["char", "word", "bpe"])
def test_save_load_gives_identical_logits(tmp_path, tiny_config, tokenizers, cell, kind):
    tokenizer = tokenizers[kind]
    model = _make(tiny_config, tokenizer, cell=cell)
    path = _save(tmp_path / "m", model, tokenizer, metrics={"valid_nats_per_token": 1.5})
    loaded = load_model(path)
    assert not loaded.model.training
    assert loaded.path == path
    assert loaded.card["metrics"] == {"valid_nats_per_token": 1.5}
    assert loaded.card["weights"]["dtype"] == "float32"
    assert loaded.model.config == model.config
    assert loaded.tokenizer.encode("burning bright") == tokenizer.encode("burning bright")
    assert torch.equal(_logits(loaded.model, loaded.tokenizer), _logits(model, tokenizer))
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value), key


@pytest.mark.parametrize("cell", CELLS)
def test_float16_bundle_is_half_size_and_nearly_identical(tmp_path, tiny_config, char_tokenizer, cell):
    model = _make(tiny_config, char_tokenizer, cell=cell, hidden_size=32, embedding_size=16)
    full = _save(tmp_path / "f32", model, char_tokenizer)
    half = _save(tmp_path / "f16", model, char_tokenizer, dtype=torch.float16)
    bundle = read_bundle(half)
    assert bundle.card["weights"]["dtype"] == "float16"
    assert all(t.dtype == torch.float16 for t in bundle.weights.values())
    assert (half / WEIGHTS_FILE).stat().st_size < 0.6 * (full / WEIGHTS_FILE).stat().st_size
    loaded = load_model(half)
    assert all(p.dtype == torch.float32 for p in loaded.model.parameters())
    expected = _logits(model, char_tokenizer)
    got = _logits(loaded.model, loaded.tokenizer)
    assert not torch.equal(got, expected)  # it really went through float16
    torch.testing.assert_close(got, expected, rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize(("embedding", "hidden"), [(12, 12), (8, 12)])
def test_tied_model_saves_once_and_reloads_tied(tmp_path, tiny_config, char_tokenizer, embedding, hidden):
    model = _make(tiny_config, char_tokenizer, tie_weights=True, embedding_size=embedding, hidden_size=hidden)
    weights = model_weights(model)
    assert "decoder.weight" not in weights and "embedding.weight" in weights
    assert ("projection.weight" in weights) == (embedding != hidden)
    path = _save(tmp_path / "tied", model, char_tokenizer)
    assert "decoder.weight" not in read_bundle(path).weights
    loaded = load_model(path).model
    assert loaded.decoder.weight is loaded.embedding.weight
    assert torch.equal(loaded.embedding.weight, model.embedding.weight)
    assert torch.equal(_logits(loaded, char_tokenizer), _logits(model, char_tokenizer))


def test_model_weights_casts_only_floats(tiny_config, char_tokenizer):
    weights = model_weights(_make(tiny_config, char_tokenizer), torch.bfloat16)
    assert weights and all(t.dtype == torch.bfloat16 for t in weights.values())


def test_card_records_format_and_weights_hash(bundle_path):
    card = read_card(bundle_path)
    assert card["format"] == "studio-checkpoint"
    assert card["format_version"] == FORMAT_VERSION
    assert card["weights"]["file"] == WEIGHTS_FILE
    assert card["weights"]["sha256"] == sha256_file(bundle_path / WEIGHTS_FILE)
    # The card is plain, human-readable JSON.
    assert json.loads((bundle_path / CARD_FILE).read_text(encoding="utf-8")) == card


def test_training_state_round_trips(tmp_path, tiny_config, char_tokenizer):
    model = _make(tiny_config, char_tokenizer)
    card = {"model_config": model.config.to_dict(), "tokenizer": char_tokenizer.to_dict()}
    state = {"step": 12, "schedule": {"best": 1.25}, "rng": [1, 2, 3]}
    tensors = {"optimizer.0.exp_avg": torch.randn(4, 3), "rng.torch": torch.arange(10, dtype=torch.uint8)}
    path = write_bundle(tmp_path / "last", Bundle(card, model_weights(model), state, tensors))
    assert sorted(p.name for p in path.iterdir()) == sorted([CARD_FILE, WEIGHTS_FILE, STATE_JSON, STATE_TENSORS])
    bundle = read_bundle(path, with_state=True)
    assert {k: v for k, v in bundle.state.items() if k != "tensors_sha256"} == state
    assert bundle.state_tensors.keys() == tensors.keys()
    for key, value in tensors.items():
        assert torch.equal(bundle.state_tensors[key], value)
    # Reading without state does not touch it.
    assert read_bundle(path).state is None


def test_resuming_a_bundle_without_state_is_refused(bundle_path):
    with pytest.raises(StudioError, match="holds no training state"):
        read_bundle(bundle_path, with_state=True)


def test_corrupt_training_state_is_caught(tmp_path, tiny_config, char_tokenizer):
    model = _make(tiny_config, char_tokenizer)
    card = {"model_config": model.config.to_dict(), "tokenizer": char_tokenizer.to_dict()}
    path = write_bundle(tmp_path / "last", Bundle(card, model_weights(model), {"step": 1}, {"x": torch.ones(64)}))
    _flip_byte(path / STATE_TENSORS)
    with pytest.raises(StudioError, match=rf"{STATE_TENSORS} is corrupt"):
        read_bundle(path, with_state=True)
    (path / STATE_JSON).write_text("{oops", encoding="utf-8")
    with pytest.raises(StudioError, match=rf"training state .*{STATE_JSON} is corrupt"):
        read_bundle(path, with_state=True)


# -- damaged or missing bundles ---------------------------------------------------------------------------------------
def _flip_byte(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    at = len(data) - 5 if offset is None else offset
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def test_missing_folder(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(StudioError, match=r"checkpoint .*no-such-model does not exist"):
        read_bundle(missing)
    with pytest.raises(StudioError, match="does not exist"):
        read_card(missing)
    with pytest.raises(StudioError, match="no-such-model"):
        load_model(missing)


def test_folder_without_card(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(StudioError, match=f"has no {CARD_FILE}"):
        read_bundle(tmp_path / "empty")
    with pytest.raises(StudioError, match="is not a Studio model folder"):
        load_model(tmp_path / "empty")


def test_truncated_weights(bundle_path):
    weights = bundle_path / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(StudioError, match=rf"{WEIGHTS_FILE} is corrupt or truncated"):
        read_bundle(bundle_path)
    with pytest.raises(StudioError, match=WEIGHTS_FILE):
        load_model(bundle_path)


def test_corrupted_byte_in_weights(bundle_path):
    _flip_byte(bundle_path / WEIGHTS_FILE)
    with pytest.raises(StudioError, match=rf"{WEIGHTS_FILE} is corrupt"):
        read_bundle(bundle_path)


@pytest.mark.parametrize("damage", ["truncate", "header"])
def test_damaged_weights_caught_even_without_hash(bundle_path, damage):
    # An older or hand-made card may lack the hash: safetensors' own checks must still give a StudioError.
    card = json.loads((bundle_path / CARD_FILE).read_text(encoding="utf-8"))
    del card["weights"]["sha256"]
    (bundle_path / CARD_FILE).write_text(json.dumps(card), encoding="utf-8")
    weights = bundle_path / WEIGHTS_FILE
    if damage == "truncate":
        weights.write_bytes(weights.read_bytes()[:100])
    else:
        _flip_byte(weights, offset=9)  # inside the JSON header
    with pytest.raises(StudioError, match=rf"{WEIGHTS_FILE} is corrupt"):
        read_bundle(bundle_path)


def test_missing_weights_file(bundle_path):
    (bundle_path / WEIGHTS_FILE).unlink()
    with pytest.raises(StudioError, match=rf"{WEIGHTS_FILE} is missing"):
        read_bundle(bundle_path)
    read_card(bundle_path)  # the card alone is still readable


def test_read_card_does_not_read_weights(bundle_path):
    _flip_byte(bundle_path / WEIGHTS_FILE)
    assert read_card(bundle_path)["model_config"]["cell"] == "lstm"


@pytest.mark.parametrize("content", ["{garbage", "", "\x00\x01\x02"])
def test_garbage_card(bundle_path, content):
    (bundle_path / CARD_FILE).write_text(content, encoding="utf-8")
    with pytest.raises(StudioError, match=rf"{CARD_FILE} is corrupt"):
        read_bundle(bundle_path)


@pytest.mark.parametrize("card", [[1, 2, 3], {"hello": "world"}, {"format": "something-else", "format_version": 1}])
def test_card_that_is_not_a_studio_checkpoint(bundle_path, card):
    (bundle_path / CARD_FILE).write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(StudioError, match=rf"{CARD_FILE} is not a Studio checkpoint"):
        read_card(bundle_path)


@pytest.mark.parametrize("version", [99, "1", None])
def test_card_from_a_newer_format(bundle_path, version):
    card = json.loads((bundle_path / CARD_FILE).read_text(encoding="utf-8"))
    card["format_version"] = version
    (bundle_path / CARD_FILE).write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(StudioError, match=rf"format version {version}.*upgrade Studio"):
        read_bundle(bundle_path)


def test_card_missing_a_section(bundle_path):
    card = json.loads((bundle_path / CARD_FILE).read_text(encoding="utf-8"))
    del card["tokenizer"]
    (bundle_path / CARD_FILE).write_text(json.dumps(card), encoding="utf-8")
    bundle = read_bundle(bundle_path)
    with pytest.raises(StudioError, match="incomplete: its card has no 'tokenizer'"):
        model_from_bundle(bundle)


def test_card_with_an_unknown_config_field(bundle_path):
    card = json.loads((bundle_path / CARD_FILE).read_text(encoding="utf-8"))
    card["model_config"]["attention_heads"] = 4
    (bundle_path / CARD_FILE).write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(StudioError, match="attention_heads"):
        load_model(bundle_path)


def test_tokenizer_and_model_disagree(tmp_path, tiny_config, char_tokenizer, word_tokenizer):
    model = _make(tiny_config, char_tokenizer)
    path = _save(tmp_path / "m", model, word_tokenizer)  # a vocabulary of another size
    with pytest.raises(StudioError, match="inconsistent: tokenizer has"):
        load_model(path)


def test_weights_that_do_not_fit_the_config(tmp_path, tiny_config, char_tokenizer):
    model = _make(tiny_config, char_tokenizer)
    card = {"model_config": {**model.config.to_dict(), "hidden_size": 16}, "tokenizer": char_tokenizer.to_dict()}
    path = write_bundle(tmp_path / "m", Bundle(card, model_weights(model)))
    with pytest.raises(StudioError, match="do not fit its model config"):
        load_model(path)
    weights = model_weights(model)
    del weights["rnn.weight_hh_l0"]
    with pytest.raises(StudioError, match=r"missing \['rnn.weight_hh_l0'\]"):
        build_model(model.config, weights)
    with pytest.raises(StudioError, match=r"unexpected \['extra'\]"):
        build_model(model.config, {**model_weights(model), "extra": torch.zeros(1)})


# -- atomic replace and crash recovery --------------------------------------------------------------------------------
def _hidden_leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_writing_over_a_bundle_replaces_it_whole(tmp_path, tiny_config, char_tokenizer):
    first = _make(tiny_config, char_tokenizer, seed=1)
    second = _make(tiny_config, char_tokenizer, seed=2, cell="gru")
    path = _save(tmp_path / "best", first, char_tokenizer, metrics={"step": 1})
    (path / "stray.txt").write_text("left by hand")
    _save(tmp_path / "best", second, char_tokenizer, metrics={"step": 2})
    assert sorted(p.name for p in path.iterdir()) == sorted([CARD_FILE, WEIGHTS_FILE])
    assert _hidden_leftovers(tmp_path) == []
    loaded = load_model(path)
    assert loaded.card["metrics"] == {"step": 2}
    assert loaded.model.config.cell == "gru"
    assert torch.equal(_logits(loaded.model, char_tokenizer), _logits(second, char_tokenizer))


def test_failed_write_keeps_the_previous_bundle(tmp_path, tiny_config, char_tokenizer):
    model = _make(tiny_config, char_tokenizer)
    path = _save(tmp_path / "best", model, char_tokenizer, metrics={"step": 1})
    # A card that cannot be serialised fails the write after the weights are on disk.
    bad_card = {"model_config": model.config.to_dict(), "tokenizer": char_tokenizer.to_dict(), "oops": object()}
    with pytest.raises(TypeError):
        write_bundle(path, Bundle(bad_card, model_weights(model)))
    assert _hidden_leftovers(tmp_path) == []
    assert load_model(path).card["metrics"] == {"step": 1}


def test_crash_mid_swap_is_recovered(tmp_path, tiny_config, char_tokenizer):
    model = _make(tiny_config, char_tokenizer)
    path = _save(tmp_path / "best", model, char_tokenizer)
    # kill -9 between "rename old away" and "rename new into place": only the old copy is left, under a hidden name.
    old = tmp_path / ".best.old-1234-5678"
    os.replace(path, old)
    assert not path.exists()
    bundle = read_bundle(path)
    assert bundle.path == old
    assert read_card(path)["weights"]["sha256"] == bundle.card["weights"]["sha256"]
    assert resolve_model(path) == path
    loaded = load_model(path)
    assert torch.equal(_logits(loaded.model, char_tokenizer), _logits(model, char_tokenizer))
    # The run folder form ("run/best") finds it too.
    assert load_model(tmp_path).path == old


def test_recovery_prefers_the_newest_complete_leftover(tmp_path, tiny_config, char_tokenizer):
    older = _save(tmp_path / ".best.old-1-1", _make(tiny_config, char_tokenizer, seed=1), char_tokenizer)
    newer = _save(tmp_path / ".best.old-2-2", _make(tiny_config, char_tokenizer, seed=2), char_tokenizer)
    os.utime(older, (1_000_000, 1_000_000))
    os.utime(newer, (2_000_000, 2_000_000))
    incomplete = tmp_path / ".best.old-3-3"
    incomplete.mkdir()
    (incomplete / WEIGHTS_FILE).write_bytes(b"partial")
    assert read_bundle(tmp_path / "best").path == newer


def test_interrupted_write_leaves_the_old_bundle_readable(tmp_path, tiny_config, char_tokenizer):
    model = _make(tiny_config, char_tokenizer)
    path = _save(tmp_path / "best", model, char_tokenizer)
    # A crash while the temporary folder was being filled: the destination was never touched.
    tmp = tmp_path / ".best.tmp-99-99"
    tmp.mkdir()
    (tmp / WEIGHTS_FILE).write_bytes(b"half written")
    assert read_bundle(path).path == path
    # With no complete copy anywhere, the error says so instead of reading the half-written folder.
    shutil.rmtree(path)
    with pytest.raises(StudioError, match="does not exist"):
        read_bundle(path)


def test_write_creates_parent_folders(tmp_path, tiny_config, char_tokenizer):
    path = _save(tmp_path / "runs" / "exp1" / "best", _make(tiny_config, char_tokenizer), char_tokenizer)
    assert (path / CARD_FILE).exists()
    assert local_models(tmp_path / "runs") == {"exp1": path}


# -- finding models ---------------------------------------------------------------------------------------------------
def test_unknown_model_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STUDIO_CHECKPOINTS", str(tmp_path / "shipped"))
    with pytest.raises(StudioError, match=r"unknown model 'no-such-model'.*none installed.*path of a model folder"):
        resolve_model("no-such-model")
    with pytest.raises(StudioError, match="unknown model 'no-such-model'"):
        load_model("no-such-model")


def test_shipped_model_by_name(tmp_path, monkeypatch, tiny_config, char_tokenizer):
    shipped = tmp_path / "shipped"
    model = _make(tiny_config, char_tokenizer)
    _save(shipped / "tiny-verse", model, char_tokenizer)
    (shipped / "not-a-model").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STUDIO_CHECKPOINTS", str(shipped))
    assert shipped_models() == {"tiny-verse": shipped / "tiny-verse"}
    assert resolve_model("tiny-verse") == shipped / "tiny-verse"
    loaded = load_model("tiny-verse")
    assert torch.equal(_logits(loaded.model, char_tokenizer), _logits(model, char_tokenizer))
    with pytest.raises(StudioError, match=r"unknown model 'tiny-vers'.*tiny-verse"):
        resolve_model("tiny-vers")


def test_run_folder_resolves_to_best(tmp_path, tiny_config, char_tokenizer):
    path = _save(tmp_path / "run" / "best", _make(tiny_config, char_tokenizer), char_tokenizer)
    assert resolve_model(tmp_path / "run") == path
    assert resolve_model(path) == path


# -- nothing is pickled ------------------------------------------------------------------------------------------------
def test_nothing_is_pickled(tmp_path, monkeypatch, tiny_config, char_tokenizer):
    model = _make(tiny_config, char_tokenizer)
    card = {"model_config": model.config.to_dict(), "tokenizer": char_tokenizer.to_dict()}
    path = write_bundle(tmp_path / "last", Bundle(card, model_weights(model), {"step": 3}, {"m": torch.ones(2)}))
    files = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert files == sorted([CARD_FILE, WEIGHTS_FILE, STATE_JSON, STATE_TENSORS])
    assert not [f for f in files if f.endswith((".pt", ".pth", ".pkl", ".pickle", ".bin"))]
    for name in (WEIGHTS_FILE, STATE_TENSORS):
        raw = (path / name).read_bytes()
        header_len = int.from_bytes(raw[:8], "little")
        assert json.loads(raw[8:8 + header_len])  # safetensors: a length, a JSON header, raw tensor bytes
        assert b"\x80\x04" not in raw[:2] and not raw.startswith(b"PK")  # neither a pickle nor torch's zip
    json.loads((path / STATE_JSON).read_text())

    def refuse(*args, **kwargs):
        raise AssertionError("a checkpoint must never be unpickled")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    read_bundle(path, with_state=True)
    assert torch.equal(_logits(load_model(path).model, char_tokenizer), _logits(model, char_tokenizer))
