"""Does memory help music? The NTM against an LSTM of about its size as piano-roll models of the JSB Chorales.

    python benchmarks/ntm_jsb.py --minutes 20 --json benchmarks/results/ntm-jsb.json

Both read the previous 88-key frame and give 88 logits for the next (independent keys, as Chung et al. 2014 and
``benchmarks/polyphonic_nll.py``), trained with Adam on Boulanger-Lewandowski's JSB split
(``../shared/corpora/polyphonic/json/jsb_chorales.json``) for ``--minutes`` each or until ``--patience`` epochs
pass without a better validation loss; the epoch with the best validation loss is scored on the test split, in nats
per frame (the summed binary cross-entropy of the 88 keys, averaged over every test frame). The NTM is the copy
task's machine with 88 bits in and out (an LSTM controller of ``--controller`` units, memory 128 x 20); the LSTM has
``--hidden`` units, chosen so the two have about as many parameters.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from studio.models.ntm import NTM, NTMConfig  # noqa: E402
from studio.models.piano_roll import KEYS, frame_nll  # noqa: E402
from studio.models.sequence_lstm import SequenceLSTM, SequenceLSTMConfig  # noqa: E402
from studio.music.pianoroll.training import epoch_batches, load_splits, pad_batch  # noqa: E402


def shifted(rolls: torch.Tensor) -> torch.Tensor:
    """The input of each step: the previous frame (zeros before the first). (batch, time, 88) -> same shape."""
    return torch.cat([torch.zeros_like(rolls[:, :1]), rolls[:, :-1]], dim=1)


@torch.inference_mode()
def nats_per_frame(model: torch.nn.Module, rolls: list[torch.Tensor], batch_size: int = 32) -> float:
    model.eval()
    total, frames = 0.0, 0
    order = sorted(range(len(rolls)), key=lambda i: rolls[i].shape[0])
    for start in range(0, len(order), batch_size):
        batch, mask = pad_batch([rolls[i] for i in order[start:start + batch_size]])
        nats, count = frame_nll(model(shifted(batch)), batch, mask)
        total, frames = total + float(nats), frames + count
    model.train()
    return total / frames


def train(model: torch.nn.Module, data: dict, args: argparse.Namespace, name: str) -> dict:
    """Epochs within the budget, early stopping; returns the best epoch's validation and test figures."""
    torch.manual_seed(args.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    generator = torch.Generator().manual_seed(args.seed)
    lengths = [r.shape[0] for r in data["train"]]
    best, best_state, since, epoch, started = float("inf"), None, 0, 0, time.perf_counter()
    while time.perf_counter() - started < args.minutes * 60 and since < args.patience:
        epoch += 1
        for group in epoch_batches(lengths, args.batch, True, generator):
            batch, mask = pad_batch([data["train"][i] for i in group])
            nats, count = frame_nll(model(shifted(batch)), batch, mask)
            optimizer.zero_grad(set_to_none=True)
            (nats / count).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
            optimizer.step()
        valid = nats_per_frame(model, data["valid"])
        mark = ""
        if valid < best - 1e-6:
            best, best_state, since, mark = valid, {k: v.clone() for k, v in model.state_dict().items()}, 0, " *"
        else:
            since += 1
        print(f"{name} epoch {epoch}: valid {valid:.4f} nats/frame{mark} ({time.perf_counter() - started:.0f} s)",
              flush=True)
    model.load_state_dict(best_state)
    return {"parameters": sum(p.numel() for p in model.parameters()), "epochs": epoch,
            "best_epoch": epoch - since, "seconds": round(time.perf_counter() - started, 1),
            "valid_nats_per_frame": best, "test_nats_per_frame": nats_per_frame(model, data["test"])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared/corpora/polyphonic/json/jsb_chorales.json"))
    parser.add_argument("--minutes", type=float, default=20.0, help="training budget of each model")
    parser.add_argument("--patience", type=int, default=10, help="epochs without improvement before stopping")
    parser.add_argument("--controller", type=int, default=100, help="NTM controller units")
    parser.add_argument("--hidden", type=int, default=0, help="LSTM units (0: as many parameters as the NTM)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--grad-clip", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = load_splits(args.data)
    torch.manual_seed(args.seed)
    ntm = NTM(NTMConfig(input_size=KEYS, output_size=KEYS, controller_size=args.controller))
    hidden = args.hidden or next(h for h in range(8, 2048) if SequenceLSTM(
        SequenceLSTMConfig(input_size=KEYS, output_size=KEYS, hidden_size=h)).num_parameters() >= ntm.num_parameters())
    lstm = SequenceLSTM(SequenceLSTMConfig(input_size=KEYS, output_size=KEYS, hidden_size=hidden))
    rows = {"ntm": train(ntm, data, args, "ntm"), "lstm": train(lstm, data, args, "lstm")}
    result = {"data": Path(args.data).name, "threads": args.threads, "settings": vars(args) | {"lstm_hidden": hidden},
              "models": rows}
    for name, row in rows.items():
        print(f"{name}: {row['parameters']:,} parameters, test {row['test_nats_per_frame']:.3f} nats/frame "
              f"(valid {row['valid_nats_per_frame']:.3f}, best epoch {row['best_epoch']} of {row['epochs']})")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
