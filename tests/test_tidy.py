"""Prose a reader accepts: texts end on whole sentences, headings stay only where text follows them, a growing text
is only ever extended (so a stream joins to the finished text), and the shipped prose model's texts come out tidy
unless asked raw."""

from __future__ import annotations

import random

import pytest

from studio.cli import main
from studio.config import GenerationConfig
from studio.text.generator import GenerationRequest, Generator
from studio.text.tidy import empty_headings, last_sentence_end, tidy_prose

TEXT = """The city grew. It was 2.50 m high, said Mr. Smith.

== Family ==

=== Early life ===

Merrow was named in 1931. She had signed on

== Reception ==

== St. Louis ==
"""


def test_a_text_ends_on_its_last_whole_sentence_and_keeps_only_headings_with_text() -> None:
    tidy = tidy_prose(TEXT)
    assert tidy == ("The city grew. It was 2.50 m high, said Mr. Smith.\n\n=== Early life ===\n\n"
                    "Merrow was named in 1931.")
    assert empty_headings(TEXT) == 3 and empty_headings(tidy) == 0


@pytest.mark.parametrize(("text", "tidy"), [
    ("No sentence ends here", "No sentence ends here"),  # a finished text with no whole sentence keeps what it has
    ("== ==\n\nText.", "Text."),  # a heading with no title goes
    ("It cost 2.", "It cost 2."),  # a finished text may end on a full stop
    ('He said "Go." Then', 'He said "Go."'),  # closing quotes belong to the sentence
    ("== St. Louis ==\n\nA city. On", "== St. Louis ==\n\nA city."),  # a heading's full stop ends no sentence
    ("One.\n\n\n\n== A ==\n\n== B ==\n\n\n\nTwo. Three", "One.\n\n== B ==\n\nTwo."),
])
def test_tidy_cases(text: str, tidy: str) -> None:
    assert tidy_prose(text) == tidy


def test_a_growing_text_is_only_ever_extended() -> None:
    """What tidy_prose shows of an unfinished text never changes later: each prefix's tidy text begins the whole's
    (random texts of words, numbers, full stops, quotes and headings)."""
    rng = random.Random(0)
    pieces = ["word", " ", ".", " ", "2.5", '"', "\n", "\n\n", "== Head ==", "=== Sub. ===", "!", "?", "Mr.", " "]
    for _ in range(200):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 40)))
        whole = tidy_prose(text)
        for cut in range(len(text) + 1):
            part = tidy_prose(text[:cut], finished=False)
            assert whole.startswith(part), (text, cut, part, whole)
        assert last_sentence_end(text, finished=False) in (None, *range(len(text) + 1))


def test_the_prose_model_writes_tidy_text_and_raw_on_request() -> None:
    generator = Generator("prose")
    assert generator.tidy  # its card asks for it
    config = GenerationConfig(length=200, num_samples=8, seed=4, temperature=1.0)
    raw = generator.generate(GenerationRequest("", config, raw=True))
    tidy = generator.generate(GenerationRequest("", config))
    assert tidy.params["tidy"] and not raw.params["tidy"]
    for before, after in zip(raw.texts, tidy.texts, strict=True):
        assert empty_headings(after) == 0
        assert after == tidy_prose(before) and len(after) <= len(before)
    assert sum(t.rstrip()[-1] not in '.!?")' for t in raw.texts) >= 4  # raw texts stop where the length ran out


def test_a_streamed_prose_text_joins_to_the_finished_one() -> None:
    generator = Generator("prose")
    finished = []
    request = GenerationRequest("The history of the city", GenerationConfig(length=150, seed=9))
    pieces = list(generator.stream(request, on_result=finished.append))
    assert pieces[0] == "The history of the city" and len(pieces) >= 3  # the prompt, then sentence by sentence
    assert "".join(pieces) == finished[0].texts[0] == generator.generate(request).texts[0]


def test_studio_write_raw(capsys) -> None:
    args = ["write", "--model", "prose", "--length", "80", "--seed", "3", "--json"]
    assert main(args) == 0
    tidy = capsys.readouterr().out
    assert main([*args, "--raw"]) == 0
    raw = capsys.readouterr().out
    assert '"tidy": true' in tidy and '"tidy": false' in raw
