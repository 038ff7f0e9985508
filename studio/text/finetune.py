"""Fine-tune a shipped or local text model on a user's own folder (or zip) of text.

What the peers refuse, Studio does: a corpus with characters or words the base model has never seen *grows* the
vocabulary (new embedding and output rows start at the mean of the existing ones, so the model begins by treating a
new symbol like an average known one), instead of failing (char-rnn, torch-rnn) or mapping them to unknown
(textgenrnn). Guardrails: a warning when the corpus is small for the model, early stopping on validation loss, the
base model's loss on the same validation text for comparison, and a few samples at the end with their novelty
against the user's corpus (are they writing, or copying?).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from studio.checkpoint import bundle_exists, read_bundle
from studio.config import GenerationConfig, ModelConfig, TrainConfig
from studio.errors import StudioError
from studio.loading import build_model, model_from_bundle, resolve_model
from studio.text.corpus import read_text_files, to_tensor
from studio.text.ngrams import NGRAMS_EXTRA, training_index
from studio.text.split import VALID_MAX_TOKENS, VALID_MIN_TOKENS, FileSplit, split_by_file
from studio.tokenizers import CharTokenizer, TextTokenizer, WordTokenizer
from studio.tokenizers.word import split_words
from studio.training.budget import SAMPLE_OVERHEAD_S, Budget, Plan, plan_run
from studio.training.resume import read_resumable
from studio.training.trainer import Callback, Trainer, TrainEvent

__all__ = ["FileSplit", "FinetuneResult", "finetune_text", "grow_vocabulary", "grow_weights", "split_by_file"]

SMALL_CORPUS_TOKENS_PER_PARAMETER = 1.0  # below this, warn: the model can memorise the corpus quickly
SAMPLE_TOKENS = 200          # length of each sample written at the end
MIN_SAMPLE_TOKENS = 20       # shorter than this, a sample says nothing: none is written


@dataclass
class FinetuneResult:
    """What a fine-tuning run did and how well it went."""

    best_path: Path
    steps: int
    stop_reason: str
    base_valid: dict[str, Any]
    best_valid: dict[str, Any]      # empty when no evaluation beat the base model (and there is no new model)
    added_symbols: list[str]
    warnings: list[str] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    novelty: list[float | None] = field(default_factory=list)
    no_model: str = ""              # why the run left no new model ("" when it made one), and what would help
    elapsed_s: float = 0.0          # the whole run: reading, scoring, training, final evaluation and samples

    @property
    def new_model(self) -> bool:
        return not self.no_model


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


def finetune_text(base: str | Path, corpus: str | Path, out_dir: str | Path, train_config: TrainConfig | None = None,
                  callbacks: list[Callback] | None = None, command: str | None = None, samples: int = 3,
                  on_note: Any = None, weight_drop: float | None = None, resume: bool = False,
                  budget_overrides: dict[str, Any] | None = None) -> FinetuneResult:
    """Fine-tune the text model ``base`` on ``corpus`` into ``out_dir``, or continue the run there (``resume``).

    ``train_config.minutes`` budgets the whole run (``studio.training.budget``), and the config is adjusted in
    place to it (its validation sample and the Trainer's share of the time), so a caller holding it (the page's
    Stop) still reaches the running Trainer. ``on_note(str)`` hears the guardrails and the split. ``weight_drop``
    (0..0.95) sets DropConnect on the recurrent weights for the fine-tuning (``ModelConfig``), the regulariser for a
    corpus much smaller than the model; None keeps the base model's setting. On resume the run's own settings are
    read from ``out_dir/last``; only the budgets change: ``budget_overrides`` (``max_steps``, ``minutes``: the whole
    run's), or those of ``train_config`` when given (it then becomes the run's config, as for a fresh run).
    A run that made no step, or never beat the base model on validation, leaves no ``best/`` model and says why
    in ``FinetuneResult.no_model``.
    """
    note = on_note or (lambda message: None)
    out = Path(out_dir)
    if resume:
        start = _resumed(out, budget_overrides or {}, train_config)
    else:
        if bundle_exists(out / "last") or bundle_exists(out / "best"):
            raise StudioError(f"{out} already holds a training run; continue it with --resume, or choose another --out")
        start = _fresh(base, train_config or TrainConfig())
        start.card.update(name=out.name, command=command or start.card["command"])
    tconf, card = start.train_config, start.card
    asked = tconf.minutes  # a caller that shrinks it meanwhile (the page's Stop) has the last word
    # A resumed run gets what is left of the whole run's budget (a spent one: a moment, to save and say so).
    budget = Budget(max(1e-3, card["budget_minutes"] * 60 - start.elapsed_before) if card["budget_minutes"] else 0.0)
    texts, report = read_text_files(corpus)
    for line in report.lines():
        note(line)
    if resume and report.sha256 != card["corpus"]["sha256"]:
        raise StudioError(f"the corpus at {corpus} differs from the one this run started on (sha256 mismatch); "
                          "resume with the same corpus, or start a new run")
    bounds = card["corpus"].get("valid_bounds") or _valid_bounds(start.tokenizer, texts)
    split = split_by_file(texts, tconf.valid_fraction, *bounds)
    for line in split.notes(corpus):
        note(line)
    tokenizer, added = (start.tokenizer, []) if resume else grow_vocabulary(start.tokenizer, split.train + split.valid)
    if added:
        shown = ", ".join(repr(a) for a in added[:12]) + (" ..." if len(added) > 12 else "")
        note(f"the vocabulary grows by {len(added)} symbol(s) the base model never saw: {shown}")
    config, weights = start.model_config, None
    if not resume:
        overrides = {} if weight_drop is None else {"weight_drop": weight_drop}
        config = ModelConfig.from_dict({**config.to_dict(), "vocab_size": tokenizer.vocab_size, **overrides})
        weights = grow_weights({k: v.float() for k, v in start.base_model.state_dict().items()
                                if not (config.tie_weights and k == "decoder.weight")},
                               start.model_config, tokenizer.vocab_size)
    train_ids, valid_ids = to_tensor(tokenizer.encode(split.train)), to_tensor(tokenizer.encode(split.valid))
    model = build_model(config, weights)
    warnings = _small_corpus_warnings(train_ids.numel(), model.num_parameters())
    for w in warnings:
        note(w)
    if not resume:
        card["corpus"].update(files=len(report.used), skipped=len(report.skipped), sha256=report.sha256,
                              train_tokens=int(train_ids.numel()), valid_tokens=int(valid_ids.numel()),
                              split="the tail of each file validates", valid_bounds=list(bounds))
        card["finetuned_from"]["added_symbols"] = len(added)
    card["ngram_index"], ngrams = training_index(train_ids, tokenizer.kind)
    plan = _fit_to_budget(model, tconf, budget, train_ids, valid_ids, start, samples, note) if budget.seconds else None
    evals: list[float] = []

    def watch(event: TrainEvent) -> None:
        if event.kind == "eval":
            evals.append(float(event.data["valid_nats_per_token"]))

    trainer = Trainer(config, tconf, tokenizer, train_ids, valid_ids, out, card=card,
                      callbacks=[*(callbacks or []), watch], resume=start.bundle,
                      valid_chars_per_token=len(split.valid) / max(1, valid_ids.numel()), initial_weights=weights,
                      best_extras={NGRAMS_EXTRA: ngrams})
    if plan is not None and tconf.minutes == asked:  # the Trainer gets what is left now, less the samples' time;
        # it counts the run's earlier parts too
        tconf.minutes = max(1e-6, (start.elapsed_before + budget.left() - plan.samples_s) / 60)
    result = trainer.fit()  # scores the (grown) base model on the validation text first, as it scores the rest
    outcome = FinetuneResult(result.best_path, result.steps, result.stop_reason, result.base_metrics or {},
                             result.best_metrics if (out / "best").exists() else {}, added, warnings)
    if result.stop_reason != "interrupted" and not (out / "best").exists():
        outcome.no_model = _no_model_reason(result.steps, outcome.base_valid, evals, budget)
    if samples and result.stop_reason != "interrupted" and outcome.new_model:
        _write_samples(outcome, out / "best", samples, budget, plan.token_s if plan else 0.0, note)
    outcome.elapsed_s = start.elapsed_before + budget.spent()
    return outcome


@dataclass
class _Start:
    """Where a fine-tune starts: the base model (fresh) or the run's last checkpoint (resume)."""

    train_config: TrainConfig
    model_config: ModelConfig
    tokenizer: TextTokenizer
    card: dict[str, Any]                # the card the Trainer writes into every bundle
    base_model: Any = None              # fresh: the base model (its weights grow with the vocabulary)
    bundle: Any = None                  # resume: the last/ bundle with its state
    elapsed_before: float = 0.0         # resume: seconds the run has spent before


def _fresh(base: str | Path, train_config: TrainConfig) -> _Start:
    path = resolve_model(base)
    bundle = read_bundle(path)
    if bundle.card.get("model_kind", "text") != "text" or bundle.card.get("tokenizer", {}).get("kind") not in (
            "char", "word", "bpe"):
        raise StudioError(f"{base} is not a text model; fine-tune music models with their own corpus type")
    base_model, tokenizer = model_from_bundle(bundle)
    card = {"name": None, "command": " ".join(["studio", *sys.argv[1:]]), "budget_minutes": train_config.minutes,
            "finetuned_from": {"model": str(base), "weights_sha256": bundle.card.get("weights", {}).get("sha256")},
            "tokenizer_config": bundle.card.get("tokenizer_config", {"kind": tokenizer.kind}), "corpus": {}}
    return _Start(train_config, ModelConfig.from_dict(bundle.card["model_config"]), tokenizer, card, base_model)


def _resumed(out: Path, overrides: dict[str, Any], live: TrainConfig | None) -> _Start:
    run = read_resumable(out, overrides, live)
    card = run.card
    if "finetuned_from" not in card or card.get("model_kind", "text") != "text":
        raise StudioError(f"{out} holds no text fine-tune: continue a text model trained from scratch with `studio "
                          "train text --resume`")
    minutes = live.minutes if live is not None else overrides.get("minutes")
    if minutes is not None:  # the whole run's budget, time already spent included
        card["budget_minutes"] = minutes
    card.setdefault("budget_minutes", 0.0)
    return _Start(run.train_config, run.model_config, TextTokenizer.from_dict(run.bundle.card["tokenizer"]), card,
                  bundle=run.bundle, elapsed_before=run.elapsed_s)


def _valid_bounds(tokenizer: TextTokenizer, texts: list[tuple[str, str]]) -> tuple[int, int]:
    """``VALID_MIN_TOKENS`` and ``VALID_MAX_TOKENS`` in characters of this corpus, for this tokenizer."""
    sample = "\n\n".join(text for _, text in texts)[:20_000]
    per_token = len(sample) / max(1, len(tokenizer.encode(sample)))
    return int(VALID_MIN_TOKENS * per_token), int(VALID_MAX_TOKENS * per_token)


def _small_corpus_warnings(train_tokens: int, parameters: int) -> list[str]:
    if train_tokens >= SMALL_CORPUS_TOKENS_PER_PARAMETER * parameters:
        return []
    return [f"the corpus is small for this model ({train_tokens:,} training tokens for {parameters:,} parameters): it "
            "may memorise it; early stopping watches validation loss"]


def _fit_to_budget(model: Any, tconf: TrainConfig, budget: Budget, train_ids: torch.Tensor, valid_ids: torch.Tensor,
                   start: _Start, samples: int, note: Any) -> Plan:
    """Size the validation sample and the warm-up (a fresh run; a resumed one keeps its own) to what is left of
    the budget (``studio.training.budget``), in place; returns the plan."""
    resume = start.bundle is not None
    done = int(start.bundle.state["step"]) if resume else 0
    plan = plan_run(model, train_ids, valid_ids.numel(), tconf.batch_size, tconf.seq_len,
                    max(1, tconf.max_steps - done), tconf.eval_every, budget.left(), SAMPLE_TOKENS, samples)
    if not resume:
        tconf.eval_sample_tokens = plan.sample_tokens
        if tconf.warmup_steps > plan.steps // 4:  # a short budget must still reach its learning rate
            note(f"about {plan.steps} steps fit the time budget: warm-up {plan.steps // 4} steps instead of "
                 f"{tconf.warmup_steps}")
            tconf.warmup_steps = plan.steps // 4
        if plan.sample_tokens:
            note(f"each evaluation scores the same seeded sample of about {plan.sample_tokens:,} of the "
                 f"{valid_ids.numel():,} validation tokens, so validation stays within ~15% of the time budget")
    return plan


def _no_model_reason(steps: int, base: dict[str, Any], evals: list[float], budget: Budget) -> str:
    if steps == 0:
        return (f"the time budget ran out before the first training step (reading your text and scoring the base "
                f"model took {budget.spent():.0f} s of {budget.seconds:.0f} s); give it more minutes")
    bar = base.get("valid_nats_per_token", float("nan"))
    seen = f" ({min(evals):.3f})" if evals else ""
    return (f"the validation loss{seen} never beat the base model's ({bar:.3f} nats/token); give it more minutes or "
            "more text")


def _write_samples(outcome: FinetuneResult, model: Path, samples: int, budget: Budget, token_s: float,
                   note: Any) -> None:
    """A few samples of the new model and their novelty against the corpus, as long as the budget allows: the
    plan set their time aside, and a run that comes out late writes shorter ones (or none) instead of ending late."""
    from studio.text.generator import Generator

    length = SAMPLE_TOKENS
    if budget.seconds:
        length = min(SAMPLE_TOKENS, int((budget.left() - SAMPLE_OVERHEAD_S) / max(token_s, 1e-6)))
    if length < MIN_SAMPLE_TOKENS:
        note("no samples: the time budget is spent (the model is saved; write with it as usual)")
        return
    generated = Generator(model).generate("", GenerationConfig(length=length, num_samples=samples, seed=0))
    outcome.samples, outcome.novelty = generated.texts, generated.novelty
