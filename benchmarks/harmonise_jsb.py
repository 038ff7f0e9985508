"""How well the shipped ``jsb`` model harmonises Bach's own sopranos, beside two baselines and Bach himself.

For each JSB Chorales test chorale (Boulanger-Lewandowski's split; the model never trained on them) the soprano is
the top sounding key of each frame. The model's voices below it are compared with Bach's:

* conditional NLL: nats per frame of Bach's lower voices given the soprano and Bach's earlier frames (the keys
  above the soprano are certain to be off, so only the keys below count); lower is better;
* key F1 and pitch-class F1 of a sampled harmonisation against Bach's lower voices, frame by frame (pitch classes
  forgive octave choices); harmonisations are drawn with ``studio.music.pianoroll.compose`` exactly as users get them
  (temperature 1, at most 4 keys per frame), several seeds per chorale, with 1 particle (plain clamped sampling)
  and with the sequential Monte Carlo the page and CLI use (32 particles by default);
* in key: share of the harmony's notes on the chorale's scale (major, or harmonic and melodic minor together).

Baselines: *frequency*, every key below the soprano drawn with its frequency in the training set's lower voices
(same cap of 4 keys); *chord tones*, a random triad of the data's key (C major / C minor in this data set) under
the soprano. Bach's own row is the ceiling of the sampled metrics (F1 1.0 by definition, and his in-key share).

    python benchmarks/harmonise_jsb.py [--model jsb] [--samples 4] [--particles 1,32,128]

The same measure fits any piano-roll data set whose top line is a melody (``--data`` defaults to the model's own
training set when its card names a .json): ``--model folk --data
../shared/corpora/polyphonic/json/nottingham.json`` compares the ``folk`` model's chords under each Nottingham test
tune's melody with the tune's own accompaniment ("Bach" is then that accompaniment).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from studio.models.piano_roll import KEYS, LOWEST_MIDI
from studio.music.pianoroll.compose import RollRequest, compose_rolls, load_roll_model
from studio.music.pianoroll.frames import estimate_roll_tonic, frames_to_midi, top_line
from studio.music.pianoroll.training import load_splits

MAJOR = {0, 2, 4, 5, 7, 9, 11}
MINOR = {0, 2, 3, 5, 7, 8, 10, 11, 9}  # natural + harmonic + melodic


def below_soprano(roll: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(frames, 88) masks: the keys under each frame's top key, and the roll restricted to them (lower voices)."""
    tops = torch.tensor([-1 if k is None else k for k in top_line(roll)])
    under = torch.arange(KEYS)[None, :] < tops[:, None]
    return under, roll.bool() & under


def conditional_nll(model, roll: torch.Tensor) -> float:
    """Summed nats of Bach's lower voices given the soprano and the past, over all frames of one chorale."""
    under, lower = below_soprano(roll)
    with torch.inference_mode():
        logits = model.model(roll[None].float())[0]
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, lower.float(), reduction="none")
    return float((bce * under).sum())


def f1(pred: torch.Tensor, true: torch.Tensor) -> float:
    hits = float((pred & true).sum())
    return 2 * hits / max(1.0, float(pred.sum()) + float(true.sum()))


def pitch_classes(roll: torch.Tensor) -> torch.Tensor:
    """(frames, 88) -> (frames, 12) bool: which pitch classes sound."""
    out = torch.zeros(roll.shape[0], 12, dtype=torch.bool)
    for pc in range(12):
        out[:, pc] = roll[:, (pc - LOWEST_MIDI) % 12::12].any(1)
    return out


def in_key_share(lower: torch.Tensor, tonic: int, minor: bool) -> float:
    scale = MINOR if minor else MAJOR
    keys = lower.nonzero()[:, 1]
    if keys.numel() == 0:
        return float("nan")
    return sum(((int(k) + LOWEST_MIDI - tonic) % 12) in scale for k in keys) / keys.numel()


def is_minor(roll: torch.Tensor, tonic: int) -> bool:
    """Minor when the minor third above the tonic sounds more often than the major third."""
    pcs = pitch_classes(roll).sum(0)
    return bool(pcs[(tonic + 3) % 12] > pcs[(tonic + 4) % 12])


def lower_voice_frequencies(train: list[torch.Tensor]) -> torch.Tensor:
    """(88,) share of training frames in which each key sounds below the top line."""
    counts, frames = torch.zeros(KEYS), 0
    for r in train:
        counts += below_soprano(r)[1].float().sum(0)
        frames += r.shape[0]
    return counts / frames


def frequency_baseline(frequencies: torch.Tensor, roll: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    probs = frequencies.expand(roll.shape[0], -1)
    under, _ = below_soprano(roll)
    drawn = (torch.rand(probs.shape, generator=generator) < probs) & under
    ranked = torch.where(drawn, probs, torch.full_like(probs, -1.0)).topk(4, dim=1)
    keep = torch.zeros_like(drawn).scatter_(1, ranked.indices, True)
    return drawn & keep


def triad_baseline(roll: torch.Tensor, tonic: int, minor: bool, generator: torch.Generator) -> torch.Tensor:
    """A random diatonic triad per frame, one note of each chord tone in the octave below the soprano."""
    scale = sorted(MINOR - {9, 10} if minor else MAJOR)  # harmonic minor's seven notes
    tops = top_line(roll)
    out = torch.zeros_like(roll, dtype=torch.bool)
    for t, top in enumerate(tops):
        if top is None:
            continue
        degree = int(torch.randint(7, (1,), generator=generator))
        for step in (0, 2, 4):
            pc = (tonic + scale[(degree + step) % 7]) % 12
            key = top - 1 - ((top + LOWEST_MIDI - 1 - pc) % 12)  # the highest key of that class below the soprano
            if key >= 0:
                out[t, key] = True
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="jsb")
    parser.add_argument("--data", default=None, help="a Boulanger-Lewandowski .json (default: the data set the model "
                        "was trained on, as its card says; else JSB Chorales)")
    parser.add_argument("--samples", type=int, default=4, help="harmonisations drawn per chorale")
    parser.add_argument("--particles", default="1,32,128",
                        help="comma-separated particle counts to compare (1: plain clamped sampling)")
    parser.add_argument("--min-notes", default="3,4",
                        help="comma-separated voice floors to compare, each with 32 particles (0: none)")
    parser.add_argument("--json", default="", help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_roll_model(args.model)
    trained_on = [p for p in model.card.get("corpus", {}).get("paths", []) if str(p).endswith(".json")]
    data = args.data or (trained_on[0] if trained_on else "../shared/corpora/polyphonic/json/jsb_chorales.json")
    print(f"{model.path} on the test split of {data}", flush=True)
    splits = load_splits(data)
    test = splits["test"]
    nats, frames = 0.0, 0
    settings = [(int(p), 0) for p in args.particles.split(",")]
    settings += [(32, int(m)) for m in args.min_notes.split(",") if int(m)]

    def label(count: int, floor: int) -> str:
        return f"model, {count} particle{'s' if count > 1 else ''}" + (f", at least {floor} voices" if floor else "")

    names = ["bach", *(label(c, f) for c, f in settings), "frequency", "chord tones"]
    rows: dict[str, dict[str, list[float]]] = {name: {"key_f1": [], "pc_f1": [], "in_key": []} for name in names}
    generator = torch.Generator().manual_seed(0)
    frequencies = lower_voice_frequencies(splits["train"])
    for index, roll in enumerate(test):
        nats += conditional_nll(model, roll)
        frames += roll.shape[0]
        _, bach = below_soprano(roll)
        tonic = estimate_roll_tonic(roll)
        minor = is_minor(roll, tonic)
        # The melody as a MIDI file at the data's pitch (the model moves it to its key and register and back).
        melody = frames_to_midi(roll.bool() & ~bach, tempo=90, frames_per_beat=model.frames_per_beat)
        drawn = {"bach": [bach]}
        for count, floor in settings:
            request = RollRequest(num_samples=args.samples, seed=index, particles=count, min_notes=floor)
            pieces = compose_rolls(model, request, melody=melody)
            drawn[label(count, floor)] = [below_soprano(p.roll)[1] for p in pieces]
        drawn |= {
                 "frequency": [frequency_baseline(frequencies, roll, generator) for _ in range(args.samples)],
                 "chord tones": [triad_baseline(roll, tonic, minor, generator) for _ in range(args.samples)]}
        for name, harmonies in drawn.items():
            for lower in harmonies:
                rows[name]["key_f1"].append(f1(lower, bach))
                rows[name]["pc_f1"].append(f1(pitch_classes(lower), pitch_classes(bach)))
                rows[name]["in_key"].append(in_key_share(lower, tonic, minor))
    summary = {"model": str(model.path), "test_chorales": len(test), "frames": frames,
               "conditional_nll_per_frame": nats / frames, "samples_per_chorale": args.samples,
               "rows": {name: {k: statistics.fmean(x for x in v if x == x) for k, v in r.items()}
                        for name, r in rows.items()}}
    print(json.dumps(summary, indent=1))
    print(f"\nconditional NLL of Bach's lower voices given his soprano: {summary['conditional_nll_per_frame']:.3f} "
          "nats per frame")
    print("\n| harmony under Bach's soprano | key F1 vs Bach | pitch-class F1 vs Bach | notes in key |")
    print("| --- | --- | --- | --- |")
    for name, r in summary["rows"].items():
        print(f"| {name} | {r['key_f1']:.3f} | {r['pc_f1']:.3f} | {100 * r['in_key']:.1f}% |")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
