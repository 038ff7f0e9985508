"""Trainer overhead: `studio`'s Trainer against a bare PyTorch loop training the same model on the same batches.

The bare side is the loop anyone would write around a raw ``nn.Embedding -> nn.LSTM -> nn.Linear`` stack of the same
shape (cuDNN's LSTM on a GPU), with PyTorch's default AdamW decaying every parameter (the Trainer decays matrices
only, and on CUDA uses the fused AdamW kernel: part of what it offers, so part of what is measured); the Trainer
trains Studio's ``RNNLanguageModel`` of that shape. Both read windows of
the same shape from the same token stream, carry the hidden state, and use AdamW with gradient-norm clipping, in
fp32 unless ``--amp`` puts both under bf16 autocast (Studio's default on cuda). The Trainer adds what a user gets for
free: schedule, metrics, callbacks, progress events. Repetitions alternate between the two sides so machine noise hits
both alike; the script prints the medians and their ratio (goal: the Trainer costs <= 10% extra).

    python benchmarks/train_overhead.py                # CPU, the figures in BENCHMARKS.md
    python benchmarks/train_overhead.py --device cuda [--amp] [--hidden 720 --seq-len 256]  # on a GPU
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F

from studio.config import ModelConfig, TrainConfig
from studio.models import detach_state
from studio.tokenizers import CharTokenizer
from studio.training.batches import StreamBatcher
from studio.training.evaluate import autocast_for
from studio.training.trainer import Trainer

WARMUP = 3  # steps excluded from timing (allocator and kernel warm-up)


def synthetic_text(n: int) -> str:
    """Deterministic English-like text: the benchmark must not depend on a corpus being present."""
    words = ["the", "king", "and", "queen", "of", "night", "shall", "speak", "to", "thee", "my", "lord", "what",
             "light", "through", "yonder", "window", "breaks", "now", "is", "winter", "our", "discontent", "made",
             "glorious", "summer", "by", "this", "sun"]
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(len(words), (n // 4,), generator=g).tolist()
    return " ".join(words[i] for i in idx)[:n]


class RawLSTM(torch.nn.Module):
    """The bare side's model: embedding, ``nn.LSTM``, linear decoder, nothing else (no dropout, default init)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(config.vocab_size, config.embedding_size)
        self.rnn = torch.nn.LSTM(config.embedding_size, config.hidden_size, config.num_layers, batch_first=True)
        self.decoder = torch.nn.Linear(config.hidden_size, config.vocab_size)

    def forward(self, x: torch.Tensor, state=None):
        """x (batch, time) long -> logits (batch, time, vocab), (h, c) each (layers, batch, hidden)."""
        out, state = self.rnn(self.embedding(x), state)
        return self.decoder(out), state


def bare_loop(config: ModelConfig, tc: TrainConfig, tokens: torch.Tensor, steps: int, device: torch.device) -> float:
    """Tokens per second of a plain loop: raw model, AdamW, clip, carried state. Nothing else."""
    torch.manual_seed(tc.seed)
    model = RawLSTM(config).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    batcher = StreamBatcher(tokens, tc.batch_size, tc.seq_len)
    state = None
    start = 0.0
    for i in range(steps + WARMUP):
        if i == WARMUP:
            _sync(device)
            start = time.perf_counter()
        x, y = batcher.window(0, i % batcher.windows_per_epoch(0))
        x, y = x.to(device), y.to(device)
        with autocast_for(device, tc.amp):
            logits, state = model(x, state)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        opt.step()
        state = detach_state(state)
    _sync(device)
    return steps * tc.batch_size * tc.seq_len / (time.perf_counter() - start)


def studio_trainer(config: ModelConfig, tc: TrainConfig, tokenizer: CharTokenizer, tokens: torch.Tensor,
                   valid: torch.Tensor, steps: int, device: torch.device) -> float:
    """Tokens per second of Trainer.fit over the same number of steps, timed from its own step events."""
    stamps: dict[int, float] = {}

    def clock(event) -> None:
        if event.kind == "step" and event.step in (WARMUP, WARMUP + steps):
            _sync(device)
            stamps[event.step] = time.perf_counter()

    run = TrainConfig(**{**tc.to_dict(), "max_steps": steps + WARMUP, "eval_every": 10**8, "warmup_steps": 0,
                         "schedule": "constant", "device": device.type})
    with tempfile.TemporaryDirectory() as out:
        Trainer(config, run, tokenizer, tokens, valid, out, callbacks=[clock]).fit()
    return steps * tc.batch_size * tc.seq_len / (stamps[WARMUP + steps] - stamps[WARMUP])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per repetition")
    parser.add_argument("--reps", type=int, default=5, help="repetitions of each side, alternating")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--amp", action="store_true", help="bf16 autocast on both sides (cuda only)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    text = synthetic_text(400_000)
    tokenizer = CharTokenizer.train(text)
    ids = torch.tensor(tokenizer.encode(text), dtype=torch.long)
    train, valid = ids[:360_000], ids[360_000:]
    config = ModelConfig(vocab_size=tokenizer.vocab_size, cell="lstm", num_layers=args.layers,
                         embedding_size=64, hidden_size=args.hidden)
    tc = TrainConfig(batch_size=args.batch_size, seq_len=args.seq_len, lr=2e-3, weight_decay=0.01, grad_clip=1.0,
                     amp=args.amp)
    bare, ours = [], []
    for _ in range(args.reps):
        bare.append(bare_loop(config, tc, train, args.steps, device))
        ours.append(studio_trainer(config, tc, tokenizer, train, valid, args.steps, device))
    result = {
        "benchmark": "train_overhead", "device": str(device), "machine": platform.processor() or platform.machine(),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "model": f"lstm {args.layers}x{args.hidden}, emb 64, vocab {tokenizer.vocab_size}",
        "batch": f"{args.batch_size}x{args.seq_len}", "amp": args.amp, "reps": args.reps, "steps_per_rep": args.steps,
        "bare_tokens_per_s_median": statistics.median(bare), "studio_tokens_per_s_median": statistics.median(ours),
    }
    result["studio_over_bare"] = result["studio_tokens_per_s_median"] / result["bare_tokens_per_s_median"]
    result["overhead_percent"] = 100 * (1 / result["studio_over_bare"] - 1)
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:>28}: {value:,.3f}" if isinstance(value, float) else f"{key:>28}: {value}")


if __name__ == "__main__":
    main()
