"""A performance turned into what the page shows and offers: audio, piano roll, sheet music and downloads.

The same writers as ``studio compose`` (``studio.music.io.export`` and ``studio.music.io.notation``). FluidSynth renders
the audio in a worker thread while the score and the piano roll are drawn (its C calls release the GIL), which
keeps a blues chorus well under a second on two cores. Matplotlib's pyplot is not thread-safe, so piano rolls are
drawn one at a time.
"""

from __future__ import annotations

import html
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_AUDIO = ThreadPoolExecutor(max_workers=4, thread_name_prefix="studio-audio")
_PLOT_LOCK = threading.Lock()
SINE_NOTE = ("FluidSynth is not installed, so the audio is plain sine waves without drums "
             "(install libfluidsynth3 and pyfluidsynth for the band's real sound)")


@dataclass
class MusicFiles:
    """Paths of the files written for one piece, the sheet music as HTML, and notes worth showing."""

    midi: Path
    wav: Path
    roll: Path
    musicxml: Path | None = None
    sheet_html: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def downloads(self) -> list[str]:
        return [str(p) for p in (self.midi, self.wav, self.musicxml) if p is not None]


def write_performance(midi: Any, folder: Path, stem: str, title: str, sheet: Any = None,
                      chart: Any = None) -> MusicFiles:
    """Write ``stem``.mid/.wav/.png (and .musicxml with its engraving when ``sheet``, a LeadSheet, is given).

    Parameters
    ----------
    midi : pretty_midi.PrettyMIDI
        The performance (from ``render_midi`` or a polyphonic model).
    folder : Path
        Where the files go (a fresh per-request folder).
    stem : str
        File name without suffix.
    title : str
        Title of the piano roll and the score.
    sheet : LeadSheet, optional
        The lead sheet for MusicXML and sheet music.
    chart : ChordChart, optional
        Chord names along the piano roll.
    """
    from studio.music.io.audio import write_wav
    from studio.music.io.export import write_midi
    from studio.music.io.notation import write_musicxml
    from studio.music.io.roll_png import piano_roll_png

    files = MusicFiles(midi=folder / f"{stem}.mid", wav=folder / f"{stem}.wav", roll=folder / f"{stem}.png")
    write_midi(midi, files.midi)
    audio = _AUDIO.submit(write_wav, midi, files.wav)
    try:
        if sheet is not None:
            files.musicxml = write_musicxml(sheet, folder / f"{stem}.musicxml", title=title)
            files.sheet_html = sheet_music_html(engrave(files.musicxml), title)
        with _PLOT_LOCK:
            piano_roll_png(midi, files.roll, title=title, chart=chart)
    finally:
        synthesizer = audio.result()  # wait for it even when drawing failed, and raise its error first
    if synthesizer == "sine":
        files.notes.append(SINE_NOTE)
    return files


def engrave(musicxml: Path) -> list[str]:
    """The sheet music as SVG pages (``musicxml_to_svg`` sets verovio's per-thread font path itself)."""
    from studio.music.io.notation import musicxml_to_svg

    return musicxml_to_svg(musicxml)


def sheet_music_html(pages: list[str], title: str) -> str:
    """Verovio's SVG pages in one scrollable block (the SVG is Studio's own output, from its own MusicXML)."""
    body = "\n".join(f'<div class="studio-sheet-page">{svg}</div>' for svg in pages)
    return f'<div class="studio-sheet" aria-label="sheet music: {html.escape(title)}">{body}</div>'
