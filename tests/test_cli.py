"""The ``studio`` command end to end on tiny data: train text, write, eval, models, and every kind of bad input.

Most calls go through ``studio.cli.main`` in this process (fast); a few run ``python -m studio`` as a real subprocess
to check exit statuses and that no traceback ever reaches the terminal.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from studio.checkpoint import read_bundle, read_card
from studio.cli import main

REPO = Path(__file__).resolve().parent.parent
WORDS = ["the", "a", "cat", "dog", "sat", "on", "mat", "ran", "fast", "slow", "blue", "red", "sky", "sea", "wind",
         "song", "night", "day", "light", "dark", "river", "stone", "green", "old", "young", "sang", "under", "over",
         "quiet", "loud"]
TINY = ["--hidden", "32", "--layers", "1", "--embedding", "16", "--batch-size", "4", "--seq-len", "16",
        "--max-steps", "5", "--eval-every", "5", "--warmup", "0", "--device", "cpu"]


def prose(n_words: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    lines, line = [], []
    for _ in range(n_words):
        line.append(rng.choice(WORDS))
        if len(line) >= rng.randint(6, 12):
            lines.append(" ".join(line) + ".")
            line = []
    lines.append(" ".join(line) + ".")
    return "\n".join(lines)


def run_cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    """Run ``studio ARGV`` in this process: exit status, stdout, stderr."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's own errors exit through SystemExit
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    assert lines[0].startswith("studio"), lines[0]
    assert "error" in lines[0]
    return lines[0]


def listing(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes, to show a command changed nothing."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(autouse=True)
def no_shipped_models(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point shipped models at an empty folder, so listings and name look-ups depend on this test only."""
    monkeypatch.setenv("STUDIO_CHECKPOINTS", str(tmp_path_factory.mktemp("no-shipped")))


@pytest.fixture
def keep_signal_handlers():
    """Put back the SIGINT/SIGTERM handlers afterwards: a Trainer that fails in its "start" callback (see
    test_out_is_an_existing_file) leaves its own handlers installed in this process."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One tiny char model trained through the CLI, shared by the write/eval/models tests: (corpus, run folder)."""
    root = tmp_path_factory.mktemp("trained")
    corpus = root / "prose.txt"
    corpus.write_text(prose(600), encoding="utf-8")
    out = root / "runs" / "prose"
    code = main(["train", "text", "--corpus", str(corpus), "--out", str(out), *TINY])
    assert code == 0
    return corpus, out


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "prose.txt"
    path.write_text(prose(600), encoding="utf-8")
    return path


# -- train text ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tokenizer", ["char", "word", "bpe"])
def test_train_text_each_tokenizer(tokenizer: str, tmp_path: Path, corpus: Path,
                                   capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    extra = ["--vocab-size", "300"] if tokenizer == "bpe" else []
    code, stdout, err = run_cli(["train", "text", "--corpus", corpus, "--out", out, "--tokenizer", tokenizer,
                                 *extra, *TINY], capsys)
    assert code == 0, err
    assert "Traceback" not in err
    assert "done (max_steps) after 5 steps" in stdout
    assert str(out / "best") in stdout
    assert "training" in err and "validation" in err  # the start line and the evaluation line
    card = read_card(out / "best")
    assert card["tokenizer"]["kind"] == tokenizer
    assert card["tokenizer_config"]["kind"] == tokenizer
    assert card["training"]["steps"] == 5
    assert card["command"].startswith("studio")
    if tokenizer == "bpe":
        assert card["model_config"]["vocab_size"] <= 300
    for name in ("best", "last", "metrics.jsonl", "loss.png"):
        assert (out / name).exists(), name
    # The trained model writes through the same CLI.
    code, stdout, err = run_cli(["write", "--model", out, "--prompt", "the dog", "--length", "8", "--seed", "1"],
                                capsys)
    assert code == 0, err
    assert stdout.startswith("the dog")


def test_train_text_default_out_folder(tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["train", "text", "--corpus", corpus, *TINY], capsys)
    assert code == 0, err
    assert (tmp_path / "runs" / "prose" / "best" / "model.json").exists()


def test_train_text_latin1_corpus_falls_back_with_a_note(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "cafe.txt"
    corpus.write_bytes(("caf\xe9 au lait. " * 40 + prose(300)).encode("latin-1"))
    with pytest.raises(UnicodeDecodeError):
        corpus.read_bytes().decode("utf-8")
    out = tmp_path / "run"
    code, _, err = run_cli(["train", "text", "--corpus", corpus, "--out", out, *TINY], capsys)
    assert code == 0, err
    notes = [line for line in err.splitlines() if line.startswith("note:")]
    assert any("not valid UTF-8" in n and "cafe.txt" in n and "decoded as" in n for n in notes), err
    assert "é" in read_card(out / "best")["tokenizer"]["chars"]  # decoded as é, not as a replacement character


def test_train_text_resume_through_cli(tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    assert run_cli(["train", "text", "--corpus", corpus, "--out", out, *TINY], capsys)[0] == 0
    code, stdout, err = run_cli(["train", "text", "--corpus", corpus, "--out", out, "--resume",
                                 "--max-steps", "8"], capsys)
    assert code == 0, err
    assert "(resumed)" in err
    assert "done (max_steps) after 8 steps" in stdout
    assert read_bundle(out / "last", with_state=True).state["step"] == 8


def test_train_text_folder_corpus_skips_a_binary_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "books"
    folder.mkdir()
    (folder / "a.txt").write_text(prose(600), encoding="utf-8")
    (folder / "b.txt").write_bytes(random.Random(3).randbytes(2000) + b"\x00")
    (folder / "notes.csv").write_text("not,a,text,suffix\n", encoding="utf-8")
    out = tmp_path / "run"
    code, _, err = run_cli(["train", "text", "--corpus", folder, "--out", out, *TINY], capsys)
    assert code == 0, err
    assert any(line.startswith("note: skipped") and "b.txt" in line and "binary" in line for line in err.splitlines())
    corpus = read_card(out / "best")["corpus"]
    assert corpus["files"] == 1 and corpus["name"] == "books"


# -- write ------------------------------------------------------------------------------------------------------
def test_write_prompt_and_length(trained: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    _, run = trained
    code, stdout, err = run_cli(["write", "--model", run, "--prompt", "the cat", "--length", "30",
                                 "--temperature", "0.7", "--seed", "5"], capsys)
    assert code == 0, err
    text = stdout.rstrip("\n")
    assert text.startswith("the cat")
    assert len(text) == len("the cat") + 30  # char model: one character per generated token
    assert "seed 5" in err


def test_write_seed_repeats_and_differs(trained: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    _, run = trained
    args = ["write", "--model", run, "--length", "60", "--temperature", "1.0", "--json"]
    first = json.loads(run_cli([*args, "--seed", "11"], capsys)[1])
    again = json.loads(run_cli([*args, "--seed", "11"], capsys)[1])
    other = json.loads(run_cli([*args, "--seed", "12"], capsys)[1])
    assert first["texts"] == again["texts"]
    assert first["texts"] != other["texts"]
    assert first["seed"] == 11 and other["seed"] == 12


def test_write_without_seed_reports_the_seed_it_drew(trained: tuple[Path, Path],
                                                     capsys: pytest.CaptureFixture) -> None:
    _, run = trained
    drawn = json.loads(run_cli(["write", "--model", run, "--length", "40", "--json"], capsys)[1])
    again = json.loads(run_cli(["write", "--model", run, "--length", "40", "--json", "--seed", str(drawn["seed"])],
                               capsys)[1])
    assert drawn["texts"] == again["texts"]


def test_write_several_samples(trained: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    _, run = trained
    code, stdout, err = run_cli(["write", "--model", run, "--prompt", "a", "--length", "20", "-n", "3",
                                 "--seed", "2", "--temperature", "1.5"], capsys)
    assert code == 0, err
    headers = [line for line in stdout.splitlines() if line.startswith("--- sample")]
    assert [h.split(" (")[0] for h in headers] == ["--- sample 1 of 3", "--- sample 2 of 3", "--- sample 3 of 3"]
    code, stdout, err = run_cli(["write", "--model", run, "--prompt", "a", "--length", "20", "-n", "3",
                                 "--seed", "2", "--temperature", "1.5", "--json"], capsys)
    assert code == 0, err
    result = json.loads(stdout)
    assert len(result["texts"]) == 3
    assert all(t.startswith("a") and len(t) == 21 for t in result["texts"])
    assert len(set(result["texts"])) == 3  # a batch of samples, not three copies of one
    params = result["params"]
    assert params["num_samples"] == 3 and params["temperature"] == 1.5 and params["length"] == 20
    assert params["prompt"] == "a" and params["seed"] == 2
    assert params["model_sha256"]


def test_write_out_folder_holds_texts_and_sidecars(trained: tuple[Path, Path], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    _, run = trained
    folder = tmp_path / "samples"
    code, stdout, err = run_cli(["write", "--model", run, "--prompt", "the", "--length", "15", "-n", "2",
                                 "--seed", "9", "--out", folder, "--json"], capsys)
    assert code == 0, err
    texts = json.loads(stdout)["texts"]
    assert sorted(p.name for p in folder.iterdir()) == [
        "sample-9-001.json", "sample-9-001.txt", "sample-9-002.json", "sample-9-002.txt"]
    for i, text in enumerate(texts, start=1):
        assert (folder / f"sample-9-{i:03d}.txt").read_text(encoding="utf-8") == text
        sidecar = json.loads((folder / f"sample-9-{i:03d}.json").read_text(encoding="utf-8"))
        assert sidecar["sample"] == i and sidecar["seed"] == 9 and sidecar["prompt"] == "the"
        assert sidecar["length"] == 15 and sidecar["model"] == str(run)
    assert "wrote 2 sample(s)" in err


def test_write_reports_unknown_prompt_characters(trained: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    _, run = trained
    code, stdout, err = run_cli(["write", "--model", run, "--prompt", "QQ the", "--length", "5", "--seed", "1"],
                                capsys)
    assert code == 0, err
    assert any(line.startswith("note: prompt:") and "'Q'x2" in line for line in err.splitlines()), err
    assert len(stdout.rstrip("\n")) == len("QQ the") + 5


def test_write_text_begins_with_the_prompt_even_with_unknown_characters(trained: tuple[Path, Path],
                                                                        capsys: pytest.CaptureFixture) -> None:
    _, run = trained
    code, stdout, _ = run_cli(["write", "--model", run, "--prompt", "QQ the", "--length", "5", "--seed", "1"], capsys)
    assert code == 0
    assert stdout.startswith("QQ the")


# -- eval ------------------------------------------------------------------------------------------------------
def test_eval_splits_and_json(trained: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    corpus, run = trained
    text = corpus.read_text(encoding="utf-8")
    code, stdout, err = run_cli(["eval", "--model", run, "--corpus", corpus, "--json", "--device", "cpu"], capsys)
    assert code == 0, err
    whole = json.loads(stdout)
    code, stdout, err = run_cli(["eval", "--model", run, "--corpus", corpus, "--split", "valid", "--json",
                                 "--device", "cpu"], capsys)
    assert code == 0, err
    valid = json.loads(stdout)
    assert whole["split"] == "all" and valid["split"] == "valid"
    # Every target but at most (rows - 1) of them is scored; char tokens are characters.
    assert len(text) - 64 <= whole["tokens"] <= len(text) - 1
    n_valid = len(text) - int(len(text) * 0.9)
    assert n_valid - 64 <= valid["tokens"] <= n_valid - 1
    for m in (whole, valid):
        assert m["perplexity"] == pytest.approx(2.718281828 ** m["nats_per_token"], rel=1e-6)
        assert m["bits_per_char"] == pytest.approx(m["bits_per_token"])  # one character per token
        assert m["corpus_sha256"] == read_card(run / "best")["corpus"]["sha256"]
        assert m["model"] == str(run / "best")
    # The card's validation loss was measured on the same tail (with other window shapes, so not bit-equal).
    card_loss = read_card(run / "best")["metrics"]["valid_nats_per_token"]
    assert valid["nats_per_token"] == pytest.approx(card_loss, rel=0.05)


def test_eval_as_one_stream_scores_every_token(trained: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    corpus, run = trained
    text = corpus.read_text(encoding="utf-8")
    scores = {}
    for streams in (64, 1):
        code, stdout, err = run_cli(["eval", "--model", run, "--corpus", corpus, "--json", "--device", "cpu",
                                     "--streams", str(streams)], capsys)
        assert code == 0, err
        scores[streams] = json.loads(stdout)
        assert scores[streams]["streams"] == streams
    assert scores[1]["tokens"] == len(text) - 1  # one stream: every character after the first, none left over
    # One stream gives every window the state of all the text before it; it cannot be far from 64 streams.
    assert scores[1]["nats_per_token"] == pytest.approx(scores[64]["nats_per_token"], rel=0.1)
    code, _, err = run_cli(["eval", "--model", run, "--corpus", corpus, "--streams", "0"], capsys)
    assert code == 2 and "streams" in err and "4096" in err


def test_eval_plain_text_output(trained: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    corpus, run = trained
    code, stdout, err = run_cli(["eval", "--model", run, "--corpus", corpus, "--split", "valid",
                                 "--device", "cpu"], capsys)
    assert code == 0, err
    assert "nats/token" in stdout and "bits/char" in stdout and "perplexity" in stdout


def test_eval_reports_unknown_characters(trained: tuple[Path, Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture) -> None:
    _, run = trained
    other = tmp_path / "other.txt"
    other.write_text("the cat sat on the mat. QQQ zzz!\n" * 5, encoding="utf-8")
    code, stdout, err = run_cli(["eval", "--model", run, "--corpus", other, "--json", "--device", "cpu"], capsys)
    assert code == 0, err
    assert "unknown symbol" in err
    assert json.loads(stdout)["tokens"] > 0


# -- models ------------------------------------------------------------------------------------------------------
def test_models_lists_local_runs(trained: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    _, run = trained
    code, stdout, err = run_cli(["models", "--dir", run.parent], capsys)
    assert code == 0, err
    assert "prose" in stdout and "local" in stdout
    assert "lstm 1x32" in stdout and "char tokens" in stdout and "trained on prose.txt" in stdout
    assert str(run / "best") in stdout


def test_models_with_nothing_to_list(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, stdout, _ = run_cli(["models", "--dir", tmp_path / "none"], capsys)
    assert code == 0
    assert "no models found" in stdout


def test_models_card_prints_json(trained: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    _, run = trained
    code, stdout, err = run_cli(["models", "--card", run], capsys)
    assert code == 0, err
    card = json.loads(stdout)
    full = read_card(run / "best")
    assert card["model_config"] == full["model_config"]
    assert card["tokenizer"] == {"kind": "char", "vocab_size": full["model_config"]["vocab_size"]}
    assert card["corpus"]["sha256"] == full["corpus"]["sha256"]
    assert card["metrics"]["valid_nats_per_token"] > 0


# -- bad input: one line, status 2, nothing written ----------------------------------------------------------------
def _train_args(corpus: Path | str, out: Path, *extra: str) -> list:
    return ["train", "text", "--corpus", corpus, "--out", out, *TINY, *extra]


def test_empty_corpus(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "empty.txt"
    corpus.write_text("", encoding="utf-8")
    line = assert_one_line_error(*run_cli(_train_args(corpus, tmp_path / "run"), capsys)[::2])
    assert "empty" in line
    assert not (tmp_path / "run").exists()


def test_whitespace_only_corpus(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "blank.txt"
    corpus.write_text(" \n\n\t \n", encoding="utf-8")
    assert_one_line_error(*run_cli(_train_args(corpus, tmp_path / "run"), capsys)[::2])
    assert not (tmp_path / "run").exists()


def test_binary_corpus(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "noise.txt"
    corpus.write_bytes(random.Random(1).randbytes(4000) + b"\x00\x00\x00")
    line = assert_one_line_error(*run_cli(_train_args(corpus, tmp_path / "run"), capsys)[::2])
    assert "binary" in line
    assert not (tmp_path / "run").exists()


def test_missing_corpus(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    line = assert_one_line_error(*run_cli(_train_args(tmp_path / "nope.txt", tmp_path / "run"), capsys)[::2])
    assert "does not exist" in line
    assert not (tmp_path / "run").exists()


def test_folder_corpus_without_text(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "pics"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    line = assert_one_line_error(*run_cli(_train_args(folder, tmp_path / "run"), capsys)[::2])
    assert "no text files" in line
    assert not (tmp_path / "run").exists()


def test_corpus_too_small_for_the_batch(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "short.txt"
    corpus.write_text("the cat sat on the mat. " * 4, encoding="utf-8")
    line = assert_one_line_error(*run_cli(_train_args(corpus, tmp_path / "run", "--batch-size", "32"), capsys)[::2])
    assert "--batch-size" in line
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("extra", "words"), [
    (["--batch-size", "0"], "batch_size"),
    (["--tokenizer", "sentencepiece"], "tokenizer"),
    (["--cell", "transformer"], "cell"),
    (["--lr", "0"], "lr"),
    (["--max-steps", "0"], "max_steps"),
    (["--batch-size", "many"], "--batch-size"),  # argparse's own type check
])
def test_bad_training_options(extra: list[str], words: str, tmp_path: Path, corpus: Path,
                              capsys: pytest.CaptureFixture) -> None:
    line = assert_one_line_error(*run_cli(_train_args(corpus, tmp_path / "run", *extra), capsys)[::2])
    assert words in line
    assert not (tmp_path / "run").exists()


def test_existing_run_without_resume(tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    assert run_cli(_train_args(corpus, out), capsys)[0] == 0
    before = listing(out)
    line = assert_one_line_error(*run_cli(_train_args(corpus, out), capsys)[::2])
    assert "--resume" in line
    assert listing(out) == before  # the earlier run is untouched


def test_resume_without_a_run(tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture) -> None:
    line = assert_one_line_error(*run_cli(["train", "text", "--corpus", corpus, "--out", tmp_path / "run",
                                           "--resume"], capsys)[::2])
    assert "nothing to resume in" in line and "without --resume" in line
    assert not (tmp_path / "run").exists()


def test_missing_model(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for argv in (["write", "--model", "no-such-model"], ["eval", "--model", "no-such-model", "--corpus", "x.txt"],
                 ["models", "--card", "no-such-model"]):
        line = assert_one_line_error(*run_cli(argv, capsys)[::2])
        assert "no-such-model" in line


def test_folder_that_is_not_a_model(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    line = assert_one_line_error(*run_cli(["write", "--model", tmp_path], capsys)[::2])
    assert "not a Studio model folder" in line


def test_corrupt_checkpoint(trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    corpus, run = trained
    broken = tmp_path / "broken"
    shutil.copytree(run, broken)
    (broken / "best" / "model.safetensors").write_bytes(random.Random(2).randbytes(3000))
    for argv in (["write", "--model", broken, "--length", "5", "--out", tmp_path / "samples"],
                 ["eval", "--model", broken, "--corpus", corpus, "--device", "cpu"]):
        line = assert_one_line_error(*run_cli(argv, capsys)[::2])
        assert "corrupt" in line
    assert not (tmp_path / "samples").exists()


def test_corrupt_card(trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _, run = trained
    broken = tmp_path / "broken"
    shutil.copytree(run, broken)
    (broken / "best" / "model.json").write_text("{not json", encoding="utf-8")
    line = assert_one_line_error(*run_cli(["write", "--model", broken, "--length", "5"], capsys)[::2])
    assert "corrupt" in line


@pytest.mark.parametrize(("option", "value", "words"), [
    ("--temperature", "0", "temperature"),
    ("--temperature", "-1", "temperature"),
    ("--temperature", "nan", "temperature"),
    ("--length", "0", "length"),
    ("--length", "10000000", "length"),
    ("-n", "0", "num_samples"),
    ("--seed", "-3", "seed"),
])
def test_bad_write_options(option: str, value: str, words: str, trained: tuple[Path, Path], tmp_path: Path,
                           capsys: pytest.CaptureFixture) -> None:
    _, run = trained
    out = tmp_path / "samples"
    line = assert_one_line_error(*run_cli(["write", "--model", run, option, value, "--out", out], capsys)[::2])
    assert words in line
    assert not out.exists()


def test_bad_eval_options(trained: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    corpus, run = trained
    line = assert_one_line_error(*run_cli(["eval", "--model", run, "--corpus", corpus, "--valid-fraction", "0.9"],
                                          capsys)[::2])
    assert "valid_fraction" in line
    line = assert_one_line_error(*run_cli(["eval", "--model", run, "--corpus", corpus, "--split", "test"],
                                          capsys)[::2])
    assert "--split" in line


def test_models_listing_survives_a_corrupt_run(trained: tuple[Path, Path], tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    _, run = trained
    runs = tmp_path / "runs"
    shutil.copytree(run, runs / "good")
    shutil.copytree(run, runs / "bad")
    (runs / "bad" / "best" / "model.json").write_text("{", encoding="utf-8")
    code, stdout, err = run_cli(["models", "--dir", runs], capsys)
    assert code == 0, err
    bad = next(line for line in stdout.splitlines() if line.startswith("bad "))
    good = next(line for line in stdout.splitlines() if line.startswith("good "))
    assert "unreadable" in bad and "corrupt" in bad
    assert "lstm 1x32" in good


def test_models_summarises_odd_but_readable_cards(trained: tuple[Path, Path], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    """A card whose corpus is a plain name (benchmark runs write them) and a piano-roll card list without error."""
    _, run = trained
    runs = tmp_path / "runs"
    shutil.copytree(run, runs / "named")
    card_path = runs / "named" / "best" / "model.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card_path.write_text(json.dumps({**card, "corpus": "PTB"}), encoding="utf-8")
    shutil.copytree(REPO / "checkpoints" / "jsb", runs / "harmoniser" / "best")
    code, stdout, err = run_cli(["models", "--dir", runs], capsys)
    assert code == 0, err
    assert "trained on PTB" in next(line for line in stdout.splitlines() if line.startswith("named "))
    line = next(line for line in stdout.splitlines() if line.startswith("harmoniser "))
    assert "88-key piano roll" in line and "test 5.149 nats/frame" in line


@pytest.mark.parametrize("command", ["write", "eval"])
def test_unknown_device_name(command: str, trained: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    corpus, run = trained
    extra = ["--corpus", corpus] if command == "eval" else ["--length", "5"]
    line = assert_one_line_error(*run_cli([command, "--model", run, *extra, "--device", "gpu0"], capsys)[::2])
    assert "device" in line


def test_write_device_cuda_without_a_gpu(trained: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    _, run = trained
    line = assert_one_line_error(*run_cli(["write", "--model", run, "--length", "5", "--device", "cuda"],
                                          capsys)[::2])
    assert "cuda" in line


@pytest.mark.parametrize("command", ["train", "write"])
def test_out_is_an_existing_file(command: str, trained: tuple[Path, Path], tmp_path: Path,
                                 capsys: pytest.CaptureFixture, keep_signal_handlers: None) -> None:
    corpus, run = trained
    target = tmp_path / "taken"
    target.write_text("keep me\n", encoding="utf-8")
    argv = _train_args(corpus, target) if command == "train" else ["write", "--model", run, "--length", "5",
                                                                    "--out", target]
    assert_one_line_error(*run_cli(argv, capsys)[::2])
    assert target.read_text(encoding="utf-8") == "keep me\n"


def test_train_without_domain(capsys: pytest.CaptureFixture) -> None:
    assert_one_line_error(*run_cli(["train"], capsys)[::2])


# -- the real command in a subprocess -------------------------------------------------------------------------------
def _studio(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "STUDIO_CHECKPOINTS": str(cwd)}
    return subprocess.run([sys.executable, "-m", "studio", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_subprocess_write_and_errors(trained: tuple[Path, Path], tmp_path: Path) -> None:
    _, run = trained
    done = _studio("write", "--model", run, "--prompt", "the", "--length", "12", "--seed", "4", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("the") and len(done.stdout.rstrip("\n")) == 15
    assert done.stderr.strip().startswith("(sample, seed 4")

    missing = _studio("train", "text", "--corpus", tmp_path / "nope.txt", "--out", tmp_path / "run", cwd=tmp_path)
    assert_one_line_error(missing.returncode, missing.stderr)
    assert missing.stdout == ""
    assert not (tmp_path / "run").exists()

    broken = tmp_path / "broken"
    shutil.copytree(run, broken)
    (broken / "best" / "model.safetensors").write_bytes(b"\x00garbage" * 100)
    corrupt = _studio("write", "--model", broken, cwd=tmp_path)
    assert_one_line_error(corrupt.returncode, corrupt.stderr)
    assert corrupt.stdout == ""


@pytest.mark.parametrize(("command", "model", "hint"), [("write", "blues", "--chart 12-bar"),
                                                         ("eval", "chorale", "reads MIDI, MusicXML, ABC or kern"),
                                                         ("write", "jsb", "--melody")])
def test_text_commands_point_music_models_to_compose(command: str, model: str, hint: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("some text to score\n" * 5, encoding="utf-8")
    extra = ["--corpus", str(corpus)] if command == "eval" else ["--length", "5"]
    code = main([command, "--model", str(REPO / "checkpoints" / model), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "is a music model" in err[0] and hint in err[0]


# -- weight drop --------------------------------------------------------------------------------------------------
def test_train_text_and_finetune_with_weight_drop(tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture) -> None:
    base = tmp_path / "base"
    code, _, err = run_cli(["train", "text", "--corpus", corpus, "--out", base, "--tokenizer", "char",
                            "--weight-drop", "0.3", *TINY], capsys)
    assert code == 0, err
    assert read_card(base / "best")["model_config"]["weight_drop"] == 0.3
    mine = tmp_path / "mine.txt"
    mine.write_text(prose(300, seed=4), encoding="utf-8")
    tuned = tmp_path / "tuned"
    code, stdout, err = run_cli(["finetune", "--base", base / "best", "--corpus", mine, "--out", tuned,
                                 "--weight-drop", "0.5", "--max-steps", "4", "--eval-every", "2", "--samples", "1",
                                 "--batch-size", "4", "--seq-len", "16", "--device", "cpu"], capsys)
    assert code == 0, err
    assert "done (" in stdout and read_card(tuned / "best")["model_config"]["weight_drop"] == 0.5
    # Without the option the base model's setting carries over; --weight-drop 0 turns it off, and with the same
    # seed and batches the two fine-tunes differ only by the mask, so their validation losses differ.
    losses = {}
    for name, extra in (("kept", []), ("off", ["--weight-drop", "0"])):
        code, _, err = run_cli(["finetune", "--base", base / "best", "--corpus", mine, "--out", tmp_path / name,
                                "--max-steps", "2", "--eval-every", "2", "--samples", "0", "--batch-size", "4",
                                "--seq-len", "16", "--device", "cpu", *extra], capsys)
        assert code == 0, err
        card = read_card(tmp_path / name / "best")
        losses[name] = card["metrics"]["valid_nats_per_token"]
    assert read_card(tmp_path / "kept" / "best")["model_config"]["weight_drop"] == 0.3
    assert "weight_drop" not in read_card(tmp_path / "off" / "best")["model_config"]
    assert losses["kept"] != losses["off"]


def test_weight_drop_refusals_name_the_range_and_the_models(tmp_path: Path, corpus: Path,
                                                            capsys: pytest.CaptureFixture) -> None:
    code, _, err = run_cli(["train", "text", "--corpus", corpus, "--out", tmp_path / "r", "--weight-drop", "1.5",
                            *TINY], capsys)
    assert code == 2 and "weight_drop" in err and "0.95" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()
    shipped = Path(__file__).resolve().parent.parent / "checkpoints"
    code, _, err = run_cli(["finetune", "--base", shipped / "jsb", "--corpus", corpus, "--out", tmp_path / "f",
                            "--weight-drop", "0.3"], capsys)
    assert code == 2 and "--weight-drop is for fine-tuning text models" in err and not (tmp_path / "f").exists()
    code, _, err = run_cli(["finetune", "--base", shipped / "shakespeare", "--corpus", corpus, "--out", tmp_path / "g",
                            "--weight-drop", "-0.1"], capsys)
    assert code == 2 and "--weight-drop" in err and "0.95" in err
