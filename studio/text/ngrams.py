"""The copy check: a compact index of a corpus's token n-grams, to tell how much of a text is new.

Every length-``n`` window of token ids is hashed to 32 bits, and the index keeps the sorted distinct hashes (about
4 bytes per distinct n-gram). A generated text's *novelty* is then the share of its n-grams that are absent from
the index: 0 means every n-gram was seen in training (a possible copy), 1 means none was.

The hash is a polynomial hash of the window in 64-bit arithmetic (wrapping around), finished with splitmix64's
mixer, of which the top 32 bits are kept. Two different n-grams share a 32-bit hash with probability 2^-32, so a
new n-gram is wrongly reported as seen with probability about ``count / 2**32`` (0.02% for a million distinct
n-grams); a seen n-gram is never reported as new. The hash depends on the token ids only, so an index is only
meaningful with the tokenizer that produced the ids it was built from (a checkpoint stores both together).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from studio.errors import StudioError

NGRAMS_EXTRA = "ngrams"  # the bundle extra (``ngrams.safetensors``) holding a text model's training n-gram index
# Bumped whenever the hash changes, so an index built by another hash is refused instead of silently missing.
HASH_VERSION = 1
MAX_N = 64
DEFAULT_N = {"char": 8, "word": 4, "bpe": 4}
# Windows hashed per chunk while building: bounds the temporary 64-bit arrays to a few tens of MB.
_CHUNK = 1 << 22
MAX_HASHES = 750_000  # about 3 MB: above this many distinct n-grams an index keeps a consistent hash sample
FULL = 1 << 32        # keep_below value of an index that holds every hash

_MULT = np.uint64(0x100000001B3)  # the 64-bit FNV prime: odd, so multiplying by it loses nothing mod 2^64
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S32 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(32)

TokenIds = Sequence[int] | np.ndarray | torch.Tensor


def default_ngram_size(tokenizer_kind: str) -> int:
    """The n-gram length for a tokenizer kind: 8 characters, or 4 words / subwords.

    Eight characters are about a word and a half, short enough that a model writing new sentences still reuses
    many of them and long enough that most chance matches are ruled out; four words play the same part.
    """
    if tokenizer_kind not in DEFAULT_N:
        raise StudioError(f"no default n-gram size for tokenizer kind {tokenizer_kind!r}; "
                          f"known kinds: {', '.join(DEFAULT_N)}")
    return DEFAULT_N[tokenizer_kind]


def _as_ids(ids: TokenIds) -> np.ndarray:
    """Token ids as a 1-D uint64 array (ids must be non-negative integers)."""
    if isinstance(ids, torch.Tensor):
        ids = ids.detach().cpu().numpy()
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise StudioError(f"token ids must be a 1-D sequence, got shape {tuple(arr.shape)}")
    if arr.size == 0:
        return np.zeros(0, dtype=np.uint64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise StudioError(f"token ids must be integers, got {arr.dtype}")
    if arr.min() < 0:
        raise StudioError(f"token ids must be non-negative, got {int(arr.min())}")
    return arr.astype(np.uint64, copy=False)


def _check_n(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= int(n) <= MAX_N:
        raise StudioError(f"the n-gram size must be an integer from 1 to {MAX_N}, got {n!r}")
    return int(n)


def window_hashes(ids: TokenIds, n: int) -> np.ndarray:
    """The 32-bit hash of every length-``n`` window of ``ids``.

    Parameters
    ----------
    ids : sequence of int, ndarray or 1-D tensor, shape (m,)
        Non-negative token ids.
    n : int
        Window length.

    Returns
    -------
    ndarray of uint32, shape (max(m - n + 1, 0),)
        Entry ``i`` hashes ``ids[i:i+n]``; equal windows always get equal hashes, on any machine.
    """
    n = _check_n(n)
    arr = _as_ids(ids)
    count = arr.size - n + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint32)
    # Horner's rule over the window, all windows at once; uint64 arithmetic wraps around silently in numpy arrays.
    # The +1 keeps token 0 from vanishing at the start of a window (0*M + 0 == 0).
    h = np.zeros(count, dtype=np.uint64)
    one = np.uint64(1)
    for j in range(n):
        h *= _MULT
        h += arr[j:j + count] + one
    # splitmix64's finaliser spreads every input bit over the top 32 bits that are kept.
    h += _GOLDEN
    h ^= h >> _S30
    h *= _MIX1
    h ^= h >> _S27
    h *= _MIX2
    h ^= h >> _S31
    return (h >> _S32).astype(np.uint32)


class NgramIndex:
    """The set of hashed length-``n`` token windows of a corpus.

    Build it with ``NgramIndex.build(ids, n)``; ask it with ``contains``, ``novelty`` and ``novel_count``; store it
    with ``to_tensors`` / ``from_tensors`` (safetensors-ready). A false "seen" happens with probability about
    ``count / 2**32`` per n-gram (see the module docstring); a false "new" never happens.

    A corpus with more than ``max_hashes`` distinct n-grams is indexed by a consistent sample: only hashes below
    ``keep_below`` are kept, and queries judge only the windows whose hash falls below it too. Hashes are uniform,
    so that is a random sample of windows, the same for corpus and query, and ``novelty`` stays an unbiased
    estimate while the index stays a few MB (WikiText-2's 2.2 million distinct 4-grams: 3 MB instead of 9).

    Parameters
    ----------
    hashes : ndarray of uint32, shape (count,)
        Sorted, distinct window hashes (as ``window_hashes`` makes them).
    n : int
        Window length in tokens.
    keep_below : int
        Only hashes below this are held and judged; ``2**32`` (the default) means all.
    """

    def __init__(self, hashes: np.ndarray, n: int, keep_below: int = FULL) -> None:
        self.n = _check_n(n)
        if not 0 < int(keep_below) <= FULL:
            raise StudioError(f"n-gram index keep_below must be in (0, 2**32], got {keep_below}")
        self.keep_below = int(keep_below)
        self.hashes = np.ascontiguousarray(hashes, dtype=np.uint32)
        if self.hashes.ndim != 1:
            raise StudioError(f"n-gram hashes must be 1-D, got shape {tuple(self.hashes.shape)}")

    @classmethod
    def build(cls, ids: TokenIds, n: int, max_hashes: int = MAX_HASHES) -> NgramIndex:
        """Index every length-``n`` window of ``ids`` (shape (m,)), or a consistent sample of them when there are
        more than ``max_hashes`` distinct ones; deterministic for equal arguments."""
        n = _check_n(n)
        arr = _as_ids(ids)
        parts = []
        # Chunks overlap by n - 1 ids so no window is lost at a seam.
        for start in range(0, max(arr.size - n + 1, 0), _CHUNK):
            parts.append(np.unique(window_hashes(arr[start:start + _CHUNK + n - 1], n)))
        hashes = np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.uint32)
        if hashes.size <= max_hashes:
            return cls(hashes, n)
        keep_below = max(1, int(FULL * max_hashes / hashes.size))
        return cls(hashes[hashes < keep_below], n, keep_below)

    @property
    def count(self) -> int:
        """Number of distinct n-gram hashes held."""
        return int(self.hashes.size)

    @property
    def size_bytes(self) -> int:
        """Bytes the hashes take (in memory and, plus a small header, on disk)."""
        return int(self.hashes.nbytes)

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        return f"NgramIndex(n={self.n}, count={self.count}, bytes={self.size_bytes})"

    def info(self) -> dict[str, int]:
        """What a model card says about the index: ``{"n", "count", "bytes", "hash_version"}``."""
        info = {"n": self.n, "count": self.count, "bytes": self.size_bytes, "hash_version": HASH_VERSION}
        if self.keep_below < FULL:
            info["sampled_share"] = round(self.keep_below / FULL, 6)
        return info

    # -- queries ---------------------------------------------------------------------------------------------------
    def contains(self, ids: TokenIds) -> np.ndarray:
        """Whether each length-``n`` window of ``ids`` occurs in the indexed corpus.

        Parameters
        ----------
        ids : sequence of int, ndarray or 1-D tensor, shape (m,)

        Returns
        -------
        ndarray of bool, shape (max(m - n + 1, 0),)
            Entry ``i`` is True when ``ids[i:i+n]`` was seen (up to hash collisions, see the class docstring).
            For a sampled index, only the sampled windows have an entry.
        """
        query = window_hashes(ids, self.n)
        if self.keep_below < FULL:
            query = query[query < self.keep_below]  # judge only the sampled windows
        if self.count == 0 or query.size == 0:
            return np.zeros(query.size, dtype=bool)
        pos = np.searchsorted(self.hashes, query)
        return self.hashes[np.minimum(pos, self.count - 1)] == query

    def novel_count(self, ids: TokenIds) -> tuple[int, int]:
        """``(novel, total)``: how many of the ``total`` n-gram windows of ``ids`` are absent from the index."""
        seen = self.contains(ids)
        return int(seen.size - seen.sum()), int(seen.size)

    def novelty(self, ids: TokenIds) -> float | None:
        """The share of the length-``n`` windows of ``ids`` that are absent from the index, in [0, 1].

        Windows are counted with repetition: a text that repeats one new n-gram ten times has ten new windows.

        Returns
        -------
        float or None
            0.0 when every window was seen in the corpus, 1.0 when none was; None when ``ids`` has no window to
            judge (shorter than ``n`` tokens, or, for a sampled index, no window in the sample), None rather than
            NaN so the value stays valid JSON.
        """
        novel, total = self.novel_count(ids)
        return novel / total if total else None

    # -- storage -------------------------------------------------------------------------------------------------
    def to_tensors(self) -> dict[str, torch.Tensor]:
        """The index as tensors for safetensors: ``hashes`` (int32, the uint32 bits unchanged, shape (count,)),
        ``n`` and ``hash_version`` (int64, shape (1,))."""
        return {"hashes": torch.from_numpy(self.hashes.view(np.int32).copy()),
                "n": torch.tensor([self.n], dtype=torch.int64),
                "hash_version": torch.tensor([HASH_VERSION], dtype=torch.int64),
                "keep_below": torch.tensor([self.keep_below], dtype=torch.int64)}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> NgramIndex:
        """Inverse of ``to_tensors``; a malformed or foreign index raises StudioError."""
        try:
            hashes, n, version = tensors["hashes"], tensors["n"], tensors["hash_version"]
        except KeyError as err:
            raise StudioError(f"the stored n-gram index is incomplete: it has no {err.args[0]!r} tensor") from err
        if hashes.dtype != torch.int32 or hashes.dim() != 1 or n.numel() != 1 or version.numel() != 1:
            raise StudioError("the stored n-gram index is malformed (expected int32 hashes of shape (count,) and "
                              "one-element n and hash_version)")
        if int(version.item()) != HASH_VERSION:
            raise StudioError(f"the stored n-gram index uses hash version {int(version.item())}; this Studio "
                              f"reads version {HASH_VERSION}: rebuild it with scripts/build_ngram_index.py")
        values = hashes.detach().cpu().numpy().view(np.uint32)
        if values.size > 1 and not bool(np.all(values[1:] > values[:-1])):
            raise StudioError("the stored n-gram index is malformed (its hashes are not sorted and distinct)")
        keep_below = int(tensors["keep_below"].item()) if "keep_below" in tensors else FULL
        return cls(values, int(n.item()), keep_below)


def training_index(train_tokens: TokenIds, tokenizer_kind: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """What a text training run stores beside its best model: the card's ``ngram_index`` entry and the
    ``NGRAMS_EXTRA`` tensors of the index of ``train_tokens``, at the tokenizer kind's n-gram size."""
    index = NgramIndex.build(train_tokens, default_ngram_size(tokenizer_kind))
    return index.info(), index.to_tensors()


def corpus_index(extras: Mapping[str, dict[str, torch.Tensor]], where: object = "the model") -> NgramIndex | None:
    """The n-gram index among a bundle's ``extras`` (``LoadedModel.extras``), or None when it carries none;
    a malformed index raises StudioError naming ``where`` it came from."""
    tensors = extras.get(NGRAMS_EXTRA)
    if tensors is None:
        return None
    try:
        return NgramIndex.from_tensors(tensors)
    except StudioError as err:
        raise StudioError(f"checkpoint {where}: {err}") from err


def novelty_percent(value: float | None) -> str:
    """A novelty value for people: ``"97.3%"``, or ``"n/a"`` for a text too short to judge."""
    return "n/a" if value is None or math.isnan(value) else f"{100 * value:.1f}%"


__all__ = ["DEFAULT_N", "HASH_VERSION", "NGRAMS_EXTRA", "NgramIndex", "corpus_index", "default_ngram_size",
           "novelty_percent", "training_index", "window_hashes"]
