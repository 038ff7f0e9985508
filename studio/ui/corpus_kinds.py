"""Which uploads each kind of model fine-tunes on, and the training corpus gathered from them.

Text models take text files; music models take music files (Impro-Visor ``.ls`` lead sheets only the blues
models); every kind takes a ``.zip`` of its files. The suffixes are the readers' own (``studio.text.corpus`` for text,
``studio.music.io.file_types`` for music), so the page accepts what fine-tuning can read. A file of the *other*
kind (a ``.mid`` for a text model, a ``.txt`` for ``jsb``) is an error naming what the model takes: the person most
likely chose the wrong base model, and training on the rest would quietly ignore what they meant to teach it.
Anything else that cannot be used (another type, too large, a broken zip) is left out and listed, never fatal.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.music.io.file_types import IMPRO_VISOR_SUFFIXES, MIDI_SUFFIXES, MUSIC21_SUFFIXES
from studio.ui import validation as v
from studio.ui.model_cache import LEADSHEET, TEXT
from studio.ui.models_tab import KIND_NAMES
from studio.ui.workspace import safe_name

TEXT_TYPES = (".txt", ".md", ".text", ".rst")   # studio.text.corpus.TEXT_SUFFIXES (not imported: it pulls in torch)
MUSIC_TYPES = MIDI_SUFFIXES + MUSIC21_SUFFIXES  # what load_midi reads: every music model
LEADSHEET_TYPES = MUSIC_TYPES + IMPRO_VISOR_SUFFIXES
ZIP = ".zip"
MAX_FILE_BYTES = 20_000_000
MAX_TOTAL_BYTES = 50_000_000
MAX_FILES = 200
MAX_UNZIPPED_BYTES = 200_000_000  # music inside one zip, unpacked (a zip of 20 MB can hold far more)


def file_types(kind: str) -> tuple[str, ...]:
    """The file suffixes (zips aside) a model of ``kind`` fine-tunes on."""
    return {TEXT: TEXT_TYPES, LEADSHEET: LEADSHEET_TYPES}.get(kind, MUSIC_TYPES)


def takes(kind: str) -> str:
    """What a model of ``kind`` fine-tunes on, in words, for messages and labels."""
    if kind == TEXT:
        return f"text files ({', '.join(TEXT_TYPES)}) or a .zip of them"
    extra = ", Impro-Visor .ls" if kind == LEADSHEET else ""
    return f"music files (MIDI, MusicXML, ABC or kern: {', '.join(MUSIC_TYPES)}{extra}) or a .zip of them"


def _other_kind(suffix: str, kind: str) -> str | None:
    """What a file with ``suffix`` is, in words, when it belongs to a kind of corpus that ``kind`` does not take."""
    if kind == TEXT:
        return "music" if suffix in LEADSHEET_TYPES else None
    if suffix in TEXT_TYPES:
        return "text"
    if suffix in IMPRO_VISOR_SUFFIXES and kind != LEADSHEET:
        return "an Impro-Visor lead sheet (blues models take those)"
    return None


def _wrong_kind(subject: str, model: str, kind: str) -> StudioError:
    """The one-line error for a file of the other kind; ``subject`` says what it is ("song.mid is music")."""
    return StudioError(f"{subject}; {model} is a {KIND_NAMES.get(kind, kind)} model and fine-tunes on "
                       f"{takes(kind)}")


def zip_contents(path: Path, kind: str, model: str) -> tuple[list[int], str]:
    """Sizes of the members of zip ``path`` that ``kind`` takes, and why the zip is left out ("" if it is not).

    A zip holding only files of the other kind is the same mistake as uploading them loose, and says so.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = [(Path(i.filename).suffix.lower(), i.file_size) for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError) as err:
        return [], f"not a readable zip file ({err})"
    sizes = [size for suffix, size in members if suffix in file_types(kind)]
    if not sizes:
        other = {_other_kind(suffix, kind) for suffix, _ in members} - {None}
        if other:
            raise _wrong_kind(f"{path.name} holds {sorted(other)[0]}", model, kind)
        return [], f"it holds none of the {takes(kind).split(' or a .zip')[0]}"
    if kind != TEXT and sum(sizes) > MAX_UNZIPPED_BYTES:
        return [], f"its music unpacks to more than {MAX_UNZIPPED_BYTES // 1_000_000} MB"
    return sizes, ""


def accept_uploads(files: Any, kind: str = TEXT, model: str = "the base model") -> tuple[list[Path], list[str]]:
    """Split uploads into usable paths and notes on the ones left out (wrong type, too large, too many).

    Raises a ``StudioError`` for a file (or a zip of files) of the other kind than ``model``'s (see the module
    docstring).
    """
    kept, notes, total = [], [], 0
    accepted = (*file_types(kind), ZIP)
    for path in v.upload_paths(files):
        suffix = path.suffix.lower()
        other = _other_kind(suffix, kind)
        if other:
            raise _wrong_kind(f"{path.name} is {other}", model, kind)
        if not path.is_file():
            notes.append(f"left out {path.name}: the upload is missing")
        elif suffix not in accepted:
            notes.append(f"left out {path.name}: not one of {', '.join(accepted)}")
        elif path.stat().st_size > MAX_FILE_BYTES:
            notes.append(f"left out {path.name}: larger than {MAX_FILE_BYTES // 1_000_000} MB")
        elif len(kept) >= MAX_FILES:
            notes.append(f"left out {path.name}: more than {MAX_FILES} files")
        elif total + path.stat().st_size > MAX_TOTAL_BYTES:
            notes.append(f"left out {path.name}: the upload passes {MAX_TOTAL_BYTES // 1_000_000} MB in all")
        elif suffix == ZIP and (why := zip_contents(path, kind, model)[1]):
            notes.append(f"left out {path.name}: {why}")
        else:
            total += path.stat().st_size
            kept.append(path)
    return kept, notes


def text_chars(paths: list[Path]) -> list[int]:
    """Bytes of text in each upload (a zip counts the text files inside), a stand-in for its length."""
    sizes: list[int] = []
    for path in paths:
        sizes += zip_contents(path, TEXT, "")[0] if path.suffix.lower() == ZIP else [path.stat().st_size]
    return sizes


def gather_corpus(paths: list[Path], kind: str, folder: Path) -> Path:
    """Copy the kept uploads into ``folder`` (created) as the corpus the fine-tuning services read; returns it.

    Files are numbered, so two uploads with one name stay two files. A text zip is read as it is by
    ``studio.text.finetune``; a music zip is unpacked (safely: ``studio.music.io.corpus.unzipped_corpus``, as
    ``studio finetune`` does) into a folder of its own, since the music readers take files and folders only.
    """
    from studio.music.io.corpus import unzipped_corpus

    folder.mkdir(parents=True)
    for i, path in enumerate(paths):
        target = folder / f"{i + 1:03d}-{safe_name(path.name)}"
        if kind != TEXT and path.suffix.lower() == ZIP:
            unzipped_corpus(path, target, MAX_UNZIPPED_BYTES)  # into folder/.NNN-name.zip-corpus/
        else:
            shutil.copyfile(path, target)
    return folder
