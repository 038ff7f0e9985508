"""Text corpus ingestion: files, folders and zips of text read into one string, with a report of what was skipped.

A corpus is a file or a folder of ``.txt``/``.md`` files. Bad files never crash a run: empty files are skipped,
binary files are skipped (or refused when they are the whole corpus), and text that is not UTF-8 is decoded with
a fallback; every such event is reported in ``CorpusReport``.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from studio.errors import StudioError

TEXT_SUFFIXES = (".txt", ".md", ".text", ".rst")
MAX_FILE_BYTES = 2 * 1024**3  # refuse single files above 2 GiB: they would not fit a token tensor comfortably


@dataclass
class CorpusReport:
    """What ingestion did with each file.

    Attributes
    ----------
    used : list of str
        Files whose text is in the corpus, in the order they were joined.
    skipped : list of (str, str)
        ``(file, reason)`` for every file left out.
    fallback : list of (str, str)
        ``(file, encoding)`` for files that were not valid UTF-8 and were decoded with ``encoding``.
    sha256 : str
        Hash of the used files' bytes, in order: identifies the corpus in a model card.
    """

    used: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    fallback: list[tuple[str, str]] = field(default_factory=list)
    sha256: str = ""

    def lines(self) -> list[str]:
        """Human-readable notes about skipped and re-decoded files (empty when all went well)."""
        notes = [f"skipped {name}: {reason}" for name, reason in self.skipped]
        notes += [f"{name} is not valid UTF-8; decoded as {enc}" for name, enc in self.fallback]
        return notes


def looks_binary(data: bytes) -> bool:
    """True for data that is clearly not text: NUL bytes, or many control bytes, in its first 8 KiB."""
    head = data[:8192]
    if b"\x00" in head:
        return True
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return control > 0.05 * max(1, len(head))


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode bytes as UTF-8 (a BOM is dropped), else as Windows-1252, else Latin-1 (which never fails).

    Returns
    -------
    text, encoding : str, str
    """
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def corpus_files(path: str | Path) -> list[Path]:
    """The files a corpus path stands for: the file itself, or a folder's text and zip files in sorted order."""
    root = Path(path)
    if not root.exists():
        raise StudioError(f"corpus {root} does not exist")
    if root.is_file():
        return [root]
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in (*TEXT_SUFFIXES, ".zip")
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise StudioError(f"corpus folder {root} has no text files ({', '.join(TEXT_SUFFIXES)}) or zip files")
    return files


def _members(file: Path, report: CorpusReport) -> list[tuple[str, bytes]]:
    """(name, bytes) of a plain file, or of each text file inside a zip; problems go to ``report``."""
    name = str(file)
    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            report.skipped.append((name, f"larger than {MAX_FILE_BYTES // 1024**3} GiB"))
            return []
        if file.suffix.lower() != ".zip":
            return [(name, file.read_bytes())]
        if file.stat().st_size == 0:
            report.skipped.append((name, "empty zip file"))
            return []
        with zipfile.ZipFile(file) as archive:
            out = []
            for info in sorted(archive.infolist(), key=lambda i: i.filename):
                inner = f"{name}:{info.filename}"
                if info.is_dir() or Path(info.filename).suffix.lower() not in TEXT_SUFFIXES:
                    continue
                if info.file_size > MAX_FILE_BYTES:
                    report.skipped.append((inner, f"larger than {MAX_FILE_BYTES // 1024**3} GiB"))
                    continue
                try:
                    out.append((inner, archive.read(info)))
                except (zipfile.BadZipFile, OSError, ValueError) as err:
                    report.skipped.append((inner, f"damaged in the zip ({err})"))
            return out
    except zipfile.BadZipFile as err:
        report.skipped.append((name, f"not a readable zip file ({err})"))
    except OSError as err:
        report.skipped.append((name, f"unreadable ({err.strerror or err})"))
    return []


def read_text_files(path: str | Path) -> tuple[list[tuple[str, str]], CorpusReport]:
    """Every usable text of a corpus (a file, a folder, zip files), as ``(name, text)`` in a stable order.

    Empty, binary and duplicate files are skipped and reported (a duplicate is a file whose bytes equal an earlier
    one's: it is used once); text that is not UTF-8 is decoded with a fallback and reported.

    Raises
    ------
    StudioError
        When nothing usable is left: a missing path, an empty file, a binary file, a folder without text.
    """
    report = CorpusReport()
    digest = hashlib.sha256()
    texts: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for file in corpus_files(path):
        for name, data in _members(file, report):
            if not data.strip():
                report.skipped.append((name, "empty"))
                continue
            if looks_binary(data):
                report.skipped.append((name, "binary data, not text"))
                continue
            content = hashlib.sha256(data).hexdigest()
            if content in seen:
                report.skipped.append((name, f"duplicate of {seen[content]}"))
                continue
            seen[content] = name
            text, encoding = decode_text(data)
            if encoding != "utf-8-sig":
                report.fallback.append((name, encoding))
            digest.update(data)
            report.used.append(name)
            texts.append((name, text))
    if not texts:
        reasons = "; ".join(f"{Path(n).name}: {r}" for n, r in report.skipped[:3])
        raise StudioError(f"corpus {path} has no usable text ({reasons})")
    report.sha256 = digest.hexdigest()
    return texts, report


def read_text_corpus(path: str | Path) -> tuple[str, CorpusReport]:
    """Read and join every usable text of a corpus (see ``read_text_files``)."""
    texts, report = read_text_files(path)
    # Files are joined with a blank line so one file's end does not run into the next one's start.
    return "\n\n".join(text for _, text in texts), report


def split_text(text: str, valid_fraction: float) -> tuple[str, str]:
    """Split off the tail ``valid_fraction`` of the text for validation (the char-rnn / nanoGPT split)."""
    cut = int(len(text) * (1.0 - valid_fraction))
    return text[:cut], text[cut:]


def to_tensor(ids: list[int]) -> torch.Tensor:
    """A 1-D int64 tensor of token ids (int64 is what ``nn.Embedding`` indexes with)."""
    return torch.tensor(ids, dtype=torch.long)


