"""Dynamic evaluation of the jazz soloist: exact when it does not learn, leaves the model alone, learns a motif."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from jazz_support import write_jazz_folder

from studio.cli import main
from studio.loading import load_model
from studio.music.jazz.corpus import Solo, SoloNote
from studio.music.jazz.scoring import dynamic_token_nll, encode_all, score_solos, summary, token_nll
from studio.music.jazz.tokenizer import JazzTokenizer
from studio.music.theory.chords import parse_chord

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def soloist():
    loaded = load_model(ROOT / "checkpoints" / "jazz", read_tokenizer=JazzTokenizer.from_dict)
    return loaded.tokenizer, loaded.model.float().eval()


def _riff_solo(choruses: int) -> Solo:
    """An odd riff (a tritone leap, a flat ninth, a dotted-eighth-triplet figure) stated over and over on Bb7."""
    riff = [(0, 9, 70), (9, 3, 64), (12, 5, 71), (17, 7, 61), (24, 4, 66), (28, 20, 59)]
    notes = [SoloNote(48 * bar + onset, length, pitch) for bar in range(choruses) for onset, length, pitch in riff]
    bars = choruses
    return Solo("riff", "P", "t", "BEBOP", 180.0, False, notes, [parse_chord("Bb7")] * (4 * bars),
                list(range(bars)), "wjd")


def test_without_learning_it_scores_what_the_static_model_scores(soloist) -> None:
    tok, model = soloist
    encoded = encode_all([_riff_solo(4)], tok)
    static = token_nll(model, encoded)[0]
    # Segments carry the state across, so at a vanishing rate only the floating-point order differs.
    dynamic = dynamic_token_nll(model, encoded, lr=1e-12, segment=5)[0]
    assert dynamic.shape == static.shape
    assert torch.allclose(dynamic, static, atol=1e-4)


def test_it_learns_a_riff_the_player_keeps_stating_and_leaves_the_model_as_it_was(soloist) -> None:
    tok, model = soloist
    before = [p.detach().clone() for p in model.parameters()]
    solo = _riff_solo(16)
    static = summary(score_solos(model, tok, [solo]))["nats_per_note"]
    with torch.inference_mode():  # as `studio eval` scores: the updates still need their gradients
        dynamic = summary(score_solos(model, tok, [solo], dynamic_lr=0.03))["nats_per_note"]
    assert dynamic < static - 0.5, (dynamic, static)
    assert all(torch.equal(p, q) for p, q in zip(before, model.parameters(), strict=True))


def test_studio_eval_reports_the_dynamic_figure_beside_the_static_one(tmp_path, capsys) -> None:
    folder = write_jazz_folder(tmp_path / "solos", solos=3)
    model = str(ROOT / "checkpoints" / "jazz")
    assert main(["eval", "--model", model, "--corpus", str(folder), "--dynamic-lr", "0.03", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["unit"] == "nats_per_note" and report["dynamic_lr"] == 0.03
    assert 0 < report["dynamic_nats_per_note"] != report["nats_per_note"] > 0
    assert main(["eval", "--model", model, "--corpus", str(folder), "--dynamic-lr", "2"]) == 2
    assert "--dynamic-lr must be in (0, 1]" in capsys.readouterr().err
    text = tmp_path / "words.txt"
    text.write_text("the soloist listens " * 50)
    assert main(["eval", "--model", str(ROOT / "checkpoints" / "prose"), "--corpus", str(text),
                 "--dynamic-lr", "0.03"]) == 2
    assert "--dynamic-lr is for the jazz soloist" in capsys.readouterr().err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="cuDNN's LSTM needs a GPU (run in a GPU session)")
def test_dynamic_evaluation_runs_on_a_gpu(soloist) -> None:
    tok, model = soloist
    encoded = encode_all([_riff_solo(4)], tok)
    on_gpu = dynamic_token_nll(model, encoded, lr=0.03, device="cuda")[0]
    on_cpu = dynamic_token_nll(model, encoded, lr=0.03)[0]
    assert torch.allclose(on_gpu, on_cpu, atol=1e-3)
