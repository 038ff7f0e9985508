"""The ``studio`` command: train, fine-tune, write, compose, eval, models and the page (``studio ui``).

A thin face over the services. A user error prints one line (``studio: error: ...``) and exits with status 2;
Ctrl-C exits with 130. Heavy libraries are imported inside the commands so ``studio --help`` answers at once.
Layout: ``parser`` (options and help), ``text`` and ``music`` (the commands), ``common`` (what they share).
"""

from __future__ import annotations

import argparse
import sys

from studio.cli.common import EXIT_INTERRUPTED, EXIT_USAGE
from studio.cli.jazz import cmd_train_jazz
from studio.cli.music import cmd_compose, cmd_train_leadsheet, cmd_train_midi
from studio.cli.ntm import cmd_train_ntm
from studio.cli.parser import build_parser
from studio.cli.rolls import cmd_train_rolls
from studio.cli.scoring import cmd_eval
from studio.cli.sketch import cmd_sketch, cmd_train_draw
from studio.cli.text import cmd_finetune, cmd_models, cmd_train_text, cmd_write
from studio.cli.trade import cmd_trade, cmd_train_trade
from studio.errors import StudioError

__all__ = ["build_parser", "main"]


def cmd_ui(args: argparse.Namespace) -> int:
    from studio.ui.app import run

    return run(args)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {"write": cmd_write, "eval": cmd_eval, "models": cmd_models, "finetune": cmd_finetune,
                "compose": cmd_compose, "trade": cmd_trade, "sketch": cmd_sketch, "ui": cmd_ui}
    try:
        if args.command == "train":
            if args.domain == "leadsheet":
                return cmd_train_leadsheet(args)
            if args.domain == "midi":
                return cmd_train_midi(args)
            if args.domain == "rolls":
                return cmd_train_rolls(args)
            if args.domain == "jazz":
                return cmd_train_jazz(args)
            if args.domain == "trade":
                return cmd_train_trade(args)
            if args.domain in ("ntm", "draw"):
                return (cmd_train_ntm if args.domain == "ntm" else cmd_train_draw)(args)
            if args.domain != "text":
                parser.error("say what to train: studio train text|leadsheet|jazz|trade|midi|rolls|ntm|draw "
                             "(see studio train --help)")
            return cmd_train_text(args)
        if args.command not in handlers:
            parser.print_help()
            return EXIT_USAGE
        return handlers[args.command](args)
    except StudioError as err:
        print(f"studio: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("studio: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `studio write | head` closed the pipe: not an error
        return 0
