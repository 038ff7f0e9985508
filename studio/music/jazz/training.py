"""Train the jazz soloist on real solos: a jazz-layout folder in, a model bundle out.

The split is fixed by solo (``corpus.split_of``: about 80/10/10 by a hash of the solo's id) and written into the
card with the ids of the validation and test solos, so every figure can be checked on solos the model never saw.
"""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from studio.checkpoint import read_bundle
from studio.config import ModelConfig, TrainConfig
from studio.errors import StudioError
from studio.loading import build_model, finetune_base, grown_weights, resolve_model
from studio.music.jazz.corpus import STYLES, Solo, read_jazz_corpus, split_of
from studio.music.jazz.phrases import PHRASES_EXTRA, phrase_hashes
from studio.music.jazz.streams import chord_feature_table, plain_streams, training_streams
from studio.music.jazz.tokenizer import CONDITIONS, JazzTokenizer
from studio.training.trainer import Callback, Trainer, TrainResult

# The shape of the shipped soloist. Widths of the condition embeddings are small: each input is a few dozen ids.
JAZZ_DEFAULTS: dict[str, Any] = {
    "cell": "lstm", "num_layers": 2, "hidden_size": 512, "embedding_size": 64, "chord_features": 37,
    "chord_embedding": 32, "next_chord": True, "bar_positions": 48, "position_embedding": 16,
    "dropout_embedding": 0.1, "dropout_between": 0.3, "dropout_output": 0.3,
}
# What a fine-tune keeps of its base's card: the players and styles a person may ask for, the sampling defaults.
FINETUNE_KEPT = ("soloists", "styles", "sampling")
EMBEDDING_WIDTHS = {"until_change": 8, "form_bars": 8, "styles": 8, "soloists": 16, "forms": 4, "tempos": 8}


def model_config_for(tokenizer: JazzTokenizer, overrides: dict[str, Any] | None = None) -> ModelConfig:
    """The soloist's ModelConfig: ``JAZZ_DEFAULTS`` with ``overrides``, sized to the tokenizer's vocabulary and
    conditions (chords and next chords through the chord table, bar positions, the rest as embeddings)."""
    sizes = tokenizer.condition_sizes
    conditions = [(name, sizes[name], EMBEDDING_WIDTHS[name]) for name in CONDITIONS if name in EMBEDDING_WIDTHS]
    return ModelConfig(**{**JAZZ_DEFAULTS, **(overrides or {}), "vocab_size": tokenizer.vocab_size,
                          "chord_vocab_size": sizes["chords"], "conditions": tuple(conditions),
                          "pitch_tokens": pitch_tokens(tokenizer)})


def pitch_tokens(tokenizer: JazzTokenizer) -> tuple[int, int, int]:
    """Where the pitch heads find the pitches among the tokens: (first id, how many, MIDI pitch of the first)."""
    return (tokenizer.pitch_id(tokenizer.low), tokenizer.high - tokenizer.low + 1, tokenizer.low)


def split_solos(solos: list[Solo]) -> dict[str, list[Solo]]:
    """The fixed split by solo: ``train``, ``valid`` and ``test`` lists. A small folder whose hashes put no solo in
    validation lends it one training solo (the first by id), so a user's own handful of solos can train."""
    parts: dict[str, list[Solo]] = {"train": [], "valid": [], "test": []}
    for solo in solos:
        parts[split_of(solo.id)].append(solo)
    if not parts["valid"] and len(parts["train"]) >= 2:
        lent = min(parts["train"], key=lambda s: s.id)
        parts["train"].remove(lent)
        parts["valid"].append(lent)
    if not parts["train"] or not parts["valid"]:
        raise StudioError(f"too few solos to split ({len(solos)}): the soloist needs at least two, one to learn from "
                          "and one to validate on")
    return parts


def corpus_sha256(folder: str | Path) -> str:
    """One hash over the jazz files a run read (in a fixed order), for the card."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).glob("*.csv*")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _phrases(train: list[Solo], base_phrases: Any = None) -> Any:
    """The training solos' phrase hashes, with a fine-tune's base's (copying is checked against everything the model
    learned from)."""
    hashes = phrase_hashes(s.notes for s in train)
    return hashes if base_phrases is None else torch.unique(torch.cat([base_phrases.to(hashes.dtype), hashes]))


def train_jazz(corpus: str | Path, out_dir: str | Path, model_config: dict[str, Any] | None = None,
               train_config: TrainConfig | None = None, callbacks: list[Callback] | None = None,
               save_dtype: str = "float32", command: str | None = None, omnibook: bool = True,
               on_note: Any = None, resume: bool = False, budget_overrides: dict[str, Any] | None = None,
               base: str | Path | None = None, add_inputs: tuple[str, ...] = ()) -> TrainResult:
    """Train the soloist on a jazz-layout folder into ``out_dir`` (a new run folder), or fine-tune one on it.

    Parameters
    ----------
    corpus : path
        A folder in the jazz layout (``studio.music.jazz.corpus``).
    model_config : dict, optional
        ModelConfig fields over ``JAZZ_DEFAULTS``.
    omnibook : bool
        Also learn from the Omnibook when the folder has it.
    on_note : callable, optional
        Receives each line of the corpus report (skipped solos, bad rows).
    resume : bool
        Continue the run in ``out_dir`` from ``last/`` exactly (same corpus, same streams); ``budget_overrides``
        may change ``max_steps`` and ``minutes``.
    base : str or Path, optional
        A jazz model to fine-tune (``jazz`` or a folder): training starts from its weights, keeps its tokenizer
        (its soloists; a player it does not know reads as "none"), its shape and its sampling defaults, and scores
        it on the new validation solos first, so the run says whether it learned anything. ``model_config`` may
        then only name ``pitch_heads``: heads the base lacks are added at zero, and so are the ``add_inputs`` it
        does not read (``tempos`` for a soloist trained before the tempo input), their columns of the first
        layer's input weights at zero: it still plays as it did until it learns. Its own heads and inputs are kept.
    add_inputs : tuple of str
        With ``base``: condition streams (``EMBEDDING_WIDTHS``' names) to add to what the base reads.
    """
    for name in add_inputs:  # before the corpus is read
        if name not in EMBEDDING_WIDTHS:
            raise StudioError(f"unknown input {name!r}; inputs a soloist can add: {', '.join(EMBEDDING_WIDTHS)}")
    out = Path(out_dir)
    bundle = None
    tokenizer: JazzTokenizer | None = None
    start, base_card, base_phrases = None, {}, None
    if resume:
        bundle = read_bundle(out / "last", with_state=True)
        stored = bundle.card
        if stored["corpus"]["sha256"] != corpus_sha256(corpus):
            raise StudioError(f"the corpus at {corpus} differs from the one this run started on; resume with it")
        tconf_dict = dict(stored["train_config"], **(budget_overrides or {}))
        tconf = TrainConfig.from_dict({**tconf_dict, "betas": tuple(tconf_dict["betas"])})
        omnibook, command = stored["corpus"]["omnibook"], stored["command"]
        if "finetuned_from" in stored:  # a fine-tune keeps its base's tokenizer and card
            tokenizer = JazzTokenizer.from_dict(stored["tokenizer"])
            base_card = {k: stored[k] for k in (*FINETUNE_KEPT, "finetuned_from") if k in stored}
            base_phrases = read_bundle(resolve_model(stored["finetuned_from"]["model"])).extras.get(
                PHRASES_EXTRA, {}).get("hashes")
    elif (out / "last").exists() or (out / "best").exists():
        raise StudioError(f"{out} already holds a training run; pass --resume to continue it, or choose another --out")
    else:
        tconf = train_config or TrainConfig()
        if base is not None:
            start = finetune_base(base, "jazz", JazzTokenizer.from_dict)
            tokenizer = start.tokenizer
            base_card = {**{k: start.base_card[k] for k in FINETUNE_KEPT if k in start.base_card}, **start.card}
            base_phrases = start.extras.get(PHRASES_EXTRA, {}).get("hashes")
    solos, report = read_jazz_corpus(corpus, omnibook=omnibook)
    for line in report.lines():
        if on_note is not None:
            on_note(line)
    parts = split_solos(solos)
    players = Counter(s.performer for s in parts["train"] if s.performer)
    tokenizer = tokenizer or JazzTokenizer(soloists=sorted(players))
    train = training_streams(parts["train"], tokenizer, seed=tconf.seed)
    valid = plain_streams(parts["valid"], tokenizer)
    if bundle is not None:
        mconf = ModelConfig.from_dict(bundle.card["model_config"])
    elif start is not None:
        kept = tuple(start.model_config.get("pitch_heads", ()))
        asked = tuple(h for h in (model_config or {}).get("pitch_heads", ()) if h not in kept)
        added: dict[str, Any] = {"pitch_heads": kept + asked, "pitch_tokens": pitch_tokens(tokenizer)} if asked else {}
        inputs = [tuple(entry) for entry in start.model_config.get("conditions", ())]
        read = {entry[0] for entry in inputs}
        new_inputs = [entry for entry in model_config_for(tokenizer).conditions
                      if entry[0] in add_inputs and entry[0] not in read]
        if new_inputs:  # appended last, so their columns of the first layer's input weights are the last ones
            added["conditions"] = tuple(inputs + new_inputs)
        mconf = ModelConfig(**{**start.model_config, **added, "vocab_size": tokenizer.vocab_size})
        # What the base lacks starts as a fresh model's (heads at zero, new inputs' columns at zero).
        start.weights = grown_weights(build_model(mconf).state_dict(), start.weights)
    else:
        mconf = model_config_for(tokenizer, model_config)
    card = {"name": out.name, "model_kind": "jazz", "command": command or " ".join(["studio", *sys.argv[1:]]),
            "styles": [s.lower() for s in STYLES], "soloists": {name: players[name] for name in tokenizer.soloists},
            **base_card,
            "corpus": {"name": Path(corpus).name, "sha256": corpus_sha256(corpus), "solos": len(solos),
                       "notes": report.notes, "skipped": len(report.skipped), "omnibook": omnibook,
                       "split": "by solo: sha256(id) mod 100 < 80 train, < 90 valid, else test",
                       "train_solos": len(parts["train"]), "valid_ids": sorted(s.id for s in parts["valid"]),
                       "test_ids": sorted(s.id for s in parts["test"]), "train_tokens": int(train["tokens"].numel()),
                       "valid_tokens": int(valid["tokens"].numel()), "keys": "all 12 (-5..+6 semitones)"}}
    trainer = Trainer(mconf, tconf, tokenizer, train["tokens"], valid["tokens"], out, card=card,
                      callbacks=callbacks, save_dtype=save_dtype, resume=bundle,
                      initial_weights=start.weights if start is not None else None,
                      train_conditions={k: train[k] for k in CONDITIONS},
                      valid_conditions={k: valid[k] for k in CONDITIONS},
                      model_setup=lambda model: model.set_chord_features(chord_feature_table()),
                      best_extras={PHRASES_EXTRA: {"hashes": _phrases(parts["train"], base_phrases)}})
    return trainer.fit()
