"""Read a folder (or file) of lead sheets of any format: MIDI, MusicXML, ABC, kern and Impro-Visor ``.ls``.

Bad files never stop a run: each is skipped with its reason, and the caller reports the list. A piece without a
single note is skipped too; a piece without chords is kept (its chart is "no chord"), since a melody still teaches
phrasing.
"""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pretty_midi

from studio.errors import StudioError
from studio.music.io.file_types import IMPRO_VISOR_SUFFIXES, MIDI_SUFFIXES, MUSIC21_SUFFIXES
from studio.music.theory.chords import LeadSheet

SUFFIXES = MIDI_SUFFIXES + MUSIC21_SUFFIXES + IMPRO_VISOR_SUFFIXES


@dataclass
class MusicCorpusReport:
    """Files used and files skipped, with reasons."""

    used: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"skipped {name}: {reason}" for name, reason in self.skipped]


def load_music_files(paths: list[str | Path]) -> tuple[list[tuple[str, pretty_midi.PrettyMIDI]], list[str]]:
    """Every music file under ``paths`` as ``(name, PrettyMIDI)`` for the polyphonic and piano-roll trainers, and
    one line per file that could not be read ("FILE: reason"). A bad file is never fatal: besides the StudioErrors
    ``load_midi`` raises, a parser's own failure on a malformed file is caught and reported too.

    A name is the file's path relative to the folder given (the file name for a file given alone): the trainers
    split pieces by a hash of their names, so the split must not depend on where the folder happens to be.
    """
    from studio.music.io.midi import load_midi

    pieces: list[tuple[str, pretty_midi.PrettyMIDI]] = []
    skipped: list[str] = []
    for path in paths:
        root = Path(path)
        for file in music_files(path):
            name = file.relative_to(root).as_posix() if root.is_dir() else file.name
            try:
                pieces.append((name, load_midi(file)))
            except StudioError as err:  # its message names the file already
                reason = str(err)
                skipped.append(reason if reason.startswith(str(file)) else f"{file}: {reason}")
            except Exception as err:
                skipped.append(f"{file}: unreadable ({type(err).__name__}: {err})")
    return pieces, skipped


def whole_folder(split: str) -> str:
    """The split of a folder of music files to score: all of it (``auto`` or ``all``); a folder has no other."""
    if split not in ("auto", "all"):
        raise StudioError(f"a folder of music files has no {split!r} split: leave --split out (or give all); only a "
                          "JSON data set has train, valid and test")
    return "all"


def skipped_entries(lines: list[str]) -> list[dict[str, str]]:
    """``"FILE: reason"`` lines (``load_music_files``'s) as ``{"file", "reason"}`` entries, for reports."""
    entries = []
    for line in lines:
        file, _, reason = line.partition(": ")
        entries.append({"file": file, "reason": reason or "unreadable"})
    return entries


def music_files(path: str | Path) -> list[Path]:
    root = Path(path)
    if not root.exists():
        raise StudioError(f"corpus {root} does not exist")
    if root.is_file():
        return [root]
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise StudioError(f"corpus folder {root} has no music files ({', '.join(SUFFIXES)})")
    return files


def read_leadsheet(path: Path) -> list[LeadSheet]:
    """The lead sheets in one file (an ABC file may hold many tunes)."""
    suffix = path.suffix.lower()
    if suffix in MIDI_SUFFIXES:
        from studio.music.io.leadsheet_extract import leadsheet_from_midi
        from studio.music.io.midi import load_midi

        return [leadsheet_from_midi(load_midi(path), name=path.stem)]
    if suffix in IMPRO_VISOR_SUFFIXES:
        from studio.music.io.impro_visor import read_impro_visor

        return [read_impro_visor(path)]
    from studio.music.io.leadsheet_extract import leadsheet_from_music21

    try:
        import music21

        parsed = music21.converter.parse(str(path))
    except Exception as err:  # music21 raises many exception types for unreadable files
        raise StudioError(f"{path}: cannot be read by music21 ({type(err).__name__}: {err})") from err
    scores = list(parsed.scores) if isinstance(parsed, music21.stream.Opus) else [parsed]
    return [leadsheet_from_music21(score, name=f"{path.stem}-{i}") for i, score in enumerate(scores)]


def read_leadsheet_corpus(paths: list[str | Path]) -> tuple[list[LeadSheet], MusicCorpusReport]:
    """Every readable lead sheet under ``paths``; unreadable, empty and duplicate files (the same bytes as an
    earlier file) are skipped and reported."""
    report = MusicCorpusReport()
    sheets: list[LeadSheet] = []
    seen: dict[str, str] = {}
    for path in paths:
        for file in music_files(path):
            try:
                digest = hashlib.sha256(file.read_bytes()).hexdigest()
            except OSError as err:
                report.skipped.append((str(file), f"unreadable ({err.strerror or err})"))
                continue
            if digest in seen:
                report.skipped.append((str(file), f"duplicate of {seen[digest]}"))
                continue
            seen[digest] = str(file)
            try:
                found = [s for s in read_leadsheet(file) if s.melody]
            except StudioError as err:
                report.skipped.append((str(file), str(err)))
                continue
            if not found:
                report.skipped.append((str(file), "no melody notes"))
                continue
            report.used.append(str(file))
            sheets.extend(found)
    return sheets, report


MAX_UNZIPPED_BYTES = 500_000_000  # music unpacked from one zip; a small zip can hold far more (a "zip bomb")


def unzipped_corpus(corpus: Path, out: Path, max_bytes: int = MAX_UNZIPPED_BYTES) -> Path:
    """A zip of music files is unpacked beside the run (into a fresh ``.OUT-corpus`` folder); folders pass through.

    Only music files are unpacked (the suffixes ``studio.music.io.corpus`` reads), never absolute or parent
    paths, and unpacking stops with a StudioError once ``max_bytes`` have been written, however small the zip.
    """
    if corpus.suffix.lower() != ".zip":
        return corpus
    target = out.parent / f".{out.name}-corpus"
    if target.exists():  # an earlier run's files must not join this corpus
        shutil.rmtree(target)
    written = 0
    try:
        with zipfile.ZipFile(corpus) as archive:
            for info in archive.infolist():
                name = Path(info.filename)
                if (info.is_dir() or name.is_absolute() or ".." in name.parts
                        or name.suffix.lower() not in SUFFIXES):
                    continue
                dest = target / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, open(dest, "wb") as sink:
                    while chunk := source.read(1 << 20):
                        written += len(chunk)
                        if written > max_bytes:
                            raise StudioError(f"{corpus}: its music unpacks to more than {max_bytes // 1_000_000} "
                                              "MB; split it into smaller zips")
                        sink.write(chunk)
    except (zipfile.BadZipFile, OSError) as err:
        raise StudioError(f"{corpus} is not a readable zip file ({err})") from err
    return target


def split_pieces(names: Sequence[str], valid_fraction: float) -> tuple[list[int], list[int]]:
    """Indexes of training and validation pieces: a piece validates when the hash of its name is in the tail."""
    def bucket(name: str) -> float:
        return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") / 2**64

    valid = [i for i, n in enumerate(names) if bucket(n) < valid_fraction]
    train = [i for i, n in enumerate(names) if bucket(n) >= valid_fraction]
    if not valid or not train:
        train, valid = list(range(len(names) - 1)), [len(names) - 1]
    return train, valid
