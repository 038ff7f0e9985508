"""Prose a reader accepts from a model that learned Wikipedia's scaffolding: whole sentences, and headings only where
text follows them.

A model trained on WikiText writes its section headings (``== Family ==``) as readily as its sentences, and at the
end of a length budget stops mid-word. ``tidy_prose`` keeps what the model wrote but ends the text at its last
finished sentence and drops a heading that no text follows (one heading stacked on another, or one at the end), so a
reader never meets an empty section. It only removes; it never writes a word of its own.

A model opts in through its card (``"writing": {"tidy": "wikitext"}``); ``studio write --raw`` shows the model's
text untouched. ``tidy_prose`` of a text's beginning is a beginning of ``tidy_prose`` of the whole text (while the
text is unfinished), so a streamed text can be shown sentence by sentence and still join to the finished one.
"""

from __future__ import annotations

import re

# A heading line as WikiText writes it once detokenized: "= Title =", "== Title ==", "=== Title ===".
HEADING = re.compile(r"^\s*(=+)\s*(.*?)\s*\1\s*$")
# A sentence ends at . ! or ? (after any closing quotes or brackets) followed by white space. "2.50" and "U.S"
# inside a word are not ends, and neither is a full stop at the very end of an unfinished text (the next token may
# be "50"); a finished text may end on one.
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s)")
_FINAL_END = re.compile(r"[.!?][\"')\]]*\s*$")


def is_heading(line: str) -> bool:
    return HEADING.match(line) is not None


def _on_heading_line(text: str, index: int) -> bool:
    """Whether ``index`` is on a line that starts like a heading ("== St. Louis ==" holds no sentence end)."""
    return text[text.rfind("\n", 0, index) + 1:].lstrip().startswith("=")


def last_sentence_end(text: str, finished: bool) -> int | None:
    """The index just past the last sentence end in ``text`` (None when it has none yet)."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text) if not _on_heading_line(text, m.start())]
    if finished:
        final = _FINAL_END.search(text)
        if final is not None:
            ends.append(final.start() + len(final.group(0).rstrip()))
    return max(ends) if ends else None


def drop_empty_headings(text: str) -> str:
    """``text`` without the heading lines that no body text follows (stacked headings keep only the last one,
    headings at the end go; a heading with no title goes too), blank lines collapsed to one between paragraphs."""
    lines = text.split("\n")
    kept: list[str] = []
    dropping = False  # the blank lines after a dropped heading go with it
    for i, line in enumerate(lines):
        match = HEADING.match(line)
        if match is not None:
            following = next((other for other in lines[i + 1:] if other.strip()), None)
            dropping = not match.group(2) or following is None or is_heading(following)
            if dropping:
                continue
        elif dropping and not line.strip():
            continue
        dropping = False
        kept.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept))


def tidy_prose(continuation: str, finished: bool = True) -> str:
    """The continuation ended at its last finished sentence, without empty headings.

    Parameters
    ----------
    continuation : str
        What the model wrote after the prompt (the prompt itself is never touched).
    finished : bool
        False while the text is still growing: then only what can no longer change is returned (up to the last
        sentence end followed by white space), so the pieces of a stream join to the finished text.
    """
    end = last_sentence_end(continuation, finished)
    if end is None:  # not one whole sentence: a finished text keeps what there is; a growing one waits
        return drop_empty_headings(continuation).rstrip() if finished else ""
    return drop_empty_headings(continuation[:end])


def empty_headings(text: str) -> int:
    """How many headings in ``text`` no body text follows (0 for prose a reader accepts)."""
    lines = [line for line in text.split("\n") if line.strip()]
    return sum(1 for i, line in enumerate(lines)
               if is_heading(line) and (i + 1 == len(lines) or is_heading(lines[i + 1])
                                        or not HEADING.match(line).group(2)))
