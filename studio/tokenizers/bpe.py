"""Byte-level BPE trained with Hugging Face ``tokenizers``: any string round-trips, nothing is ever unknown."""

from __future__ import annotations

from collections import Counter
from typing import Any

from studio.tokenizers.base import TextTokenizer

UNK_MARKER = "<unk>"  # corpora such as WikiText and PTB mark replaced rare words with it


class BPETokenizer(TextTokenizer):
    """GPT-2-style byte-level BPE. The whole HF tokenizer is stored as its own JSON string.

    Nothing is ever unknown to a byte-level tokenizer, but a corpus may itself contain the marker ``<unk>`` (WikiText
    and Penn Treebank put it where a rare word was). When it does, the marker becomes one special token and
    ``unk_id`` its id, so generation can ban it like any unknown token; it still round-trips as the text "<unk>".
    """

    kind = "bpe"

    def __init__(self, hf_tokenizer: Any) -> None:
        super().__init__()
        self.hf = hf_tokenizer
        self.unk_id = hf_tokenizer.token_to_id(UNK_MARKER)

    @classmethod
    def train(cls, text: str, vocab_size: int = 8000, **options: Any) -> BPETokenizer:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        hf = Tokenizer(models.BPE())
        # add_prefix_space=False keeps decode(encode(x)) == x exactly (GPT-2 style would insert a leading space).
        hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        hf.decoder = decoders.ByteLevel()
        special = [UNK_MARKER] if UNK_MARKER in text else []
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                      show_progress=False, special_tokens=special)
        lines = text.splitlines(keepends=True) or [text]
        hf.train_from_iterator(_chunks(lines), trainer=trainer)
        return cls(hf)

    def _encode(self, text: str, unknown: Counter[str]) -> list[int]:
        return list(self.hf.encode(text, add_special_tokens=False).ids)

    def _decode(self, ids: list[int]) -> str:
        return self.hf.decode(ids, skip_special_tokens=False)

    @property
    def vocab_size(self) -> int:
        return self.hf.get_vocab_size()

    def token_text(self, token_id: int) -> str:
        return self._decode([token_id])

    def _state(self) -> dict[str, Any]:
        return {"hf_tokenizer": self.hf.to_str()}

    @classmethod
    def _from_state(cls, state: dict[str, Any]) -> BPETokenizer:
        from tokenizers import Tokenizer

        try:
            return cls(Tokenizer.from_str(state["hf_tokenizer"]))
        except Exception as err:  # tokenizers raises a bare Exception for malformed JSON
            raise ValueError(f"malformed Hugging Face tokenizer JSON: {err}") from err


def _chunks(lines: list[str], size: int = 1000):
    """Feed the trainer batches of lines: it is much faster than one giant string."""
    for start in range(0, len(lines), size):
        yield "".join(lines[start:start + size])
