"""Text tokenizers: round trips, unknown symbols, detokenization, JSON persistence and error handling."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from studio.config import TokenizerConfig
from studio.errors import StudioError
from studio.tokenizers import BPETokenizer, CharTokenizer, TextTokenizer, WordTokenizer, train_tokenizer
from studio.tokenizers.char import UNKNOWN_CHAR
from studio.tokenizers.word import detokenize, split_words

KINDS = ("char", "word", "bpe")


# -- character tokenizer ------------------------------------------------------------------------------------------
def test_char_round_trips_the_corpus(char_tokenizer, corpus_text):
    ids = char_tokenizer.encode(corpus_text)
    assert len(ids) == len(corpus_text)
    assert 0 not in ids
    assert char_tokenizer.decode(ids) == corpus_text
    assert char_tokenizer.last_unknown == Counter()
    assert char_tokenizer.unknown_report() == ""


def test_char_vocabulary_is_the_corpus_alphabet_plus_unknown(char_tokenizer, corpus_text):
    assert char_tokenizer.vocab_size == len(set(corpus_text)) + 1
    assert char_tokenizer.unk_id == 0
    assert char_tokenizer.token_text(0) == "<unk>"
    assert {char_tokenizer.token_text(i) for i in range(1, char_tokenizer.vocab_size)} == set(corpus_text)


@given(data=st.data())
def test_char_round_trip_on_training_alphabet(char_tokenizer, corpus_text, data):
    text = data.draw(st.text(alphabet=sorted(set(corpus_text)), max_size=200))
    ids = char_tokenizer.encode(text)
    assert all(0 < i < char_tokenizer.vocab_size for i in ids)
    assert char_tokenizer.decode(ids) == text
    assert not char_tokenizer.last_unknown


@given(text=st.text(max_size=100))
def test_char_never_crashes_on_unseen_characters(char_tokenizer, text):
    ids = char_tokenizer.encode(text)
    known = set(char_tokenizer.chars)
    assert len(ids) == len(text)
    for ch, i in zip(text, ids, strict=True):
        assert (i == 0) == (ch not in known)
    assert char_tokenizer.last_unknown == Counter(ch for ch in text if ch not in known)
    report = char_tokenizer.unknown_report()
    if char_tokenizer.last_unknown:
        shown = [repr(ch) for ch in char_tokenizer.last_unknown]
        assert all(s in report for s in shown) or "more" in report
    else:
        assert report == ""
    # Unknown ids decode to the replacement character, known ones to themselves.
    assert char_tokenizer.decode(ids) == "".join(ch if ch in known else UNKNOWN_CHAR for ch in text)


def test_char_unknown_characters_are_counted_and_named(char_tokenizer):
    ids = char_tokenizer.encode("héllo ☃☃ wörld")
    assert [i for i, t in enumerate(ids) if t == 0] == [1, 6, 7, 10]
    assert char_tokenizer.last_unknown == Counter({"☃": 2, "é": 1, "ö": 1})
    report = char_tokenizer.unknown_report()
    assert "4 unknown" in report
    for ch in ("'é'", "'☃'", "'ö'"):
        assert ch in report
    # The next encode forgets the previous unknowns.
    char_tokenizer.encode("hello")
    assert char_tokenizer.last_unknown == Counter()
    assert char_tokenizer.unknown_report() == ""


def test_unknown_report_caps_the_list(char_tokenizer):
    unseen = "αβγδεζηθικλμ"  # 12 Greek letters, none in the corpus
    char_tokenizer.encode(unseen)
    report = char_tokenizer.unknown_report(limit=10)
    assert report.startswith("12 unknown")
    assert report.endswith("and 2 more")


# -- word tokenizer -------------------------------------------------------------------------------------------------
def test_word_detokenizer_restores_english_spacing():
    text = "Hello, world! It's fine (really).\nNext line."
    tok = WordTokenizer.train(text)
    assert tok.decode(tok.encode(text)) == text
    assert not tok.last_unknown


@pytest.mark.parametrize("text", [
    'He said "yes" to me.',
    "I don't know; can't say. You'll see: it's done!",
    "Costs $5 (or so) [maybe] {never}.",
    "Line one.\nLine two?\n\nLine four.",
])
def test_word_round_trips_conventionally_spaced_text(text):
    tok = WordTokenizer.train(text)
    assert tok.decode(tok.encode(text)) == text


def test_word_round_trips_conventional_corpus_lines(word_tokenizer):
    lines = ["Shall I compare thee to a summer's day?",
             "Tyger Tyger, burning bright,",
             '"Are you coming?" she asked.',
             "He didn't answer at once.",
             "In 1887 the mill employed 214 people; by 1903 it employed 12."]
    for line in lines:
        assert word_tokenizer.decode(word_tokenizer.encode(line)) == line


@pytest.mark.parametrize(("text", "expected"), [
    ("state @-@ of @-@ the @-@ art", "state-of-the-art"),
    ("1 @,@ 000 people", "1,000 people"),
    ("version 3 @.@ 5", "version 3.5"),
])
def test_word_undoes_wikitext_joiners(text, expected):
    tok = WordTokenizer.train(text)
    assert tok.decode(tok.encode(text)) == expected


def test_word_vocabulary_is_ranked_by_frequency():
    tok = WordTokenizer.train("b a b c b a")
    assert tok.words == ["b", "a", "c"]
    assert tok.encode("a b c") == [2, 1, 3]


def test_word_min_count_drops_rare_words():
    tok = WordTokenizer.train("the cat and the dog and the end", min_count=2)
    assert set(tok.words) == {"the", "and"}
    assert tok.encode("the cat") == [tok.words.index("the") + 1, 0]
    assert tok.last_unknown == Counter({"cat": 1})


def test_word_unknown_words_become_unk(word_tokenizer):
    ids = word_tokenizer.encode("the zebra and the xylophone")
    assert ids.count(0) == 2
    assert word_tokenizer.last_unknown == Counter({"zebra": 1, "xylophone": 1})
    assert "'zebra'" in word_tokenizer.unknown_report()
    assert word_tokenizer.decode(ids) == "the <unk> and the <unk>"


def test_word_literal_unk_marker_is_not_reported(word_tokenizer):
    ids = word_tokenizer.encode("the <unk> river")
    assert ids[1] == 0
    assert not word_tokenizer.last_unknown


def test_word_splitter_keeps_words_punctuation_and_newlines():
    assert split_words("Hello, world!\nIt's 42.") == ["Hello", ",", "world", "!", "\n", "It's", "42", "."]
    assert detokenize(["(", "a", ")", ",", "b", "\n", "c"]) == "(a), b\nc"


# -- byte-level BPE ---------------------------------------------------------------------------------------------------
@given(text=st.text())
def test_bpe_round_trips_any_string(bpe_tokenizer, text):
    ids = bpe_tokenizer.encode(text)
    assert all(0 <= i < bpe_tokenizer.vocab_size for i in ids)
    assert bpe_tokenizer.decode(ids) == text
    assert not bpe_tokenizer.last_unknown
    assert bpe_tokenizer.unknown_report() == ""


def test_bpe_learns_merges(bpe_tokenizer, corpus_text):
    assert bpe_tokenizer.unk_id is None
    assert 256 < bpe_tokenizer.vocab_size <= 300
    ids = bpe_tokenizer.encode(corpus_text)
    # Merges must compress the corpus noticeably below one token per UTF-8 byte.
    assert len(ids) < 0.8 * len(corpus_text.encode("utf-8"))
    assert bpe_tokenizer.decode(ids) == corpus_text


def test_bpe_round_trips_awkward_strings(bpe_tokenizer):
    for text in ["", " leading space", "trailing space ", "  double  spaces  ", "tab\there", "crlf\r\nline",
                 "emoji 🎷🎺", "nul\x00byte", "日本語のテキスト", "ǅ combining e\u0301"]:
        assert bpe_tokenizer.decode(bpe_tokenizer.encode(text)) == text


# -- shared surface -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_decode_rejects_out_of_range_ids(tokenizers, kind):
    tok = tokenizers[kind]
    good = tok.encode("the")
    for bad in (tok.vocab_size, tok.vocab_size + 100, -1):
        with pytest.raises(StudioError, match=rf"token id {bad} is outside .*{kind}"):
            tok.decode([*good, bad])


@pytest.mark.parametrize("kind", KINDS)
def test_decode_accepts_lists_arrays_and_tensors(tokenizers, kind):
    tok = tokenizers[kind]
    ids = tok.encode("Tyger Tyger, burning bright")
    expected = tok.decode(ids)
    assert tok.decode(np.array(ids, dtype=np.int64)) == expected
    assert tok.decode(torch.tensor(ids)) == expected


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip(tmp_path, tokenizers, corpus_text, kind):
    tok = tokenizers[kind]
    path = tmp_path / f"{kind}.json"
    tok.save(path)
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert stored["kind"] == kind
    loaded = TextTokenizer.load(path)
    assert type(loaded) is type(tok)
    assert loaded.vocab_size == tok.vocab_size
    probes = [corpus_text, "Unseen: zebra, xylophone, ☃ and é.", "", "\n\n"]
    for text in probes:
        assert loaded.encode(text) == tok.encode(text)
        assert loaded.last_unknown == tok.last_unknown
    ids = tok.encode(corpus_text)
    assert loaded.decode(ids) == tok.decode(ids)
    assert TextTokenizer.from_dict(tok.to_dict()).encode(corpus_text) == ids


@pytest.mark.parametrize("kind", KINDS)
def test_train_tokenizer_dispatches_on_kind(corpus_text, kind):
    tok = train_tokenizer(corpus_text, TokenizerConfig(kind=kind, vocab_size=280))
    expected = {"char": CharTokenizer, "word": WordTokenizer, "bpe": BPETokenizer}[kind]
    assert type(tok) is expected
    assert tok.kind == kind
    if kind == "bpe":
        assert tok.vocab_size <= 280


@pytest.mark.parametrize("data", [{"kind": "sentencepiece"}, {"chars": "abc"}, {"kind": None}])
def test_from_dict_rejects_unknown_kind(data):
    with pytest.raises(StudioError, match="unknown tokenizer kind"):
        TextTokenizer.from_dict(data)


@pytest.mark.parametrize("data", [{"kind": "char"}, {"kind": "word"}, {"kind": "bpe"}, {"kind": "char", "chars": 5}])
def test_from_dict_rejects_damaged_state(data):
    with pytest.raises(StudioError, match=f"stored {data['kind']} tokenizer is damaged"):
        TextTokenizer.from_dict(data)


def test_from_dict_rejects_damaged_bpe_json(bpe_tokenizer):
    stored = bpe_tokenizer.to_dict()
    for damaged in ("{not json", stored["hf_tokenizer"][: len(stored["hf_tokenizer"]) // 2]):
        with pytest.raises(StudioError, match="stored bpe tokenizer is damaged"):
            TextTokenizer.from_dict({"kind": "bpe", "hf_tokenizer": damaged})


def test_load_rejects_missing_and_garbage_files(tmp_path):
    with pytest.raises(StudioError, match=r"cannot read tokenizer .*missing\.json"):
        TextTokenizer.load(tmp_path / "missing.json")
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{this is not json", encoding="utf-8")
    with pytest.raises(StudioError, match=r"cannot read tokenizer .*garbage\.json"):
        TextTokenizer.load(garbage)
