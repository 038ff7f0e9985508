"""DRAW: the Gaussian filterbanks read and write what they should, the bound is a real bound that training lowers,
the packed binarized-MNIST format round-trips, training resumes exactly, bundles save and load, sketches are drawn
as frames and a GIF, `studio train draw`, `studio sketch` and `studio eval` work, and bad settings are refused.
Every image here is a tiny binary picture written by the test (nothing from ../shared)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from studio.checkpoint import read_bundle
from studio.cli import main
from studio.errors import StudioError
from studio.loading import describe
from studio.models.draw import Draw, DrawConfig, filterbanks
from studio.sketch.drawing import draw_sketch, write_sketch
from studio.sketch.mnist import read_mnist, write_mnist
from studio.sketch.training import DrawTrainConfig, evaluate_bound, load_draw, train_draw

TINY = DrawConfig(glimpses=3, encoder_size=12, decoder_size=12, latent_size=3)
QUICK = DrawTrainConfig(batch_size=8, max_steps=4, eval_every=2, seed=5)


def _strokes(count: int, seed: int) -> torch.Tensor:
    """``count`` 28 x 28 binary images of a bar or a box at a random place (digit-like sparse strokes)."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 28, 28), dtype=np.uint8)
    for image in images:
        top, left = rng.integers(2, 14, size=2)
        if rng.random() < 0.5:
            image[top:top + 12, left + 4:left + 7] = 1
        else:
            image[top:top + 10, left:left + 10] = 1
            image[top + 2:top + 8, left + 2:left + 8] = 0
    return torch.from_numpy(images)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_mnist(tmp_path_factory.mktemp("mnist") / "tiny.npz",
                       {"train": _strokes(40, 0), "valid": _strokes(12, 1), "test": _strokes(10, 2)})


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    return train_draw(data, tmp_path_factory.mktemp("runs") / "draw", TINY, QUICK, command="test")


def test_a_full_size_grid_of_narrow_gaussians_reads_the_image_itself_and_writes_a_patch_in_place() -> None:
    # N = 28 points one pixel apart, centred: the filterbanks are (nearly) the identity.
    params = torch.tensor([[0.0, 0.0, math.log(0.01), 0.0, 0.0]])
    fy, fx, gamma = filterbanks(params, 28, 28, 28)
    assert torch.allclose(fy.sum(-1), torch.ones(1, 28)) and float(gamma) == pytest.approx(1.0)
    image = _strokes(1, 3).float()
    assert torch.allclose(fy @ image @ fx.transpose(1, 2), image, atol=1e-4)
    assert torch.allclose(fy.transpose(1, 2) @ image @ fx, image, atol=1e-4)


def test_a_small_glimpse_reads_where_its_centre_is() -> None:
    image = torch.zeros(1, 28, 28)
    image[0, 0:5, 0:5] = 1.0                                           # ink in the top-left corner only
    top_left = torch.tensor([[-0.8, -0.8, 0.0, -3.0, 0.0]])         # two points 1.3 pixels apart
    bottom_right = torch.tensor([[0.8, 0.8, 0.0, -3.0, 0.0]])
    for params, ink in ((top_left, True), (bottom_right, False)):
        fy, fx, _ = filterbanks(params, 28, 28, 2)
        assert (float((fy @ image @ fx.transpose(1, 2)).mean()) > 0.5) is ink


@pytest.mark.parametrize("attention", [True, False])
def test_the_bound_is_finite_its_kl_non_negative_and_every_parameter_learns(attention: bool) -> None:
    torch.manual_seed(0)
    model = Draw(DrawConfig(**{**TINY.to_dict(), "attention": attention}))
    recon, kl = model(_strokes(4, 4).float())
    assert recon.shape == (4,) and kl.shape == (4, 3) and bool((kl >= 0).all())
    (recon + kl.sum(1)).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_training_lowers_the_bound() -> None:
    """Seeded: 60 steps on 64 stroke images take the validation bound well down from the untrained one."""
    torch.manual_seed(0)
    model = Draw(DrawConfig(glimpses=4, encoder_size=32, decoder_size=32, latent_size=4))
    train, valid = _strokes(64, 6).float(), _strokes(32, 7)
    before = evaluate_bound(model, valid)["nats_per_image"]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(60):
        recon, kl = model(train[(step % 4) * 16:(step % 4 + 1) * 16])
        optimizer.zero_grad()
        (recon + kl.sum(1)).mean().backward()
        optimizer.step()
    after = evaluate_bound(model, valid)
    assert after["nats_per_image"] < 0.5 * before
    assert after["nats_per_image"] == pytest.approx(after["recon"] + after["kl"])
    assert evaluate_bound(model, valid) == after  # seeded latents: the same figure every time


def test_packed_bits_round_trip_and_bad_files_are_refused(tmp_path) -> None:
    images = _strokes(5, 8)
    path = write_mnist(tmp_path / "m.npz", {"train": images})
    assert torch.equal(read_mnist(path)["train"], images) and read_mnist(tmp_path)["train"].shape == (5, 28, 28)
    np.savez(tmp_path / "bad.npz", train=np.zeros((3, 97), dtype=np.uint8))
    with pytest.raises(StudioError, match=r"expected \(N, 98\) uint8"):
        read_mnist(tmp_path / "bad.npz")
    with pytest.raises(StudioError, match="does not exist"):
        read_mnist(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(StudioError, match=r"not a readable \.npz"):
        read_mnist(tmp_path / "junk.npz")


def test_training_resumes_exactly_and_records_the_test_bound(data, trained, tmp_path) -> None:
    part = DrawTrainConfig.from_dict({**QUICK.to_dict(), "max_steps": 2})
    train_draw(data, tmp_path / "part", TINY, part, command="test")
    train_draw(data, tmp_path / "part", train_config=QUICK, resume=True)  # a longer budget, the rest its own
    a = read_bundle(trained.parent / "last").weights
    b = read_bundle(tmp_path / "part" / "last").weights
    assert all(torch.equal(a[k], b[k]) for k in a)
    model, card = load_draw(trained)
    assert card["model_kind"] == "draw" and card["metrics"]["test_images"] == 10
    test = evaluate_bound(model, read_mnist(data)["test"])["nats_per_image"]
    assert card["metrics"]["test_nats_per_image"] == pytest.approx(test)
    assert "DRAW, 3 glimpses, read 2x2, write 5x5" in describe(card) and "test bound" in describe(card)
    with pytest.raises(StudioError, match="already holds a training run"):
        train_draw(data, trained.parent, TINY, QUICK)


def test_a_sketch_is_a_frame_a_glimpse_and_a_gif_and_a_seed_draws_it_again(trained, tmp_path) -> None:
    model, _ = load_draw(trained)
    record = write_sketch(model, tmp_path / "s", count=5, seed=11, scale=2)
    assert record["frames"] == ["frame-1.png", "frame-2.png", "frame-3.png"] and record["seed"] == 11
    gif = Image.open(tmp_path / "s" / "sketch.gif")
    assert gif.n_frames == 3 and gif.size == Image.open(tmp_path / "s" / "frame-3.png").size
    assert json.loads((tmp_path / "s" / "sketch.json").read_text())["count"] == 5
    again = draw_sketch(model, 5, seed=11, scale=2)
    assert again.frames[-1].tobytes() == Image.open(tmp_path / "s" / "frame-3.png").convert("RGB").tobytes()
    assert draw_sketch(model, 5, seed=12, scale=2).frames[-1].tobytes() != again.frames[-1].tobytes()


def test_the_cli_trains_sketches_and_scores(data, tmp_path, capsys) -> None:
    out = tmp_path / "run"
    assert main(["train", "draw", "--data", str(data), "--out", str(out), "--glimpses", "2", "--hidden", "8",
                 "--latent", "2", "--batch-size", "8", "--max-steps", "2", "--eval-every", "2", "--device", "cpu",
                 "--save-dtype", "float16"]) == 0
    printed = capsys.readouterr().out
    assert "valid bound" in printed and "test bound:" in printed
    assert read_bundle(out / "best").card["weights"]["dtype"] == "float16"
    assert main(["sketch", "--model", str(out), "--out", str(tmp_path / "sk"), "--count", "4", "--seed", "1"]) == 0
    assert "seed 1" in capsys.readouterr().err and (tmp_path / "sk" / "frame-2.png").exists()
    assert main(["eval", "--model", str(out), "--corpus", str(data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["unit"] == "nats_per_image" and report["split"] == "test" and report["items"] == 10
    assert main(["write", "--model", str(out)]) == 2
    assert "is an image model (DRAW)" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["sketch", "--out", "X", "--count", "65"], "count must be in [1, 64], got 65"),
    (["sketch", "--out", "X", "--scale", "0"], "scale must be in [1, 16], got 0"),
    (["train", "draw", "--data", "D", "--glimpses", "0"], "glimpses must be in [1, 1000], got 0"),
    (["train", "draw", "--data", "D", "--read-size", "29"], "read_size must be in [1, 28], got 29"),
    (["train", "draw", "--data", "D", "--lr", "2"], "lr must be in (0, 1], got 2"),
])
def test_bad_settings_are_refused_in_one_line_naming_the_range(trained, tmp_path, capsys, argv, message) -> None:
    argv = [a.replace("X", str(tmp_path / "x")).replace("D", str(tmp_path / "none.npz")) for a in argv]
    if argv[0] == "sketch":
        argv += ["--model", str(trained)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
