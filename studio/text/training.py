"""Train (or resume) a text language model from a corpus path: the job behind ``studio train text``."""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from studio.config import ModelConfig, TokenizerConfig, TrainConfig
from studio.errors import StudioError
from studio.text.corpus import CorpusReport, read_text_corpus, split_text, to_tensor
from studio.text.ngrams import NGRAMS_EXTRA, training_index
from studio.tokenizers import TextTokenizer, train_tokenizer
from studio.training.resume import read_resumable
from studio.training.trainer import Callback, Trainer, TrainResult


@dataclass
class TextData:
    """A corpus cut into token streams.

    Attributes
    ----------
    train, valid : LongTensor, shape (n,)
    tokenizer : TextTokenizer
    report : CorpusReport
    valid_chars_per_token : float
    notes : list of str
        Things worth telling the user (skipped files, unknown symbols in the validation text).
    """

    train: torch.Tensor
    valid: torch.Tensor
    tokenizer: TextTokenizer
    report: CorpusReport
    valid_chars_per_token: float
    notes: list[str]


def prepare_text(corpus: str | Path, tokenizer_config: TokenizerConfig, valid_fraction: float,
                 tokenizer: TextTokenizer | None = None, valid_corpus: str | Path | None = None) -> TextData:
    """Read a corpus, learn a tokenizer on its training part (unless one is given) and encode both parts.

    Validation text is the corpus's tail ``valid_fraction``, or all of ``valid_corpus`` when one is given (for
    data sets with a standard split, such as WikiText's valid.txt).
    """
    text, report = read_text_corpus(corpus)
    if valid_corpus is None:
        train_text, valid_text = split_text(text, valid_fraction)
    else:
        train_text = text
        valid_text, valid_report = read_text_corpus(valid_corpus)
        report.skipped += valid_report.skipped
        report.fallback += valid_report.fallback
        report.sha256 = hashlib.sha256((report.sha256 + valid_report.sha256).encode()).hexdigest()
    if len(train_text) < 2 or len(valid_text) < 2:
        raise StudioError(f"corpus {corpus} is too short to train on ({len(text)} characters)")
    tokenizer = tokenizer or train_tokenizer(train_text, tokenizer_config)
    notes = report.lines()
    train_ids = tokenizer.encode(train_text)
    if tokenizer.last_unknown:
        notes.append("training text: " + tokenizer.unknown_report())
    valid_ids = tokenizer.encode(valid_text)
    if tokenizer.last_unknown:
        notes.append("validation text: " + tokenizer.unknown_report())
    return TextData(to_tensor(train_ids), to_tensor(valid_ids), tokenizer, report,
                    len(valid_text) / max(1, len(valid_ids)), notes)


def train_text(corpus: str | Path, out_dir: str | Path, model_config: dict[str, Any] | None = None,
               tokenizer_config: TokenizerConfig | None = None, train_config: TrainConfig | None = None,
               callbacks: list[Callback] | None = None, resume: bool = False, save_dtype: str = "float32",
               command: str | None = None, budget_overrides: dict[str, Any] | None = None,
               on_data: Any = None, valid_corpus: str | Path | None = None) -> TrainResult:
    """Train a new model on ``corpus`` into ``out_dir``, or continue the run there with ``resume=True``.

    Parameters
    ----------
    model_config : dict
        ModelConfig fields other than ``vocab_size`` (which the tokenizer decides).
    budget_overrides : dict
        On resume, the only settings that may change: ``max_steps`` and ``minutes``.
    on_data : callable, optional
        Called with the prepared ``TextData`` before training starts (the CLI prints its notes).
    valid_corpus : path, optional
        Validate on this file or folder instead of the corpus's tail (resuming reads it from the card).
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise StudioError(f"--out {out} exists and is not a folder")
    command = command or " ".join(["studio", *sys.argv[1:]])
    if resume:
        run = read_resumable(out, budget_overrides)
        bundle, extra, mconf, tconf = run.bundle, run.card, run.model_config, run.train_config
        if "finetuned_from" in extra:
            raise StudioError(f"{out} holds a fine-tune: continue it with `studio finetune --resume`")
        tokenizer = TextTokenizer.from_dict(bundle.card["tokenizer"])
        tok_conf = TokenizerConfig.from_dict(extra["tokenizer_config"])
        valid_corpus = extra["corpus"].get("valid_corpus")
        data = prepare_text(corpus, tok_conf, tconf.valid_fraction, tokenizer=tokenizer, valid_corpus=valid_corpus)
        if data.report.sha256 != extra["corpus"]["sha256"]:
            raise StudioError(f"the corpus at {corpus} differs from the one this run started on "
                              "(sha256 mismatch); resume with the same corpus, or start a new run")
        extra.setdefault("command", command)
    else:
        if (out / "last").exists() or (out / "best").exists():
            raise StudioError(f"{out} already holds a training run; pass --resume to continue it, "
                              "or choose another --out")
        tok_conf = tokenizer_config or TokenizerConfig()
        tconf = train_config or TrainConfig()
        data = prepare_text(corpus, tok_conf, tconf.valid_fraction, valid_corpus=valid_corpus)
        mconf = ModelConfig(**{**(model_config or {}), "vocab_size": data.tokenizer.vocab_size})
        bundle = None
        extra = {"name": out.name, "command": command, "tokenizer_config": tok_conf.to_dict(),
                 "corpus": {"name": Path(corpus).name, "sha256": data.report.sha256, "files": len(data.report.used),
                            "train_tokens": int(data.train.numel()), "valid_tokens": int(data.valid.numel()),
                            "split": f"first {1 - tconf.valid_fraction:.0%} train, last "
                                     f"{tconf.valid_fraction:.0%} validation" if valid_corpus is None else
                                     f"all of it train; validation: {valid_corpus}"}}
        if valid_corpus is not None:
            extra["corpus"]["valid_corpus"] = str(valid_corpus)
    if on_data is not None:
        on_data(data)
    # The copy check's index depends on the training tokens only, so a resumed run rebuilds the same one.
    extra["ngram_index"], ngrams = training_index(data.train, data.tokenizer.kind)
    trainer = Trainer(mconf, tconf, data.tokenizer, data.train, data.valid, out, card=extra, callbacks=callbacks,
                      resume=bundle, valid_chars_per_token=data.valid_chars_per_token, save_dtype=save_dtype,
                      best_extras={NGRAMS_EXTRA: ngrams})
    return trainer.fit()
