"""Search strategies over a step function ``step(tokens, state) -> (logits, state)``.

They know nothing of models or tokenizers (magenta's beam_search.py): the caller supplies the step function, a
``select(state, rows)`` function that gathers rows of its state, the state and next-token logits after the prompt,
and an optional ``stop(seq, prompt_len)`` test. Every strategy advances all of its rows (samples, beams, branches)
in one batched call of ``step`` per token.

Shapes: ``prefix`` is the prompt, (1, P) or (rows, P); ``first_logits`` is (rows, vocab) or (1, vocab);
``step`` takes tokens (rows, 1) and returns logits (rows, vocab).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from studio.sampling.processors import LogitsProcessor, apply_processors

StepFn = Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]]
SelectFn = Callable[[Any, torch.Tensor], Any]
# stop(seq (rows, P + t), P) -> bool (rows,): True where the newest token ends the text
StopFn = Callable[[torch.Tensor, int], torch.Tensor]


@dataclass
class Hypothesis:
    """One finished sequence.

    Attributes
    ----------
    tokens : list of int
        Generated tokens, prompt excluded; when a stop test fired, up to and including the token that fired it.
    logprob : float
        Sum of the tokens' log-probabilities under the model (after the rule processors, before temperature).
    score : float
        What ranked it: ``logprob`` for samples, ``logprob / len**length_penalty`` for beams.
    """

    tokens: list[int]
    logprob: float
    score: float


class Sampler:
    """Ancestral sampling (or greedy decoding) for a batch of rows, one token column per iteration.

    Iterate to drive it: each iteration yields ``(column, done)``, the new tokens (rows,) and which rows have
    finished; then ``hypotheses()`` gives the results. Iteration ends at ``length`` tokens or when every row has
    stopped. Streaming and plain generation share this loop, so they give identical tokens.
    """

    def __init__(self, step: StepFn, state: Any, first_logits: torch.Tensor, prefix: torch.Tensor, length: int,
                 rules: Sequence[LogitsProcessor], drawing: Sequence[LogitsProcessor],
                 generator: torch.Generator | None, greedy: bool = False, stop: StopFn | None = None) -> None:
        rows = first_logits.shape[0]
        self.step, self.state, self.logits = step, state, first_logits
        self.rules, self.drawing, self.generator, self.greedy, self.stop = rules, drawing, generator, greedy, stop
        self.prompt_len, self.length = prefix.shape[1], length
        self.seq = torch.empty(rows, self.prompt_len + length, dtype=torch.long, device=first_logits.device)
        self.seq[:, : self.prompt_len] = prefix
        self.logprob = torch.zeros(rows, device=first_logits.device)
        self.done = torch.zeros(rows, dtype=torch.bool, device=first_logits.device)
        self.ends = torch.full((rows,), length, dtype=torch.long)
        self.produced = 0

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        p = self.prompt_len
        for t in range(self.length):
            context = self.seq[:, : p + t]
            scores = apply_processors(self.rules, context, self.logits.float())
            logp = torch.log_softmax(scores, dim=-1)
            if self.greedy:
                column = scores.argmax(dim=-1)
            else:
                probs = torch.softmax(apply_processors(self.drawing, context, scores), dim=-1)
                column = torch.multinomial(probs, 1, generator=self.generator)[:, 0]
            self.seq[:, p + t] = column
            live = ~self.done
            self.logprob += torch.where(live, logp.gather(1, column[:, None])[:, 0], 0.0)
            self.produced = t + 1
            if self.stop is not None:
                newly = self.stop(self.seq[:, : p + t + 1], p) & live
                self.ends[newly.cpu()] = t + 1
                self.done |= newly
            yield column, self.done
            if bool(self.done.all()):
                return
            if t + 1 < self.length:
                self.logits, self.state = self.step(column[:, None], self.state)

    def hypotheses(self) -> list[Hypothesis]:
        out = []
        for row in range(self.seq.shape[0]):
            end = min(int(self.ends[row]), self.produced)
            tokens = self.seq[row, self.prompt_len: self.prompt_len + end].tolist()
            lp = float(self.logprob[row])
            out.append(Hypothesis(tokens, lp, lp))
        return out


def sample(step: StepFn, state: Any, first_logits: torch.Tensor, prefix: torch.Tensor, length: int,
           rules: Sequence[LogitsProcessor], drawing: Sequence[LogitsProcessor],
           generator: torch.Generator | None, greedy: bool = False, stop: StopFn | None = None) -> list[Hypothesis]:
    """Sample (or, with ``greedy``, decode greedily) every row of the batch at once; one Hypothesis per row."""
    sampler = Sampler(step, state, first_logits, prefix, length, rules, drawing, generator, greedy, stop)
    for _ in sampler:
        pass
    return sampler.hypotheses()


def _normalised(logprob: float, length: int, length_penalty: float) -> float:
    return logprob / (max(length, 1) ** length_penalty)


def beam_search(step: StepFn, select: SelectFn, state: Any, first_logits: torch.Tensor, prefix: torch.Tensor,
                length: int, rules: Sequence[LogitsProcessor], beams: int, groups: int = 1, diversity: float = 0.0,
                length_penalty: float = 1.0, stop: StopFn | None = None, num_return: int = 1) -> list[Hypothesis]:
    """Beam search, or diverse beam search when ``groups > 1`` (Vijayakumar et al. 2016, Hamming diversity).

    All beams advance in one batched ``step`` per token. A beam whose newest token satisfies ``stop`` is set aside
    as finished and its slot refilled from the next-best candidate. Results are ranked by
    ``logprob / len**length_penalty`` (0 ranks by raw log-probability; 1 by per-token average).

    In a diverse search the beams form ``groups`` groups searched one after the other at each step; a group's
    candidates lose ``diversity`` for every earlier group that chose the same token at this step, so the groups
    spread over different continuations.

    Parameters
    ----------
    first_logits : Tensor, shape (1, vocab)
        Next-token logits after the prompt (a single row; the beams start from it).
    prefix : LongTensor, shape (1, P)
    state : the model state after the prompt, for one row; ``select(state, rows)`` replicates and reorders it.

    Returns
    -------
    list of Hypothesis
        The ``num_return`` best, best first.
    """
    rows = beams
    per_group = beams // groups
    device = first_logits.device
    p = prefix.shape[1]
    state = select(state, torch.zeros(rows, dtype=torch.long, device=device))
    logits = first_logits.expand(rows, -1)
    seq = torch.empty(rows, p + length, dtype=torch.long, device=device)
    seq[:, :p] = prefix
    # Only the first beam of each group is alive at the start, so the first step expands one prompt, not copies.
    scores = torch.full((rows,), float("-inf"), device=device)
    scores[::per_group] = 0.0
    finished: list[Hypothesis] = []
    produced = 0
    for t in range(length):
        logp = torch.log_softmax(apply_processors(rules, seq[:, : p + t], logits.float()), dim=-1)
        chosen_rows: list[int] = []
        chosen_tokens: list[int] = []
        chosen_scores: list[float] = []
        used = torch.zeros(logp.shape[1], device=device)  # tokens chosen by earlier groups at this step
        for g in range(groups):
            lo, hi = g * per_group, (g + 1) * per_group
            total = scores[lo:hi, None] + logp[lo:hi]  # (per_group, vocab)
            ranked = total - diversity * used if (g > 0 and diversity > 0) else total
            flat = ranked.reshape(-1)
            top = torch.topk(flat, min(2 * per_group, flat.numel())).indices
            cand_rows = (top // logp.shape[1]) + lo
            cand_tokens = top % logp.shape[1]
            cand_total = total.reshape(-1)[top]
            finite = torch.isfinite(cand_total)
            cand_rows, cand_tokens, cand_total = cand_rows[finite], cand_tokens[finite], cand_total[finite]
            stopped = torch.zeros(cand_rows.numel(), dtype=torch.bool)
            if stop is not None and cand_rows.numel():
                extended = torch.cat([seq[cand_rows, : p + t], cand_tokens[:, None]], dim=1)
                stopped = stop(extended, p).cpu()
            kept = 0
            for i in range(cand_rows.numel()):
                r, tok, sc = int(cand_rows[i]), int(cand_tokens[i]), float(cand_total[i])
                if bool(stopped[i]):
                    tokens = [*seq[r, p: p + t].tolist(), tok]
                    finished.append(Hypothesis(tokens, sc, _normalised(sc, t + 1, length_penalty)))
                    continue
                if kept < per_group:
                    chosen_rows.append(r)
                    chosen_tokens.append(tok)
                    chosen_scores.append(sc)
                    used[tok] += 1
                    kept += 1
            while kept < per_group:  # not enough live candidates: fill with dead rows
                chosen_rows.append(lo)
                chosen_tokens.append(0)
                chosen_scores.append(float("-inf"))
                kept += 1
        index = torch.tensor(chosen_rows, device=device)
        seq = seq[index]
        seq[:, p + t] = torch.tensor(chosen_tokens, device=device)
        scores = torch.tensor(chosen_scores, device=device)
        produced = t + 1
        if not bool(torch.isfinite(scores).any()):
            break
        if t + 1 < length:
            state = select(state, index)
            logits, state = step(seq[:, p + t: p + t + 1], state)
    alive = [Hypothesis(seq[r, p: p + produced].tolist(), float(scores[r]),
                        _normalised(float(scores[r]), produced, length_penalty))
             for r in range(rows) if torch.isfinite(scores[r])]
    ranked = sorted(finished + alive, key=lambda h: h.score, reverse=True)
    return _distinct(ranked)[:num_return]


def stochastic_beam_search(step: StepFn, select: SelectFn, state: Any, first_logits: torch.Tensor,
                           prefix: torch.Tensor, length: int, rules: Sequence[LogitsProcessor],
                           drawing: Sequence[LogitsProcessor], beams: int, branch_factor: int,
                           steps_per_iteration: int, generator: torch.Generator | None, length_penalty: float = 1.0,
                           stop: StopFn | None = None, num_return: int = 1) -> list[Hypothesis]:
    """Magenta's beam search by sampling: keep ``beams`` sequences; every iteration extends each of them along
    ``branch_factor`` sampled branches of ``steps_per_iteration`` tokens, then keeps the ``beams`` most likely.

    All ``beams * branch_factor`` branches advance in one batched ``step`` per token. Unlike Magenta's, it is
    seeded (``generator``) and takes the same rule and drawing processors as sampling.

    Returns
    -------
    list of Hypothesis
        The ``num_return`` most likely distinct sequences, best first (ranked by
        ``logprob / len**length_penalty``).
    """
    rows = beams * branch_factor
    device = first_logits.device
    p = prefix.shape[1]
    state = select(state, torch.zeros(rows, dtype=torch.long, device=device))
    logits = first_logits.expand(rows, -1)
    seq = torch.empty(rows, p + length, dtype=torch.long, device=device)
    seq[:, :p] = prefix
    logprob = torch.zeros(rows, device=device)
    done = torch.zeros(rows, dtype=torch.bool, device=device)
    ends = torch.full((rows,), length, dtype=torch.long, device=device)
    t = 0
    while t < length:
        for _ in range(steps_per_iteration):
            context = seq[:, : p + t]
            scores = apply_processors(rules, context, logits.float())
            logp = torch.log_softmax(scores, dim=-1)
            probs = torch.softmax(apply_processors(drawing, context, scores), dim=-1)
            column = torch.multinomial(probs, 1, generator=generator)[:, 0]
            seq[:, p + t] = column
            live = ~done
            logprob += torch.where(live, logp.gather(1, column[:, None])[:, 0], 0.0)
            if stop is not None:
                newly = stop(seq[:, : p + t + 1], p).to(device) & live
                ends[newly] = t + 1
                done |= newly
            t += 1
            if t >= length or bool(done.all()):
                break
            logits, state = step(column[:, None], state)
        if t >= length or bool(done.all()):
            break
        # Prune to the best `beams` distinct rows: branches often sample the same tokens, and clones would
        # collapse the beam onto one sequence. Tokens after a row's stop are junk and do not count.
        lengths = torch.minimum(ends, torch.full_like(ends, t)).clamp(min=1).float()
        ranking = (logprob / lengths ** length_penalty).tolist()
        positions = torch.arange(t, device=device)[None, :]
        meaningful = seq[:, p: p + t].masked_fill(positions >= ends[:, None], -1)
        groups = torch.unique(meaningful, dim=0, return_inverse=True)[1].tolist()
        order = sorted(range(rows), key=lambda r: ranking[r], reverse=True)
        keep, seen = [], set()
        for r in order:
            if groups[r] not in seen:
                seen.add(groups[r])
                keep.append(r)
        keep = (keep + [r for r in order if r not in keep])[:beams]  # too few distinct rows: repeat the best
        keep = torch.tensor(keep, device=device)
        index = keep.repeat_interleave(branch_factor)
        seq, logprob, done, ends = seq[index], logprob[index], done[index], ends[index]
        state = select(state, index)
        logits = logits[index]
    produced = t
    results = []
    for r in range(rows):
        end = min(int(ends[r]), produced)
        lp = float(logprob[r])
        results.append(Hypothesis(seq[r, p: p + end].tolist(), lp, _normalised(lp, end, length_penalty)))
    ranked = sorted(results, key=lambda h: h.score, reverse=True)
    return _distinct(ranked)[:num_return]


def _distinct(hypotheses: list[Hypothesis]) -> list[Hypothesis]:
    seen: set[tuple[int, ...]] = set()
    out = []
    for h in hypotheses:
        key = tuple(h.tokens)
        if key not in seen:
            seen.add(key)
            out.append(h)
    return out
