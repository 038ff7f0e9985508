"""Word-level tokenizer: words, numbers and punctuation marks as tokens, newlines kept, spacing restored on decode.

Splitting is by a regular expression rather than by whitespace, so "end." and "end" share a token and the
vocabulary stays small. Decoding rebuilds conventional English spacing (no space before closing punctuation or
after opening brackets, contractions glued, WikiText's ``@-@`` joiners undone); it is a detokenizer, not an exact
inverse, because the original runs of spaces are not stored.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from studio.tokenizers.base import TextTokenizer

UNK = "<unk>"
# Order matters: the literal unknown marker, WikiText joiners (@-@, @,@, @.@), newlines, words with inner
# apostrophes or hyphen-less contractions ("don't", "o'er"), clitics split off ("'s"), then any other symbol.
_TOKEN = re.compile(r"<unk>|@[-.,]@|\n|n't\b|'(?:s|re|ve|ll|d|m)\b|\w+(?:'\w+)*|[^\w\s]", re.IGNORECASE)
_JOINERS = {"@-@": "-", "@,@": ",", "@.@": "."}
_NO_SPACE_BEFORE = set(".,;:!?)]}%…") | {"n't", "'s", "'re", "'ve", "'ll", "'d", "'m", "'S", "N'T"}
_NO_SPACE_AFTER = set("([{$£€¿¡")


def split_words(text: str) -> list[str]:
    """The word tokens of ``text`` (no vocabulary involved)."""
    return _TOKEN.findall(text)


def detokenize(tokens: list[str]) -> str:
    """Join word tokens into text with conventional spacing. Straight double quotes alternate open/close."""
    out: list[str] = []
    quote_open = False
    glue_next = True  # no space before the very first token
    for tok in tokens:
        if tok == "\n":
            while out and out[-1] == " ":
                out.pop()
            out.append("\n")
            glue_next = True
            continue
        joiner = _JOINERS.get(tok)
        if joiner is not None:
            while out and out[-1] == " ":
                out.pop()
            out.append(joiner)
            glue_next = True
            continue
        glue = glue_next or tok in _NO_SPACE_BEFORE or tok.lower() in _NO_SPACE_BEFORE
        if tok == '"':
            glue = glue or quote_open  # a closing quote hugs the word before it
        if not glue:
            out.append(" ")
        out.append(tok)
        glue_next = tok in _NO_SPACE_AFTER or (tok == '"' and not quote_open)
        if tok == '"':
            quote_open = not quote_open
    return "".join(out)


class WordTokenizer(TextTokenizer):
    """Id 0 is the unknown word; the others are the corpus's words, most frequent first."""

    kind = "word"
    unk_id = 0

    def __init__(self, words: list[str]) -> None:
        super().__init__()
        self.words = [w for w in words if w != UNK]
        self._index = {w: i + 1 for i, w in enumerate(self.words)}

    @classmethod
    def train(cls, text: str, min_count: int = 1, max_vocab: int | None = None, **options: Any) -> WordTokenizer:
        counts = Counter(split_words(text))
        counts.pop(UNK, None)
        ranked = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        return cls(ranked[:max_vocab] if max_vocab else ranked)

    def _encode(self, text: str, unknown: Counter[str]) -> list[int]:
        ids = []
        for tok in split_words(text):
            i = self._index.get(tok, 0)
            if i == 0 and tok != UNK:
                unknown[tok] += 1
            ids.append(i)
        return ids

    def _decode(self, ids: list[int]) -> str:
        return detokenize([self.token_text(i) for i in ids])

    @property
    def vocab_size(self) -> int:
        return len(self.words) + 1

    def token_text(self, token_id: int) -> str:
        return UNK if token_id == 0 else self.words[token_id - 1]

    def _state(self) -> dict[str, Any]:
        return {"words": self.words}

    @classmethod
    def _from_state(cls, state: dict[str, Any]) -> WordTokenizer:
        return cls(list(state["words"]))
