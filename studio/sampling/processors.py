"""Logits processors: small validated callables ``(tokens, logits) -> logits`` applied in a fixed order.

Each is skipped when it would do nothing (temperature 1, no banned tokens), so the common path costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from studio.config import check_range


class LogitsProcessor:
    """Base: ``__call__(tokens, logits)`` with tokens (batch, t) and logits (batch, vocab) returns new logits."""

    def is_noop(self) -> bool:
        return False

    def __call__(self, tokens: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError


class Temperature(LogitsProcessor):
    """Divide logits by ``temperature`` (> 0): below 1 sharpens the distribution, above 1 flattens it."""

    def __init__(self, temperature: float) -> None:
        check_range("temperature", temperature, 0.0, 100.0, low_open=True)
        self.temperature = float(temperature)

    def is_noop(self) -> bool:
        return self.temperature == 1.0

    def __call__(self, tokens: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        return logits / self.temperature


class BanTokens(LogitsProcessor):
    """Never choose the given token ids (e.g. a word model's unknown token)."""

    def __init__(self, token_ids: Sequence[int]) -> None:
        self.token_ids = sorted({int(t) for t in token_ids})

    def is_noop(self) -> bool:
        return not self.token_ids

    def __call__(self, tokens: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        ids = torch.tensor(self.token_ids, device=logits.device)
        return logits.index_fill(1, ids, float("-inf"))


def apply_processors(processors: Sequence[LogitsProcessor], tokens: torch.Tensor,
                     logits: torch.Tensor) -> torch.Tensor:
    """Run the processors that are not no-ops, in order."""
    for processor in processors:
        logits = processor(tokens, logits)
    return logits


def active(processors: Sequence[LogitsProcessor]) -> list[LogitsProcessor]:
    """The processors that change anything."""
    return [p for p in processors if not p.is_noop()]
