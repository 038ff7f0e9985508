"""Logits processors on hand-made logits, and search strategies on step functions whose answers are known."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from studio.errors import StudioError
from studio.sampling import (
    BanTokens,
    NoRepeatNgram,
    RepetitionPenalty,
    Temperature,
    TokenMask,
    TopK,
    TopP,
    beam_search,
    build_processors,
    sample,
    stochastic_beam_search,
)

INF = float("-inf")


# -- processors -----------------------------------------------------------------------------------------------------
def test_temperature_divides() -> None:
    logits = torch.tensor([[2.0, -1.0, 0.5]])
    assert torch.equal(Temperature(0.5)(torch.empty(1, 0, dtype=torch.long), logits), torch.tensor([[4.0, -2.0, 1.0]]))
    assert Temperature(1.0).is_noop()


def test_top_k_keeps_the_k_best() -> None:
    logits = torch.tensor([[1.0, 5.0, 3.0, 4.0, 2.0]])
    out = TopK(2)(None, logits)
    assert out.tolist() == [[INF, 5.0, INF, 4.0, INF]]
    assert TopK(0).is_noop()
    assert torch.equal(TopK(10)(None, logits), logits)  # k above the vocabulary keeps everything


def test_top_p_keeps_the_smallest_set_reaching_p() -> None:
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    logits = probs.log()
    assert torch.isfinite(TopP(0.5)(None, logits)).tolist() == [[True, False, False, False]]
    assert torch.isfinite(TopP(0.6)(None, logits)).tolist() == [[True, True, False, False]]
    assert torch.isfinite(TopP(0.8)(None, logits)).tolist() == [[True, True, False, False]]
    assert torch.isfinite(TopP(0.81)(None, logits)).tolist() == [[True, True, True, False]]
    # order of the vocabulary does not matter
    shuffled = logits[:, [2, 0, 3, 1]]
    assert torch.isfinite(TopP(0.6)(None, shuffled)).tolist() == [[False, True, False, True]]
    assert TopP(1.0).is_noop()


def test_repetition_penalty_follows_ctrl() -> None:
    logits = torch.tensor([[2.0, -2.0, 1.0, 3.0]])
    tokens = torch.tensor([[0, 1, 0]])
    out = RepetitionPenalty(2.0)(tokens, logits)
    assert out.tolist() == [[1.0, -4.0, 1.0, 3.0]]
    assert logits.tolist() == [[2.0, -2.0, 1.0, 3.0]]  # input untouched


def test_no_repeat_ngram_bans_completions_of_seen_ngrams() -> None:
    tokens = torch.tensor([[1, 2, 3, 1, 2], [4, 4, 4, 4, 4]])
    logits = torch.zeros(2, 6)
    out = NoRepeatNgram(3)(tokens, logits)
    assert torch.isinf(out[0]).nonzero().flatten().tolist() == [3]  # "1 2" was followed by 3 before
    assert torch.isinf(out[1]).nonzero().flatten().tolist() == [4]
    assert torch.equal(NoRepeatNgram(3)(tokens[:, :2], logits), logits)  # too short to repeat anything
    unigram = NoRepeatNgram(1)(torch.tensor([[0, 5]]), torch.zeros(1, 6))
    assert torch.isinf(unigram).nonzero()[:, 1].tolist() == [0, 5]


def test_ban_tokens_and_mask() -> None:
    logits = torch.zeros(2, 4)
    assert torch.isinf(BanTokens([1, 3])(None, logits)).tolist() == [[False, True, False, True]] * 2
    with pytest.raises(StudioError, match="outside the vocabulary"):
        BanTokens([7])(None, logits)
    with pytest.raises(StudioError, match="banned token id"):
        BanTokens([-1])
    even = TokenMask(lambda tokens: torch.tensor([[True, False, True, False]] * tokens.shape[0]), "even")
    assert torch.isinf(even(torch.zeros(2, 1, dtype=torch.long), logits)).tolist() == [[False, True, False, True]] * 2
    nothing = TokenMask(lambda tokens: torch.zeros(2, 4, dtype=torch.bool))
    assert torch.equal(nothing(None, logits), logits)  # an impossible mask does not kill the row
    wrong = TokenMask(lambda tokens: torch.ones(3, dtype=torch.bool), "wrong")
    with pytest.raises(ValueError, match="wrong"):
        wrong(None, logits)


def test_processor_arguments_are_validated() -> None:
    for make, message in ((lambda: Temperature(0), "temperature"), (lambda: TopK(-1), "top_k"),
                          (lambda: TopP(0), "top_p"), (lambda: TopP(1.5), "top_p"),
                          (lambda: RepetitionPenalty(0), "repetition_penalty"),
                          (lambda: NoRepeatNgram(-2), "no_repeat")):
        with pytest.raises(StudioError, match=message):
            make()


def test_build_processors_leaves_out_no_ops_in_fixed_order() -> None:
    rules, drawing = build_processors()
    assert rules == [] and drawing == []
    rules, drawing = build_processors(repetition_penalty=1.3, no_repeat_ngram=2, banned=[0], temperature=0.7,
                                      top_k=5, top_p=0.9)
    assert [type(p).__name__ for p in rules] == ["RepetitionPenalty", "NoRepeatNgram", "BanTokens"]
    assert [type(p).__name__ for p in drawing] == ["Temperature", "TopK", "TopP"]


# -- a step function with known answers --------------------------------------------------------------------------------
class MarkovChain:
    """A first-order chain over a tiny vocabulary: logits depend on the last token only. The state is unused."""

    def __init__(self, vocab: int = 3, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.table = torch.randn(vocab, vocab, generator=g) * 2
        self.vocab = vocab

    def step(self, tokens: torch.Tensor, state):
        return self.table[tokens[:, -1]], state

    @staticmethod
    def select(state, rows):
        return state.index_select(0, rows)

    def start(self, first: int = 0):
        return torch.zeros(1, 1), self.table[[first]], torch.tensor([[first]])

    def logprob(self, first: int, seq: tuple[int, ...]) -> float:
        logp = torch.log_softmax(self.table, dim=-1)
        total, prev = 0.0, first
        for tok in seq:
            total += float(logp[prev, tok])
            prev = tok
        return total


@pytest.mark.parametrize("seed", range(5))
def test_beam_search_finds_the_exhaustive_best(seed: int) -> None:
    chain = MarkovChain(vocab=3, seed=seed)
    length = 4
    best = max(itertools.product(range(3), repeat=length), key=lambda s: chain.logprob(0, s))
    state, first, prefix = chain.start()
    hyps = beam_search(chain.step, chain.select, state, first, prefix, length, [], beams=3 ** (length - 1),
                       length_penalty=0.0, num_return=3)
    assert tuple(hyps[0].tokens) == best
    assert math.isclose(hyps[0].logprob, chain.logprob(0, best), rel_tol=1e-5)
    assert hyps[0].logprob >= hyps[1].logprob >= hyps[2].logprob  # an n-best list, best first
    assert len({tuple(h.tokens) for h in hyps}) == 3


def test_beam_search_is_at_least_as_good_as_greedy() -> None:
    chain = MarkovChain(vocab=5, seed=3)
    state, first, prefix = chain.start()
    greedy = sample(chain.step, state, first, prefix, 6, [], [], None, greedy=True)[0]
    beam = beam_search(chain.step, chain.select, state, first, prefix, 6, [], beams=4, length_penalty=0.0)[0]
    assert beam.logprob >= greedy.logprob - 1e-6
    assert math.isclose(greedy.logprob, chain.logprob(0, tuple(greedy.tokens)), rel_tol=1e-5)


def test_diverse_beam_groups_differ() -> None:
    chain = MarkovChain(vocab=6, seed=1)
    state, first, prefix = chain.start()
    plain = beam_search(chain.step, chain.select, state, first, prefix, 5, [], beams=4, num_return=4)
    diverse = beam_search(chain.step, chain.select, state, first, prefix, 5, [], beams=4, groups=4,
                          diversity=10.0, num_return=4)
    firsts = {h.tokens[0] for h in diverse}
    assert len(diverse) == 4 and len({tuple(h.tokens) for h in diverse}) == 4
    assert len(firsts) == 4  # a large penalty sends every group to a different first token
    assert len(firsts) > len({h.tokens[0] for h in plain})


def test_beam_stop_sets_finished_hypotheses_aside() -> None:
    chain = MarkovChain(vocab=4, seed=2)
    state, first, prefix = chain.start()

    def stop_on_two(seq, prompt_len):
        return seq[:, -1] == 2

    hyps = beam_search(chain.step, chain.select, state, first, prefix, 8, [], beams=4, stop=stop_on_two,
                       num_return=4)
    for h in hyps:
        assert 2 not in h.tokens[:-1]  # nothing continues past a stop


def test_sampling_is_seeded_and_batched() -> None:
    chain = MarkovChain(vocab=5, seed=4)
    state, first, prefix = chain.start()
    rows = torch.zeros(8, dtype=torch.long)

    def run(seed: int):
        g = torch.Generator().manual_seed(seed)
        return [h.tokens for h in sample(chain.step, chain.select(state.expand(1, 1), rows), first.expand(8, -1),
                                         prefix.expand(8, -1), 20, [], [], g)]

    assert run(1) == run(1)
    assert run(1) != run(2)
    assert len({tuple(t) for t in run(1)}) > 1  # the 8 rows are 8 different samples


def test_sampling_respects_the_rules() -> None:
    chain = MarkovChain(vocab=5, seed=4)
    state, first, prefix = chain.start()
    rules, drawing = build_processors(banned=[1, 2], top_k=1)
    g = torch.Generator().manual_seed(0)
    tokens = sample(chain.step, state, first, prefix, 30, rules, drawing, g)[0].tokens
    assert not {1, 2} & set(tokens)
    greedy = sample(chain.step, state, first, prefix, 30, rules, [], None, greedy=True)[0].tokens
    assert tokens == greedy  # top-k 1 is greedy


def test_stochastic_beam_search_is_seeded_and_ranked() -> None:
    chain = MarkovChain(vocab=5, seed=5)
    state, first, prefix = chain.start()

    def run(seed: int):
        g = torch.Generator().manual_seed(seed)
        return stochastic_beam_search(chain.step, chain.select, state, first, prefix, 12, [], [], beams=3,
                                      branch_factor=3, steps_per_iteration=2, generator=g, length_penalty=0.0,
                                      num_return=3)

    a, b = run(7), run(7)
    assert [h.tokens for h in a] == [h.tokens for h in b]
    assert all(len(h.tokens) == 12 for h in a)
    assert a[0].logprob >= a[1].logprob >= a[2].logprob
    for h in a:
        assert math.isclose(h.logprob, chain.logprob(0, tuple(h.tokens)), rel_tol=1e-4)
    # searching keeps likelier sequences than plain samples of the same seed on average
    g = torch.Generator().manual_seed(7)
    rows = torch.zeros(9, dtype=torch.long)
    plain = sample(chain.step, chain.select(state, rows), first.expand(9, -1), prefix.expand(9, -1), 12, [], [], g)
    assert a[0].logprob >= max(h.logprob for h in plain) - 1e-6 or a[0].logprob > sum(
        h.logprob for h in plain) / len(plain)
