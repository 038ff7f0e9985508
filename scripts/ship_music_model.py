"""Ship a trained jazz soloist or call-and-response model: its best bundle into checkpoints/NAME with its test figure.

    python scripts/ship_music_model.py --run runs/jazz --name jazz --temperature 1.0 --top-p 0.95
    python scripts/ship_music_model.py --run runs/trade-attention --name trade

The bundle's weights and extras are copied as they are (fp16 as trained); its card gains ``evaluation`` (the test
split's nats per note, scored once here, and the command that scored it) and, for the soloist, ``sampling``: the
temperature and top-p chosen on the validation split (``benchmarks/jazz_statistics.py --split valid``), which
``studio compose`` and the page use when a person sets none.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio.checkpoint import Bundle, read_bundle, write_bundle  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True, help="the training run folder (its best/ is shipped)")
    parser.add_argument("--name", required=True, help="jazz or trade")
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpora" / "jazz"))
    parser.add_argument("--temperature", type=float, default=None, help="the soloist's default (chosen on valid)")
    parser.add_argument("--top-p", type=float, default=None, help="the soloist's default (chosen on valid)")
    parser.add_argument("--rhythm-temperature", type=float, default=None, help="the soloist's default (valid)")
    parser.add_argument("--soloist-strength", type=float, default=None,
                        help="the soloist's entry strength (chosen on valid by benchmarks/jazz_soloist_entry.py): "
                        "written into the card's sampling and used for the test figure")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "scripts/ship_music_model.py", *(sys.argv[1:] if argv is None else argv)])
    bundle = read_bundle(Path(args.run) / "best")
    kind = bundle.card.get("model_kind")
    if kind == "jazz":
        from studio.music.jazz.evaluation import evaluate_jazz

        report = evaluate_jazz(Path(args.run) / "best", args.corpus, "test", soloist_strength=args.soloist_strength)
    elif kind == "trade":
        from studio.music.trade.scoring import score_trade

        report = score_trade(Path(args.run) / "best", args.corpus, "test")
    else:
        raise SystemExit(f"{args.run} holds a {kind} model; this script ships jazz and trade models")
    card = dict(bundle.card, name=args.name)
    card["evaluation"] = {"test_nats_per_note": round(report["nats_per_note"], 4), "command": command,
                          **{k: report[k] for k in ("pitch_nats_per_note", "timing_nats_per_note", "solos", "notes",
                                                    "items", "soloist_strength") if k in report},
                          "machine": "2-core CPU, fp16 weights computed in float32"}
    if kind == "jazz" and any(v is not None for v in (args.temperature, args.top_p, args.rhythm_temperature)):
        card["sampling"] = {"temperature": args.temperature, "top_p": args.top_p,
                            "rhythm_temperature": args.rhythm_temperature,
                            "chosen_on": "the validation split, by benchmarks/jazz_statistics.py"}
    if kind == "jazz" and args.soloist_strength is not None:
        card["sampling"] = {**card.get("sampling", {}), "soloist_strength": args.soloist_strength}
    dest = ROOT / "checkpoints" / args.name
    write_bundle(dest, Bundle(card, bundle.weights, extras=dict(bundle.extras)))
    print(f"shipped {dest}: test {report['nats_per_note']:.4f} nats/note")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
