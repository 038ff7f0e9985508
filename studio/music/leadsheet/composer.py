"""The Composer: a blues improviser over a chord chart, as a service the CLI and the UI share.

``Composer(model).compose(request)`` writes ``num_samples`` improvisations over ``choruses`` times the chart at once
(one batch), with the same sampling rules, beam searches and seeds as text, plus music masks: the grammar of the
event stream (a hold never follows a rest), the pitch range, and an optional key lock. Each improvisation comes back
as a ``LeadSheet`` with its log-probability; rendering it with a band, to MIDI, audio and score, is
``studio.music.band.render`` and ``studio.music.io.export``'s job (``Composer.render`` wires them).

The model reads, at every step, the previous event with the chord and bar position of the step it predicts; the
search functions only see a step function whose state carries the step number, so they stay model-agnostic.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from studio.config import GenerationConfig, check_range
from studio.errors import StudioError
from studio.loading import load_model, pick_device
from studio.models import StepperCache
from studio.music.leadsheet.metrics import phrase_keys, summarise
from studio.music.leadsheet.tokenizer import LeadSheetTokenizer
from studio.music.leadsheet.training import PHRASES_EXTRA, phrase_hash
from studio.music.theory.chords import STEPS_PER_BAR, ChordChart, LeadSheet
from studio.sampling import TokenMask
from studio.sampling.run import run_search, search_rows

MAX_CHORUSES = 64


@dataclass
class ComposeRequest:
    """What to improvise over.

    Attributes
    ----------
    chart : ChordChart
        One chorus of the form (a blues is 12 bars).
    choruses : int
        Times through the form, 1..64.
    tempo : float
        Beats per minute, recorded in the lead sheet (rendering uses it).
    config : GenerationConfig
        Sampling or search settings; its ``length`` is ignored (the form decides the length).
    low, high : int
        MIDI pitch range of the lead, within the model's range.
    key_lock : list of int, optional
        Pitch classes the lead may use (e.g. a blues scale); None allows all.
    """

    chart: ChordChart
    choruses: int = 1
    tempo: float = 120.0
    config: GenerationConfig = field(default_factory=lambda: GenerationConfig(temperature=0.9))
    low: int | None = None
    high: int | None = None
    key_lock: list[int] | None = None


@dataclass
class Improvisation:
    """One improvised lead over the requested form."""

    sheet: LeadSheet
    logprob: float
    seed: int
    params: dict[str, Any]


class Composer:
    """Loads a chord-conditioned lead-sheet model once and improvises over charts.

    Parameters
    ----------
    model : str or Path
        A shipped model's name (``blues``) or a model folder trained with ``studio train leadsheet``.
    device : str
        cpu (default), cuda, mps or auto.
    """

    def __init__(self, model: str | Path = "blues", device: str = "cpu") -> None:
        self.device = pick_device(device)
        self.loaded = load_model(model, device=self.device, read_tokenizer=LeadSheetTokenizer.from_dict)
        if self.loaded.card.get("model_kind") != "leadsheet":
            raise StudioError(f"model {model!r} is not a lead-sheet (improviser) model; use a blues model, or "
                              "`studio compose --primer` for polyphonic models")
        self.name = str(model)
        self.tokenizer = self.loaded.tokenizer
        self.model_hash = self.loaded.card.get("weights", {}).get("sha256", "")[:16]
        self._steppers = StepperCache(self.loaded.model)
        stored = self.loaded.extras.get(PHRASES_EXTRA, {}).get("hashes")
        self.training_phrases: set[int] | None = set(stored.tolist()) if stored is not None else None

    def metrics(self, sheet: LeadSheet) -> dict[str, float]:
        """The piece's musical metrics, with ``novelty`` (share of its two-bar phrases absent from the model's
        training data) when the model carries its training phrases."""
        out = summarise(sheet)
        if self.training_phrases is not None:
            keys = [phrase_hash(k) for k in phrase_keys(sheet)]
            out["novelty"] = sum(k not in self.training_phrases for k in keys) / len(keys) if keys else math.nan
        return out

    # -- conditioning -----------------------------------------------------------------------------------------------
    def _conditions(self, chart: ChordChart, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Chord ids and bar positions for steps 0..steps-1, each LongTensor (steps,)."""
        chords = torch.tensor([chart.chord_at(s).index for s in range(steps)], dtype=torch.long)
        positions = torch.arange(steps, dtype=torch.long) % STEPS_PER_BAR
        return chords.to(self.device), positions.to(self.device)

    def _stepper(self, rows: int):
        """The CPU one-token stepper for ``rows`` rows; None on a GPU, where the module's cuDNN path is fast."""
        return self._steppers.for_rows(rows) if self.device.type == "cpu" else None

    def _mask(self, request: ComposeRequest) -> TokenMask:
        tok = self.tokenizer
        low = tok.low if request.low is None else request.low
        high = tok.high if request.high is None else request.high
        if not tok.low <= low <= high <= tok.high:
            raise StudioError(f"pitch range {low}..{high} must lie within the model's range {tok.low}..{tok.high}")

        def allowed(tokens: torch.Tensor) -> torch.Tensor:
            return tok.grammar_mask(tokens, low=low, high=high, pitch_classes=request.key_lock)

        return TokenMask(allowed, "lead-sheet grammar")

    # -- composing --------------------------------------------------------------------------------------------------
    def compose(self, request: ComposeRequest) -> list[Improvisation]:
        """Improvise ``config.num_samples`` leads over the form, as one batch (beam modes: the n-best list)."""
        check_range("choruses", request.choruses, 1, MAX_CHORUSES, integer=True)
        check_range("tempo", request.tempo, 20, 400)
        config = request.config
        seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
        settings = config.resolved()
        steps = request.choruses * request.chart.num_bars * STEPS_PER_BAR
        chords, positions = self._conditions(request.chart, steps)
        stepper = self._stepper(search_rows(config))
        model = self.loaded.model
        generator = torch.Generator(device=self.device).manual_seed(seed)

        def step(tokens: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
            t, rnn = state  # t: the step the new logits predict
            n = tokens.shape[0]
            ch = chords[min(t, steps - 1)].expand(n, 1)
            pos = positions[min(t, steps - 1)].expand(n, 1)
            if stepper is not None:
                logits, rnn = stepper(tokens, rnn, ch, pos)
            else:
                out, rnn = model(tokens, rnn, chords=ch, positions=pos)
                logits = out[:, -1, :]
            return logits, (t + 1, rnn)

        def select(state: Any, index: torch.Tensor) -> Any:
            t, rnn = state
            return t, tuple(s.index_select(1, index) for s in rnn)

        with torch.inference_mode():
            prefix = torch.tensor([[self.tokenizer.REST]], dtype=torch.long, device=self.device)
            out, rnn = model(prefix, chords=chords[:1].view(1, 1), positions=positions[:1].view(1, 1))
            if stepper is not None:
                rnn = stepper.convert_state(rnn)
            hyps = run_search(config, step, select, (1, rnn), out[:, -1, :], prefix, steps, generator,
                              [self._mask(request)])
        chart = ChordChart([bar for _ in range(request.choruses) for bar in request.chart.bars])
        params = {"model": self.name, "model_sha256": self.model_hash, "chart": request.chart.text(),
                  "choruses": request.choruses, "tempo": request.tempo, **settings, "seed": seed}
        return [Improvisation(LeadSheet(self.tokenizer.decode(h.tokens), chart, request.tempo,
                                        f"{self.name}-{seed}-{i + 1}"), h.logprob, seed, params)
                for i, h in enumerate(hyps)]
