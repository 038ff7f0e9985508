"""The Studio page: five tabs over the Composer, the Generator and the Trainer, served by Gradio.

``build_app`` builds the Blocks (nothing is loaded: models load on first use, see ``model_cache``); ``serve``
launches it with a queue (``CONCURRENCY`` requests at a time, training one at a time on its own) and no network
access beyond the server itself; ``main`` is ``python ui.py`` and ``studio ui``.

Threads: each request runs in its own worker thread, so the server sets torch to one intra-op thread. On a small
CPU shared with other work, OpenMP threads spin against each other: composing one blues chorus took 8.6 s with two
threads and 0.08 s with one on the 2-core machine while a training run used it. Concurrent requests (and a training
run in the background) still use every core. ``benchmarks/ui_latency.py`` measures the page as a client sees it.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gradio as gr  # studio/ui/__init__.py has already set Gradio's offline environment

from studio.ui import blues_tab, compose_tab, models_tab, sketch_tab, trade_tab, train_tab, write_tab
from studio.ui.model_cache import DRAW, TEXT, TRADE, ModelCache
from studio.ui.options import DEFAULT_HOST, DEFAULT_PORT, add_arguments
from studio.ui.training_job import TrainingBoard

CONCURRENCY = 2          # requests served at once (the queue holds the rest); training has its own limit of 1
QUEUE_SIZE = 64          # requests waiting at most; beyond that the page says the server is busy
MAX_UPLOAD = "50mb"      # any single upload (each tab checks its own, smaller limits too)
TORCH_THREADS = 1
CSS = """
.studio-sheet { max-height: 70vh; overflow: auto; background: #fff; border-radius: 6px; padding: 4px; }
.studio-sheet svg { width: 100%; height: auto; }
"""
INTRO = ("# Studio\nMusic and prose from recurrent networks: a jazz soloist over any chart with a band, trading fours "
         "with you, harmonise a melody or continue a piece, write text, fine-tune a model on your own writing. "
         "Everything runs on this machine.")


def _theme() -> gr.themes.Base:
    # System fonts: the stock themes link Google Fonts, and the page must not reach out to the network.
    return gr.themes.Soft(font=["ui-sans-serif", "system-ui", "sans-serif"],
                          font_mono=["ui-monospace", "SFMono-Regular", "monospace"])


def build_app(runs_dir: str | Path = "runs", cache: ModelCache | None = None,
              board: TrainingBoard | None = None) -> gr.Blocks:
    """The page, with its queue configured; ``app.studio_cache`` is its model cache."""
    cache = cache or ModelCache(runs_dir)
    board = board or TrainingBoard()
    with gr.Blocks(title="Studio", delete_cache=(3600, 7200)) as app:
        gr.Markdown(INTRO)
        with gr.Tabs():
            with gr.Tab("Blues", id="blues"):
                blues = blues_tab.build(cache)
            with gr.Tab("Trade", id="trade"):
                trading = trade_tab.build(cache)
            with gr.Tab("Compose", id="compose"):
                compose = compose_tab.build(cache)
            with gr.Tab("Write", id="write"):
                write = write_tab.build(cache)
            with gr.Tab("Sketch", id="sketch"):
                sketching = sketch_tab.build(cache)
            with gr.Tab("Train", id="train"):
                train = train_tab.build(cache, board)
            with gr.Tab("Models", id="models"):
                models = models_tab.build(cache)

        lists = [blues["model"], compose["model"], write["model"], train["model"], models["model"], models["table"],
                 trading["model"], sketching["model"]]

        def refresh_models() -> tuple:
            """Every model list as it is now (new local models appear; a page load or a finished run)."""
            return (gr.update(choices=blues_tab.model_choices(cache)),
                    gr.update(choices=compose_tab.model_choices(cache)),
                    gr.update(choices=cache.choices(TEXT)), gr.update(choices=train_tab.model_choices(cache)),
                    gr.update(choices=models_tab.all_choices(cache)), models_tab.model_table(cache),
                    gr.update(choices=cache.choices(TRADE)), gr.update(choices=cache.choices(DRAW)))

        app.load(refresh_models, None, lists, api_name="refresh_models", concurrency_limit=None)
        app.load(models["show_card"], models["model"], models["card"], api_name="first_model_card",
                 concurrency_limit=None)
        for event in train["events"]:  # a fine-tune (or a resumed one) that made a model adds it to the lists
            event.then(refresh_models, None, lists, api_name="refresh_models_after_training",
                       concurrency_limit=None)
    app.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    app.studio_cache = cache
    app.studio_board = board
    return app


def serve(app: gr.Blocks, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, block: bool = True,
          quiet: bool = False) -> str:
    """Launch the page; returns its URL. ``block=False`` returns at once (tests: call ``app.close()`` after)."""
    import torch

    torch.set_num_threads(TORCH_THREADS)
    threading.Thread(target=_warm_up, name="studio-warm-up", daemon=True).start()
    _, url, _ = app.launch(server_name=host, server_port=port, prevent_thread_lock=not block, quiet=quiet,
                           max_file_size=MAX_UPLOAD, theme=_theme(), css=CSS, footer_links=["api"],
                           ssr_mode=False, pwa=False, mcp_server=False)
    return url


def _warm_up() -> None:
    """Import the music writers' libraries in the background, so the first blues request does not pay for them
    (music21 alone takes about a second). Models still load on first use."""
    try:
        import matplotlib.pyplot  # noqa: F401
        import music21  # noqa: F401
        import verovio  # noqa: F401

        import studio.music.io.notation  # noqa: F401  (imports studio.music.io.export too)
    except Exception:  # a missing optional library shows up, with its message, when a request needs it
        logging.getLogger("studio.ui").debug("warm-up import failed", exc_info=True)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ui.py", description="Serve the Studio page (Gradio) on this machine.")
    add_arguments(parser)
    return parser.parse_args(argv)


def run(args: Any) -> int:
    """Build and serve until Ctrl-C. A busy port is a one-line error (exit status 2)."""
    from studio.config import check_range
    from studio.errors import StudioError

    try:
        check_range("--port", args.port, 1, 65535, integer=True)
        app = build_app(args.runs)
        serve(app, args.host, args.port)
    except StudioError as err:
        print(f"studio ui: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"studio ui: error: cannot serve on {args.host}:{args.port} ({err}); choose another --port",
              file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))
