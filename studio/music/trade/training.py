"""Train a call-and-response model on phrase pairs of real solos: a jazz-layout folder in, a model bundle out.

Pairs come from the soloist's own split by solo (``studio.music.jazz.training.split_solos``), 4-bar and 2-bar
pairs alike. Each training pair is moved to a random key every epoch (-5..+6 semitones, call and answer together).
A run may start from another call-and-response model (``base``): what the base has is copied, what it lacks (the
attention of a model started from the final state's, the bridge of one started from the decoder alone) starts at
zero where it feeds the rest, so the run starts out playing exactly as the base does (a copying gate excepted: it
opens at 0.27), and the base's own validation score is the one to beat (epoch 0).
An epoch loop (``studio.training.epoch_state``) keeps ``last/`` resumable after every epoch; ``best/`` holds the
weights with the lowest validation nats per answer note.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from studio.checkpoint import Bundle, read_bundle, write_bundle
from studio.config import _Config, check_range
from studio.errors import StudioError
from studio.loading import DTYPES, grown_weights, resolve_model
from studio.models.seq2seq import BRIDGES, CallResponseConfig, CallResponseModel, answer_loss, answer_nll
from studio.music.jazz.corpus import read_jazz_corpus
from studio.music.jazz.streams import chord_feature_table
from studio.music.jazz.tokenizer import JazzTokenizer
from studio.music.jazz.training import corpus_sha256, split_solos
from studio.music.trade.pairs import EncodedPair, PhrasePair, collate, encode_pair, model_arguments, phrase_pairs
from studio.training.epoch_state import EpochLoop, load_loop, save_loop
from studio.training.state import seed_everything

KEYS = tuple(range(-5, 7))
PAIR_BARS = (4, 2)


@dataclass
class TradeTrainConfig(_Config):
    """How a call-and-response model is trained."""

    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    max_epochs: int = 40
    minutes: float = 0.0            # wall-clock budget (0: none)
    patience: int = 4               # epochs without a better validation loss before stopping (0: never)
    seed: int = 0

    def validate(self) -> None:
        check_range("batch_size", self.batch_size, 1, 4096, integer=True)
        check_range("lr", self.lr, 0.0, 1.0, low_open=True)
        check_range("weight_decay", self.weight_decay, 0.0, 10.0)
        check_range("grad_clip", self.grad_clip, 0.0, 1e6)
        check_range("max_epochs", self.max_epochs, 1, 10_000, integer=True)
        check_range("minutes", self.minutes, 0.0, 1e6)
        check_range("patience", self.patience, 0, 10_000, integer=True)
        check_range("seed", self.seed, 0, 2**31 - 1, integer=True)


def pair_splits(solos: list, bars: Sequence[int] = PAIR_BARS) -> dict[str, list[PhrasePair]]:
    """Train, valid and test phrase pairs (of every length in ``bars``) from the soloist's split by solo."""
    parts = split_solos(solos)
    return {name: [p for b in bars for p in phrase_pairs(group, b)] for name, group in parts.items()}


def by_length(pairs: Sequence[EncodedPair]) -> list[int]:
    """The pairs' indices by answer and call length: batched in this order they need little padding."""
    return sorted(range(len(pairs)), key=lambda i: (len(pairs[i].answer), len(pairs[i].call)))


def batches(pairs: Sequence[EncodedPair], size: int, rng: random.Random | None = None) -> list[list[EncodedPair]]:
    """Batches of similar answer lengths (less padding), in a random order when ``rng`` is given."""
    order = by_length(pairs)
    groups = [[pairs[i] for i in order[s:s + size]] for s in range(0, len(order), size)]
    if rng is not None:
        rng.shuffle(groups)
    return groups


def batch_nll(model: CallResponseModel, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed answer NLL of a collated batch (a tensor that can back-propagate) and its target token count."""
    logits, _ = model(*model_arguments(batch))
    return answer_loss(logits, batch["targets"], batch["target_mask"]), batch["target_mask"].sum()


@torch.inference_mode()
def pair_nats(model: CallResponseModel, pairs: Sequence[EncodedPair], batch_size: int = 64) -> torch.Tensor:
    """Each pair's answer NLL in nats, summed over its answer tokens; (len(pairs),) in the order given (float64)."""
    model.eval()
    device = next(model.parameters()).device
    order = by_length(pairs)
    out = torch.zeros(len(pairs), dtype=torch.float64)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        batch = {k: v.to(device) for k, v in collate([pairs[i] for i in chunk]).items()}
        logits, _ = model(*model_arguments(batch))
        out[chunk] = answer_nll(logits, batch["targets"], batch["target_mask"]).double().cpu()
    return out


def evaluate_pairs(model: CallResponseModel, pairs: Sequence[EncodedPair], batch_size: int = 64) -> dict[str, float]:
    """Answer NLL over ``pairs``: nats per answer note and per token."""
    nats = float(pair_nats(model, pairs, batch_size).sum())
    tokens = sum(len(p.answer) - 1 for p in pairs)
    notes = sum(p.notes for p in pairs)
    return {"nats_per_note": nats / max(notes, 1.0), "nats_per_token": nats / max(tokens, 1.0),
            "pairs": len(pairs), "notes": int(notes)}


def train_trade(corpus: str | Path, out_dir: str | Path, model_config: CallResponseConfig | None = None,
                train_config: TradeTrainConfig | None = None, resume: bool = False, save_dtype: str = "float32",
                command: str | None = None, on_epoch: Callable[[dict[str, Any]], None] | None = None,
                max_pairs: int = 0, base: str | Path | None = None) -> Path:
    """Train (or, with ``resume``, continue) a call-and-response model; returns the ``best/`` folder.

    ``max_pairs`` > 0 keeps that many training pairs (a quick run; 0: all). On resume the run's own settings hold,
    except the budget: a ``train_config`` given then sets ``max_epochs`` and ``minutes`` (the whole run's).
    ``base`` (a model or run folder, not with ``resume``) starts from a trained call-and-response model with this
    run's tokenizer: its sizes and dropout hold, ``model_config`` gives only the bridge, copying and aligning, which
    may add to the base's (final to attention, attention to aligned attention).
    """
    out = Path(out_dir)
    if save_dtype not in DTYPES:
        raise StudioError(f"save dtype must be one of {', '.join(DTYPES)}, got {save_dtype!r}")
    bundle = None
    if resume:
        bundle = read_bundle(out / "last", with_state=True)
        model_config = CallResponseConfig.from_dict(bundle.card["model_config"])
        budget = {} if train_config is None else {"max_epochs": train_config.max_epochs,
                                                  "minutes": train_config.minutes}
        train_config = TradeTrainConfig.from_dict({**bundle.card["train_config"], **budget})
        command, max_pairs = bundle.card["command"], bundle.card["corpus"]["max_pairs"]
        if bundle.card["corpus"]["sha256"] != corpus_sha256(corpus):
            raise StudioError(f"the corpus at {corpus} differs from the one this run started on; resume with it")
    elif (out / "last").exists() or (out / "best").exists():
        raise StudioError(f"{out} already holds a training run; pass --resume to continue it, or choose another --out")
    start = None
    if base is not None and bundle is not None:
        raise StudioError("a resumed run keeps the start it had: pass --init-from only to a new run")
    tokenizer = JazzTokenizer()
    if base is not None:
        start = read_bundle(resolve_model(base))
        model_config = _grown_config(start.card, model_config)
        if start.card.get("tokenizer") != tokenizer.to_dict():  # the same ids must mean the same notes
            raise StudioError(f"the base {base} was trained with another tokenizer than this run's; train from scratch")
    tconf = train_config or TradeTrainConfig()
    seed_everything(tconf.seed)
    solos, _ = read_jazz_corpus(corpus)
    pairs = pair_splits(solos)
    train = pairs["train"][:max_pairs] if max_pairs else pairs["train"]
    valid = [encode_pair(tokenizer, p) for p in pairs["valid"]]
    mconf = model_config or CallResponseConfig(vocab_size=tokenizer.vocab_size)
    model = CallResponseModel(mconf)
    model.set_chord_features(chord_feature_table())
    if start is not None:  # the chord table is a buffer of the base's too: the same fixed table
        weights = {k: v.float() if v.is_floating_point() else v for k, v in start.weights.items()}
        for name in ("bridge_h.weight", "bridge_h.bias", "bridge_c.weight", "bridge_c.bias"):
            if name not in weights and name in model.state_dict():  # tanh(0): the decoder starts at zero, as before
                weights[name] = torch.zeros_like(model.state_dict()[name])
        model.load_state_dict(grown_weights(model.state_dict(), weights))
    optimizer = torch.optim.AdamW(model.parameters(), lr=tconf.lr, weight_decay=tconf.weight_decay)
    generator = torch.Generator().manual_seed(tconf.seed)
    loop, best_state = EpochLoop(), {k: v.detach().clone() for k, v in model.state_dict().items()}
    if bundle is not None:
        loop, best_state = load_loop(bundle, model, optimizer, generator)
    card = {"name": out.name, "model_kind": "trade", "command": command or " ".join(["studio", *sys.argv[1:]]),
            "model_config": mconf.to_dict(), "train_config": tconf.to_dict(), "tokenizer": tokenizer.to_dict(),
            "corpus": {"name": Path(corpus).name, "sha256": corpus_sha256(corpus), "max_pairs": max_pairs,
                       "pairs": {k: len(v) for k, v in pairs.items()}, "bars": list(PAIR_BARS),
                       "split": "the jazz soloist's, by solo"}}
    if start is not None:
        card["base"] = {"path": str(base), "name": start.card.get("name"),
                        "bridge": start.card["model_config"]["bridge"],
                        "valid_nats_per_note": (start.card.get("metrics") or {}).get("valid_nats_per_note"),
                        "training": start.card.get("training")}  # this card's own "training" counts from epoch 0
    elif bundle is not None and "base" in bundle.card:
        card["base"] = bundle.card["base"]
    started = time.monotonic()  # the budget counts scoring the base too
    if start is not None:  # epoch 0: the base as it plays, scored, is the best so far
        metrics = evaluate_pairs(model, valid)
        loop.best = metrics["nats_per_note"]
        _save_best(out / "best", card, best_state, loop, metrics, save_dtype)
        loop.history.append({"epoch": 0, "train_nats_per_token": None, "valid_nats_per_note": loop.best,
                             "improved": True, "elapsed_s": 0.0})
        # A run stopped from here on resumes (the generator is untouched yet) without scoring the base again.
        save_loop(out / "last", card, model, optimizer, best_state, generator, loop)
        if on_epoch is not None:
            on_epoch(loop.history[-1])
    while loop.epoch < tconf.max_epochs:
        if tconf.minutes and loop.elapsed_s + time.monotonic() - started >= tconf.minutes * 60:
            break
        # A Python RNG seeded from the saved generator: the epoch's keys and order resume exactly.
        rng = random.Random(int(torch.randint(2**31 - 1, (1,), generator=generator)))
        encoded = [encode_pair(tokenizer, p.transpose(rng.choice(KEYS))) for p in train]
        model.train()
        total = count = 0.0
        for group in batches(encoded, tconf.batch_size, rng):
            loss, tokens = batch_nll(model, collate(group))
            optimizer.zero_grad(set_to_none=True)
            (loss / tokens).backward()
            if tconf.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), tconf.grad_clip)
            optimizer.step()
            total, count = total + float(loss.detach()), count + float(tokens)
        metrics = evaluate_pairs(model, valid)
        loop.epoch += 1
        loop.elapsed_s += time.monotonic() - started
        started = time.monotonic()
        improved = metrics["nats_per_note"] < loop.best - 1e-6
        if improved:
            loop.best, loop.best_epoch, loop.since_best = metrics["nats_per_note"], loop.epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            _save_best(out / "best", card, best_state, loop, metrics, save_dtype)
        else:
            loop.since_best += 1
        row = {"epoch": loop.epoch, "train_nats_per_token": total / max(count, 1.0),
               "valid_nats_per_note": metrics["nats_per_note"], "improved": improved, "elapsed_s": loop.elapsed_s}
        loop.history.append(row)
        save_loop(out / "last", card, model, optimizer, best_state, generator, loop)
        if on_epoch is not None:
            on_epoch(row)
        if tconf.patience and loop.since_best >= tconf.patience:
            break
    if not (out / "best").exists():
        raise StudioError("no epoch finished within the budget: give it more --minutes")
    return out / "best"


def _grown_config(card: dict[str, Any], asked: CallResponseConfig | None) -> CallResponseConfig:
    """The base's shape with the bridge, copying and aligning asked for; refused if that would take something
    away."""
    if card.get("model_kind") != "trade":
        raise StudioError(f"the base {card.get('name')!r} is not a call-and-response model")
    config = CallResponseConfig.from_dict(card["model_config"])
    if asked is None:
        return config
    if BRIDGES.index(asked.bridge) < BRIDGES.index(config.bridge):  # none < final < attention
        raise StudioError(f"a model started from a {config.bridge} base cannot drop what it has: ask for bridge "
                          f"{config.bridge} or more")
    if config.copy and not asked.copy:
        raise StudioError("the base copies the call's intervals: a model started from it copies too (pass --copy)")
    if config.aligned and not asked.aligned:
        raise StudioError("the base's attention reads onset offsets: a model started from it does too (pass --aligned)")
    return CallResponseConfig.from_dict({**config.to_dict(), "bridge": asked.bridge, "copy": asked.copy,
                                         "aligned": asked.aligned})


def _save_best(path: Path, card: dict[str, Any], state: dict[str, torch.Tensor], loop: EpochLoop,
               metrics: dict[str, Any], dtype: str) -> None:
    weights = {k: v.to(DTYPES[dtype]) if v.is_floating_point() else v for k, v in state.items()}
    best = {**card, "metrics": {"valid_" + k: v for k, v in metrics.items()},
            "training": {"epochs": loop.epoch, "seconds": round(loop.elapsed_s, 1)}}
    write_bundle(path, Bundle(best, weights))


def load_trade_model(path: str | Path, device: str | torch.device = "cpu"
                     ) -> tuple[CallResponseModel, JazzTokenizer, dict[str, Any]]:
    """A trained call-and-response model (eval mode, float32) with its tokenizer and card."""
    bundle = read_bundle(resolve_model(path))
    if bundle.card.get("model_kind") != "trade":
        raise StudioError(f"{path} is not a call-and-response model (train one with `studio train trade`)")
    model = CallResponseModel(CallResponseConfig.from_dict(bundle.card["model_config"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in bundle.weights.items()})
    return model.to(device).eval(), JazzTokenizer.from_dict(bundle.card["tokenizer"]), bundle.card


__all__ = ["TradeTrainConfig", "evaluate_pairs", "load_trade_model", "pair_nats", "pair_splits", "train_trade"]
