"""Shared fixtures: a small real-text corpus (written here, so a fresh clone needs nothing else) and tiny models.

Everything is sized for a shared 2-core CPU: tokenizers train in milliseconds and models have a few thousand
parameters.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings

from studio.config import ModelConfig
from studio.tokenizers import BPETokenizer, CharTokenizer, WordTokenizer

# Shared CI-like machines are slow and noisy: a per-example deadline would make property tests flaky.
settings.register_profile("studio", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("studio")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep each phase's report on the test item (``item.report_call``...), so a fixture's teardown can tell that
    its test failed (the browser tests then save what the page showed)."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report

# Public-domain verse (Shakespeare, Blake, Dickinson) and a little plain prose, about 4 KB: enough for every
# tokenizer to see letters, digits, punctuation, contractions, quotes, brackets and newlines.
CORPUS = """\
Shall I compare thee to a summer's day?
Thou art more lovely and more temperate:
Rough winds do shake the darling buds of May,
And summer's lease hath all too short a date;
Sometime too hot the eye of heaven shines,
And often is his gold complexion dimm'd;
And every fair from fair sometime declines,
By chance or nature's changing course untrimm'd;
But thy eternal summer shall not fade,
Nor lose possession of that fair thou ow'st;
Nor shall Death brag thou wander'st in his shade,
When in eternal lines to time thou grow'st:
So long as men can breathe or eyes can see,
So long lives this, and this gives life to thee.

Tyger Tyger, burning bright,
In the forests of the night;
What immortal hand or eye,
Could frame thy fearful symmetry?
In what distant deeps or skies.
Burnt the fire of thine eyes?
On what wings dare he aspire?
What the hand, dare seize the fire?

Because I could not stop for Death -
He kindly stopped for me -
The Carriage held but just Ourselves -
And Immortality.

The river was low that summer (lower than anyone in the village could remember), and the children
walked along its bed every morning, turning over stones. "Look," said Anna, "a crab!" It wasn't a crab;
it was a piece of old rope, green with weed. Still, they carried it home in a bucket, and their mother,
who didn't have the heart to tell them, put it on the windowsill next to the radio.

In 1887 the mill employed 214 people; by 1903 it employed 12. Nobody can say exactly why. Some blamed
the railway, which had come in 1869 and taken the trade to the coast; others blamed the owner's son,
who preferred horses to looms. The ledgers, kept in a tin box in the vicarage, don't settle the matter:
they list wages, coal, candles and rope, but never a reason.

"Are you coming?" she asked. "It's nearly dark, and the tide won't wait for us."
He didn't answer at once. He was looking at the lights across the bay [three of them, then four],
counting the boats as they came in. At last he said: "Yes. I'm coming. Give me a minute."

Half a league, half a league,
Half a league onward,
All in the valley of Death
Rode the six hundred.
"Forward, the Light Brigade!
Charge for the guns!" he said:
Into the valley of Death
Rode the six hundred.

It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in
want of a wife. However little known the feelings or views of such a man may be on his first entering a
neighbourhood, this truth is so well fixed in the minds of the surrounding families, that he is
considered the rightful property of some one or other of their daughters.
"""


@pytest.fixture(scope="session")
def corpus_text() -> str:
    """About 4 KB of English verse and prose."""
    return CORPUS


@pytest.fixture
def corpus_file(tmp_path: Path, corpus_text: str) -> Path:
    """The corpus written to ``tmp_path/corpus.txt`` (UTF-8)."""
    path = tmp_path / "corpus.txt"
    path.write_text(corpus_text, encoding="utf-8")
    return path


# Session-scoped so Hypothesis tests may use them; tests only call ``encode``/``decode`` on them, which leaves
# nothing behind but ``last_unknown`` (reset by every ``encode``).
@pytest.fixture(scope="session")
def char_tokenizer(corpus_text: str) -> CharTokenizer:
    return CharTokenizer.train(corpus_text)


@pytest.fixture(scope="session")
def word_tokenizer(corpus_text: str) -> WordTokenizer:
    return WordTokenizer.train(corpus_text)


@pytest.fixture(scope="session")
def bpe_tokenizer(corpus_text: str) -> BPETokenizer:
    return BPETokenizer.train(corpus_text, vocab_size=300)


@pytest.fixture(scope="session")
def tokenizers(char_tokenizer, word_tokenizer, bpe_tokenizer) -> dict:
    """All three text tokenizers by kind."""
    return {"char": char_tokenizer, "word": word_tokenizer, "bpe": bpe_tokenizer}


def _tiny_config(**overrides) -> ModelConfig:
    base = {"vocab_size": 23, "cell": "lstm", "num_layers": 2, "embedding_size": 8, "hidden_size": 12}
    base.update(overrides)
    return ModelConfig(**base)


@pytest.fixture(scope="session")
def tiny_config():
    """Factory: ``tiny_config(cell="gru", ...)`` gives a model config that runs in milliseconds on a CPU."""
    return _tiny_config


@pytest.fixture
def seeded() -> None:
    """Fix torch's global RNG so weights drawn at init are repeatable within a test."""
    torch.manual_seed(0)
