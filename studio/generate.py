"""The Generator: load a model once, then turn prompts into text. The CLI (and later the UI) call only this.

Speed notes (measured on the 2-core CPU, see BENCHMARKS.md): one-token steps run with oneDNN switched off, since its
single-step LSTM kernel is slower and erratic there, and under ``torch.inference_mode``; K samples run as one
batch, not K loops.
"""

from __future__ import annotations

import hashlib
import secrets
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from studio.config import SampleConfig
from studio.loading import LoadedModel, load_model, pick_device
from studio.sampling import BanTokens, Temperature, sample


@dataclass
class GenerationResult:
    """Texts and their provenance.

    Attributes
    ----------
    texts : list of str
        One per sample, each beginning with the prompt.
    seed : int
        The seed actually used (drawn at random when none was given), so any result can be made again.
    params : dict
        Every setting that produced it, plus the model's name and weight hash.
    notes : list of str
        Warnings worth showing (e.g. prompt characters the model has never seen).
    """

    texts: list[str]
    seed: int
    params: dict[str, Any]
    notes: list[str] = field(default_factory=list)


@contextmanager
def fast_cpu_kernels(device: torch.device):
    """Switch oneDNN off for single-token RNN steps on the CPU (it is 2-4x slower there); no-op elsewhere."""
    if device.type != "cpu":
        yield
        return
    # set_flags with only the first argument: the flags() context manager also touches TF32 and warns.
    was_enabled = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.set_flags(False)
    try:
        yield
    finally:
        torch.backends.mkldnn.set_flags(was_enabled)


class Generator:
    """Serves generation requests from one loaded text model.

    Parameters
    ----------
    model : str or Path
        A shipped model's name or a model folder.
    device : str
        ``cpu`` (default), ``cuda``, ``mps`` or ``auto``.
    """

    def __init__(self, model: str | Path, device: str = "cpu") -> None:
        self.device = pick_device(device)
        self.loaded: LoadedModel = load_model(model, device=self.device)
        self.name = str(model)
        self.model_hash = self.loaded.card.get("weights", {}).get("sha256", "")[:16]

    @property
    def tokenizer(self):
        return self.loaded.tokenizer

    def _prompt_ids(self, prompt: str) -> tuple[list[int], int, list[str]]:
        """Token ids to prime with, how many of them belong to the shown prompt, and notes."""
        tok = self.tokenizer
        notes = []
        ids = tok.encode(prompt) if prompt else []
        if tok.last_unknown:
            notes.append("prompt: " + tok.unknown_report())
        if ids:
            return ids, len(ids), notes
        # An empty prompt still needs one token to start from: a newline reads as "the start of a passage".
        start = tok.encode("\n")
        return (start if start and start[0] != tok.unk_id else [0 if tok.unk_id is None else 1]), 0, notes

    def _join(self, prompt: str, prompt_ids: list[int], new_ids: list[int]) -> str:
        """The prompt exactly as typed, followed by the decoded continuation.

        Decoding prompt and continuation together gives word tokenizers the right spacing at the seam; the
        decoded prompt is then swapped for the original, so unknown prompt characters are kept as typed.
        """
        if not prompt_ids:
            return self.tokenizer.decode(new_ids)
        whole = self.tokenizer.decode(prompt_ids + new_ids)
        head = self.tokenizer.decode(prompt_ids)
        return prompt + whole[len(head):] if whole.startswith(head) else whole

    @torch.inference_mode()
    def generate(self, prompt: str = "", config: SampleConfig | None = None, on_token: Any = None
                 ) -> GenerationResult:
        """Sample ``config.num_samples`` continuations of ``prompt`` as one batch.

        ``on_token``, when given, receives each new column of token ids (a LongTensor of shape (num_samples,)).
        """
        config = config or SampleConfig()
        seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
        model = self.loaded.model
        ids, shown, notes = self._prompt_ids(prompt)
        generator = torch.Generator(device=self.device).manual_seed(seed)
        banned = list(config.banned)
        if self.tokenizer.unk_id is not None:
            banned.append(self.tokenizer.unk_id)  # never write the unknown symbol
        processors = [BanTokens(banned), Temperature(config.temperature)]
        with fast_cpu_kernels(self.device):
            prompt_tensor = torch.tensor([ids], dtype=torch.long, device=self.device)
            logits, state = model(prompt_tensor)  # the whole prompt in one forward pass
            k = config.num_samples
            state = tuple(s.expand(-1, k, -1).contiguous() for s in state)
            first = logits[:, -1, :].expand(k, -1)

            def step(tokens: torch.Tensor, st: Any) -> tuple[torch.Tensor, Any]:
                out, st = model(tokens, st)
                return out[:, -1, :], st

            tokens = sample(step, state, first, config.length, processors, generator, on_token)
        texts = [self._join(prompt, ids if shown else [], row.tolist()) for row in tokens]
        params = {"model": self.name, "model_sha256": self.model_hash, "prompt": prompt, **config.to_dict(),
                  "seed": seed}
        return GenerationResult(texts, seed, params, notes)


def text_hash(text: str) -> str:
    """Short content hash, used to name written samples."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
