"""Search strategies over a step function ``step(tokens, state) -> (logits, state)``.

They know nothing of models or tokenizers (magenta's beam_search.py): the caller supplies the step function, the
primed state and the first logits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from studio.sampling.processors import LogitsProcessor, active, apply_processors

# step(tokens (batch, 1) long, state) -> (logits (batch, vocab) float, new state)
StepFn = Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]]


def sample(step: StepFn, state: Any, first_logits: torch.Tensor, length: int,
           processors: Sequence[LogitsProcessor], generator: torch.Generator,
           on_token: Callable[[torch.Tensor], None] | None = None) -> torch.Tensor:
    """Ancestral sampling of ``length`` tokens for every row of a batch at once.

    Parameters
    ----------
    step : StepFn
    state : Any
        Model state after the prompt, for all rows.
    first_logits : Tensor, shape (batch, vocab)
        Next-token logits after the prompt.
    length : int
    processors : sequence of LogitsProcessor
    generator : torch.Generator
        The only source of randomness, so a seed fixes the output.
    on_token : callable, optional
        Called with each new column of tokens, shape (batch,), as soon as it is drawn (streaming).

    Returns
    -------
    LongTensor, shape (batch, length)
    """
    procs = active(processors)
    batch = first_logits.shape[0]
    out = torch.empty(batch, length, dtype=torch.long, device=first_logits.device)
    logits = first_logits
    for t in range(length):
        scores = apply_processors(procs, out[:, :t], logits.float())
        probs = torch.softmax(scores, dim=-1)
        nxt = torch.multinomial(probs, 1, generator=generator)  # (batch, 1)
        out[:, t] = nxt[:, 0]
        if on_token is not None:
            on_token(nxt[:, 0])
        if t + 1 < length:
            logits, state = step(nxt, state)
    return out
