"""Logits processors: small validated callables ``(tokens, logits) -> logits`` applied in a fixed order.

``tokens`` is the whole context so far, prompt included, shape (batch, t); ``logits`` is the next-token scores,
shape (batch, vocab). Each processor validates its setting on construction (with the valid range in the
message), returns new logits rather than writing into its input, and says when it would do nothing so that
``build_processors`` leaves it out and the common path costs nothing.

The fixed order (``build_processors``) is: repetition penalty, no-repeat n-gram, banned tokens, token mask — the
rules about *what may come next* — then temperature, top-k, top-p — the rules about *how to draw* — as in
transformers' LogitsProcessorList.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from studio.config import check_range
from studio.errors import StudioError

NEG_INF = float("-inf")


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


class TopK(LogitsProcessor):
    """Keep the ``k`` highest-scoring tokens (ties at the k-th score kept too); ``k = 0`` keeps all."""

    def __init__(self, k: int) -> None:
        check_range("top_k", k, 0, 1_000_000, integer=True)
        self.k = int(k)

    def is_noop(self) -> bool:
        return self.k == 0

    def __call__(self, tokens: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        if self.k >= logits.shape[-1]:
            return logits
        kth = torch.topk(logits, self.k, dim=-1).values[:, -1:]
        return logits.masked_fill(logits < kth, NEG_INF)


class TopP(LogitsProcessor):
    """Nucleus sampling (Holtzman et al. 2020): keep the smallest set of most likely tokens whose probability
    reaches ``p``; ``p = 1`` keeps all. The most likely token is always kept."""

    def __init__(self, p: float) -> None:
        check_range("top_p", p, 0.0, 1.0, low_open=True)
        self.p = float(p)

    def is_noop(self) -> bool:
        return self.p >= 1.0

    def __call__(self, tokens: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
        # A token is dropped when the tokens before it already reach p.
        drop_sorted = (cumulative - torch.softmax(sorted_logits, dim=-1)) >= self.p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        return logits.masked_fill(drop, NEG_INF)


class RepetitionPenalty(LogitsProcessor):
    """CTRL's penalty (Keskar et al. 2019): for every token already in the context, divide a positive logit by
    ``penalty`` and multiply a negative one by it. ``penalty > 1`` discourages repeats; 1 is off."""

    def __init__(self, penalty: float) -> None:
        check_range("repetition_penalty", penalty, 0.0, 10.0, low_open=True)
        self.penalty = float(penalty)

    def is_noop(self) -> bool:
        return self.penalty == 1.0

    def __call__(self, tokens: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        if tokens.shape[1] == 0:
            return logits
        seen = torch.gather(logits, 1, tokens)
        penalised = torch.where(seen > 0, seen / self.penalty, seen * self.penalty)
        return logits.scatter(1, tokens, penalised)


class NoRepeatNgram(LogitsProcessor):
    """Forbid any token that would complete an n-gram already present in the context (``n = 0`` is off)."""

    def __init__(self, n: int) -> None:
        check_range("no_repeat_ngram", n, 0, 100, integer=True)
        self.n = int(n)

    def is_noop(self) -> bool:
        return self.n == 0

    def __call__(self, tokens: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        n, t = self.n, tokens.shape[1]
        if t < n or n == 0:
            return logits
        if n == 1:
            return logits.scatter(1, tokens, NEG_INF)
        windows = tokens.unfold(1, n, 1)                        # (batch, t - n + 1, n)
        tail = tokens[:, t - n + 1:]                            # (batch, n - 1): what the next n-gram starts with
        match = (windows[:, :, :-1] == tail[:, None, :]).all(-1)  # (batch, t - n + 1)
        rows, cols = match.nonzero(as_tuple=True)
        if rows.numel() == 0:
            return logits
        out = logits.clone()
        out[rows, windows[rows, cols, -1]] = NEG_INF
        return out


class BanTokens(LogitsProcessor):
    """Never choose the given token ids (e.g. a word model's unknown token)."""

    def __init__(self, token_ids: Sequence[int]) -> None:
        for token in token_ids:
            check_range("banned token id", token, 0, None, integer=True)
        self.token_ids = sorted({int(t) for t in token_ids})

    def is_noop(self) -> bool:
        return not self.token_ids

    def __call__(self, tokens: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        ids = torch.tensor(self.token_ids, device=logits.device)
        if int(ids.max()) >= logits.shape[-1]:
            raise StudioError(f"banned token id {int(ids.max())} is outside the vocabulary (0..{logits.shape[-1] - 1})")
        return logits.index_fill(1, ids, NEG_INF)


class TokenMask(LogitsProcessor):
    """The general hook for grammars and musical rules: ``allowed(tokens) -> bool tensor (batch, vocab)``.

    Tokens where the mask is False get probability 0. A row whose mask allows nothing keeps its logits unchanged
    (better an off-rule token than a crash); the rule's author should make that impossible.
    """

    def __init__(self, allowed: Callable[[torch.Tensor], torch.Tensor], name: str = "mask") -> None:
        self.allowed = allowed
        self.name = name

    def __call__(self, tokens: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        mask = self.allowed(tokens).to(torch.bool)
        if mask.shape != logits.shape:
            raise ValueError(f"token mask {self.name!r} returned shape {tuple(mask.shape)}, "
                             f"expected {tuple(logits.shape)}")
        dead = ~mask.any(-1, keepdim=True)
        return logits.masked_fill(~mask & ~dead, NEG_INF)


def apply_processors(processors: Sequence[LogitsProcessor], tokens: torch.Tensor,
                     logits: torch.Tensor) -> torch.Tensor:
    """Run the processors in order."""
    for processor in processors:
        logits = processor(tokens, logits)
    return logits


def active(processors: Sequence[LogitsProcessor]) -> list[LogitsProcessor]:
    """The processors that change anything."""
    return [p for p in processors if not p.is_noop()]


def build_processors(repetition_penalty: float = 1.0, no_repeat_ngram: int = 0, banned: Sequence[int] = (),
                     masks: Sequence[TokenMask] = (), temperature: float | None = None, top_k: int | None = None,
                     top_p: float | None = None) -> tuple[list[LogitsProcessor], list[LogitsProcessor]]:
    """The processors for one request, in the fixed order, no-ops left out.

    Returns
    -------
    rules, drawing : list, list
        ``rules`` say what may come next (every mode applies them); ``drawing`` shape the distribution tokens are
        drawn from (sampling modes only).
    """
    rules = active([RepetitionPenalty(repetition_penalty), NoRepeatNgram(no_repeat_ngram), BanTokens(banned),
                    *masks])
    drawing = active([Temperature(1.0 if temperature is None else temperature), TopK(top_k or 0),
                      TopP(1.0 if top_p is None else top_p)])
    return rules, drawing
