"""The page's command-line options, shared by ``python ui.py`` and ``studio ui`` (no Gradio import: ``studio
--help`` stays quick)."""

from __future__ import annotations

import argparse

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 7860


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST}; "
                        "0.0.0.0 serves other machines too)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port, 1..65535 (default {DEFAULT_PORT})")
    parser.add_argument("--runs", default="runs", help="folder of local models; the Train tab writes new ones "
                        "here (default ./runs)")
