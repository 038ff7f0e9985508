"""Fine-tune a shipped or local text model on a user's own folder (or zip) of text.

What the peers refuse, Studio does: a corpus with characters or words the base model has never seen *grows* the
vocabulary (new embedding and output rows start at the mean of the existing ones, so the model begins by treating a
new symbol like an average known one), instead of failing (char-rnn, torch-rnn) or mapping them to unknown
(textgenrnn). Guardrails: a warning when the corpus is small for the model, early stopping on validation loss, the
base model's loss on the same validation text for comparison, and a few samples at the end with their novelty
against the user's corpus (are they writing, or copying?).
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from studio.checkpoint import read_bundle
from studio.config import GenerationConfig, ModelConfig, TrainConfig
from studio.errors import StudioError
from studio.loading import build_model, model_from_bundle, resolve_model
from studio.text.corpus import read_text_files, split_text, to_tensor
from studio.text.ngrams import NGRAMS_EXTRA, training_index
from studio.tokenizers import CharTokenizer, TextTokenizer, WordTokenizer
from studio.tokenizers.word import split_words
from studio.training.trainer import Callback, Trainer

SMALL_CORPUS_TOKENS_PER_PARAMETER = 1.0  # below this, warn: the model can memorise the corpus quickly


@dataclass
class FinetuneResult:
    """What a fine-tuning run did and how well it went."""

    best_path: Path
    steps: int
    stop_reason: str
    base_valid: dict[str, Any]
    best_valid: dict[str, Any]
    added_symbols: list[str]
    warnings: list[str] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    novelty: list[float | None] = field(default_factory=list)


def split_by_file(texts: list[tuple[str, str]], valid_fraction: float, root: str | Path = "") -> tuple[str, str]:
    """Deterministic split: a file goes to validation when the hash of its name (relative to the corpus ``root``,
    so moving the folder keeps the split) falls in the tail ``valid_fraction`` (at least one file); a single file
    is split by its tail instead."""
    if len(texts) < 2:
        return split_text(texts[0][1], valid_fraction)
    prefix = str(root)

    def bucket(name: str) -> float:
        relative = name[len(prefix):] if prefix and name.startswith(prefix) else name
        return int.from_bytes(hashlib.sha256(relative.encode()).digest()[:8], "big") / 2**64

    valid = [t for n, t in texts if bucket(n) < valid_fraction]
    train = [t for n, t in texts if bucket(n) >= valid_fraction]
    if not valid:
        last = max(texts, key=lambda nt: bucket(nt[0]))[0]
        valid = [t for n, t in texts if n == last]
        train = [t for n, t in texts if n != last]
    return "\n\n".join(train), "\n\n".join(valid)


def grow_vocabulary(tokenizer: TextTokenizer, text: str) -> tuple[TextTokenizer, list[str]]:
    """A tokenizer that also knows the symbols of ``text`` it lacked (appended, so old ids keep their meaning)."""
    if isinstance(tokenizer, CharTokenizer):
        known = set(tokenizer.chars)
        new = sorted({c for c in text if c not in known})
        return (CharTokenizer(tokenizer.chars + new), new) if new else (tokenizer, [])
    if isinstance(tokenizer, WordTokenizer):
        known = set(tokenizer.words)
        counts: dict[str, int] = {}
        for word in split_words(text):
            if word not in known and word != "<unk>":
                counts[word] = counts.get(word, 0) + 1
        new = sorted(counts, key=lambda w: (-counts[w], w))
        return (WordTokenizer(tokenizer.words + new), new) if new else (tokenizer, [])
    return tokenizer, []  # byte-level BPE: nothing is ever unknown


def grow_weights(weights: dict[str, torch.Tensor], config: ModelConfig, new_vocab: int,
                 seed: int = 0) -> dict[str, torch.Tensor]:
    """Embedding and output rows for ``new_vocab - config.vocab_size`` new tokens: the mean of the existing rows,
    plus a little noise so new tokens can be told apart."""
    extra = new_vocab - config.vocab_size
    if extra <= 0:
        return weights
    g = torch.Generator().manual_seed(seed)
    grown = dict(weights)
    for name in ("embedding.weight", "decoder.weight", "decoder.bias"):
        if name not in weights:
            continue  # a tied decoder shares the embedding
        old = weights[name].float()
        mean = old.mean(dim=0, keepdim=True)
        noise = torch.randn((extra, *old.shape[1:]), generator=g) * old.std() * 0.1 if old.dim() > 1 else 0.0
        grown[name] = torch.cat([old, (mean.expand(extra, *old.shape[1:]) + noise)], dim=0)
    return grown


def finetune_text(base: str | Path, corpus: str | Path, out_dir: str | Path, train_config: TrainConfig,
                  callbacks: list[Callback] | None = None, command: str | None = None, samples: int = 3,
                  on_note: Any = None, weight_drop: float | None = None) -> FinetuneResult:
    """Fine-tune the text model ``base`` on ``corpus`` into ``out_dir``. ``on_note(str)`` hears the guardrails.

    ``weight_drop`` (0..0.95) sets DropConnect on the recurrent weights for the fine-tuning (``ModelConfig``), the
    regulariser for a corpus much smaller than the model; None keeps the base model's setting."""
    note = on_note or (lambda message: None)
    out = Path(out_dir)
    if (out / "last").exists() or (out / "best").exists():
        raise StudioError(f"{out} already holds a training run; choose another --out")
    path = resolve_model(base)
    bundle = read_bundle(path)
    if bundle.card.get("model_kind", "text") != "text" or bundle.card.get("tokenizer", {}).get("kind") not in (
            "char", "word", "bpe"):
        raise StudioError(f"{base} is not a text model; fine-tune music models with their own corpus type")
    base_model, tokenizer = model_from_bundle(bundle)
    texts, report = read_text_files(corpus)
    for line in report.lines():
        note(line)
    train_text, valid_text = split_by_file(texts, train_config.valid_fraction, corpus)
    tokenizer, added = grow_vocabulary(tokenizer, train_text + valid_text)
    if added:
        shown = ", ".join(repr(a) for a in added[:12]) + (" ..." if len(added) > 12 else "")
        note(f"the vocabulary grows by {len(added)} symbol(s) the base model never saw: {shown}")
    overrides = {} if weight_drop is None else {"weight_drop": weight_drop}
    config = ModelConfig.from_dict({**bundle.card["model_config"], "vocab_size": tokenizer.vocab_size, **overrides})
    weights = grow_weights({k: v.float() for k, v in base_model.state_dict().items()
                            if not (config.tie_weights and k == "decoder.weight")},
                           ModelConfig.from_dict(bundle.card["model_config"]), tokenizer.vocab_size)
    train_ids, valid_ids = to_tensor(tokenizer.encode(train_text)), to_tensor(tokenizer.encode(valid_text))
    chars_per_token = len(valid_text) / max(1, valid_ids.numel())
    grown_base = build_model(config, weights)
    warnings = []
    params = grown_base.num_parameters()
    if train_ids.numel() < SMALL_CORPUS_TOKENS_PER_PARAMETER * params:
        warnings.append(f"the corpus is small for this model ({train_ids.numel():,} training tokens for "
                        f"{params:,} parameters): it may memorise it; early stopping watches validation loss")
        for w in warnings:
            note(w)
    card = {"name": out.name, "command": command or " ".join(["studio", *sys.argv[1:]]),
            "finetuned_from": {"model": str(base), "weights_sha256": bundle.card.get("weights", {}).get("sha256"),
                               "added_symbols": len(added)},
            "tokenizer_config": bundle.card.get("tokenizer_config", {"kind": tokenizer.kind}),
            "corpus": {"name": Path(corpus).name, "sha256": report.sha256, "files": len(report.used),
                       "skipped": len(report.skipped), "train_tokens": int(train_ids.numel()),
                       "valid_tokens": int(valid_ids.numel()), "split": "by file (hash of the name)"
                       if len(texts) > 1 else "tail of the only file"}}
    card["ngram_index"], ngrams = training_index(train_ids, tokenizer.kind)
    trainer = Trainer(config, train_config, tokenizer, train_ids, valid_ids, out, card=card, callbacks=callbacks,
                      valid_chars_per_token=chars_per_token, initial_weights=weights,
                      best_extras={NGRAMS_EXTRA: ngrams})
    result = trainer.fit()  # scores the (grown) base model on the validation text first, as it scores the rest
    outcome = FinetuneResult(result.best_path, result.steps, result.stop_reason, result.base_metrics or {},
                             result.best_metrics,
                             added, warnings)
    if samples and result.stop_reason != "interrupted" and (out / "best").exists():
        from studio.text.generator import Generator

        generated = Generator(out / "best").generate("", GenerationConfig(length=200, num_samples=samples, seed=0))
        outcome.samples, outcome.novelty = generated.texts, generated.novelty
    return outcome
