"""The Studio page through its API: every action driven by gradio_client against a served page.

The page serves the shipped models and four tiny local models trained here (``ui_support``), so the tests
need nothing outside a fresh clone. One page serves the whole module; each test calls its actions as a client
would, checks the files that come back, and checks that bad input comes back as a one-line message.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import subprocess
import sys
import threading
import time
import wave
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pretty_midi
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from ui_support import MELODY, bach_chorales, blues_midis, chord_piece, one_part_melody, served_page, tiny_runs

from studio.errors import StudioError

ROOT = Path(__file__).resolve().parent.parent
TWELVE_BAR_C = "C7 | F7 | C7 | C7 | F7 | F7 | C7 | C7 | G7 | F7 | C7 | G7"
BLUES = {"chart": TWELVE_BAR_C, "key": "C", "tempo": 140, "swing": 0.62, "choruses": 1, "bass": "walking",
         "drums": True, "comping": "piano", "lead": "tenor sax", "key_lock": False, "model": "", "temperature": 1.0,
         "top_p": 1.0, "beam": 1, "seed": 5}
WRITE = {"model": "shakespeare", "prompt": "ROMEO:", "length": 300, "search": "sample", "temperature": 0.8,
         "top_k": 0, "top_p": 1.0, "repetition_penalty": 1.0, "beams": 4, "groups": 2, "diversity": 0.5, "nbest": 3,
         "seed": 11}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_runs(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def page(runs: Path, tmp_path_factory: pytest.TempPathFactory):
    with served_page(runs, tmp_path_factory.mktemp("workspace")) as (app, url):
        yield app, url


@pytest.fixture(scope="module")
def client(page, tmp_path_factory: pytest.TempPathFactory) -> Client:
    _, url = page
    c = Client(url, verbose=False, analytics_enabled=False, download_files=str(tmp_path_factory.mktemp("downloads")))
    yield c
    c.close()


@pytest.fixture(scope="module")
def blues(runs: Path) -> dict:
    return {**BLUES, "model": str(runs / "tiny-blues")}


def _error(client: Client, api_name: str, **kwargs) -> str:
    with pytest.raises(AppError) as caught:
        client.predict(**kwargs, api_name=api_name)
    message = str(caught.value)
    assert "Traceback" not in message and message.strip()
    return message


# -- the page as a program -------------------------------------------------------------------------------------------
def test_importing_ui_launches_nothing_and_loads_no_model() -> None:
    # CI=1 as on the CI machine: pyfluidsynth (imported by pretty_midi) then prints where it found libfluidsynth,
    # which is how a music reader imported at start-up was first noticed. The page needs none of them to start.
    code = ("import sys, ui, studio.ui.app as app; "
            "heavy = [m for m in ('torch', 'pretty_midi', 'fluidsynth', 'music21') if m in sys.modules]; "
            "assert not heavy, f'imported at import time: {heavy}'; "
            "import os; assert os.environ['GRADIO_ANALYTICS_ENABLED'] == 'False'; "
            "assert os.environ['HF_HUB_OFFLINE'] == '1' and os.environ['HF_HUB_DISABLE_TELEMETRY'] == '1'; "
            "print(app.DEFAULT_HOST, app.DEFAULT_PORT)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "CI": "1"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["127.0.0.1", "7860"]


def test_ui_py_and_studio_ui_take_host_and_port() -> None:
    from studio.cli import build_parser, main
    from studio.ui.app import parse_args

    args = parse_args(["--host", "0.0.0.0", "--port", "8123"])
    assert (args.host, args.port, args.runs) == ("0.0.0.0", 8123, "runs")
    args = build_parser().parse_args(["ui", "--port", "8124"])
    assert (args.command, args.host, args.port) == ("ui", "127.0.0.1", 8124)
    assert main(["ui", "--port", "70000"]) == 2  # refused before anything is built or served
    out = subprocess.run([sys.executable, "ui.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "--port" in out.stdout and "--host" in out.stdout


def test_every_action_has_an_api_name(page) -> None:
    app, _ = page
    names = [fn.api_name for fn in app.fns.values()]
    assert all(names), names
    assert {"blues_chart", "compose_blues", "compose_music", "write", "train", "stop_training", "training_status",
            "list_models", "model_card", "refresh_models"} <= set(names)


def test_validation_helpers() -> None:
    import gradio as gr

    from studio.ui import validation as v

    assert v.number("choruses", 3.0, 1, 8, integer=True) == 3
    assert v.number("tempo", "120", 40, 300) == 120.0
    for bad in (2.5, 0, 9, None, "x", True):
        with pytest.raises(StudioError):
            v.number("choruses", bad, 1, 8, integer=True)
    assert 0 <= v.seed(None) <= v.MAX_SEED and 0 <= v.seed(-1) <= v.MAX_SEED and v.seed(7.0) == 7
    with pytest.raises(StudioError, match="seed"):
        v.seed(-2)
    with pytest.raises(StudioError, match="at most 10"):
        v.text("prompt", "x" * 11, 10)

    @v.user_errors
    def refuses() -> None:
        raise StudioError("temperature must be in (0, 100], got 0")

    @v.user_errors
    def streams_then_breaks():
        yield 1
        raise ValueError("boom")

    with pytest.raises(gr.Error, match="temperature must be"):
        refuses()
    with pytest.raises(gr.Error, match="something went wrong"):
        list(streams_then_breaks())


# -- Blues -----------------------------------------------------------------------------------------------------------
def test_form_presets_fill_the_chart(client: Client) -> None:
    assert client.predict(form="12-bar", key="Bb", api_name="/blues_chart").startswith("Bb7 | Bb7 | Bb7 | Bb7 | Eb7")
    jazz = client.predict(form="jazz", key="F", api_name="/blues_chart")
    assert jazz.count("|") == 11 and "Gm7 C7" in jazz
    assert "13-bar" in _error(client, "/blues_chart", form="13-bar", key="F")  # Gradio checks the choices


def test_compose_blues_gives_audio_score_roll_downloads_and_metrics(client: Client, blues: dict) -> None:
    from studio.music.io.export import read_meta

    wav, roll, sheet, downloads, metrics, info = client.predict(**blues, api_name="/compose_blues")
    with wave.open(wav) as audio:
        assert audio.getnchannels() == 2 and audio.getnframes() / audio.getframerate() > 12 * 4 * 60 / 140
    assert Path(roll).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in sheet and "studio-sheet" in sheet
    suffixes = sorted(Path(p).suffix for p in downloads)
    assert suffixes == [".mid", ".musicxml", ".wav"]
    midi = next(p for p in downloads if p.endswith(".mid"))
    names = {i.name for i in pretty_midi.PrettyMIDI(midi).instruments}
    assert {"bass", "comping", "drums"} <= names
    meta = read_meta(midi)
    assert meta["seed"] == 5 and meta["render.tempo"] == 140
    assert {"chord-tone share (%)", "blues-scale share (%)", "novelty (%)"} <= set(metrics)
    assert "seed **5**" in info
    # The same seed gives the same piece; the band follows the switches.
    again = client.predict(**{**blues, "bass": "off", "drums": False, "comping": "off"}, api_name="/compose_blues")
    midi2 = next(p for p in again[3] if p.endswith(".mid"))
    instruments = {i.name: i for i in pretty_midi.PrettyMIDI(midi2).instruments}
    assert set(instruments) <= {"lead"}
    lead = {i.name: i for i in pretty_midi.PrettyMIDI(midi).instruments}.get("lead")
    if lead is not None:
        assert [n.pitch for n in instruments["lead"].notes] == [n.pitch for n in lead.notes]


def test_blues_beam_search_and_key_lock(client: Client, blues: dict) -> None:
    out = client.predict(**{**blues, "beam": 3, "key_lock": True, "chart": "C7 | F7 | C7 | G7"},
                         api_name="/compose_blues")
    assert "beam search (3 beams)" in out[5]
    midi = next(p for p in out[3] if p.endswith(".mid"))
    lead = [i for i in pretty_midi.PrettyMIDI(midi).instruments if i.name == "lead"]
    blues_scale_c = {0, 3, 4, 5, 6, 7, 9, 10}  # C7's tones and the C blues scale
    assert all(n.pitch % 12 in blues_scale_c for i in lead for n in i.notes)


def test_bad_blues_settings_come_back_as_messages(client: Client, blues: dict) -> None:
    assert "bar 2 of the chord chart" in _error(client, "/compose_blues", **{**blues, "chart": "C7 | C7 F7 G7"})
    assert "unknown" in _error(client, "/compose_blues", **{**blues, "chart": "H7 | C7"}).lower()
    assert "unknown jazz soloist or blues (lead-sheet) model" in _error(client, "/compose_blues",
                                                                        **{**blues, "model": "/etc"})
    assert "minutes of music" in _error(client, "/compose_blues", **{**blues, "choruses": 8, "tempo": 40,
                                                                       "chart": " | ".join(["C7"] * 48)})
    assert _error(client, "/compose_blues", **{**blues, "temperature": 0})   # outside the slider: refused
    assert _error(client, "/compose_blues", **{**blues, "bass": "tuba"})
    assert _error(client, "/compose_blues", **{**blues, "seed": -3})


def test_a_jazz_soloist_plays_in_a_style_and_a_manner(client: Client, runs: Path) -> None:
    from studio.music.io.export import read_meta

    jazz = str(runs / "tiny-jazz")
    names = client.predict(model=jazz, api_name="/blues_soloists")
    assert names["value"] == "none" and "Test Bird" in str(names)
    # Choosing a model sets temperature, top-p and strength to its card's (a card without them: 1.0, 0.95, and the
    # entries as trained).
    assert tuple(client.predict(model="jazz", api_name="/blues_sampling")) == (1.05, 1.0, 0.5)
    assert tuple(client.predict(model=jazz, api_name="/blues_sampling")) == (1.0, 0.95, 1.0)
    wav, _, sheet, downloads, stats, info = client.predict(
        **{**BLUES, "model": jazz, "style": "bebop", "soloist": "Test Bird", "chart": "D-7 | G7 | Cj7 | C79b"},
        api_name="/compose_blues")
    assert Path(wav).stat().st_size > 10_000 and "<svg" in sheet and "in the manner of Test Bird" in info
    assert "(strength 0.5)" in info  # the slider's value: the first model's card's (the shipped soloist's)
    midi = next(p for p in downloads if p.endswith(".mid"))
    meta = read_meta(midi)
    assert meta["style"] == "bebop" and meta["soloist"] == "Test Bird" and 0.5 <= meta["band_swing"] <= 0.8
    assert meta["soloist_strength"] == 0.5
    *_, downloads, _, info = client.predict(**{**BLUES, "model": jazz, "soloist": "Test Bird", "strength": 1.4},
                                            api_name="/compose_blues")
    assert "(strength 1.5)" in info  # to the slider's step: the page keeps one model per strength
    assert read_meta(next(p for p in downloads if p.endswith(".mid")))["soloist_strength"] == 1.5
    assert "maximum value 2" in _error(client, "/compose_blues", **{**BLUES, "model": jazz, "strength": 2.5})
    assert {"notes per bar", "chord tones (%)", "phrases copied from training (%)"} <= set(stats)
    assert "Test Bird" in _error(client, "/compose_blues", **{**BLUES, "model": jazz, "soloist": "Nobody"})
    assert "grunge" in _error(client, "/compose_blues", **{**BLUES, "model": jazz, "style": "grunge"})


def test_trade_answers_a_played_call_and_refuses_bad_ones(client: Client, runs: Path) -> None:
    trade = {"played": json.dumps([[60 + i, 0.25 * i, 0.25 * i + 0.2] for i in range(8)]), "upload": None,
             "chart": "12-bar", "key": "F", "tempo": 120, "bars": 4, "rounds": 2, "model": str(runs / "tiny-trade"),
             "temperature": 1.0, "seed": 3}
    wav, roll, attention, sheet, downloads, info = client.predict(**trade, api_name="/trade")
    assert Path(wav).stat().st_size > 10_000 and Path(roll).exists() and Path(attention).exists()
    assert "<svg" in sheet and "8-note call" in info and "2 answer(s)" in info
    midi = next(p for p in downloads if p.endswith(".mid"))
    assert {"call", "response"} <= {i.name for i in pretty_midi.PrettyMIDI(midi).instruments}
    assert "no notes" in _error(client, "/trade", **{**trade, "played": "[]"})
    assert "bars long" in _error(client, "/trade", **{**trade, "played": json.dumps([[60, 9.0, 9.5]])})
    assert "could not be read" in _error(client, "/trade", **{**trade, "played": "{not json"})
    *_, info = client.predict(**trade, listen=0.5, api_name="/trade")
    assert "listening at 0.5" in info
    *_, info = client.predict(**trade, listen=0, api_name="/trade")
    assert "listening" not in info
    assert "maximum value 1" in _error(client, "/trade", **{**trade, "listen": 1.5})  # the slider's own check


def test_the_shipped_soloist_and_responder_play_on_the_page(client: Client) -> None:
    """What a new user meets first: the Blues tab's default soloist (the shipped jazz model, in the manner of a
    master) and the Trade tab's default responder (the shipped trade model) answer from the page."""
    names = client.predict(model="jazz", api_name="/blues_soloists")
    assert "Charlie Parker" in str(names)
    wav, _, sheet, downloads, stats, info = client.predict(
        **{**BLUES, "model": "jazz", "style": "bebop", "soloist": "Charlie Parker", "tempo": 180},
        api_name="/compose_blues")
    assert Path(wav).stat().st_size > 100_000 and "<svg" in sheet and "in the manner of Charlie Parker" in info
    assert "(strength 0.5)" in info  # the shipped card's: the strength that predicted unseen solos best
    assert stats["notes per bar"] > 2 and any(p.endswith(".mid") for p in downloads)
    call = json.dumps([[65 + (i % 5), 0.5 * i, 0.5 * i + 0.4] for i in range(12)])
    wav, roll, attention, sheet, downloads, info = client.predict(
        played=call, upload=None, chart="12-bar", key="F", tempo=140, bars=4, rounds=1, model="trade",
        temperature=1.0, seed=4, api_name="/trade")
    assert Path(wav).stat().st_size > 100_000 and Path(attention).exists() and "1 answer(s)" in info
    assert Path(roll).exists() and "<svg" in sheet and any(p.endswith(".mid") for p in downloads)


def test_eight_simultaneous_compose_requests_all_succeed(client: Client, blues: dict) -> None:
    started = time.monotonic()
    jobs = [client.submit(**{**blues, "seed": 100 + i}, api_name="/compose_blues") for i in range(8)]
    results = [job.result(timeout=240) for job in jobs]
    elapsed = time.monotonic() - started
    assert len(results) == 8
    for i, (wav, roll, sheet, downloads, _metrics, info) in enumerate(results):
        assert Path(wav).stat().st_size > 100_000 and Path(roll).exists() and "<svg" in sheet
        assert len(downloads) == 3 and f"seed **{100 + i}**" in info
    print(f"8 simultaneous blues choruses in {elapsed:.1f} s")


# -- Compose (polyphonic) ----------------------------------------------------------------------------------------------
def test_compose_continues_an_uploaded_primer(client: Client, runs: Path, tmp_path: Path) -> None:
    primer = tmp_path / "primer.mid"
    chord_piece(2, bars=2).write(str(primer))
    wav, roll, midi, info = client.predict(model=str(runs / "tiny-chorale"), primer=handle_file(str(primer)),
                                           tokens=64, temperature=1.0, top_k=0, top_p=1.0, seed=3,
                                           api_name="/compose_music")
    assert Path(wav).read_bytes()[:4] == b"RIFF" and Path(roll).exists()
    notes = sum(len(i.notes) for i in pretty_midi.PrettyMIDI(midi).instruments)
    assert notes >= 32 and "primer.mid" in info  # the primer's 32 notes at least, then the continuation


def test_compose_refuses_bad_uploads_and_models(client: Client, runs: Path, tmp_path: Path) -> None:
    text = tmp_path / "primer.txt"
    text.write_text("not music")
    settings = {"model": str(runs / "tiny-chorale"), "tokens": 32, "temperature": 1.0, "top_k": 0, "top_p": 1.0,
                "seed": 1}
    assert _error(client, "/compose_music", primer=handle_file(str(text)), **settings)
    fake = tmp_path / "broken.mid"
    fake.write_bytes(b"MThd not really")
    assert _error(client, "/compose_music", primer=handle_file(str(fake)), **settings)
    assert "unknown polyphonic or piano-roll model" in _error(client, "/compose_music", primer=None,
                                                              **{**settings, "model": str(runs / "tiny-blues")})


# -- Compose (piano roll) ----------------------------------------------------------------------------------------------
PNG = b"\x89PNG\r\n\x1a\n"


def _compose(client: Client, **settings) -> tuple:
    return client.predict(**{"primer": None, "tokens": 32, "temperature": 1.0, "top_k": 0, "top_p": 1.0, "seed": 5,
                             **settings}, api_name="/compose_music")


def test_compose_offers_remi_and_piano_roll_models_labelled(client: Client, runs: Path) -> None:
    choices = dict(client.predict(api_name="/refresh_models")[1]["choices"])  # the Compose tab's dropdown
    assert str(runs / "tiny-rolls") in choices.values() and str(runs / "tiny-chorale") in choices.values()
    labels = {value: label for label, value in choices.items()}
    assert labels[str(runs / "tiny-rolls")] == "tiny-rolls (local) · piano-roll harmoniser"
    assert labels[str(runs / "tiny-chorale")] == "tiny-chorale (local) · REMI composer"
    assert str(runs / "tiny-blues") not in labels and "shakespeare" not in labels
    assert "harmonise" in client.predict(value=str(runs / "tiny-rolls"), api_name="/compose_model_help")
    assert "cannot harmonise" in client.predict(value=str(runs / "tiny-chorale"), api_name="/compose_model_help")


def test_compose_harmonises_an_uploaded_melody(client: Client, tmp_path: Path) -> None:
    """The shipped JSB harmoniser, as people get it: a tune in G, moved to the model's C (an octave up) and back."""
    tune = one_part_melody(tmp_path / "tune.mid")
    wav, roll, midi, info = _compose(client, model="jsb", melody=handle_file(str(tune)), max_notes=3)
    assert Path(wav).read_bytes()[:4] == b"RIFF" and Path(roll).read_bytes()[:8] == PNG
    parts = {i.name: i for i in pretty_midi.PrettyMIDI(midi).instruments}
    melody = parts["melody"].notes
    assert [n.pitch for n in melody] == list(MELODY)  # the tune as written, note for note
    assert parts["harmony"].notes
    for note in parts["harmony"].notes:  # the model's voices sit below the tune, never above it
        above = [m.pitch for m in melody if m.start - 1e-6 <= note.start < m.end - 1e-6]
        assert above and note.pitch < above[0], (note, above)
    for m in melody:  # at most three notes at once (the tune and two voices below it)
        middle = (m.start + m.end) / 2
        assert sum(n.start <= middle < n.end for n in parts["harmony"].notes) <= 2
    assert f"harmonised tune.mid ({len(MELODY)} frames, moved +" in info  # G to C is up a fourth (and octaves)
    assert "seed **5**" in info and "100 bpm" in info


def test_compose_takes_the_key_of_the_melody_when_told(client: Client, tmp_path: Path) -> None:
    """The key is read from the tune's notes (G here) unless the person says otherwise; the tune is moved from the
    key given to the model's C."""
    tune = handle_file(str(one_part_melody(tmp_path / "tune.mid")))
    moved = {}
    for key in ("from its notes", "G", "D"):
        info = _compose(client, model="jsb", melody=tune, max_notes=4, key=key)[3]
        moved[key] = int(re.search(r"moved ([+-]\d+) semitones", info).group(1))
    assert moved["from its notes"] == moved["G"] and moved["G"] % 12 == 5  # G up to C
    assert moved["D"] % 12 == 10                                           # D down to C
    refused = _error(client, "/compose_music", model="jsb", melody=tune, primer=None, tokens=32, temperature=1.0,
                     top_k=0, top_p=1.0, seed=5, key="H")
    assert "H is not in the list of choices" in refused and "'G'" in refused  # the page names the keys it takes


def test_compose_continues_and_starts_with_a_piano_roll_model(client: Client, runs: Path, tmp_path: Path) -> None:
    import torch

    from studio.music.pianoroll.frames import midi_to_frames

    primer = tmp_path / "primer.mid"
    chord_piece(2, bars=2).write(str(primer))
    given = midi_to_frames(pretty_midi.PrettyMIDI(str(primer)))
    # No melody and no max_notes: a call written before they existed still works (their defaults apply).
    wav, roll, midi, info = _compose(client, model=str(runs / "tiny-rolls"), primer=handle_file(str(primer)),
                                     tokens=24)
    assert Path(wav).read_bytes()[:4] == b"RIFF" and Path(roll).read_bytes()[:8] == PNG
    out = midi_to_frames(pretty_midi.PrettyMIDI(midi))
    assert torch.equal(out[:len(given)], given)  # the primer as given, then the model's 24 frames
    assert len(given) < len(out) <= len(given) + 24
    assert f"continued primer.mid ({len(given)} frames) by 24 frames" in info
    _, _, midi, info = _compose(client, model=str(runs / "tiny-rolls"), tokens=16, seed=8)
    assert "started a piece of 16 frames" in info
    assert 0 < pretty_midi.PrettyMIDI(midi).get_end_time() <= 16 * 60 / 90 + 1e-6  # a frame is a beat at 90 bpm


def test_compose_refuses_melodies_it_cannot_harmonise(client: Client, runs: Path, tmp_path: Path) -> None:
    tune = handle_file(str(one_part_melody(tmp_path / "tune.mid")))
    primer = tmp_path / "primer.mid"
    chord_piece(1, bars=1).write(str(primer))
    message = _error(client, "/compose_music", model=str(runs / "tiny-chorale"), primer=None, tokens=32,
                     temperature=1.0, top_k=0, top_p=1.0, seed=1, melody=tune)
    assert "harmonising a melody needs a piano-roll model such as jsb" in message
    message = _error(client, "/compose_music", model=str(runs / "tiny-rolls"), primer=handle_file(str(primer)),
                     tokens=32, temperature=1.0, top_k=0, top_p=1.0, seed=1, melody=tune)
    assert "not both" in message
    assert "maximum value 8" in _error(client, "/compose_music", model=str(runs / "tiny-rolls"), primer=None,
                                       tokens=32, temperature=1.0, top_k=0, top_p=1.0, seed=1, max_notes=9)
    silent = tmp_path / "silent.mid"
    pretty_midi.PrettyMIDI().write(str(silent))
    assert _error(client, "/compose_music", model=str(runs / "tiny-rolls"), primer=None, tokens=32,
                  temperature=1.0, top_k=0, top_p=1.0, seed=1, melody=handle_file(str(silent)))


# -- Write -----------------------------------------------------------------------------------------------------------
def test_write_streams_the_text_in_pieces(client: Client) -> None:
    job = client.submit(**{**WRITE, "length": 600}, api_name="/write")
    text, rows, info, download = job.result(timeout=120)
    pieces = [out[0] for out in job.outputs()]
    assert len(set(pieces)) >= 3, pieces  # it grew in several steps, each a prefix of the next
    assert all(b.startswith(a) for a, b in itertools.pairwise(pieces))
    assert text.startswith("ROMEO:") and len(text) > 300 and pieces[-1] == text
    assert Path(download).read_text(encoding="utf-8") == text + "\n"
    assert "novelty" in info and "seed **11**" in info
    assert not rows["data"] or rows["data"] == [[None] * 4]  # the n-best list is for beam searches
    again = client.predict(**{**WRITE, "length": 600}, api_name="/write")
    assert again[0] == text  # same seed, same text


def test_write_beam_and_diverse_beam_give_an_nbest_list(client: Client) -> None:
    text, rows, info, download = client.predict(**{**WRITE, "search": "beam", "length": 60}, api_name="/write")
    data = rows["data"]
    assert len(data) == 3 and data[0][3] == text and "beam" in info
    assert data[0][1] >= data[1][1] >= data[2][1]  # best first
    assert "result 3 of 3" in Path(download).read_text(encoding="utf-8")
    _, rows, _, _ = client.predict(**{**WRITE, "model": "prose", "prompt": "The history of the city",
                                      "search": "diverse beam", "beams": 4, "groups": 2, "nbest": 4, "length": 20},
                                   api_name="/write")
    assert len(rows["data"]) == 4
    assert "cannot be longer" in _error(client, "/write", **{**WRITE, "search": "beam", "beams": 2, "nbest": 3})
    assert "equal groups" in _error(client, "/write", **{**WRITE, "search": "diverse beam", "beams": 5,
                                                         "groups": 2})
    assert "unknown text model" in _error(client, "/write", **{**WRITE, "model": "../checkpoints/shakespeare"})


# -- Train and Models --------------------------------------------------------------------------------------------
def _corpus_files(folder: Path) -> list:
    folder.mkdir()
    good = folder / "letters.txt"
    good.write_text("Dear Anna, the garden is full of roses and the river is low this summer.\n" * 40)
    (folder / "empty.txt").write_text("")
    (folder / "scan.pdf").write_bytes(b"%PDF-1.4 binary")
    with zipfile.ZipFile(folder / "more.zip", "w") as archive:
        archive.writestr("notes/more.txt", "The roses by the river were red and the summer was long.\n" * 30)
    return [handle_file(str(folder / n)) for n in ("letters.txt", "empty.txt", "scan.pdf", "more.zip")]


def test_finetune_lists_bad_files_and_the_new_model_appears(client: Client, runs: Path, tmp_path: Path) -> None:
    status, _curve, notes = client.predict(files=_corpus_files(tmp_path / "mine"), base=str(runs / "tiny-text"),
                                          minutes=2, max_steps=4, name="letters", api_name="/train")
    assert "**done**" in status and "letters (local)" in status
    assert "scan.pdf" in notes and "empty.txt" in notes
    assert (runs / "letters" / "best" / "model.json").exists()
    table, _ = client.predict(api_name="/list_models")
    assert str(runs / "letters") in [row[0] for row in table["data"]]
    card = client.predict(value=str(runs / "letters"), api_name="/model_card")
    assert card["finetuned_from"]["model"] == str(runs / "tiny-text")
    text = client.predict(**{**WRITE, "model": str(runs / "letters"), "prompt": "Dear", "length": 40},
                          api_name="/write")[0]
    assert text.startswith("Dear")
    assert "exists" in _error(client, "/train", files=_corpus_files(tmp_path / "again"),
                              base=str(runs / "tiny-text"), minutes=1, max_steps=2, name="letters")
    assert "no usable files" in _error(client, "/train", files=[handle_file(str(tmp_path / "mine" / "scan.pdf"))],
                                       base=str(runs / "tiny-text"), minutes=1, max_steps=2, name="nothing")


def test_finetune_with_weight_drop_for_a_small_text_corpus(client: Client, runs: Path, tmp_path: Path) -> None:
    status, _curve, _notes = client.predict(files=_corpus_files(tmp_path / "mine"), base=str(runs / "tiny-text"),
                                            minutes=2, max_steps=4, name="letters-wd", weight_drop=0.5,
                                            api_name="/train")
    assert "**done**" in status
    card = client.predict(value=str(runs / "letters-wd"), api_name="/model_card")
    assert card["model_config"]["weight_drop"] == 0.5 and "--weight-drop 0.5" in card["command"]
    song = tmp_path / "song.mid"
    chord_piece(1).write(str(song))
    assert "weight drop is for text models; jsb is a" in _error(
        client, "/train", files=[handle_file(str(song))], base="jsb", minutes=1, max_steps=2, name="wd-music",
        weight_drop=0.3)
    assert "maximum value 0.9" in _error(client, "/train", files=_corpus_files(tmp_path / "again"),
                                         base=str(runs / "tiny-text"), minutes=1, max_steps=2, name="wd-bad",
                                         weight_drop=2)
    assert not (runs / "wd-music").exists() and not (runs / "wd-bad").exists()


def test_training_runs_beside_generation_and_stops(client: Client, page, blues: dict, runs: Path,
                                                   tmp_path: Path) -> None:
    """Fine-tune the shipped Shakespeare model (slow steps: the run lasts), compose meanwhile, then stop it."""
    app, _ = page
    job = client.submit(files=_corpus_files(tmp_path / "long"), base="shakespeare", minutes=5, max_steps=100_000,
                        name="long-run", api_name="/train")
    deadline = time.monotonic() + 120
    def started() -> bool:  # this run, not an earlier test's finished one, is training
        current = app.studio_board.current
        return bool(current and Path(current.out_dir).name == "long-run" and current.snapshot()["steps"])

    while not started():
        assert time.monotonic() < deadline and not job.done(), "training did not start"
        time.sleep(0.2)
    wav = client.predict(**blues, api_name="/compose_blues")[0]  # served while the training runs
    assert Path(wav).exists() and app.studio_board.current.running
    status, _, _ = client.predict(api_name="/training_status")
    assert "**running**" in status and "long-run" in status
    assert "stopping" in client.predict(api_name="/stop_training")
    status, curve, _ = job.result(timeout=180)
    assert "**stopped**" in status
    assert (runs / "long-run" / "best" / "model.json").exists()  # a stopped run keeps its best model
    assert curve["data"]
    assert client.predict(api_name="/stop_training") == "no run in progress"


def test_one_training_run_at_a_time() -> None:
    from studio.ui.training_job import TrainingBoard

    class Running:
        running = True
        out_dir = Path("runs/first")

        def start(self):
            return self

    board = TrainingBoard()
    board.start(Running())
    with pytest.raises(StudioError, match="in progress"):
        board.start(Running())


# -- Train: music models ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chorales(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Six real Bach chorales (music21's corpus) as MIDI files to upload."""
    return bach_chorales(tmp_path_factory.mktemp("chorales"), 6)


def _broken(path: Path) -> Path:
    path.write_bytes(b"MThd and then nothing a MIDI reader can use")
    return path


def test_train_offers_every_kind_and_refuses_files_of_the_wrong_kind(client: Client, page, runs: Path,
                                                                     tmp_path: Path) -> None:
    from studio.ui.train_tab import model_choices

    app, _ = page
    labels = {value: label for label, value in model_choices(app.studio_cache)}
    assert labels["shakespeare"] == "shakespeare · text" and labels["blues"] == "blues · blues (lead sheet)"
    assert labels["chorale"] == "chorale · polyphonic (REMI)" and labels["jsb"] == "jsb · piano roll (harmoniser)"
    assert labels[str(runs / "tiny-rolls")] == "tiny-rolls (local) · piano roll (harmoniser)"
    about = client.predict(value="jsb", api_name="/train_model_help")
    assert ".mid" in about and ".ls" not in about and "count epochs" in about and "Compose tab" in about
    assert ".ls" in client.predict(value="blues", api_name="/train_model_help")

    song, letters = tmp_path / "song.mid", tmp_path / "letters.txt"
    chord_piece(1).write(str(song))
    letters.write_text("Dear Anna, the roses are out.\n" * 20)
    (tmp_path / "tune.ls").write_text("(title Tune)\n")
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.4")
    with zipfile.ZipFile(tmp_path / "texts.zip", "w") as archive:
        archive.writestr("texts/a.txt", "some words\n")
    settings = {"minutes": 1, "max_steps": 2, "name": "wrong-kind"}

    def refused(names: list[str], base: str) -> str:
        return _error(client, "/train", files=[handle_file(str(tmp_path / n)) for n in names], base=base, **settings)

    assert ("letters.txt is text; jsb is a piano roll (harmoniser) model and fine-tunes on music files (MIDI, "
            "MusicXML, ABC or kern") in refused(["song.mid", "letters.txt"], "jsb")
    assert "song.mid is music; tiny-text is a text model and fine-tunes on text files (.txt" in refused(
        ["letters.txt", "song.mid"], str(runs / "tiny-text"))
    assert "tune.ls is an Impro-Visor lead sheet" in refused(["tune.ls"], str(runs / "tiny-chorale"))
    assert "texts.zip holds text; blues is a blues (lead sheet) model" in refused(["texts.zip"], "blues")
    assert "no usable files: jsb fine-tunes on music files" in refused(["scan.pdf"], "jsb")
    assert not (runs / "wrong-kind").exists()


def test_finetune_a_polyphonic_model_on_uploaded_music(client: Client, runs: Path, tmp_path: Path,
                                                        chorales: list[Path]) -> None:
    """Real chorales, a piece of chords, a broken file, and a zip holding a chorale and another broken file."""
    chords = tmp_path / "chords.mid"
    chord_piece(5).write(str(chords))
    with zipfile.ZipFile(tmp_path / "more.zip", "w") as archive:
        archive.write(chorales[3], "more/chorale-4.mid")
        archive.writestr("more/bad.mid", b"not a MIDI file")
    files = [*chorales[:3], chords, _broken(tmp_path / "broken.mid"), tmp_path / "more.zip"]
    status, curve, notes = client.predict(files=[handle_file(str(f)) for f in files], base=str(runs / "tiny-chorale"),
                                          minutes=1, max_steps=6, name="my-chorales", api_name="/train")
    assert "**done**" in status and "my-chorales (local)" in status and "Compose tab" in status
    assert re.search(r"validation \d+\.\d{3} → \d+\.\d{3} nats/token after 6 steps \(max_steps\)", status), status
    assert "broken.mid" in notes and "more.zip/more/bad.mid" in notes, notes  # listed, never fatal
    assert {row[2] for row in curve["data"]} == {"training", "validation"}
    card = client.predict(value=str(runs / "my-chorales"), api_name="/model_card")
    assert card["model_kind"] == "polyphonic" and card["finetuned_from"]["model"] == str(runs / "tiny-chorale")
    assert (card["corpus"]["files"], card["corpus"]["skipped"]) == (5, 2)
    composers = dict(client.predict(api_name="/refresh_models")[1]["choices"])  # the Compose tab's list
    assert str(runs / "my-chorales") in composers.values()
    wav, _, _, info = _compose(client, model=str(runs / "my-chorales"), primer=handle_file(str(chords)), tokens=32)
    assert Path(wav).read_bytes()[:4] == b"RIFF" and "continued chords.mid" in info


def test_finetune_the_jsb_harmoniser_on_uploaded_chorales(client: Client, runs: Path, tmp_path: Path,
                                                           chorales: list[Path]) -> None:
    files = [*chorales, _broken(tmp_path / "broken.mid")]
    status, curve, notes = client.predict(files=[handle_file(str(f)) for f in files], base="jsb", minutes=1,
                                          max_steps=3, name="my-hymns", api_name="/train")
    assert "**done**" in status and "epoch 3" in status and "harmonise a melody" in status, status
    assert re.search(r"validation \d+\.\d{3} → \d+\.\d{3} nats/frame after 3 epochs", status) or (
        "no epoch beat the base model" in status), status
    assert "broken.mid" in notes
    validation = [row[0] for row in curve["data"] if row[2] == "validation (by epoch)"]
    assert validation == [0, 1, 2, 3]  # epoch 0: the base model on the held-out chorale
    assert (runs / "my-hymns" / "best" / "model.json").exists() and (runs / "my-hymns" / "history.json").exists()
    tune = one_part_melody(tmp_path / "tune.mid")
    wav, _, midi, info = _compose(client, model=str(runs / "my-hymns"), melody=handle_file(str(tune)), max_notes=3)
    assert Path(wav).read_bytes()[:4] == b"RIFF" and "harmonised tune.mid" in info
    melody = {i.name: i for i in pretty_midi.PrettyMIDI(midi).instruments}["melody"]
    assert [n.pitch for n in melody.notes] == list(MELODY)  # the tune kept as written


def test_stop_ends_a_music_run_and_keeps_a_usable_model(client: Client, page, blues: dict, runs: Path,
                                                        tmp_path: Path) -> None:
    """The shipped blues improviser fine-tuned on lead sheets (MIDI with a melody and a chord track), stopped."""
    app, _ = page
    files = [handle_file(str(f)) for f in blues_midis(tmp_path / "tunes", 6, seed=4)]
    job = client.submit(files=files, base="blues", minutes=5, max_steps=100_000, name="my-blues", api_name="/train")
    deadline = time.monotonic() + 120
    while not ((current := app.studio_board.current) and current.out_dir.name == "my-blues"
               and current.snapshot()["steps"]):
        assert time.monotonic() < deadline and not job.done(), "training did not start"
        time.sleep(0.2)
    assert "stopping" in client.predict(api_name="/stop_training")
    status, _, notes = job.result(timeout=180)
    assert "**stopped**" in status and "(stopped)" in status and "Blues tab" in status, status
    assert "nats/token" in status and "a small corpus" in notes
    assert (runs / "my-blues" / "best" / "model.json").exists()
    wav = client.predict(**{**blues, "model": str(runs / "my-blues")}, api_name="/compose_blues")[0]
    assert Path(wav).read_bytes()[:4] == b"RIFF"


def test_music_batches_shrink_to_fit_and_a_too_small_corpus_says_how_much_more() -> None:
    import torch

    from studio.training.batches import StreamBatcher
    from studio.ui.finetune_runs import fit_batches, make_config, shape_for_tokens

    assert shape_for_tokens(100_000) == (32, 128)
    for tokens in range(18, 5000, 13):  # every shape it picks is one the Trainer's batcher accepts
        StreamBatcher(torch.zeros(tokens, dtype=torch.long), *shape_for_tokens(tokens))
    notes: list[str] = []
    config = make_config("polyphonic", 1.0, 10)
    fit_batches(config, 651, "REMI tokens", notes.append)
    assert (config.batch_size, config.seq_len) == (10, 64) and "batches of 10 x 64 instead of 32 x 128" in notes[0]
    with pytest.raises(StudioError, match=r"comes to 10 16th-note steps.*add 8 more 16th-note steps \(about 1 "):
        fit_batches(make_config("leadsheet", 1.0, 10), 10, "16th-note steps", notes.append)
    rolls = make_config("piano_roll", 2.0, 100_000)  # `studio finetune --base jsb`'s settings, epochs capped
    assert (rolls.max_epochs, rolls.lr, rolls.patience, rolls.batch_size) == (500, 5e-4, 4, 32)


@pytest.mark.parametrize("kind, model", [("polyphonic", "tiny-chorale"), ("leadsheet", "tiny-blues")])
def test_music_base_loss_is_the_trainers_own_evaluation(runs: Path, tmp_path: Path, kind: str, model: str) -> None:
    """The "before" of a music run is measured on the validation stream the Trainer scores: one step at a learning
    rate of 1e-12 leaves the model as it was, and the Trainer's evaluation then equals it (so it is no new
    model)."""
    from studio.ui.finetune_runs import Hooks, make_config, run

    corpus = tmp_path / "corpus"
    blues_midis(corpus, 4, seed=9)
    config = make_config(kind, 1.0, 1)
    config.lr = 1e-12
    heard: list[tuple[str, float]] = []

    def on_event(event) -> None:
        if event.kind in ("base_eval", "step", "eval"):
            heard.append((event.kind, event.data.get("valid_nats_per_token", math.nan)))

    summary = run(kind, str(runs / model), corpus, tmp_path / "out", config,
                  Hooks(on_event, lambda row: None, lambda note: None), "test")
    assert heard[0] == ("base_eval", summary.before)  # reported before the first step, for the page's status
    assert [kind for kind, _ in heard] == ["base_eval", "step", "eval"]
    assert heard[2][1] == pytest.approx(summary.before, abs=1e-5) and summary.count == 1
    assert not summary.new_model and "no evaluation beat the base model" in summary.no_model
    assert not (tmp_path / "out" / "best").exists()


def test_the_status_says_what_a_run_does_before_its_first_step(runs: Path, tmp_path: Path) -> None:
    """Reading the files, then scoring the base model with a bar that fills, then training: each is what the Train
    tab shows at that moment (the status is read from a real run as each event arrives)."""
    from studio.ui.finetune_runs import make_config
    from studio.ui.train_tab import progress_view
    from studio.ui.training_job import TrainingJob

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "letters.txt").write_text("The roses by the river were red and the summer was long.\n" * 400)
    job = TrainingJob(base=str(runs / "tiny-text"), corpus=corpus, out_dir=tmp_path / "out",
                      train_config=make_config("text", 1.0, 4, batch_size=4, seq_len=16))
    seen: list[tuple[str, str]] = [("created", progress_view(job)[0])]
    heard = job._on_event

    def watch(event) -> None:  # the job's own recorder, then what the page would show now
        heard(event)
        seen.append((event.kind, progress_view(job)[0]))

    job._on_event = watch
    job.start()
    assert job.wait(120) and job.status == "done", job.error
    assert "reading your files" in seen[0][1]
    scoring = [status for kind, status in seen if kind == "base_progress"]
    assert "scoring the base model on your validation data" in scoring[0]
    assert "(1 of " in scoring[1] and "▰▰▰▰▰▰▰▰▰▰ 100%" in scoring[-1], scoring
    assert [kind for kind, _ in seen].index("base_eval") < [kind for kind, _ in seen].index("step")
    training = next(status for kind, status in seen if kind == "step")
    assert "step 1, training loss" in training and "scoring" not in training


def test_corpus_kinds_follow_the_readers() -> None:
    from studio.music.io.corpus import SUFFIXES
    from studio.music.io.midi import MIDI_SUFFIXES, SCORE_FORMATS
    from studio.text.corpus import TEXT_SUFFIXES
    from studio.ui import corpus_kinds

    assert corpus_kinds.TEXT_TYPES == TEXT_SUFFIXES
    assert set(corpus_kinds.LEADSHEET_TYPES) == set(SUFFIXES)
    assert set(corpus_kinds.MUSIC_TYPES) == set(MIDI_SUFFIXES) | set(SCORE_FORMATS)  # what load_midi reads


def test_models_tab_lists_shipped_and_local_models_with_cards(client: Client, runs: Path) -> None:
    table, _ = client.predict(api_name="/list_models")
    rows = {row[0]: row for row in table["data"]}
    assert {"shakespeare", "prose", str(runs / "tiny-blues"), str(runs / "tiny-chorale")} <= set(rows)
    assert rows["shakespeare"][1] == "shipped" and rows[str(runs / "tiny-blues")][2] == "blues (lead sheet)"
    rolls = rows[str(runs / "tiny-rolls")]
    assert rolls[2] == "piano roll (harmoniser)" and "88-key piano roll" in rolls[3]
    card = client.predict(value="shakespeare", api_name="/model_card")
    assert card["model_config"]["cell"] == "lstm" and set(card["tokenizer"]) == {"kind", "vocab_size"}
    json.dumps(card)
    assert "unknown model" in _error(client, "/model_card", value="nope")


def test_dice_and_refresh_actions(client: Client, runs: Path) -> None:
    for name in ("/blues_random_seed", "/compose_random_seed", "/write_random_seed", "/trade_random_seed"):
        assert 0 <= int(client.predict(api_name=name)) < 2**31
    refreshed = client.predict(api_name="/refresh_models")
    assert len(refreshed) == 8
    assert str(runs / "tiny-trade") in {value for _, value in refreshed[6]["choices"]}  # the Trade tab's models
    assert str(runs / "tiny-jazz") in {value for _, value in refreshed[0]["choices"]}  # the Blues tab's soloists
    train_bases = {value for _, value in refreshed[3]["choices"]}  # the Train tab keeps its music models
    assert {"shakespeare", "blues", "chorale", "jsb"} <= train_bases
    assert str(runs / "tiny-trade") not in {value for _, value in refreshed[7]["choices"]}  # the Sketch tab: DRAW only


def test_generation_is_not_serialised_behind_one_request(client: Client, blues: dict) -> None:
    """Two requests run at once (the queue's concurrency limit is 2): a short one is not stuck behind a long one."""
    long_job = client.submit(**{**WRITE, "length": 2000}, api_name="/write")
    time.sleep(0.3)
    started = time.monotonic()
    client.predict(**{**WRITE, "length": 20, "seed": 2}, api_name="/write")
    short = time.monotonic() - started
    assert not long_job.done(), f"the short request waited for the long one ({short:.1f} s)"
    long_job.result(timeout=120)


def test_cache_loads_each_model_once(page, blues: dict) -> None:
    app, _ = page
    cache = app.studio_cache
    loaded = cache.composer(blues["model"])
    assert cache.composer(blues["model"]) is loaded
    hits = []
    threads = [threading.Thread(target=lambda: hits.append(cache.generator("prose"))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(g) for g in hits}) == 1
    with ThreadPoolExecutor(2) as pool:
        assert all(pool.map(lambda _: cache.generator("shakespeare") is cache.generator("shakespeare"), range(4)))
    rolls = cache.roll_model("jsb")
    assert cache.roll_model("jsb") is rolls and rolls.frames_per_beat == 1
    with pytest.raises(StudioError, match="unknown piano-roll model"):
        cache.roll_model("chorale")
    assert "jsb" not in [value for _, value in cache.choices("text")]  # a piano-roll model is not a text model
