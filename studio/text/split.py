"""Training and validation text for fine-tuning on a few files: the tail of every file validates, whatever its name.

Splitting by whole files (a file validates when a hash of its name says so) is fair only for many files of
similar size: with two files it put a 300 KB manual in validation and trained on a 2 KB note, or the other way
round, depending on the names. Here every file gives the same share of its end to validation and keeps the rest
for training, so every file feeds training, the split depends on the texts alone (not on names or order), and it
is the same every time. The validation share is ``valid_fraction`` of the corpus, raised to at least
``min_chars`` when the corpus allows it (at most ``MAX_SHARE`` of it) and held to at most ``max_chars``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

MAX_SHARE = 0.25        # validation never takes more than this share of the corpus, whatever min_chars asks
VALID_MIN_TOKENS = 3_000    # fine-tuning asks for at least this much validation when the corpus allows (a stable
                            # figure), and
VALID_MAX_TOKENS = 100_000  # at most this much: beyond it, more text serves training better than validation
SNAP_CHARS = 64         # a cut moves back to a whitespace within this many characters (no word is split), and
                        # within a twentieth of the file
LISTED_FILES = 4        # notes name each file up to this many; more are summed up


@dataclass
class FileSplit:
    """What went where: the joined training and validation texts and each file's share.

    Attributes
    ----------
    train, valid : str
        The training text (every file's head, joined by blank lines) and the validation text (every file's tail).
    files : list of (str, int, int)
        ``(name, training characters, validation characters)`` per file, in corpus order.
    """

    train: str
    valid: str
    files: list[tuple[str, int, int]] = field(default_factory=list)

    def notes(self, root: str | Path = "") -> list[str]:
        """One line saying what went where (file names relative to ``root``)."""
        total = sum(t + v for _, t, v in self.files)
        held = sum(v for _, _, v in self.files)
        share = held / max(1, total)
        prefix = f"{root}/" if str(root) else ""

        def name(full: str) -> str:
            return full[len(prefix):] if prefix and full.startswith(prefix) else Path(full).name

        head = (f"validation: the last {share:.1%} of each file ({held:,} of {total:,} characters); "
                f"training: the rest of every file")
        if len(self.files) <= LISTED_FILES:
            return [head + " (" + "; ".join(f"{name(n)}: {t:,} train, {v:,} validation" for n, t, v in self.files)
                    + ")"]
        return [head + f" ({len(self.files)} files)"]


def valid_chars(total: int, valid_fraction: float, min_chars: int = 0, max_chars: int = 0) -> int:
    """Characters of a ``total``-character corpus that validate: ``valid_fraction`` of it, at least ``min_chars``
    (but at most ``MAX_SHARE`` of the corpus) and at most ``max_chars`` (0: no cap)."""
    wanted = max(valid_fraction * total, min(min_chars, MAX_SHARE * total))
    if max_chars:
        wanted = min(wanted, max_chars)
    return int(wanted)


def _cut(text: str, keep: int) -> int:
    """Where to cut ``text`` so that about ``keep`` characters stay before the cut: at a whitespace when one is
    near, so no word is split between training and validation."""
    keep = max(1, min(len(text) - 1, keep)) if len(text) > 1 else len(text)
    reach = min(SNAP_CHARS, len(text) // 20)  # a short file's cut hardly moves
    for i in range(keep, max(0, keep - reach), -1):
        if text[i - 1].isspace():
            return i
    return keep


def split_by_file(texts: list[tuple[str, str]], valid_fraction: float, min_chars: int = 0,
                  max_chars: int = 0) -> FileSplit:
    """The tail of every file validates, in proportion to its length (see the module docstring).

    Parameters
    ----------
    texts : list of (name, text)
        The corpus's files (``studio.text.corpus.read_text_files``); names are only reported.
    valid_fraction : float
        Share of the corpus that validates, (0, 0.5].
    min_chars, max_chars : int
        Bounds on the validation characters (``valid_chars``); 0 leaves a bound off.
    """
    total = sum(len(t) for _, t in texts)
    target = valid_chars(total, valid_fraction, min_chars, max_chars)
    share = target / max(1, total)
    train, valid, files = [], [], []
    for name, text in texts:
        cut = _cut(text, round(len(text) * (1.0 - share))) if share > 0 else len(text)
        train.append(text[:cut])
        valid.append(text[cut:])
        files.append((name, cut, len(text) - cut))
    # Files are joined with a blank line so one file's end does not run into the next one's start.
    return FileSplit("\n\n".join(t for t in train if t), "\n\n".join(v for v in valid if v), files)
