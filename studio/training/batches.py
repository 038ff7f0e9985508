"""The contiguous windows of truncated back-propagation through time, for training and for held-out scoring.

Any token stream (text, lead-sheet events, REMI tokens) with optional aligned condition streams (a music model's
chords and bar positions) is cut into side-by-side rows whose windows carry the hidden state from one to the next.
"""

from __future__ import annotations

import torch

from studio.errors import StudioError


class StreamBatcher:
    """Contiguous truncated-BPTT windows over one token stream (Zaremba et al. 2014; char-rnn).

    The stream is cut into ``batch_size`` equal rows laid side by side; window ``i`` is columns
    ``[offset + i*seq_len, offset + (i+1)*seq_len)``, so row ``b`` of window ``i+1`` continues row ``b`` of window
    ``i`` and the hidden state can be carried across windows. Each epoch starts at a fresh ``offset`` in
    ``[0, seq_len)`` drawn from the given generator, so windows do not always cut the text at the same places.

    Parameters
    ----------
    tokens : LongTensor, shape (n,)
    batch_size, seq_len : int
    conditions : dict of str to LongTensor, each shape (n,), optional
        Streams aligned with ``tokens`` (a music model's chord and bar position per step). A window's conditions
        are those of its *targets*: the model reads token t with the chord and position of step t + 1, the step
        it predicts.
    """

    def __init__(self, tokens: torch.Tensor, batch_size: int, seq_len: int,
                 conditions: dict[str, torch.Tensor] | None = None) -> None:
        row_len = (tokens.numel() - 1) // batch_size
        if row_len < seq_len + 1:
            need = batch_size * (seq_len + 1) + 1
            raise StudioError(f"the training text is too short for batch_size={batch_size} x seq_len={seq_len}: "
                              f"it has {tokens.numel()} tokens, needs at least {need}; "
                              "use a smaller --batch-size or --seq-len, or a bigger corpus")
        self.batch_size, self.seq_len, self.row_len = batch_size, seq_len, row_len
        self.inputs = tokens[: batch_size * row_len].view(batch_size, row_len)
        self.targets = tokens[1: batch_size * row_len + 1].view(batch_size, row_len)
        self.conditions = {name: stream[1: batch_size * row_len + 1].view(batch_size, row_len)
                           for name, stream in (conditions or {}).items()}

    def windows_per_epoch(self, offset: int) -> int:
        return (self.row_len - offset) // self.seq_len

    def window(self, offset: int, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets of window ``index``: two LongTensors of shape (batch_size, seq_len)."""
        start = offset + index * self.seq_len
        return self.inputs[:, start:start + self.seq_len], self.targets[:, start:start + self.seq_len]

    def window_conditions(self, offset: int, index: int) -> dict[str, torch.Tensor]:
        """The condition streams of window ``index``, each (batch_size, seq_len) (empty for plain text)."""
        start = offset + index * self.seq_len
        return {name: view[:, start:start + self.seq_len] for name, view in self.conditions.items()}


def evaluation_windows(tokens: torch.Tensor, batch_size: int, seq_len: int, max_tokens: int = 0,
                       conditions: dict[str, torch.Tensor] | None = None):
    """Yield ``(inputs, targets, conditions)`` windows covering a held-out stream, for carried-state evaluation.

    The stream is laid in up to ``batch_size`` side-by-side rows (fewer for short streams) and every target in
    them is scored once; the last window may be shorter than ``seq_len``, and the final ``n mod rows`` tokens
    (fewer than ``batch_size``) are left out. ``max_tokens`` > 0 evaluates a prefix only.
    """
    if max_tokens:
        tokens = tokens[: max_tokens + 1]
    n = tokens.numel() - 1
    if n < 1:
        raise StudioError("the validation text is too short to score (it needs at least two tokens)")
    rows = max(1, min(batch_size, n // max(seq_len, 1)))
    row_len = n // rows
    inputs = tokens[: rows * row_len].view(rows, row_len)
    targets = tokens[1: rows * row_len + 1].view(rows, row_len)
    conds = {name: stream[1: rows * row_len + 1].view(rows, row_len) for name, stream in (conditions or {}).items()}
    for start in range(0, row_len, seq_len):
        yield (inputs[:, start:start + seq_len], targets[:, start:start + seq_len],
               {name: view[:, start:start + seq_len] for name, view in conds.items()})


def sample_spans(length: int, tokens: int, span_len: int, seed: int) -> torch.Tensor | None:
    """Starts of a fixed, seeded sample of about ``tokens`` validation tokens from a stream of ``length`` tokens, or
    None when the sample would be (nearly) the whole stream.

    The stream is cut into as many equal strata as there are spans of ``span_len`` targets, and one span starts at
    a seeded place in each, so the sample covers the whole stream (every file's tail, in a fine-tune) and never
    overlaps itself. The same arguments give the same starts, so the base model and every evaluation are scored on
    the same tokens and their numbers compare.

    Returns
    -------
    LongTensor, shape (spans,), or None
    """
    if not 1 <= span_len <= tokens:
        raise ValueError(f"span_len must lie in 1..{tokens}, got {span_len}")
    spans = tokens // span_len
    stratum = (length - 1) // spans
    if stratum < span_len + 1 or spans * span_len >= 0.9 * (length - 1):
        return None  # about as long as the stream itself: score all of it
    generator = torch.Generator().manual_seed(seed)
    slack = torch.randint(stratum - span_len, (spans,), generator=generator)
    return torch.arange(spans) * stratum + slack


def span_windows(tokens: torch.Tensor, starts: torch.Tensor, span_len: int, seq_len: int,
                 conditions: dict[str, torch.Tensor] | None = None):
    """Yield ``(inputs, targets, conditions)`` windows over the spans ``tokens[s : s + span_len + 1]``, one row a
    span, so the state is carried within each span (``sample_spans`` chose the starts)."""
    index = starts.view(-1, 1) + torch.arange(span_len + 1).view(1, -1)
    rows = tokens[index]
    conds = {name: stream[index][:, 1:] for name, stream in (conditions or {}).items()}
    for start in range(0, span_len, seq_len):
        end = min(span_len, start + seq_len)
        yield (rows[:, start:end], rows[:, start + 1:end + 1],
               {name: view[:, start:end] for name, view in conds.items()})
