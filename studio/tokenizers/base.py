"""The small base every text tokenizer shares: ``encode``/``decode`` plus JSON ``save``/``load``.

Subclasses fill three hooks: ``train`` (learn a vocabulary from a corpus), ``_encode``/``_decode`` and
``_state`` (their JSON-able content). A tokenizer is stored inside the checkpoint's JSON, so a model never needs
its corpus again to be used (the failure of pytorch/examples' generate.py).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

from studio.errors import StudioError

_REGISTRY: dict[str, type[TextTokenizer]] = {}


class TextTokenizer(ABC):
    """Turns text into token ids and back.

    Attributes
    ----------
    kind : str
        Registry name stored in JSON ("char", "word", "bpe").
    unk_id : int or None
        Id of the reserved unknown token, or None when nothing can be unknown (byte-level BPE).
    last_unknown : collections.Counter
        The out-of-vocabulary symbols the most recent ``encode`` replaced by ``unk_id``, with counts, so callers
        can report them instead of failing.
    """

    kind: ClassVar[str] = ""
    unk_id: int | None = None

    def __init__(self) -> None:
        self.last_unknown: Counter[str] = Counter()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            _REGISTRY[cls.kind] = cls

    # -- the hooks --------------------------------------------------------------------------------------------
    @classmethod
    @abstractmethod
    def train(cls, text: str, **options: Any) -> TextTokenizer:
        """Learn a vocabulary from ``text``."""

    @abstractmethod
    def _encode(self, text: str, unknown: Counter[str]) -> list[int]:
        """Token ids of ``text``; count each symbol replaced by ``unk_id`` in ``unknown``."""

    @abstractmethod
    def _decode(self, ids: list[int]) -> str:
        """Text of in-range token ids."""

    @abstractmethod
    def _state(self) -> dict[str, Any]:
        """JSON-able content that ``_from_state`` turns back into an equal tokenizer."""

    @classmethod
    @abstractmethod
    def _from_state(cls, state: dict[str, Any]) -> TextTokenizer:
        """Inverse of ``_state``."""

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Number of distinct token ids (ids are ``0 .. vocab_size - 1``)."""

    @abstractmethod
    def token_text(self, token_id: int) -> str:
        """Human-readable form of one token, for reports and debugging."""

    # -- the public surface -----------------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; unknown symbols become ``unk_id`` and are counted in ``last_unknown``."""
        unknown: Counter[str] = Counter()
        ids = self._encode(text, unknown)
        self.last_unknown = unknown
        return ids

    def decode(self, ids: Any) -> str:
        """Text of a sequence of token ids (a list, a numpy array or a 1-D tensor)."""
        ids = [int(i) for i in ids]
        bad = [i for i in ids if not 0 <= i < self.vocab_size]
        if bad:
            raise StudioError(f"token id {bad[0]} is outside this {self.kind} tokenizer's range "
                              f"0..{self.vocab_size - 1}")
        return self._decode(ids)

    def unknown_report(self, limit: int = 10) -> str:
        """One line describing what the last ``encode`` could not represent, or "" when nothing was unknown."""
        if not self.last_unknown:
            return ""
        total = sum(self.last_unknown.values())
        shown = ", ".join(f"{sym!r}x{n}" for sym, n in self.last_unknown.most_common(limit))
        more = "" if len(self.last_unknown) <= limit else f" and {len(self.last_unknown) - limit} more"
        return f"{total} unknown symbol(s) replaced by the unknown token: {shown}{more}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **self._state()}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")

    @staticmethod
    def from_dict(data: dict[str, Any]) -> TextTokenizer:
        """Rebuild any registered tokenizer from ``to_dict`` output."""
        kind = data.get("kind")
        if kind not in _REGISTRY:
            raise StudioError(f"unknown tokenizer kind {kind!r}; known kinds: {', '.join(sorted(_REGISTRY))}")
        state = {k: v for k, v in data.items() if k != "kind"}
        try:
            return _REGISTRY[kind]._from_state(state)
        except (KeyError, TypeError, ValueError) as err:
            raise StudioError(f"the stored {kind} tokenizer is damaged ({err})") from err

    @staticmethod
    def load(path: str | Path) -> TextTokenizer:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise StudioError(f"cannot read tokenizer {path}: {err}") from err
        return TextTokenizer.from_dict(data)
