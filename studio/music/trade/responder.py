"""The Responder: answer a call over the next bars of a chart, and say which notes of the call each answer note
looked at (the attention weights), round after round.

``Responder(model).trade(request)`` answers the call over the ``bars`` bars after it, then, for ``rounds`` more
rounds, answers its own answer. Each answer is drawn with the sampling rules of every other model and two masks:
the grammar (a pitch or a rest, then its length) and the form (the answer fills exactly its bars). With
``listen`` > 0 the responder first learns each call (``studio.music.trade.listening``) and answers with what it
learned; the loaded weights stay as trained.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from studio.config import GenerationConfig, check_range
from studio.errors import StudioError
from studio.models.seq2seq import CallResponseModel
from studio.music.jazz.corpus import BEATS_PER_BAR, TICKS_PER_BAR, SoloNote
from studio.music.jazz.soloist import elapsed, event_mask
from studio.music.jazz.tokenizer import ChangeIndex
from studio.music.theory.chords import Chord, ChordChart
from studio.music.trade.listening import DEFAULT_LISTEN_STEPS, check_listening, listened
from studio.music.trade.motifs import motif_reuse
from studio.music.trade.pairs import PhrasePair, collate, encode_pair, encode_side, model_arguments
from studio.music.trade.training import load_trade_model
from studio.sampling import TokenMask
from studio.sampling.run import run_search

MAX_BARS = 16
MAX_ROUNDS = 16


@dataclass
class TradeRequest:
    """A call to answer: its notes (ticks from the call's first bar, 48 a bar), the chart it and the answers are
    played over (it repeats), the bars a call and an answer last, and how many more rounds to trade."""

    call: list[SoloNote]
    chart: ChordChart
    bars: int = 4
    rounds: int = 1
    config: GenerationConfig = field(default_factory=lambda: GenerationConfig(temperature=1.0))
    low: int = 48
    high: int = 88
    listen: float = 0.0             # rate of the SGD steps on each call before answering it (0: off; listening.py)
    listen_steps: int = DEFAULT_LISTEN_STEPS


@dataclass
class Exchange:
    """One round: the call, its answer (each from its own first bar), the answer's first bar in the piece, the
    attention of each answer note on each call note (answer notes x call notes; None without attention), and the
    share of the answer's motifs taken from the call."""

    call: list[SoloNote]
    answer: list[SoloNote]
    start_bar: int
    attention: list[list[float]] | None
    motif_reuse: float | None


@dataclass
class TradeResult:
    """Every round of an exchange, in order, with the seed that drew it and every parameter."""

    rounds: list[Exchange]
    seed: int
    params: dict[str, Any]


class Responder:
    """A call-and-response model loaded once (``studio train trade``), answering calls over charts."""

    def __init__(self, model: str | Path = "trade", device: str = "cpu") -> None:
        self.model, self.tokenizer, self.card = load_trade_model(model, device)
        self.device = next(self.model.parameters()).device
        self.name = str(model)
        self.bridge = self.model.config.bridge

    def _beats(self, chart: ChordChart, first_bar: int, bars: int) -> list[Chord]:
        return [chart.bars[bar % chart.num_bars][beat * len(chart.bars[bar % chart.num_bars]) // BEATS_PER_BAR]
                for bar in range(first_bar, first_bar + bars) for beat in range(BEATS_PER_BAR)]

    def trade(self, request: TradeRequest) -> TradeResult:
        """Every round of the exchange, in order (the first answers the call)."""
        check_range("bars", request.bars, 1, MAX_BARS, integer=True)
        check_range("rounds", request.rounds, 1, MAX_ROUNDS, integer=True)
        check_listening(request.listen, request.listen_steps)
        if not request.call:
            raise StudioError("the call has no notes: play or upload a phrase to answer")
        length = request.bars * TICKS_PER_BAR
        if max(n.onset + n.duration for n in request.call) > length:
            raise StudioError(f"the call runs past {request.bars} bars; trade more bars (--bars) or a shorter call")
        seed = request.config.seed if request.config.seed is not None else secrets.randbelow(2**31)
        generator = torch.Generator(device=self.device).manual_seed(seed)
        call, out = list(request.call), []
        for round_ in range(request.rounds):
            start = (round_ + 1) * request.bars
            call_beats = self._beats(request.chart, start - request.bars, request.bars)
            answer_beats = self._beats(request.chart, start, request.bars)
            model = listened(self.model, self.tokenizer, call, call_beats, request.bars, request.listen,
                             request.listen_steps)
            answer = self._answer(model, call, call_beats, answer_beats, request, generator)
            pair = PhrasePair("", call, answer, call_beats, answer_beats, request.bars)
            out.append(Exchange(call, answer, start, self.attention(pair, model), motif_reuse(call, answer)))
            call = answer
        params = {"model": self.name, "bridge": self.bridge, "chart": request.chart.text(), "bars": request.bars,
                  "rounds": request.rounds, "low": request.low, "high": request.high, "listen": request.listen,
                  **({"listen_steps": request.listen_steps} if request.listen else {}), **request.config.resolved(),
                  "seed": seed}
        return TradeResult(out, seed, params)

    def _answer(self, model: CallResponseModel, call: list[SoloNote], call_beats: list[Chord],
                answer_beats: list[Chord], request: TradeRequest, generator: torch.Generator) -> list[SoloNote]:
        tok = self.tokenizer
        ticks = request.bars * TICKS_PER_BAR
        call_tokens, call_cond, _ = encode_side(tok, call, call_beats, ticks)
        changes = ChangeIndex(answer_beats)
        table = torch.tensor([[*changes.at(t), t % TICKS_PER_BAR] for t in range(ticks + 1)], device=self.device)
        columns = {"chords": 0, "next_chords": 1, "until_change": 2, "positions": 3}
        with torch.inference_mode():
            c = torch.tensor([call_tokens], device=self.device)
            mask = torch.ones_like(c, dtype=torch.bool)
            memory, (h, cell) = model.encode(c, mask, torch.tensor([call_cond["chords"]], device=self.device),
                                             torch.tensor([call_cond["positions"]], device=self.device))
            keys = model.keys(memory)
            onsets = torch.tensor([call_cond["onsets"]], device=self.device)
            # A copying model proposes the call's intervals from the answer's last note (the call's, to begin).
            copy = model.call_steps(c, mask) if model.copy_gate is not None else None
            pitch = model.last_call_pitch(c, mask)

            def conditions(time: torch.Tensor, pitch: torch.Tensor) -> dict[str, torch.Tensor]:
                time = time.clamp(max=ticks)
                rows = table[time]
                return {**{name: rows[:, col] for name, col in columns.items()}, "last_pitch": pitch, "onsets": time}

            def step(tokens: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
                time, pitch, h, cell = state
                last = tokens[:, 0]
                time = time + torch.where(last >= tok.first_length, last - tok.first_length + 1, 0)
                pitch = torch.where(model.is_pitch(last), last - 2, pitch)
                rows = time.shape[0]
                grow = (lambda x: x.expand(rows, *x.shape[1:])) if memory is not None else (lambda x: x)
                logits, (h, cell), _ = model.step(last, (h, cell), conditions(time, pitch),
                                                  grow(memory) if memory is not None else None,
                                                  grow(keys) if keys is not None else None, grow(mask),
                                                  None if copy is None else (grow(copy[0]), grow(copy[1])),
                                                  grow(onsets))
                return logits, (time, pitch, h, cell)

            def select(state: Any, index: torch.Tensor) -> Any:
                return tuple(s.index_select(0, index) for s in state)

            zero = torch.zeros(1, dtype=torch.long, device=self.device)
            bos = torch.tensor([[tok.BOS]], device=self.device)
            first, (h, cell), _ = model.step(bos[:, 0], (h, cell), conditions(zero, pitch), memory, keys, mask, copy,
                                             onsets)
            hyps = run_search(request.config, step, select, (zero, pitch, h, cell), first, bos, 2 * ticks + 2,
                              generator, [self._mask(request, ticks)],
                              stop=lambda seq, _p: (elapsed(seq, tok) >= ticks) & (seq[:, -1] >= tok.first_length))
        return tok.decode(hyps[0].tokens)

    def _mask(self, request: TradeRequest, ticks: int) -> TokenMask:
        return event_mask(self.tokenizer, ticks, request.low, request.high, device=self.device)

    @torch.inference_mode()
    def attention(self, pair: PhrasePair, model: CallResponseModel | None = None) -> list[list[float]] | None:
        """How much each answer note looked at each call note: the attention of the step that chose the answer
        note's pitch, summed over the call note's two tokens (rows: answer notes; columns: call notes); ``model``
        is the one that answered (a listened copy), the loaded one by default."""
        if self.bridge != "attention":
            return None
        encoded = encode_pair(self.tokenizer, pair)
        batch = {k: v.to(self.device) for k, v in collate([encoded]).items()}
        _, weights = (model or self.model)(*model_arguments(batch))
        tok = self.tokenizer
        call_notes = [i for i, t in enumerate(encoded.call) if t != tok.BOS and t != tok.REST and t < tok.first_length]
        rows = []
        for step, target in enumerate(encoded.answer[1:]):
            if target != tok.REST and target < tok.first_length:
                w = weights[0, step]
                rows.append([float(w[i] + w[i + 1]) for i in call_notes])
        return rows
