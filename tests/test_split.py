"""The fine-tuning split: the tail of every file validates, whatever the files are called, and every file trains."""

from __future__ import annotations

import random

import pytest

from studio.text.split import MAX_SHARE, split_by_file, valid_chars

NAMES = [["manual.txt", "note.txt", "z.txt"], ["letters.txt", "letter1.txt", "a.txt"],
         ["b/2.md", "a/1.md", "0.txt"]]


def _text(chars: int, seed: int) -> str:
    """Words of a seeded random prose, ``chars`` characters long (whitespace to snap cuts to)."""
    rng = random.Random(seed)
    words, length = [], 0
    while length < chars + 1:
        words.append("".join(rng.choice("abcdefghij") for _ in range(rng.randint(1, 9))))
        length += len(words[-1]) + 1
    return " ".join(words)[:chars]


def _by_content(texts: list[tuple[str, str]], names: list[str], fraction: float = 0.1,
                **bounds: int) -> dict[str, tuple[int, int]]:
    """Each file's (training, validation) characters by its text, the files named ``names``."""
    split = split_by_file([(n, t) for n, (_, t) in zip(names, texts, strict=False)], fraction, **bounds)
    by_name = {n: (tr, va) for n, tr, va in split.files}
    return {t: by_name[n] for n, (_, t) in zip(names, texts, strict=False)}


@pytest.mark.parametrize("sizes", [[5_000], [300_000, 2_000], [483_000, 94], [40_000, 9_000, 700],
                                   [int(80 * 1.12 ** i) for i in range(50)]],
                         ids=["1 file", "300 KB + 2 KB", "483 KB + 94 B", "3 files", "50 files"])
def test_every_file_trains_and_gives_its_tail_whatever_the_names(sizes: list[int]) -> None:
    texts = [(f"f{i}", _text(size, i)) for i, size in enumerate(sizes)]
    names = [[f"{stem}-{i}.txt" for i in range(len(sizes))] for stem in ("letters", "letter", "x")]
    names += [list(reversed(names[0])), [n[i % 3] + str(i) for i, n in enumerate(NAMES * len(sizes))][:len(sizes)]]
    results = [_by_content(texts, n, min_chars=3_000, max_chars=100_000) for n in names]
    assert all(r == results[0] for r in results), "the split depends on the names or the order of the files"
    split = split_by_file(texts, 0.1, min_chars=3_000, max_chars=100_000)
    assert split == split_by_file(list(texts), 0.1, min_chars=3_000, max_chars=100_000)  # the same every time
    total = sum(len(t) for _, t in texts)
    held = sum(va for _, _, va in split.files)
    assert held == len(split.valid) - 2 * (len(sizes) - 1) and held + sum(tr for _, tr, _ in split.files) == total
    assert held == pytest.approx(valid_chars(total, 0.1, 3_000, 100_000), abs=64 * len(sizes) + len(sizes))
    for (_, text), (_, train, valid) in zip(texts, split.files, strict=True):
        assert train >= 1 and valid >= 1, "every file trains and validates"
        assert train >= (1 - MAX_SHARE) * len(text) - 64 - 1  # the share of each file is the same
        assert text[:train] in split.train and text[train:] in split.valid  # the head trains, the tail validates
    assert len(split.train) > 2.5 * len(split.valid)  # validation takes a quarter at most


def test_the_bounds_hold_when_the_corpus_allows() -> None:
    assert valid_chars(1_000_000, 0.1, 3_000, 100_000) == 100_000      # capped
    assert valid_chars(20_000, 0.1, 3_000, 100_000) == 3_000           # raised to the minimum
    assert valid_chars(8_000, 0.1, 3_000, 100_000) == int(MAX_SHARE * 8_000)  # but never past a quarter
    assert valid_chars(200_000, 0.1) == 20_000                          # no bounds: the fraction


def test_the_notes_say_what_went_where() -> None:
    split = split_by_file([("/up/letters.txt", _text(300_000, 1)), ("/up/letter1.txt", _text(2_000, 2))], 0.1,
                          3_000, 100_000)
    note = " ".join(split.notes("/up"))
    assert "validation: the last 10.0% of each file" in note and "training: the rest of every file" in note
    (_, big_train, big_valid), (_, small_train, small_valid) = split.files
    assert f"letters.txt: {big_train:,} train, {big_valid:,} validation" in note and "/up/" not in note
    assert f"letter1.txt: {small_train:,} train, {small_valid:,} validation" in note
    assert big_train > 0.89 * 300_000 and small_train > 0.89 * 2_000  # each file trains on nine tenths of it
    many = split_by_file([(f"f{i}.txt", _text(1_000, i)) for i in range(50)], 0.1)
    assert "(50 files)" in " ".join(many.notes())


def test_cuts_fall_between_words() -> None:
    text = _text(50_000, 3)
    split = split_by_file([("a.txt", text)], 0.1)
    cut = split.files[0][1]
    assert text[cut - 1] == " " and split.train + split.valid == text
