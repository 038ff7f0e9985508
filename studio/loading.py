"""Find models by name or path, and turn checkpoint bundles into live models and back.

Shipped models live in the repository's ``checkpoints/`` folder (or ``$STUDIO_CHECKPOINTS``); a local model is any
folder holding a ``model.json`` bundle, or a training run folder whose ``best/`` holds one.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from studio.checkpoint import CARD_FILE, Bundle, read_bundle, read_card
from studio.config import DEVICES, ModelConfig, check_choice
from studio.errors import StudioError
from studio.models import RNNLanguageModel
from studio.tokenizers import TextTokenizer

PIANO_ROLL = "piano_roll"  # the model_kind of piano-roll cards (studio.music.pianoroll.training writes them)
# The kinds that are neither token nor music models: DRAW (studio.sketch) and machines on memory tasks
# (studio.memory, the NTM and its LSTM baseline), each loaded by its family.
MACHINE_KINDS = {"draw": "an image model (DRAW): use `studio sketch --model {name} --out DIR`",
                 "memory_task": "a machine trained on a memory task (NTM or its LSTM baseline): see `studio train "
                                "ntm` and benchmarks/ntm_tasks.py"}
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
# Rebuilds a card's tokenizer from its dict. Text tokenizers are the default; a music family passes its own
# (``LeadSheetTokenizer.from_dict``...), so this module never imports a family above it.
TokenizerReader = Callable[[dict[str, Any]], Any]
MUSIC_TOKENIZERS = {"leadsheet": "a lead-sheet improviser", "midi": "polyphonic", "remi": "polyphonic",
                    "polyphonic": "polyphonic"}


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` prefers CUDA, then Apple's MPS, then the CPU; an explicit device must exist."""
    check_choice("device", name, DEVICES)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise StudioError("--device cuda was asked for but no CUDA GPU is available; use --device auto or cpu")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise StudioError("--device mps was asked for but Apple's MPS is not available; use --device auto or cpu")
    return torch.device(name)


def shipped_dir() -> Path:
    """The folder of shipped models: ``$STUDIO_CHECKPOINTS`` or the repository's ``checkpoints/``."""
    env = os.environ.get("STUDIO_CHECKPOINTS")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "checkpoints"


def shipped_models() -> dict[str, Path]:
    """Shipped model names and their folders."""
    root = shipped_dir()
    if not root.is_dir():
        return {}
    return {p.name: p for p in sorted(root.iterdir()) if (p / CARD_FILE).exists()}


def resolve_model(name_or_path: str | Path) -> Path:
    """The bundle folder for a shipped model's name, a model folder, or a training run folder."""
    path = Path(name_or_path).expanduser()
    for candidate in (path, path / "best"):
        if (candidate / CARD_FILE).exists() or any(candidate.parent.glob(f".{glob.escape(candidate.name)}.old-*")):
            return candidate
    shipped = shipped_models()
    if str(name_or_path) in shipped:
        return shipped[str(name_or_path)]
    if path.exists():
        raise StudioError(f"{path} is not a Studio model folder (it has no {CARD_FILE} and no best/{CARD_FILE})")
    names = ", ".join(shipped) or "none installed"
    raise StudioError(f"unknown model {str(name_or_path)!r}: shipped models are {names}; "
                      "or give the path of a model folder")


def local_models(root: str | Path = "runs") -> dict[str, Path]:
    """Models trained locally under ``root`` (default ``./runs``), by folder name."""
    base = Path(root)
    if not base.is_dir():
        return {}
    found = {}
    for run in sorted(base.iterdir()):
        for candidate in (run, run / "best"):
            if (candidate / CARD_FILE).exists():
                found[run.name] = candidate
                break
    return found


def model_weights(model: RNNLanguageModel, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """The model's tensors for saving; a tied output matrix is stored once (as the embedding)."""
    state = model.state_dict()
    if model.config.tie_weights:
        state.pop("decoder.weight", None)
    return {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in state.items()}


def build_model(config: ModelConfig, weights: dict[str, torch.Tensor] | None = None) -> RNNLanguageModel:
    """A model of ``config`` (float32), with ``weights`` loaded when given."""
    model = RNNLanguageModel(config)
    if weights is not None:
        weights = {k: v.float() if v.is_floating_point() else v for k, v in weights.items()}
        try:
            missing, unexpected = model.load_state_dict(weights, strict=False)
        except RuntimeError as err:  # shape mismatch between the card's config and the tensors
            raise StudioError(f"the checkpoint's weights do not fit its model config: {err}") from err
        allowed = {"decoder.weight"} if config.tie_weights else set()
        if set(missing) - allowed or unexpected:
            raise StudioError(f"the checkpoint's weights do not fit its model config "
                              f"(missing {sorted(set(missing) - allowed)}, unexpected {sorted(unexpected)})")
    return model


@dataclass
class LoadedModel:
    """A ready model with its tokenizer and card, and the bundle's other tensor files (``extras``: a text model's
    n-gram index of its training corpus, a lead-sheet model's training phrases)."""

    model: RNNLanguageModel
    tokenizer: Any  # a TextTokenizer, or a music tokenizer (LeadSheetTokenizer, PolyTokenizer)
    card: dict[str, Any]
    path: Path
    extras: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)


def text_tokenizer_from_dict(data: dict[str, Any]) -> TextTokenizer:
    """A text tokenizer (char, word, bpe) from its card entry; a music tokenizer's entry is refused with a
    message naming the command its model belongs to."""
    kind = data.get("kind")
    if kind in MUSIC_TOKENIZERS:
        raise StudioError(f"this is a music model ({MUSIC_TOKENIZERS[kind]}), not a text model: use `studio compose` "
                          "with it, or load it through its music family")
    return TextTokenizer.from_dict(data)


def model_from_bundle(bundle: Bundle, read_tokenizer: TokenizerReader = text_tokenizer_from_dict
                      ) -> tuple[RNNLanguageModel, Any]:
    """Build the model and tokenizer a bundle describes (token models; piano-roll models load through
    ``studio.music.pianoroll.compose.load_roll_model``). ``read_tokenizer`` rebuilds the card's tokenizer."""
    card = bundle.card
    if card.get("model_kind") == PIANO_ROLL:
        name = card.get("name") or bundle.path
        raise StudioError(f"{name} is a music model (a piano-roll harmoniser): use `studio compose --model {name} "
                          "--melody FILE.mid` (or --primer FILE.mid)")
    if read_tokenizer is text_tokenizer_from_dict:  # say which command a music model belongs to
        require_text_card(card, card.get("name") or bundle.path)
    try:
        config = ModelConfig.from_dict(card["model_config"])
        tokenizer = read_tokenizer(card["tokenizer"])
    except KeyError as err:
        raise StudioError(f"checkpoint {bundle.path} is incomplete: its card has no {err.args[0]!r}") from err
    if tokenizer.vocab_size != config.vocab_size:
        raise StudioError(f"checkpoint {bundle.path} is inconsistent: tokenizer has {tokenizer.vocab_size} "
                          f"tokens, model expects {config.vocab_size}")
    return build_model(config, bundle.weights), tokenizer


def load_model(name_or_path: str | Path, device: str | torch.device = "cpu",
               read_tokenizer: TokenizerReader = text_tokenizer_from_dict, kind: str | None = None) -> LoadedModel:
    """Load a shipped or local model for inference (eval mode, float32, on ``device``), with its extras; with
    ``kind`` (a card's ``model_kind``: leadsheet, polyphonic ...), a model of another kind is a StudioError."""
    path = resolve_model(name_or_path)
    bundle = read_bundle(path)
    if kind is not None and bundle.card.get("model_kind", "text") != kind:
        raise StudioError(f"{name_or_path} is not a {kind} model (its card says {bundle.card.get('model_kind')!r})")
    model, tokenizer = model_from_bundle(bundle, read_tokenizer)
    model.to(device).eval()
    return LoadedModel(model=model, tokenizer=tokenizer, card=bundle.card, path=bundle.path or path,
                       extras=dict(bundle.extras))


def require_text_card(card: dict[str, Any], name: str | Path) -> None:
    """A StudioError saying which command a music model belongs to, unless ``card`` is a text model's."""
    kind = card.get("model_kind", "text")
    if kind in MACHINE_KINDS:
        raise StudioError(f"{name} is {MACHINE_KINDS[kind].format(name=name)}, not a text model")
    if kind == "leadsheet":
        raise StudioError(f"{name} is a music model (a lead-sheet improviser): use `studio compose --model {name} "
                          "--chart 12-bar`")
    if kind == "polyphonic":
        raise StudioError(f"{name} is a music model (polyphonic): use `studio compose --model {name} --primer "
                          "FILE.mid`")


@dataclass
class FinetuneBase:
    """What fine-tuning keeps from its base model: tokenizer, shape (config without the vocabulary size), weights,
    and the card entry that records where the new model came from."""

    tokenizer: Any
    model_config: dict[str, Any]
    weights: dict[str, torch.Tensor]
    card: dict[str, Any]
    base_card: dict[str, Any] = field(default_factory=dict)   # the base's whole card (a family keeps parts of it)
    extras: dict[str, Any] = field(default_factory=dict)      # the base's extra tensor files (e.g. its phrases)


def finetune_base(base: str | Path, kind: str, read_tokenizer: TokenizerReader) -> FinetuneBase:
    """Read the model to fine-tune from; it must be of ``kind`` (leadsheet, polyphonic...), its tokenizer is
    rebuilt by ``read_tokenizer`` (the family's own)."""
    bundle = read_bundle(resolve_model(base))
    if bundle.card.get("model_kind", "text") != kind:
        raise StudioError(f"{base} is not a {kind} model; fine-tune it with its own kind of corpus")
    config = {k: v for k, v in bundle.card["model_config"].items() if k != "vocab_size"}
    origin = {"finetuned_from": {"model": str(base), "weights_sha256": bundle.card["weights"]["sha256"]}}
    return FinetuneBase(read_tokenizer(bundle.card["tokenizer"]), config, bundle.weights, origin, bundle.card,
                        dict(bundle.extras))


def grown_weights(fresh: dict[str, torch.Tensor], base: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A base model's weights placed into a model with more inputs or heads (``fresh``: the new model's own).

    A tensor the base lacks keeps the fresh one (a new input's embedding table, a head that starts at zero); a
    tensor the base has smaller is zero with the base's in its leading block (the first layer's input weights, whose
    new columns are the new inputs appended last), so the grown model computes what the base did until it learns;
    an equal one is the base's. A base tensor larger than the fresh one in any dimension is a different model.
    """
    out = {}
    for name, tensor in fresh.items():
        old = base.get(name)
        if old is None:
            out[name] = tensor
        elif old.shape == tensor.shape:
            out[name] = old
        elif old.dim() == tensor.dim() and all(a <= b for a, b in zip(old.shape, tensor.shape, strict=True)):
            grown = torch.zeros_like(tensor, dtype=old.dtype)
            grown[tuple(slice(0, n) for n in old.shape)] = old
            out[name] = grown
        else:
            raise StudioError(f"the base's {name} {tuple(old.shape)} does not fit this model's {tuple(tensor.shape)}")
    return out


def describe(card: dict[str, Any]) -> str:
    """One line summarising a model card for ``studio models`` and the page's model list."""
    mc = card.get("model_config") or {}
    metrics = card.get("metrics") or {}
    if card.get("model_kind") in MACHINE_KINDS:
        return _describe_machine(card, mc, metrics)
    parts = [f"{mc.get('cell', '?')} {mc.get('num_layers', '?')}x{mc.get('hidden_size', '?')}"]
    if card.get("model_kind") == PIANO_ROLL:  # frames of 88 keys, not tokens
        fpb = card.get("frames_per_beat", 1)
        order = "keys drawn top-down" if mc.get("within_frame") == "top_down" else "independent keys"
        parts.append(f"88-key piano roll ({order}), {fpb} frame{'s' if fpb != 1 else ''} per beat")
        parts += [f"{split} {metrics[f'{split}_nats_per_frame']:.3f} nats/frame" for split in ("valid", "test")
                  if isinstance(metrics.get(f"{split}_nats_per_frame"), (int, float))]
        return ", ".join(parts)
    if card.get("model_kind") == "jazz":  # events on the 48-per-bar grid, scored per note
        parts.append(f"jazz soloist, {len(card.get('soloists', {}))} soloists, {len(card.get('styles', []))} styles")
        if any(entry[0] == "tempos" for entry in mc.get("conditions") or ()):  # soloists trained before it lack it
            parts.append("reads the tempo")
        test = (card.get("evaluation") or {}).get("test_nats_per_note")
        if isinstance(test, (int, float)):
            parts.append(f"test {test:.3f} nats/note")
        return ", ".join(parts)
    if card.get("model_kind") == "trade":  # an encoder-decoder: the call's encoder, the answer's decoder, a bridge
        copying = " copying the call's intervals" if mc.get("copy") else ""
        copying += (" and" if copying else "") + " reading onset offsets" if mc.get("aligned") else ""
        parts = [f"call and response: bidirectional GRU encoder {mc.get('encoder_hidden', '?')}, LSTM decoder "
                 f"{mc.get('decoder_hidden', '?')}, bridge {mc.get('bridge', '?')}{copying}"]
        test = (card.get("evaluation") or {}).get("test_nats_per_note")
        valid = (card.get("metrics") or {}).get("valid_nats_per_note")
        parts += [f"{name} {value:.3f} nats/note" for name, value in (("valid", valid), ("test", test))
                  if isinstance(value, (int, float))]
        return ", ".join(parts)
    tokenizer = card.get("tokenizer") if isinstance(card.get("tokenizer"), dict) else {}
    parts.append(f"{tokenizer.get('kind', '?')} tokens (vocab {mc.get('vocab_size', '?')})")
    loss = metrics.get("valid_nats_per_token")
    if isinstance(loss, (int, float)):
        parts.append(f"valid {loss:.3f} nats/token")
    corpus = card.get("corpus")
    name = corpus.get("name") if isinstance(corpus, dict) else corpus if isinstance(corpus, str) else None
    if name:
        parts.append(f"trained on {name}")
    return ", ".join(parts)


def _describe_machine(card: dict[str, Any], mc: dict[str, Any], metrics: dict[str, Any]) -> str:
    """The summary of a DRAW model or of a machine trained on a memory task (no tokens, no cells)."""
    if card.get("model_kind") == "draw":
        reads = (f"read {mc.get('read_size')}x{mc.get('read_size')}, write {mc.get('write_size')}x"
                 f"{mc.get('write_size')}" if mc.get("attention") else "no attention")
        parts = [f"DRAW, {mc.get('glimpses', '?')} glimpses, {reads}, LSTMs {mc.get('encoder_size', '?')}/"
                 f"{mc.get('decoder_size', '?')}, z {mc.get('latent_size', '?')}"]
        parts += [f"{split} bound {metrics[f'{split}_nats_per_image']:.2f} nats/image" for split in ("valid", "test")
                  if isinstance(metrics.get(f"{split}_nats_per_image"), (int, float))]
        return ", ".join(parts)
    machine = "NTM" if card.get("machine") == "ntm" else "LSTM"
    parts = [f"{machine} on the {card.get('task', '?')} task, {card.get('parameters', '?')} parameters"]
    errors = metrics.get("valid_bit_errors_per_sequence")
    if isinstance(errors, (int, float)):
        parts.append(f"valid {errors:.2f} bit errors per sequence")
    return ", ".join(parts)


__all__ = [
    "DTYPES",
    "LoadedModel",
    "build_model",
    "describe",
    "load_model",
    "local_models",
    "model_from_bundle",
    "model_weights",
    "pick_device",
    "read_card",
    "resolve_model",
    "shipped_dir",
    "shipped_models",
    "text_tokenizer_from_dict",
]
