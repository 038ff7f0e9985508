"""Rendering speed: a blues chorus with the full band to MIDI and WAV (FluidSynth), and 50 choruses.

The product goal is one chorus composed *and* rendered within 2 s on a 2-core CPU, and 50 within 60 s; this
measures the rendering share. Three workloads, each timed ``--reps`` times (medians reported):

* ``1 chorus``: a 12-bar chorus at 120 bpm (24 s of music), lead + walking bass + piano + drums, swing 0.62:
  ``render_midi`` + ``write_midi`` + ``write_wav``, with the time of each step;
* ``50 x 1 chorus``: 50 different one-chorus takes (band seeds 0-49), each to its own MIDI and WAV, as a batch
  compose writes them;
* ``1 x 50 choruses``: one 50-chorus take (20 minutes of music) to one MIDI and one WAV.

Also timed once: the sheet-music outputs for one chorus (MusicXML, verovio SVG, piano-roll PNG).

    python benchmarks/render_speed.py [--reps 3] [--sample-rate 44100] [--soundfont PATH] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

from studio.music.band.render import render_midi
from studio.music.io.audio import write_wav
from studio.music.io.export import write_midi
from studio.music.io.notation import musicxml_to_svg, write_musicxml
from studio.music.io.roll_png import piano_roll_png
from studio.music.theory.chords import STEPS_PER_BAR, LeadSheet, Note, blues_chart


def blues_melody(choruses: int, seed: int = 0) -> list[Note]:
    """A stand-in improvisation: phrases of 8ths and quarters on the C blues scale with rests between them, about
    as dense as a model's solo (the notes do not matter for speed, only their number)."""
    rng = random.Random(seed)
    scale = [60, 63, 65, 66, 67, 70, 72, 75, 77]
    notes, step, index = [], 0, 4
    end = choruses * 12 * STEPS_PER_BAR
    while step < end:
        for _ in range(rng.randint(3, 8)):  # a phrase
            length = rng.choice((2, 2, 2, 4, 1, 3))
            if step + length > end:
                break
            index = min(len(scale) - 1, max(0, index + rng.choice((-2, -1, -1, 1, 1, 2))))
            notes.append(Note(scale[index], step, length, rng.randint(80, 105)))
            step += length
        step += rng.choice((2, 4, 6, 8))  # breathe
    return notes


def take(choruses: int, seed: int) -> LeadSheet:
    return LeadSheet(blues_melody(choruses, seed), blues_chart("12-bar", "C"), tempo=120.0, name=f"bench-{seed}")


def render_files(sheet: LeadSheet, folder: Path, seed: int, sample_rate: int, soundfont: str | None) -> dict:
    """Render one take to MIDI + WAV; seconds per step and the synthesizer used."""
    times = {}
    start = time.perf_counter()
    pm = render_midi(sheet, swing=0.62, seed=seed, meta={"benchmark": "render_speed", "seed": seed})
    times["render_midi"] = time.perf_counter() - start
    start = time.perf_counter()
    write_midi(pm, folder / f"take-{seed}.mid")
    times["write_midi"] = time.perf_counter() - start
    start = time.perf_counter()
    synthesizer = write_wav(pm, folder / f"take-{seed}.wav", sample_rate=sample_rate, soundfont=soundfont)
    times["write_wav"] = time.perf_counter() - start
    times["total"] = sum(times.values())
    return {"seconds": times, "synthesizer": synthesizer, "music_seconds": pm.get_end_time()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each workload (medians reported)")
    parser.add_argument("--sample-rate", type=int, default=44100)
    parser.add_argument("--soundfont", default=None, help="a .sf2 (default: the best installed GM soundfont)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()

    one, batch, long = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        render_files(take(1, 99), folder, 99, args.sample_rate, args.soundfont)  # warm-up: imports, soundfont cache
        long_sheet = take(50, 0)
        for _ in range(args.reps):
            result = render_files(take(1, 0), folder, 0, args.sample_rate, args.soundfont)
            one.append(result)
            start = time.perf_counter()
            for seed in range(50):
                render_files(take(1, seed), folder, seed, args.sample_rate, args.soundfont)
            batch.append(time.perf_counter() - start)
            long.append(render_files(long_sheet, folder, 0, args.sample_rate, args.soundfont))
        start = time.perf_counter()
        sheet = take(1, 0)
        xml = write_musicxml(sheet, folder / "take.musicxml")
        sheet_times = {"write_musicxml": time.perf_counter() - start}
        start = time.perf_counter()
        musicxml_to_svg(xml)
        sheet_times["musicxml_to_svg"] = time.perf_counter() - start
        start = time.perf_counter()
        piano_roll_png(render_midi(sheet), folder / "take.png", "bench", sheet.chart)
        sheet_times["piano_roll_png"] = time.perf_counter() - start

    def median(runs: list[dict], key: str) -> float:
        return statistics.median(r["seconds"][key] for r in runs)

    report = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "synthesizer": one[0]["synthesizer"], "sample_rate": args.sample_rate, "reps": args.reps,
        "one_chorus": {k: median(one, k) for k in ("render_midi", "write_midi", "write_wav", "total")},
        "one_chorus_music_seconds": one[0]["music_seconds"],
        "fifty_takes_of_one_chorus_total": statistics.median(batch),
        "one_take_of_fifty_choruses": {k: median(long, k) for k in ("render_midi", "write_midi", "write_wav", "total")},
        "fifty_choruses_music_seconds": long[0]["music_seconds"],
        "sheet_music_one_chorus": sheet_times,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"synthesizer: {report['synthesizer']} at {args.sample_rate} Hz; medians of {args.reps} reps")
    o, f = report["one_chorus"], report["one_take_of_fifty_choruses"]
    print(f"1 chorus ({report['one_chorus_music_seconds']:.1f} s of music): total {o['total']:.3f} s "
          f"(render_midi {o['render_midi']:.3f}, write_midi {o['write_midi']:.3f}, write_wav {o['write_wav']:.3f})")
    print(f"50 takes of 1 chorus, MIDI + WAV each: {report['fifty_takes_of_one_chorus_total']:.2f} s")
    print(f"1 take of 50 choruses ({report['fifty_choruses_music_seconds']:.0f} s of music): total {f['total']:.2f} s "
          f"(render_midi {f['render_midi']:.3f}, write_midi {f['write_midi']:.3f}, write_wav {f['write_wav']:.2f})")
    print("sheet music for 1 chorus (once): " + ", ".join(f"{k} {v:.3f} s" for k, v in sheet_times.items()))


if __name__ == "__main__":
    main()
