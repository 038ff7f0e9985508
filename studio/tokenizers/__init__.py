"""Text tokenizers: character, word and byte-level BPE, sharing one base with encode/decode/save/load."""

from studio.config import TokenizerConfig
from studio.tokenizers.base import TextTokenizer
from studio.tokenizers.bpe import BPETokenizer
from studio.tokenizers.char import CharTokenizer
from studio.tokenizers.word import WordTokenizer

__all__ = ["BPETokenizer", "CharTokenizer", "TextTokenizer", "WordTokenizer", "train_tokenizer"]


def train_tokenizer(text: str, config: TokenizerConfig) -> TextTokenizer:
    """Learn the tokenizer ``config`` describes from ``text``."""
    if config.kind == "char":
        return CharTokenizer.train(text)
    if config.kind == "word":
        return WordTokenizer.train(text, min_count=config.min_count)
    return BPETokenizer.train(text, vocab_size=config.vocab_size)
