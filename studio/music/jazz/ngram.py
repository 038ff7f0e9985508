"""The n-gram baseline on the soloist's own tokens: Witten-Bell interpolated n-grams, blind to the changes.

It reads the same token streams as the network (what and how long, on the 48-per-bar grid) but no chords, no
place in the bar, no style: what a model learns from the tokens alone. Scoring it with ``studio.music.jazz.scoring``
gives the same nats per note the network is measured in, so the two sit side by side in BENCHMARKS.md, and it can
improvise (blind to the chart) for the statistics table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import torch

from studio.music.jazz.corpus import SoloNote
from studio.music.jazz.tokenizer import JazzTokenizer


class NgramModel:
    """Interpolated Witten-Bell n-grams of order ``order`` over ``vocab_size`` token ids (Chen & Goodman 1998).

    ``P(w | h) = (c(h, w) + T(h) P(w | h')) / (c(h) + T(h))``, where ``T(h)`` is the number of distinct tokens seen
    after ``h`` and ``h'`` drops the oldest token; the order-0 distribution is uniform, so nothing gets probability 0.
    """

    def __init__(self, vocab_size: int, order: int = 5) -> None:
        self.vocab_size, self.order = vocab_size, order
        self.counts: list[dict[tuple[int, ...], dict[int, int]]] = [defaultdict(dict) for _ in range(order)]

    def fit(self, sequences: Sequence[Sequence[int]]) -> NgramModel:
        """Count every n-gram (n = 1..order) of each sequence; contexts never cross sequences."""
        for seq in sequences:
            for i, token in enumerate(seq):
                for n in range(self.order):
                    if i - n < 0:
                        break
                    table = self.counts[n][tuple(seq[i - n:i])]
                    table[token] = table.get(token, 0) + 1
        return self

    def distribution(self, context: Sequence[int]) -> np.ndarray:
        """``P(next | context)`` over the vocabulary, shape (vocab_size,), summing to 1."""
        probs = np.full(self.vocab_size, 1.0 / self.vocab_size)
        for n in range(self.order):
            if n > len(context):
                break
            table = self.counts[n].get(tuple(context[len(context) - n:]) if n else ())
            if not table:
                break  # a longer context unseen means every longer one is unseen too
            total, kinds = sum(table.values()), len(table)
            counts = np.zeros(self.vocab_size)
            counts[list(table)] = list(table.values())
            probs = (counts + kinds * probs) / (total + kinds)
        return probs

    def token_nll(self, tokens: Sequence[int]) -> torch.Tensor:
        """NLL (nats) of tokens 1..n-1 given the ones before, shape (n - 1,), as ``scoring.token_nll`` gives."""
        return torch.tensor([-np.log(self.distribution(tokens[max(0, i - self.order + 1):i])[tokens[i]])
                             for i in range(1, len(tokens))], dtype=torch.float32)


def improvise_blind(model: NgramModel, tokenizer: JazzTokenizer, end: int, seed: int = 0) -> list[SoloNote]:
    """A solo of ``end`` ticks drawn from the n-grams (blind to the chart), with the soloist's grammar and form
    masks: a pitch or rest, then a length that never runs past the end."""
    rng = np.random.default_rng(seed)
    tokens, time = [tokenizer.BOS], 0
    lengths = np.arange(tokenizer.vocab_size) - tokenizer.first_length + 1
    what = np.zeros(tokenizer.vocab_size, dtype=bool)
    what[tokenizer.REST:tokenizer.first_length] = True
    while time < end:
        probs = model.distribution(tokens[-(model.order - 1):] if model.order > 1 else [])
        after_what = tokens[-1] != tokenizer.BOS and tokens[-1] < tokenizer.first_length
        allowed = (lengths >= 1) & (lengths <= end - time) if after_what else what
        probs = np.where(allowed, probs, 0.0)
        token = int(rng.choice(len(probs), p=probs / probs.sum()))
        tokens.append(token)
        if tokenizer.is_length(token):
            time += tokenizer.length_of(token)
    return tokenizer.decode(tokens)
