"""Train a polyphonic model (chorales, piano) on MIDI pieces, and continue a primer with it.

Every piece becomes MidiTok REMI tokens framed by BOS ... EOS (``studio.music.remi.tokenizer``); the pieces are joined
into one stream and trained with the same Trainer as text. The split into training and validation is by piece and
deterministic. Continuing a primer is plain sampling over that stream, through the same search code as text.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pretty_midi
import torch

from studio.config import GenerationConfig, ModelConfig, TrainConfig
from studio.errors import StudioError
from studio.loading import finetune_base, load_model, pick_device
from studio.music.io.corpus import split_pieces
from studio.music.remi.tokenizer import PolyTokenizer
from studio.sampling import BanTokens, build_processors, sample
from studio.training.resume import read_resumable
from studio.training.trainer import Callback, Trainer, TrainResult


def piece_streams(pieces: Sequence[tuple[str, pretty_midi.PrettyMIDI]], tokenizer: PolyTokenizer,
                  valid_fraction: float) -> tuple[torch.Tensor, torch.Tensor, list[int], list[int]]:
    """The training and validation token streams ``train_polyphonic`` uses (each piece BOS ... EOS, split by a hash
    of its name), and the indexes of the pieces in each: (train (n,), valid (m,), train_idx, valid_idx)."""
    encoded = [tokenizer.encode(midi) for _, midi in pieces]
    train_idx, valid_idx = split_pieces([name for name, _ in pieces], valid_fraction)
    train = torch.tensor([t for i in train_idx for t in encoded[i]], dtype=torch.long)
    valid = torch.tensor([t for i in valid_idx for t in encoded[i]], dtype=torch.long)
    return train, valid, train_idx, valid_idx


def train_polyphonic(pieces: Sequence[tuple[str, pretty_midi.PrettyMIDI]], out_dir: str | Path,
                     model_config: dict[str, Any] | None = None, train_config: TrainConfig | None = None,
                     callbacks: list[Callback] | None = None, save_dtype: str = "float32",
                     corpus_card: dict[str, Any] | None = None, command: str | None = None,
                     base: str | Path | None = None, resume: bool = False,
                     budget_overrides: dict[str, Any] | None = None) -> TrainResult:
    """Train a REMI language model on ``(name, midi)`` pieces into ``out_dir`` (a new run folder); with ``base``,
    fine-tune that polyphonic model (its tokenizer, shape and weights) instead of starting from scratch; with
    ``resume``, continue the run in ``out_dir`` (its own settings from ``out_dir/last``; only ``budget_overrides``
    change)."""
    out = Path(out_dir)
    run = read_resumable(out, budget_overrides, live=train_config) if resume else None
    if run is None and ((out / "last").exists() or (out / "best").exists()):
        raise StudioError(f"{out} already holds a training run; continue it with --resume, or choose another --out")
    if len(pieces) < 2:
        raise StudioError(f"a polyphonic model needs at least 2 pieces (one to validate on); got {len(pieces)}")
    tconf = run.train_config if run else train_config or TrainConfig()
    tokenizer = PolyTokenizer()
    initial_weights, base_card = None, {}
    if run is not None:
        tokenizer = PolyTokenizer.from_dict(run.bundle.card["tokenizer"])
        model_config, base_card = run.model_config.to_dict(), run.card
    elif base is not None:
        start = finetune_base(base, "polyphonic", PolyTokenizer.from_dict)
        tokenizer, model_config, initial_weights, base_card = (start.tokenizer, start.model_config, start.weights,
                                                               start.card)
    train, valid, train_idx, valid_idx = piece_streams(pieces, tokenizer, tconf.valid_fraction)
    mconf = ModelConfig(**{**(model_config or {}), "vocab_size": tokenizer.vocab_size})
    card = {**base_card, "name": out.name, "model_kind": "polyphonic",
            "command": base_card.get("command") or command or " ".join(["studio", *sys.argv[1:]]),
            "corpus": {**base_card.get("corpus", {}), **(corpus_card or {}), "pieces": len(pieces),
                       "train_pieces": len(train_idx), "valid_pieces": len(valid_idx),
                       "train_tokens": int(train.numel()), "valid_tokens": int(valid.numel())}}
    trainer = Trainer(mconf, tconf, tokenizer, train, valid, out, card=card, callbacks=callbacks,
                      save_dtype=save_dtype, initial_weights=initial_weights, resume=run.bundle if run else None)
    return trainer.fit()


@dataclass
class Continuation:
    """A primer and what the model wrote after it, as MIDI."""

    midi: pretty_midi.PrettyMIDI
    tokens: list[int]
    logprob: float
    seed: int
    params: dict[str, Any]


def continue_primer(model: str | Path, primer: pretty_midi.PrettyMIDI | str | Path | None, length: int,
                    config: GenerationConfig, device: str = "cpu") -> list[Continuation]:
    """Sample ``config.num_samples`` continuations of ``primer`` (None: start a piece) of ``length`` tokens.

    Only sampling and greedy modes apply (a polyphonic piece has no single best continuation worth a beam here).
    """
    if config.mode not in ("sample", "greedy"):
        raise StudioError("polyphonic continuation samples; drop --beam (beam search is for lead sheets and text)")
    dev = pick_device(device)
    loaded = load_model(model, device=dev, read_tokenizer=PolyTokenizer.from_dict)
    if loaded.card.get("model_kind") != "polyphonic":
        raise StudioError(f"model {model!r} is not a polyphonic model (use --chart with a blues model)")
    tok: PolyTokenizer = loaded.tokenizer
    ids = tok.encode(primer, bos_eos=False) if primer is not None else []
    prompt = [tok.bos_id, *ids]
    seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
    settings = config.resolved()
    rules, drawing = build_processors(repetition_penalty=config.repetition_penalty,
                                      no_repeat_ngram=config.no_repeat_ngram, banned=[*config.banned, tok.pad_id],
                                      temperature=settings["temperature"], top_k=settings["top_k"],
                                      top_p=settings["top_p"])
    model_ = loaded.model
    k = config.num_samples

    def step(tokens: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        out, state = model_(tokens, state)
        return out[:, -1, :], state

    with torch.inference_mode():
        prefix = torch.tensor([prompt], dtype=torch.long, device=dev)
        logits, state = model_(prefix)
        state = tuple(s.expand(-1, k, -1).contiguous() for s in state)
        generator = torch.Generator(device=dev).manual_seed(seed)

        def stop_on_eos(seq: torch.Tensor, prompt_len: int) -> torch.Tensor:
            return seq[:, -1] == tok.eos_id

        hyps = sample(step, state, logits[:, -1, :].expand(k, -1), prefix.expand(k, -1), length,
                      [*rules, BanTokens([tok.bos_id])], drawing, generator, greedy=config.mode == "greedy",
                      stop=stop_on_eos)
    params = {"model": str(model), "model_sha256": loaded.card.get("weights", {}).get("sha256", "")[:16],
              "primer_tokens": len(ids), "length": length, **settings, "seed": seed}
    return [Continuation(tok.decode([*ids, *h.tokens]), h.tokens, h.logprob, seed, params) for h in hyps]
