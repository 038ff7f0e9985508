"""Held-out loss of a language model, with the hidden state carried across windows as in training.

Metrics are reported in the field's three units: nats per token (the cross-entropy), bits per character (for text,
via the characters-per-token ratio of the scored text) and perplexity (``exp`` of nats per token).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import nullcontext

import torch
import torch.nn.functional as F

from studio.models import RNNLanguageModel, detach_state
from studio.training.batches import evaluation_windows, span_windows


def autocast_for(device: torch.device, enabled: bool):
    """bf16 autocast on CUDA when ``enabled``; a no-op context elsewhere (CPU autocast is slower for RNNs)."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


@torch.inference_mode()
def evaluate_loss(model: RNNLanguageModel, tokens: torch.Tensor, batch_size: int = 64, seq_len: int = 256,
                  device: torch.device | str = "cpu", amp: bool = True, max_tokens: int = 0,
                  conditions: dict[str, torch.Tensor] | None = None, spans: torch.Tensor | None = None,
                  span_len: int = 0, on_window: Callable[[int, int], None] | None = None) -> tuple[float, int]:
    """Summed next-token cross-entropy (nats) over a held-out stream, and the number of tokens scored.

    Parameters
    ----------
    model : RNNLanguageModel
    tokens : LongTensor, shape (n,)
    batch_size, seq_len : int
        Layout of the evaluation windows; the state is carried, so they barely change the result.
    max_tokens : int
        Score only a prefix of this many tokens when > 0.
    conditions : dict of str to LongTensor, each shape (n,), optional
        Streams aligned with ``tokens`` for conditioned (music) models; see ``StreamBatcher``.
    spans : LongTensor, shape (k,), optional
        Score only the spans of ``span_len`` targets starting here (``studio.training.batches.sample_spans``), one
        row a span, instead of the whole stream (``batch_size`` and ``max_tokens`` then do not apply).
    on_window : callable, optional
        Called with (windows done, windows in all) after every window: progress for a long scoring.
    """
    device = torch.device(device)
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    if spans is not None:
        windows = list(span_windows(tokens, spans, span_len, seq_len, conditions))
    else:
        windows = list(evaluation_windows(tokens, batch_size, seq_len, max_tokens, conditions))
    try:
        for done, (inputs, targets, conds) in enumerate(windows, 1):
            inputs, targets = inputs.to(device), targets.to(device)
            conds = {name: c.to(device) for name, c in conds.items()}
            with autocast_for(device, amp):
                logits, state = model(inputs, state, **conds)
            state = detach_state(state)
            loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                   reduction="sum")
            total += float(loss)
            count += targets.numel()
            if on_window is not None:
                on_window(done, len(windows))
    finally:
        model.train(was_training)
    return total, count


def loss_metrics(nats: float, tokens: int, chars_per_token: float | None = None, prefix: str = "") -> dict:
    """Turn summed nats over ``tokens`` into the reported metrics (keys prefixed by ``prefix``)."""
    per_token = nats / max(tokens, 1)
    out = {f"{prefix}nats_per_token": per_token, f"{prefix}bits_per_token": per_token / math.log(2),
           f"{prefix}perplexity": math.exp(min(per_token, 700.0)), f"{prefix}tokens": tokens}
    if chars_per_token:
        out[f"{prefix}bits_per_char"] = per_token / chars_per_token / math.log(2)
    return out
