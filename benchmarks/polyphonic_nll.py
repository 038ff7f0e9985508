"""Polyphonic music NLL (nats per time step) of tanh / GRU / LSTM piano-roll models, beside Chung et al. (2014).

Boulanger-Lewandowski's JSB Chorales and Nottingham piano rolls with their standard splits
(``../shared/corpora/polyphonic/json``). Each model reads the previous 88-key frame and predicts the next with 88
sigmoids (independent, or with ``--within-frame top_down`` each reading the keys above it in its frame); the
figure is the summed binary cross-entropy of the 88 keys, averaged over every test frame.
Each cell trains for ``--minutes`` on the CPU; the epoch with the best validation loss is the model that is tested.

    python benchmarks/polyphonic_nll.py --dataset jsb --cells rnn,gru,lstm --minutes 3
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from studio.models.piano_roll import PianoRollConfig
from studio.music.pianoroll.training import RollTrainConfig, evaluate_rolls, load_splits, train_piano_roll

FILES = {"jsb": "jsb_chorales.json", "nottingham": "nottingham.json"}
# Chung et al. (2014), test NLL. Only the JSB GRU figure was checked against a listing of the paper here
# (paperswithcode: JSB Chorales, GRU, NLL 8.54); the others are as the issue quotes them, not re-checked.
PUBLISHED = {"jsb": {"gru": ("8.54", "as published"), "lstm": ("8.67", "as cited in the issue, not re-checked"),
                     "rnn": ("8.82?", "as cited in the issue, unsure (may be a training figure)")},
             "nottingham": {}}
NAMES = {"rnn": "tanh RNN", "gru": "GRU", "lstm": "LSTM"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="jsb", choices=sorted(FILES))
    parser.add_argument("--data-dir", default="../shared/corpora/polyphonic/json")
    parser.add_argument("--cells", default="rnn,gru,lstm")
    parser.add_argument("--minutes", type=float, default=3.0, help="training budget per cell")
    parser.add_argument("--hidden", type=int, default=300)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--dropout", type=float, default=0.3, help="output dropout (input dropout is half of it)")
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--beat-periods", default="", help="also read frame index mod these periods, e.g. 12,16")
    parser.add_argument("--within-frame", default="independent", choices=("independent", "top_down"),
                        help="top_down: each key also reads the keys above it in its frame (chain rule, exact NLL)")
    parser.add_argument("--frame-hidden", type=int, default=0, help="top_down: masked hidden units over the frame")
    parser.add_argument("--bucket", action="store_true", help="batch tunes of similar length (less padding)")
    parser.add_argument("--transpose", type=int, default=0, help="augment: shift training tunes up to +-N semitones")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="", help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_splits(Path(args.data_dir, FILES[args.dataset]))
    print(f"{args.dataset}: " + ", ".join(f"{k} {len(v)} sequences / {sum(r.shape[0] for r in v):,} steps"
                                         for k, v in data.items()), flush=True)
    rows = []
    for cell in args.cells.split(","):
        mconf = PianoRollConfig(cell=cell, num_layers=args.layers, hidden_size=args.hidden,
                                dropout_input=args.dropout / 2, dropout_between=args.dropout,
                                dropout_output=args.dropout,
                                beat_periods=tuple(int(p) for p in args.beat_periods.split(",") if p),
                                within_frame=args.within_frame, frame_hidden=args.frame_hidden)
        tconf = RollTrainConfig(batch_size=args.batch, lr=args.lr, minutes=args.minutes, seed=args.seed,
                                bucket=args.bucket, transpose=args.transpose, device=args.device)
        started = time.time()
        result = train_piano_roll(mconf, tconf, data["train"], data["valid"],
                                  on_epoch=lambda r, c=cell: print(
                                      f"  {c} epoch {r['epoch']:3d} train {r['train']:.3f} valid {r['valid']:.3f} "
                                      f"lr {r['lr']:.2g} {r['seconds']:.0f} s", flush=True)
                                  if r["epoch"] % 10 == 0 else None)
        test = evaluate_rolls(result.model, data["test"])  # on the model's device
        row = {"cell": cell, "hidden": args.hidden, "layers": args.layers, "dropout": args.dropout,
               "beat_periods": args.beat_periods, "within_frame": args.within_frame,
               "frame_hidden": args.frame_hidden, "bucket": args.bucket, "lr": args.lr,
               "parameters": result.model.num_parameters(), "best_epoch": result.best_epoch, "epochs": result.epochs,
               "stop": result.stop_reason, "seconds": round(time.time() - started), "valid": result.best_valid,
               "test": test}
        print(json.dumps(row), flush=True)
        rows.append(row)
    print(f"\n| model ({args.dataset}) | parameters | epochs (best) | valid NLL | test NLL | Chung et al. 2014 test |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        pub = PUBLISHED[args.dataset].get(r["cell"])
        pub_text = f"{pub[0]} ({pub[1]})" if pub else "-"
        frame = "" if r["within_frame"] == "independent" else f", top-down frame ({r['frame_hidden']} hidden)"
        print(f"| {NAMES[r['cell']]} {r['layers']}x{r['hidden']}{frame} | {r['parameters']:,} | {r['epochs']} "
              f"({r['best_epoch']}) | {r['valid']:.3f} | {r['test']:.3f} | {pub_text} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
