"""README.md's promises about the command line, read from the README itself: every ``studio ...`` command it shows
parses with the real parser, and every flag its prose names for a command exists on that command.

Commands come from the fenced shell blocks (backslash continuations joined, ``&&`` chains split, ``torchrun ... -m
studio ...`` included) and from inline code that starts with ``studio``; a flag named alone in prose (`` `--resume` ``)
must exist on one of the commands its paragraph or its section (``##``) shows.
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from studio.cli.parser import build_parser

README = Path(__file__).resolve().parent.parent / "README.md"
FENCE = re.compile(r"^```(\w*)\s*$")
SPAN = re.compile(r"`([^`\n]+)`")
FLAG = re.compile(r"^(--[a-z][a-z0-9-]*)")


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _command(argv: list[str]) -> tuple[tuple[str, ...], argparse.ArgumentParser] | None:
    """The (sub)command path of ``argv`` (``("train", "text")``) and its parser; None if its first word is no
    command (a placeholder such as ``studio COMMAND``)."""
    parser, path = build_parser(), []
    for word in argv:
        subs = _subparsers(parser)
        if word not in subs:
            break
        parser, path = subs[word], [*path, word]
    return (tuple(path), parser) if path else None


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    """A command's options; a command of commands (``studio train``) has those of any of them."""
    subs = _subparsers(parser)
    if subs:
        return set().union(*(_flags(sub) for sub in subs.values()))
    return {option for action in parser._actions for option in action.option_strings}


def _sections() -> list[dict]:
    """The README as sections: each with its code-block commands and its prose paragraphs (text, spans)."""
    sections, block, paragraph = [{"title": "", "commands": [], "paragraphs": []}], None, []

    def close_paragraph() -> None:
        if paragraph:
            sections[-1]["paragraphs"].append(" ".join(paragraph))
            paragraph.clear()

    lines = README.read_text(encoding="utf-8").splitlines()
    pending = ""
    for line in lines:
        fence = FENCE.match(line)
        if fence:
            close_paragraph()
            block = (fence.group(1) or "text") if block is None else None
            continue
        if block is not None:
            if block in ("bash", "sh", "shell"):
                pending += line.rstrip("\\") + " " if line.endswith("\\") else line
                if not line.endswith("\\"):
                    sections[-1]["commands"] += _shell_commands(pending)
                    pending = ""
            continue
        if line.startswith("## "):
            close_paragraph()
            sections.append({"title": line[3:], "commands": [], "paragraphs": []})
        elif not line.strip():
            close_paragraph()
        else:
            paragraph.append(line)
    close_paragraph()
    return sections


def _shell_commands(line: str) -> list[list[str]]:
    """The ``studio`` argv lists of one shell line (comments dropped, ``&&`` chains split)."""
    words = shlex.split(line, comments=True)
    found, current = [], []
    for word in [*words, "&&"]:
        if word in ("&&", "||", ";", "|"):
            if current:
                found.append(current)
            current = []
        else:
            current.append(word)
    argvs = []
    for command in found:
        if command[0] == "studio":
            argvs.append(command[1:])
        elif "-m" in command and command[command.index("-m") + 1:][:1] == ["studio"]:
            argvs.append(command[command.index("-m") + 2:])
    return argvs


SECTIONS = _sections()
BLOCK_COMMANDS = [(s["title"], argv) for s in SECTIONS for argv in s["commands"]]


def test_the_readme_shows_commands() -> None:
    assert len(BLOCK_COMMANDS) >= 30  # the reader below found them (a broken reader finds none and passes)
    assert any(argv[:1] == ["finetune"] for _, argv in BLOCK_COMMANDS)


@pytest.mark.parametrize(("section", "argv"), BLOCK_COMMANDS, ids=[" ".join(a)[:60] for _, a in BLOCK_COMMANDS])
def test_every_command_shown_parses(section: str, argv: list[str], capsys: pytest.CaptureFixture) -> None:
    try:
        build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"README ({section}): `studio {' '.join(argv)}` does not parse: {capsys.readouterr().err}")


def _span_commands(text: str) -> list[list[str]]:
    """``studio ...`` inline code in ``text`` as argv lists (a span with an ellipsis is a sketch: left out)."""
    spans = [s for s in SPAN.findall(text) if s.startswith("studio ") and "…" not in s and "..." not in s]
    return [shlex.split(s)[1:] for s in spans]


def test_every_flag_the_prose_names_exists_on_its_command() -> None:
    wrong = []
    for section in SECTIONS:
        shown = section["commands"] + [a for p in section["paragraphs"] for a in _span_commands(p)]
        for paragraph in section["paragraphs"]:
            spans = _span_commands(paragraph)
            for argv in spans:  # a command named inline: its flags must be its own
                found = _command(argv)
                if found is None:
                    continue
                path, parser = found
                for word in argv[len(path):]:
                    flag = FLAG.match(word)
                    if flag and flag.group(1) not in _flags(parser):
                        wrong.append(f"`studio {' '.join(argv)}`: {flag.group(1)} is not an option of "
                                     f"studio {' '.join(path)}")
            context = [c for c in (_command(a) for a in spans + shown) if c is not None]
            for span in SPAN.findall(paragraph):
                flag = FLAG.match(span)
                if flag is None or span.startswith("studio "):
                    continue
                if context and not any(flag.group(1) in _flags(parser) for _, parser in context):
                    names = sorted({"studio " + " ".join(path) for path, _ in context})
                    wrong.append(f"section {section['title']!r}: {flag.group(1)} is an option of none of "
                                 f"{', '.join(names)}")
    assert wrong == [], "\n".join(wrong)
