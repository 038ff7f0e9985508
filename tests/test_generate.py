"""The Generator end to end: modes, seeds, streaming, batching, priming, stop strings, provenance, bad settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.cli import main
from studio.config import GenerationConfig, TokenizerConfig, TrainConfig
from studio.errors import StudioError
from studio.models import SingleStepper
from studio.text.generator import GenerationRequest, Generator
from studio.text.training import train_text

VERSE = ("Shall I compare thee to a summer's day?\nThou art more lovely and more temperate:\n"
         "Rough winds do shake the darling buds of May,\nAnd summer's lease hath all too short a date.\n") * 12


@pytest.fixture(scope="module")
def shakespeare() -> Generator:
    return Generator("shakespeare")


@pytest.fixture(scope="module")
def word_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("word")
    corpus = root / "verse.txt"
    corpus.write_text(VERSE + "A rare zyzzyva appears once.\n", encoding="utf-8")
    train_text(corpus, root / "run", {"hidden_size": 32, "embedding_size": 16, "num_layers": 1},
               TokenizerConfig(kind="word", min_count=2), TrainConfig(batch_size=2, seq_len=8, max_steps=30,
                                                                      eval_every=30, warmup_steps=0), command="test")
    return root / "run"


@pytest.fixture(scope="module")
def bpe_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bpe")
    corpus = root / "verse.txt"
    corpus.write_text(VERSE + "Ünïcödé — ok. 東京\n", encoding="utf-8")
    train_text(corpus, root / "run", {"hidden_size": 32, "embedding_size": 16, "num_layers": 1},
               TokenizerConfig(kind="bpe", vocab_size=300), TrainConfig(batch_size=2, seq_len=8, max_steps=20,
                                                                         eval_every=20, warmup_steps=0),
               command="test")
    return root / "run"


def config(**kw) -> GenerationConfig:
    return GenerationConfig(**{"length": 60, "seed": 5, **kw})


MODES = [dict(), dict(greedy=True), dict(beams=4, num_samples=2), dict(beams=4, beam_groups=2, num_samples=4),
         dict(beams=3, sample_beams=True, branch_factor=2, steps_per_iteration=3, num_samples=2),
         dict(top_k=5, top_p=0.9, repetition_penalty=1.3, no_repeat_ngram=4, temperature=0.7)]


@pytest.mark.parametrize("settings", MODES, ids=lambda s: GenerationConfig(**s).mode + str(len(s)))
def test_every_mode_is_repeatable_and_records_its_provenance(shakespeare: Generator, settings: dict) -> None:
    a = shakespeare.generate("JULIET:", config(**settings))
    b = shakespeare.generate(GenerationRequest("JULIET:", config(**settings)))
    assert a.texts == b.texts and a.logprobs == b.logprobs
    assert len(a.texts) == settings.get("num_samples", 1)
    assert all(t.startswith("JULIET:") and len(t) > len("JULIET:") for t in a.texts)
    assert all(lp < 0 for lp in a.logprobs)
    p = a.params
    assert p["seed"] == 5 and p["model"] == "shakespeare" and len(p["model_sha256"]) == 16
    assert p["mode"] == GenerationConfig(**settings).mode
    assert all(key in p for key in ("temperature", "top_k", "top_p", "beams", "repetition_penalty", "length"))


def test_seeds_change_samples(shakespeare: Generator) -> None:
    assert shakespeare.generate("A", config(seed=1)).texts != shakespeare.generate("A", config(seed=2)).texts
    drawn = shakespeare.generate("A", GenerationConfig(length=10))
    again = shakespeare.generate("A", GenerationConfig(length=10, seed=drawn.seed))
    assert drawn.texts == again.texts  # a reported random seed reproduces the result


def test_beam_returns_an_ordered_n_best_list(shakespeare: Generator) -> None:
    result = shakespeare.generate("KING:", config(beams=6, num_samples=6, length=30))
    assert len(set(result.texts)) == 6
    assert result.logprobs == sorted(result.logprobs, reverse=True) or result.params["length_penalty"] != 0
    greedy = shakespeare.generate("KING:", config(greedy=True, length=30))
    best = shakespeare.generate("KING:", config(beams=6, length=30, length_penalty=0.0))
    assert best.logprobs[0] >= greedy.logprobs[0] - 1e-4


def test_diverse_beams_differ(shakespeare: Generator) -> None:
    result = shakespeare.generate("KING:", config(beams=4, beam_groups=4, diversity=3.0, num_samples=4, length=40))
    firsts = {t[len("KING:"):len("KING:") + 12] for t in result.texts}
    assert len(firsts) >= 3


@pytest.mark.parametrize("settings", [dict(), dict(greedy=True), dict(stop=["\n\n"]), dict(stop=["e", "xyz"]),
                                      dict(beams=3)])
def test_streaming_yields_exactly_the_result(shakespeare: Generator, settings: dict) -> None:
    pieces = list(shakespeare.stream("ROMEO:", config(length=150, **settings)))
    whole = shakespeare.generate("ROMEO:", config(length=150, **settings)).texts[0]
    assert "".join(pieces) == whole
    if not settings.get("beams"):
        assert len(pieces) > 10  # it really streams


def test_streaming_bpe_never_splits_a_character(bpe_model: Path) -> None:
    gen = Generator(bpe_model)
    for seed in range(3):
        pieces = list(gen.stream("Ü", config(seed=seed, length=40, temperature=1.5)))
        assert "".join(pieces) == gen.generate("Ü", config(seed=seed, length=40, temperature=1.5)).texts[0]


def test_stream_refuses_several_samples(shakespeare: Generator) -> None:
    with pytest.raises(StudioError, match="num-samples 1"):
        list(shakespeare.stream("A", config(num_samples=2)))


def test_stop_strings_end_the_text(shakespeare: Generator) -> None:
    result = shakespeare.generate("ROMEO:\n", config(length=400, stop=["\n"], num_samples=4))
    for text in result.texts:
        line = text[len("ROMEO:\n"):]
        assert "\n" not in line and len(line) < 400
    beams = shakespeare.generate("ROMEO:\n", config(length=200, stop=["\n"], beams=3, num_samples=3))
    assert all("\n" not in t[len("ROMEO:\n"):] for t in beams.texts)


@pytest.fixture
def calls(shakespeare: Generator, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[int, ...]]]:
    """Record the shape of every model forward and every one-token step (the real ones run unchanged)."""
    seen: list[tuple[str, tuple[int, ...]]] = []
    hook = shakespeare.loaded.model.register_forward_hook(
        lambda m, args, out: seen.append(("forward", tuple(args[0].shape))))
    real_call = SingleStepper.__call__

    def spy(self, tokens, state):
        seen.append(("step", tuple(tokens.shape)))
        return real_call(self, tokens, state)

    monkeypatch.setattr(SingleStepper, "__call__", spy)
    yield seen
    hook.remove()


def test_prompt_is_one_forward_pass_and_samples_one_batch(shakespeare: Generator, calls: list) -> None:
    shakespeare.generate("A long prompt of forty-one characters....", config(length=20, num_samples=7))
    assert calls[0] == ("forward", (1, 41))
    assert calls[1:] == [("step", (7, 1))] * 19  # 20 tokens: the first comes from the prompt's logits


def test_beams_advance_in_one_batch(shakespeare: Generator, calls: list) -> None:
    shakespeare.generate("AB", config(length=10, beams=8))
    assert calls == [("forward", (1, 2))] + [("step", (8, 1))] * 9


def test_word_model_never_writes_unknown_and_keeps_the_prompt(word_model: Path) -> None:
    gen = Generator(word_model)
    assert gen.tokenizer.unk_id == 0
    result = gen.generate("Thou art xylophone", config(length=80, temperature=2.0, num_samples=8))
    for text in result.texts:
        assert text.startswith("Thou art xylophone")
        assert "<unk>" not in text
    assert any("xylophone" in note for note in result.notes)  # the unknown prompt word is reported


def test_novelty_is_reported_with_the_shipped_index(shakespeare: Generator) -> None:
    result = shakespeare.generate("ROMEO:", config(length=300, num_samples=2))
    assert all(n is not None and 0.0 <= n <= 1.0 for n in result.novelty)


@pytest.mark.parametrize(("settings", "message"), [
    (dict(greedy=True, temperature=0.5), "temperature does nothing in greedy"),
    (dict(beams=4, top_k=3), "top-k does nothing in beam"),
    (dict(beams=4, top_p=0.5), "top-p does nothing in beam"),
    (dict(greedy=True, beams=2), "exclude each other"),
    (dict(diversity=0.5), "only applies to beam search"),
    (dict(beams=4, diversity=0.5), "several beam groups"),
    (dict(beams=4, beam_groups=3), "multiple of"),
    (dict(beams=2, num_samples=3), "at most --beam 2"),
    (dict(beams=4, branch_factor=2), "stochastic beam"),
    (dict(beam_groups=2), "beam-groups"),
    (dict(beams=4, beam_groups=2, sample_beams=True), "cannot sample beams"),
    (dict(length_penalty=0.5), "only applies to beam search"),
    (dict(top_p=0.0), "top_p must be in (0, 1]"),
    (dict(top_k=-1), "top_k must be in [0"),
    (dict(beams=0), "beams must be in [1, 256]"),
    (dict(stop=[""]), "non-empty strings"),
    (dict(length=0), "length must be in [1"),
])
def test_invalid_configurations_are_refused(settings: dict, message: str) -> None:
    with pytest.raises(StudioError) as err:
        GenerationConfig(**settings)
    assert message in str(err.value)


def test_cli_write_modes_and_sidecars(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "texts"
    code = main(["write", "--prompt", "KING:", "--length", "30", "--beam", "4", "--beam-groups", "2", "-n", "2",
                 "--seed", "3", "--out", str(out), "--json"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert len(printed["texts"]) == 2 and printed["params"]["mode"] == "diverse_beam"
    sidecars = sorted(out.glob("*.json"))
    assert len(sidecars) == 2
    meta = json.loads(sidecars[0].read_text())
    assert meta["seed"] == 3 and meta["beams"] == 4 and "logprob" in meta and "novelty" in meta
    assert (out / sidecars[0].name.replace(".json", ".txt")).read_text().startswith("KING:")


def test_cli_stream_prints_the_same_text(capsys: pytest.CaptureFixture) -> None:
    assert main(["write", "--prompt", "KING:", "--length", "50", "--seed", "9", "--stream"]) == 0
    streamed = capsys.readouterr().out
    assert main(["write", "--prompt", "KING:", "--length", "50", "--seed", "9"]) == 0
    assert capsys.readouterr().out == streamed


@pytest.mark.parametrize("argv", [["--greedy", "--top-k", "5"], ["--beam", "3", "--temperature", "0.5"],
                                  ["--stream", "-n", "2"], ["--top-p", "2"], ["--stream", "--json"]])
def test_cli_refuses_settings_that_do_nothing(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    assert main(["write", "--length", "5", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("studio: error:")


def test_a_stream_can_be_resumed_from_another_thread(shakespeare: Generator) -> None:
    """Web servers resume a streaming generator in whichever worker thread is free."""
    from concurrent.futures import ThreadPoolExecutor

    stream = shakespeare.stream("ROMEO:", config(length=80))
    pieces = [next(stream)]
    with ThreadPoolExecutor(max_workers=1) as other:
        while (piece := other.submit(next, stream, None).result()) is not None:
            pieces.append(piece)
    assert "".join(pieces) == shakespeare.generate("ROMEO:", config(length=80)).texts[0]
