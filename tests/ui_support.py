"""Helpers shared by the page's tests: tiny local models (trained here in seconds) and a served page.

The tiny models go into one ``runs`` folder per test session (built once, whichever test module asks first), so
the page lists them as local models beside the shipped ones: ``runs/tiny-blues`` (a lead-sheet improviser),
``runs/tiny-chorale`` (a polyphonic REMI model), ``runs/tiny-rolls`` (a piano-roll harmoniser),
``runs/tiny-text`` (a character model to fine-tune), ``runs/tiny-jazz`` (a jazz soloist) and ``runs/tiny-trade``
(a call-and-response model). ``chord_piece``, ``bach_chorales`` and ``blues_midis`` write real music files to
upload.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pretty_midi

CORPUS = ("It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
          "foolishness.\nShall I compare thee to a summer's day? Thou art more lovely and more temperate.\n") * 12
MELODY = (67, 69, 71, 72, 71, 69, 67, 74, 72, 71, 69, 67)  # a tune in G to harmonise, one pitch a quarter note


def chord_piece(seed: int, bars: int = 4) -> pretty_midi.PrettyMIDI:
    """A little four-voice piece of block chords (a stand-in for a chorale), different for each seed."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=90)
    piano = pretty_midi.Instrument(program=0, name="choir")
    roots = [60, 65, 67, 60, 57, 62, 67, 60]
    for beat in range(bars * 4):
        root = roots[(beat + seed) % len(roots)]
        for offset in (-12, 0, 4, 7):
            start = beat * 0.5
            piano.notes.append(pretty_midi.Note(velocity=80, pitch=root + offset, start=start, end=start + 0.5))
    pm.instruments.append(piano)
    return pm


def bach_chorales(folder: Path, count: int) -> list[Path]:
    """Write the first ``count`` of music21's Bach chorales as MIDI files in ``folder`` (real music to fine-tune on;
    about 0.2 s a chorale)."""
    import music21

    from studio.music.io.midi import score_to_midi

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, score in zip(range(count), music21.corpus.chorales.Iterator(), strict=False):
        path = folder / f"chorale-{i + 1}.mid"
        score_to_midi(score, name=path.stem).write(str(path))
        paths.append(path)
    return paths


def blues_midis(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """Write ``count`` choruses of the procedural blues as MIDI lead sheets (a melody and a chord track)."""
    from studio.music.io.leadsheet_midi import write_corpus
    from studio.music.leadsheet.procedural import generate_blues_corpus

    return list(write_corpus(generate_blues_corpus(count, seed=seed), folder))


def one_part_melody(path: Path, pitches: tuple[int, ...] = MELODY, tempo: float = 100.0) -> Path:
    """Write a melody alone (one instrument, one quarter note per pitch) as a MIDI file at ``path``."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    voice = pretty_midi.Instrument(program=73, name="flute")
    beat = 60.0 / tempo
    for i, pitch in enumerate(pitches):
        voice.notes.append(pretty_midi.Note(velocity=90, pitch=pitch, start=i * beat, end=(i + 1) * beat))
    pm.instruments.append(voice)
    pm.write(str(path))
    return path


def tiny_runs(base: Path) -> Path:
    """``base/runs`` with the four tiny models (trained on first call, reused after)."""
    import torch

    runs = base / "runs"
    done = base / "runs.ready"
    if done.exists():
        return runs
    # One thread, as the page uses: on a shared CPU, OpenMP threads spinning against other work made these three
    # tiny runs take 35 s instead of 2 s (see studio/ui/app.py).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _train_tiny_models(base, runs)
    finally:
        torch.set_num_threads(threads)
    done.write_text("ok")
    return runs


def _train_tiny_models(base: Path, runs: Path) -> None:
    from studio.config import TokenizerConfig, TrainConfig
    from studio.models.piano_roll import PianoRollConfig
    from studio.music.leadsheet.procedural import generate_blues_corpus
    from studio.music.leadsheet.training import train_leadsheets
    from studio.music.pianoroll.frames import midi_to_frames
    from studio.music.pianoroll.training import RollTrainConfig, data_profile, save_roll_model, train_piano_roll
    from studio.music.remi.training import train_polyphonic
    from studio.text.training import train_text

    small = {"hidden_size": 32, "num_layers": 1, "embedding_size": 16}
    train_leadsheets(generate_blues_corpus(12, seed=3), runs / "tiny-blues", small,
                     TrainConfig(batch_size=4, seq_len=64, max_steps=12, eval_every=12, warmup_steps=2, lr=5e-3,
                                 device="cpu"), command="test")
    pieces = [(f"piece{i}", chord_piece(i)) for i in range(4)]
    train_polyphonic(pieces, runs / "tiny-chorale", small,
                     TrainConfig(batch_size=2, seq_len=32, max_steps=6, eval_every=6, warmup_steps=1, device="cpu"),
                     command="test")
    rolls = [midi_to_frames(piece) for _, piece in pieces]
    result = train_piano_roll(PianoRollConfig(cell="lstm", hidden_size=16),
                              RollTrainConfig(max_epochs=2, minutes=0, patience=0), rolls, rolls[:1])
    save_roll_model(result, runs / "tiny-rolls" / "best",
                    {"name": "tiny-rolls", "frames_per_beat": 1, "data": data_profile(rolls)})
    corpus = base / "corpus.txt"
    corpus.write_text(CORPUS, encoding="utf-8")
    train_text(corpus, runs / "tiny-text", small, TokenizerConfig(),
               TrainConfig(batch_size=4, seq_len=32, max_steps=10, eval_every=10, warmup_steps=2, device="cpu"),
               command="test")
    from jazz_support import write_jazz_folder

    from studio.music.jazz.training import train_jazz

    jazz_corpus = write_jazz_folder(base / "jazz-corpus", solos=6)
    train_jazz(jazz_corpus, runs / "tiny-jazz", {"hidden_size": 16, "embedding_size": 8},
               TrainConfig(batch_size=2, seq_len=32, max_steps=6, eval_every=6, warmup_steps=1, device="cpu"),
               command="test")
    from studio.models.seq2seq import CallResponseConfig
    from studio.music.trade.training import TradeTrainConfig, train_trade

    train_trade(jazz_corpus, runs / "tiny-trade", CallResponseConfig(decoder_hidden=16, encoder_hidden=8,
                                                                     attention_size=8),
                TradeTrainConfig(max_epochs=1, batch_size=8), command="test", max_pairs=16)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served_page(runs: Path, workspace: Path) -> Iterator[tuple[object, str]]:
    """Build and launch the page on a free port; yields (app, url); closes it and restores torch's threads."""
    import torch

    from studio.ui.app import build_app, serve

    threads = torch.get_num_threads()
    old = os.environ.get("STUDIO_UI_WORKSPACE")
    os.environ["STUDIO_UI_WORKSPACE"] = str(workspace)
    app = build_app(runs)
    try:
        url = serve(app, "127.0.0.1", free_port(), block=False, quiet=True)
        yield app, url
    finally:
        app.close()
        torch.set_num_threads(threads)
        if old is None:
            os.environ.pop("STUDIO_UI_WORKSPACE", None)
        else:
            os.environ["STUDIO_UI_WORKSPACE"] = old
