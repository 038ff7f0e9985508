"""How many chord tones the jazz soloist expects, against how many the players play, on held-out solos.

    python benchmarks/jazz_chord_tones.py --model checkpoints/jazz --split valid --solos 25

Teacher-forced over real solos: before each note the model gives a distribution over the pitches; its mass on the
chord's tones (the chord sounding at the note, ``Chord.pitch_classes``; notes over "no chord" are left out) is the
share of chord tones it expects there. Averaged over the notes beside the share the players chose, it separates a
model that does not know the changes well enough (expects too few) from one whose sampled solos drift (expects the
right share, plays fewer): the statistics benchmark only sees the second.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio.loading import load_model  # noqa: E402
from studio.music.jazz.corpus import read_jazz_corpus  # noqa: E402
from studio.music.jazz.scoring import encode_all  # noqa: E402
from studio.music.jazz.tokenizer import CONDITIONS, JazzTokenizer  # noqa: E402
from studio.music.jazz.training import split_solos  # noqa: E402
from studio.music.theory.chords import CHORD_VOCAB  # noqa: E402


@torch.inference_mode()
def chord_tone_shares(model: str, corpus: str, split: str, solos: int | None) -> dict:
    """The expected and the real share of chord tones over the notes of the first ``solos`` solos of ``split``."""
    loaded = load_model(model, read_tokenizer=JazzTokenizer.from_dict)
    net, tok = loaded.model.eval(), loaded.tokenizer
    held = split_solos(read_jazz_corpus(corpus)[0])[split][:solos]
    classes = torch.tensor([(tok.low + i) % 12 for i in range(tok.high - tok.low + 1)])
    tone_masks = torch.stack([torch.isin(classes, torch.tensor(sorted(c.pitch_classes) or [-1])) for c in CHORD_VOCAB])
    expected = real = 0.0
    notes = 0
    for item in encode_all(held, tok):
        tokens = torch.tensor(item.tokens)[None]
        conditions = {name: torch.tensor(item.conditions[name])[None, 1:] for name in CONDITIONS}
        logits, _ = net(tokens[:, :-1], **conditions)
        targets = tokens[0, 1:]
        pitch_slot = (targets >= tok.pitch_id(tok.low)) & (targets < tok.first_length)
        chords = conditions["chords"][0]
        pitch_slot &= torch.tensor([bool(CHORD_VOCAB[int(c)].pitch_classes) for c in chords])
        probs = torch.softmax(logits[0, :, tok.pitch_id(tok.low):tok.first_length].float(), dim=-1)[pitch_slot]
        masks = tone_masks[chords[pitch_slot]]
        expected += float((probs * masks).sum())
        real += float(masks.gather(1, (targets[pitch_slot] - tok.pitch_id(tok.low))[:, None]).sum())
        notes += int(pitch_slot.sum())
    return {"model": model, "split": split, "solos": len(held), "notes": notes,
            "expected_chord_tones": expected / max(1, notes), "real_chord_tones": real / max(1, notes)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(ROOT / "checkpoints" / "jazz"))
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpora" / "jazz"))
    parser.add_argument("--split", default="valid", choices=("train", "valid", "test"))
    parser.add_argument("--solos", type=int, default=None, help="the first N solos of the split (default: all)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    result = chord_tone_shares(args.model, args.corpus, args.split, args.solos)
    print(f"{args.split} split: {result['solos']} solos, {result['notes']} notes over a chord; model {args.model}")
    print(f"chord tones the model expects {result['expected_chord_tones']:.3f}, "
          f"the players play {result['real_chord_tones']:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
