"""Take docs/screenshot-studio.png: the Blues tab after composing a chorus with the shipped blues model.

Serves the page in this process, drives Debian's Chromium with Playwright (as tests/test_ui_browser.py does),
composes with the page's defaults and a fixed seed (the first from --seed whose chorus has a melody) and saves a
screenshot of the whole page.

    python scripts/screenshot_ui.py [--seed 7] [--out docs/screenshot-studio.png]
"""

from __future__ import annotations

import argparse
import socket
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _seed_with_notes(cache, first: int) -> int:
    """The first seed from ``first`` on whose chorus (the page's defaults) has a melody: the blues model now and
    then lays out a whole chorus, which makes a poor picture."""
    from studio.config import GenerationConfig
    from studio.music.leadsheet.composer import ComposeRequest
    from studio.music.theory.chords import blues_chart

    composer = cache.composer("blues")
    for seed in range(first, first + 50):
        config = GenerationConfig(temperature=0.9, top_p=0.95, seed=seed)
        if composer.compose(ComposeRequest(blues_chart("12-bar", "Bb"), 1, 120, config))[0].sheet.melody:
            return seed
    return first


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshot-studio.png"))
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from studio.ui.app import build_app, serve

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = build_app(tempfile.mkdtemp(prefix="studio-shot-runs-"))  # shipped models only
    url = serve(app, "127.0.0.1", port, block=False, quiet=True)
    seed = _seed_with_notes(app.studio_cache, args.seed)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
            page.goto(url)
            page.wait_for_selector("#blues-compose", timeout=60_000)
            page.fill("#blues-seed input", str(seed))
            page.click("#blues-compose")
            page.wait_for_selector("#blues-sheet svg", timeout=90_000)
            page.wait_for_selector("#blues-downloads a[href$='.mid']", timeout=30_000)
            page.wait_for_timeout(1500)  # let the waveform and the images settle
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=args.out, full_page=True)
            browser.close()
    finally:
        app.close()
    print(f"wrote {args.out} (seed {seed})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
