"""Does the soloist entry ("in the manner of") work? Held-out solos of known players, scored under their entries.

    python benchmarks/jazz_soloist_entry.py --split valid --strengths 0,0.25,0.5,0.75,1
    python benchmarks/jazz_soloist_entry.py --split test --strengths 0.5 --identify --json out.json

Two measures, over the held-out solos whose player has training solos:

- the issue's: each player's held-out solos scored with their own entry against the entry "none", at each strength
  of ``--strengths`` (``studio.music.jazz.entries``: the entry drawn from "none" toward the player; 1 is the entry as
  trained). Nats per note over every solo, and for how many players the own entry is the likelier;
- ``--identify``: every solo scored under every player's entry (at ``--identify-strength``); the rank of the
  player's own entry among all of them (1 = the model finds the solo likeliest as that player's). Chance puts the own
  entry at a median rank of about half the players. A likelihood per note cannot show much here: an entry can tell
  the model at most which of the players is playing, about log(players) nats over a whole solo of hundreds of notes,
  where the ranking asks exactly that question.

Choose the strength on ``--split valid``; ``--split test`` is for the chosen one.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio.loading import load_model  # noqa: E402
from studio.music.jazz.corpus import read_jazz_corpus  # noqa: E402
from studio.music.jazz.entries import apply_soloist_strength, set_soloist_strength  # noqa: E402
from studio.music.jazz.scoring import encode_all, token_nll  # noqa: E402
from studio.music.jazz.tokenizer import JazzEvents, JazzTokenizer  # noqa: E402
from studio.music.jazz.training import split_solos  # noqa: E402


def as_player(encoded: list[JazzEvents], entry: int) -> list[JazzEvents]:
    """The same solos with the soloist stream set to ``entry`` (0 = none) at every step."""
    out = []
    for events in encoded:
        changed = copy.copy(events)
        changed.conditions = {**events.conditions, "soloists": [entry] * len(events.tokens)}
        out.append(changed)
    return out


def solo_totals(model: torch.nn.Module, encoded: list[JazzEvents]) -> torch.Tensor:
    """Each solo's NLL in nats (every token after BOS), shape (solos,)."""
    return torch.tensor([float(nll.sum()) for nll in token_nll(model, encoded)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(ROOT / "checkpoints" / "jazz"))
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpora" / "jazz"))
    parser.add_argument("--split", default="valid", choices=("valid", "test"))
    parser.add_argument("--strengths", default="1", help="comma-separated entry strengths to compare with none")
    parser.add_argument("--identify", action="store_true", help="also rank each solo's own entry among all")
    parser.add_argument("--identify-strength", type=float, default=None,
                        help="the strength for --identify (default: the model's, as its card or the code sets it)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    loaded = load_model(args.model, read_tokenizer=JazzTokenizer.from_dict, kind="jazz")
    tokenizer, model = loaded.tokenizer, loaded.model.eval()
    solos, _ = read_jazz_corpus(args.corpus)
    held = [s for s in split_solos(solos)[args.split] if s.performer in tokenizer.soloists]
    encoded = encode_all(held, tokenizer)
    notes = torch.tensor([float(e.notes) for e in encoded])  # what nats per note divides by, as in scoring
    own_ids = [tokenizer.soloist_id(s.performer) for s in held]
    players = sorted({s.performer for s in held})
    by_player = {p: [i for i, s in enumerate(held) if s.performer == p] for p in players}
    print(f"{args.split}: {len(held)} solos or parts of {len(players)} known players, {int(notes.sum())} notes")
    started = time.perf_counter()
    none = solo_totals(model, as_player(encoded, 0))  # "none" is row 0: no strength moves it
    result: dict = {"model": args.model, "split": args.split, "solos": len(held), "players": len(players),
                    "notes": int(notes.sum()), "none_nats_per_note": float(none.sum() / notes.sum()), "strengths": {}}
    print(f"none: {result['none_nats_per_note']:.4f} nats/note")
    for strength in [float(s) for s in args.strengths.split(",")]:
        set_soloist_strength(model, strength)
        own = solo_totals(model, encoded)
        table = {p: {"solos": len(ix), "own": float(own[ix].sum() / notes[ix].sum()),
                     "none": float(none[ix].sum() / notes[ix].sum())} for p, ix in by_player.items()}
        better = sum(row["own"] < row["none"] for row in table.values())
        row = {"own_nats_per_note": float(own.sum() / notes.sum()), "players_own_better": better,
               "solos_own_better": int((own < none).sum()), "per_player": table}
        result["strengths"][f"{strength:g}"] = row
        print(f"strength {strength:g}: own {row['own_nats_per_note']:.4f} nats/note, own entry likelier for "
              f"{better} of {len(players)} players, {row['solos_own_better']} of {len(held)} solos")
    if args.identify:
        strength = apply_soloist_strength(model, loaded.card, args.identify_strength)
        entries = range(1, len(tokenizer.soloists) + 1)
        totals = torch.stack([solo_totals(model, as_player(encoded, e)) for e in entries], dim=1)  # (solos, players)
        own = totals[torch.arange(len(held)), torch.tensor(own_ids) - 1]
        ranks = (totals < own[:, None]).sum(dim=1) + 1
        known = len(tokenizer.soloists)
        result["identify"] = {
            "strength": strength, "entries": known, "ranks": ranks.tolist(), "top1": int((ranks == 1).sum()),
            "top5": int((ranks <= 5).sum()), "median_rank": float(ranks.float().median()),
            "chance_top1": len(held) / known, "chance_top5": 5 * len(held) / known,
            "chance_median_rank": (known + 1) / 2, "log_players": math.log(known)}
        ident = result["identify"]
        print(f"identify (strength {strength:g}): own entry first for {ident['top1']} of {len(held)} solos "
              f"(chance {ident['chance_top1']:.1f}), in the top 5 for {ident['top5']} "
              f"(chance {ident['chance_top5']:.1f}); median rank {ident['median_rank']:g} of {known} "
              f"(chance {ident['chance_median_rank']:g})")
    result["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
