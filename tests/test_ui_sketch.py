"""The Sketch tab: a DRAW model draws digits through the page's API (the GIF, a frame a glimpse, the files), bad
input comes back as a one-line message, and in a real browser (Debian's Chromium, when present) the tab shows the
animated GIF and the gallery of frames. The page serves a tiny DRAW model trained here on stroke pictures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from gradio_client import Client
from gradio_client.exceptions import AppError
from PIL import Image
from ui_support import served_page

from studio.models.draw import DrawConfig
from studio.sketch.mnist import write_mnist
from studio.sketch.training import DrawTrainConfig, train_draw

GLIMPSES = 4
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("sketch")
    images = np.zeros((24, 28, 28), dtype=np.uint8)
    for i, image in enumerate(images):  # a vertical bar at a different place in each picture
        image[4:24, 3 + i % 20:6 + i % 20] = 1
    data = write_mnist(base / "strokes.npz", {"train": torch.from_numpy(images[:16]),
                                              "valid": torch.from_numpy(images[16:])})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_draw(data, base / "runs" / "tiny-draw", DrawConfig(glimpses=GLIMPSES, encoder_size=8, decoder_size=8,
                                                                  latent_size=2),
                   DrawTrainConfig(batch_size=8, max_steps=2, eval_every=2), command="test")
    finally:
        torch.set_num_threads(threads)
    with served_page(base / "runs", base / "workspace") as (_, url):
        yield url, str(base / "runs" / "tiny-draw")


@pytest.fixture(scope="module")
def client(page, tmp_path_factory: pytest.TempPathFactory):
    c = Client(page[0], verbose=False, analytics_enabled=False,
               download_files=str(tmp_path_factory.mktemp("downloads")))
    yield c
    c.close()


def test_the_page_draws_a_gif_and_a_frame_a_glimpse(page, client) -> None:
    gif, frames, files, info = client.predict(model=page[1], count=5, seed=9, boxes=True, api_name="/sketch")
    assert Image.open(gif).n_frames == GLIMPSES
    assert [f["caption"] for f in frames] == [f"glimpse {t}" for t in range(1, GLIMPSES + 1)]
    assert len(files) == GLIMPSES + 1 and "seed 9" in info and "5 digits" in info
    again = client.predict(model=page[1], count=5, seed=9, boxes=True, api_name="/sketch")
    assert Image.open(again[0]).tobytes() == Image.open(gif).tobytes()


def test_bad_requests_come_back_as_one_line(page, client) -> None:
    for kwargs, message in (({"model": page[1], "count": 0}, "less than minimum value 1"),  # Gradio's slider
                            ({"model": page[1], "count": 2.5}, "digits must be a whole number, got 2.5"),
                            ({"model": "/etc"}, "unknown DRAW model '/etc'"),
                            ({"model": ""}, "no DRAW model on this server yet")):
        with pytest.raises(AppError) as caught:
            client.predict(**{"count": 4, "seed": 1, "boxes": True, **kwargs}, api_name="/sketch")
        assert message in str(caught.value) and "Traceback" not in str(caught.value)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium is not installed at /usr/bin/chromium")
def test_the_sketch_tab_shows_the_animation_and_the_frames(page) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 1200})
            tab.goto(page[0])
            tab.get_by_role("tab", name="Sketch").click()
            tab.wait_for_selector("#sketch-go", timeout=60_000)
            tab.click("#sketch-go")
            tab.wait_for_selector("#sketch-gif img[src*='.gif']", timeout=60_000)
            tab.wait_for_function(f"() => document.querySelectorAll('#sketch-frames img').length >= {GLIMPSES}",
                                  timeout=30_000)
            assert "glimpses (seed" in tab.inner_text("#sketch-info")
        finally:
            browser.close()
