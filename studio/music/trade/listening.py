"""Listening to the call: before it answers, the responder takes a few gradient steps on the call itself.

Maximum likelihood on the masters' phrase pairs learns little of their habit of taking up the call (the real answers
of the test pairs reuse 1.6 times chance of their call's figures; an attention model's sampled answers, less than
that). Dynamic evaluation (Krause et al. 2018), which lowered the soloist's NLL by adapting it to the solo it reads,
suggests a way a player would recognise: hear the call, learn it, then answer. ``listened`` copies the model and
fits the copy to the call as its own answer (the call as the source and, over the call's own changes, as the
target), with plain SGD at rate ``lr`` for ``steps`` steps (gradient norm clipped at 1, as in training), dropout
at 0; the figures of the call become likelier in the answer, over the answer's changes and in any transposition the
decoder's chord inputs suggest. The model given is never changed: each call is listened to from the trained weights.

Rate and steps were chosen on the validation pairs (``benchmarks/trade_ablation.py --listen-lr``), see
BENCHMARKS.md.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch

from studio.models.seq2seq import CallResponseModel
from studio.music.jazz.corpus import SoloNote
from studio.music.jazz.tokenizer import JazzTokenizer
from studio.music.theory.chords import Chord
from studio.music.trade.listen_settings import (
    DEFAULT_LISTEN_LR,
    DEFAULT_LISTEN_STEPS,
    MAX_LISTEN_LR,
    MAX_LISTEN_STEPS,
    check_listening,
)
from studio.music.trade.pairs import PhrasePair, collate, encode_pair
from studio.music.trade.training import batch_nll

GRAD_CLIP = 1.0


def listened(model: CallResponseModel, tokenizer: JazzTokenizer, call: Sequence[SoloNote], beats: Sequence[Chord],
             bars: int, lr: float, steps: int) -> CallResponseModel:
    """A copy of ``model`` (eval mode) after ``steps`` SGD steps of rate ``lr`` on the call as its own answer;
    ``model`` itself when ``lr`` is 0.

    ``call`` is the call's notes (ticks from its first bar), ``beats`` the chord of each of its beats (4 a bar).
    The loss is the call's NLL per token, as in training: (1, call_len) tokens, one sequence.
    """
    check_listening(lr, steps)
    if lr == 0.0:
        return model
    pair = PhrasePair("", list(call), list(call), list(beats), list(beats), bars)
    batch = collate([encode_pair(tokenizer, pair)])
    device = next(model.parameters()).device
    batch = {k: v.to(device) for k, v in batch.items()}
    # Gradients even when called under inference mode (the page may answer under it): the copy and the batch are
    # made outside it, since inference tensors cannot back-propagate. The copy listens in training mode with every
    # dropout at 0, not in eval mode: cuDNN's RNN backward refuses eval mode, and switching cuDNN off would switch it
    # off for the whole process (a fine-tuning thread, another answer) while this one listens.
    with torch.inference_mode(False), torch.enable_grad():
        adapted = copy.deepcopy(model).train()
        for module in adapted.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
            elif isinstance(module, torch.nn.RNNBase):
                module.dropout = 0.0
        optimizer = torch.optim.SGD(adapted.parameters(), lr=lr)
        batch = {k: v.clone() for k, v in batch.items()}
        for _ in range(steps):
            loss, tokens = batch_nll(adapted, batch)
            optimizer.zero_grad(set_to_none=True)
            (loss / tokens).backward()
            # Clipped as in training: a call far from the corpus (a cluster, a wild register) must not throw the
            # weights away in one step.
            torch.nn.utils.clip_grad_norm_(adapted.parameters(), GRAD_CLIP)
            optimizer.step()
    adapted.eval().requires_grad_(False)
    return adapted


def listened_nll(model: CallResponseModel, tokenizer: JazzTokenizer, pairs: Sequence[PhrasePair], lr: float,
                 steps: int) -> dict[str, float]:
    """Answer NLL over ``pairs`` (as ``evaluate_pairs``), each answer scored by a copy that first listened to its
    own call: what listening does to the likelihood of what the masters played. Batches of one, so no padding."""
    nats = tokens = notes = 0.0
    for pair in pairs:
        adapted = listened(model, tokenizer, pair.call, pair.call_beats, pair.bars, lr, steps)
        device = next(adapted.parameters()).device
        batch = {k: v.to(device) for k, v in collate([encode_pair(tokenizer, pair)]).items()}
        with torch.inference_mode():
            loss, count = batch_nll(adapted, batch)
        nats, tokens, notes = nats + float(loss), tokens + float(count), notes + float(batch["notes"].sum())
    return {"nats_per_note": nats / max(notes, 1.0), "nats_per_token": nats / max(tokens, 1.0),
            "pairs": len(pairs), "notes": int(notes)}


__all__ = ["DEFAULT_LISTEN_LR", "DEFAULT_LISTEN_STEPS", "MAX_LISTEN_LR", "MAX_LISTEN_STEPS", "check_listening",
           "listened", "listened_nll"]
