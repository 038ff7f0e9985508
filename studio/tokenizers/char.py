"""Character-level tokenizer (char-rnn): one id per Unicode character seen in the corpus."""

from __future__ import annotations

from collections import Counter
from typing import Any

from studio.tokenizers.base import TextTokenizer

UNKNOWN_CHAR = "\ufffd"  # what an unknown id decodes to: Unicode's replacement character


class CharTokenizer(TextTokenizer):
    """Id 0 is reserved for characters the corpus never showed; every other id is one code point."""

    kind = "char"
    unk_id = 0

    def __init__(self, chars: list[str]) -> None:
        super().__init__()
        self.chars = list(chars)
        self._index = {c: i + 1 for i, c in enumerate(self.chars)}

    @classmethod
    def train(cls, text: str, **options: Any) -> CharTokenizer:
        return cls(sorted(set(text)))

    def _encode(self, text: str, unknown: Counter[str]) -> list[int]:
        index = self._index
        ids = [index.get(c, 0) for c in text]
        if 0 in ids:
            unknown.update(c for c in text if c not in index)
        return ids

    def _decode(self, ids: list[int]) -> str:
        chars = self.chars
        return "".join(chars[i - 1] if i else UNKNOWN_CHAR for i in ids)

    @property
    def vocab_size(self) -> int:
        return len(self.chars) + 1

    def token_text(self, token_id: int) -> str:
        return "<unk>" if token_id == 0 else self.chars[token_id - 1]

    def _state(self) -> dict[str, Any]:
        return {"chars": "".join(self.chars)}

    @classmethod
    def _from_state(cls, state: dict[str, Any]) -> CharTokenizer:
        return cls(list(state["chars"]))
