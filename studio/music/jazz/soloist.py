"""The Soloist: improvise over any chart with the jazz model, as a service the CLI and the page share.

``Soloist(model).improvise(request)`` plays ``num_samples`` solos over ``choruses`` times the chart at once (one
batch), with the sampling rules and searches of text and two masks: the grammar (a pitch or a rest, then its
length) and the form (no event runs past the last bar, so every solo ends with the chart). The model reads each
event's chord, the next chord, its place in the bar and in the form, and the style, soloist and form asked for; the
state of the search carries each row's time on the 48-per-bar grid, so the search itself knows nothing of music.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from studio.config import GenerationConfig, check_choice, check_range
from studio.errors import StudioError
from studio.loading import load_model, pick_device
from studio.models import StepperCache
from studio.music.jazz.corpus import TICKS_PER_BAR, TICKS_PER_BEAT, SoloNote
from studio.music.jazz.entries import apply_soloist_strength, check_soloist_strength
from studio.music.jazz.phrases import PHRASES_EXTRA, copied_share
from studio.music.jazz.tokenizer import MAX_FORM_BAR, ChangeIndex, JazzTokenizer
from studio.music.theory.chords import ChordChart
from studio.sampling import LogitsProcessor, TokenMask
from studio.sampling.run import run_search, search_rows

MAX_CHORUSES = 64
FORM_CHOICES = ("auto", "blues", "other", "none")


@dataclass
class SoloRequest:
    """What to play over.

    Attributes
    ----------
    chart : ChordChart
        One chorus of the form.
    choruses : int
        Times through the form, 1..64.
    tempo : float
        Beats per minute, 20..400: rendering plays at it, and a soloist trained with the tempo input reads it (the
        masters play a ballad denser than a burner).
    style, soloist : str, optional
        A style (swing, bebop, cool, hardbop, postbop...) and a performer to play "in the manner of"; None: any.
    form : str
        ``blues``, ``other``, ``none`` (unknown) or ``auto``: blues for a 12-bar form, other otherwise.
    form_length : int, optional
        Bars in one chorus of the form when ``chart`` writes out several (a whole solo's changes); default: the
        chart's length.
    form_bars : list of int, optional
        The bar of the form each bar of the piece is (a real solo's, to replay its changes exactly); default:
        counted from the chart's first bar, a chorus every ``form_length`` bars.
    config : GenerationConfig
        Sampling or search settings; ``length`` is ignored (the form decides it).
    rhythm_temperature : float, optional
        A temperature for the lengths alone (how adventurous the rhythm is), on top of ``config``'s temperature;
        default: the model card's, chosen on validation solos (1.0 without one). Sampling modes only.
    low, high : int, optional
        MIDI pitch range of the solo, within the model's.
    key_lock : list of int, optional
        Pitch classes the solo may use; None allows all.
    """

    chart: ChordChart
    choruses: int = 1
    tempo: float = 160.0
    style: str | None = None
    soloist: str | None = None
    form: str = "auto"
    form_length: int | None = None
    form_bars: list[int] | None = None
    config: GenerationConfig = field(default_factory=lambda: GenerationConfig(temperature=1.0))
    rhythm_temperature: float | None = None
    low: int | None = None
    high: int | None = None
    key_lock: list[int] | None = None


@dataclass
class JazzSolo:
    """One solo: notes on the 48-per-bar grid over ``choruses`` times the chart."""

    notes: list[SoloNote]
    chart: ChordChart
    choruses: int
    tempo: float
    logprob: float
    seed: int
    params: dict[str, Any]


class Soloist:
    """Loads a jazz soloist model once and improvises over charts.

    Parameters
    ----------
    model : str or Path
        A shipped model's name (``jazz``) or a folder trained with ``studio train jazz``.
    device : str
        cpu (default), cuda, mps or auto.
    soloist_strength : float, optional
        How strongly it reads the soloist asked for, 0 (none)..2 (``studio.music.jazz.entries``); by default the
        model's own (its card's, chosen on validation solos; else 1, the entries as trained).
    """

    def __init__(self, model: str | Path = "jazz", device: str = "cpu", soloist_strength: float | None = None) -> None:
        if soloist_strength is not None:
            check_soloist_strength(soloist_strength)  # before the model loads
        self.device = pick_device(device)
        self.loaded = load_model(model, device=self.device, read_tokenizer=JazzTokenizer.from_dict)
        if self.loaded.card.get("model_kind") != "jazz":
            raise StudioError(f"model {model!r} is not a jazz soloist; use `--model jazz` or a folder trained with "
                              "`studio train jazz`")
        # Before any stepper copies the weights.
        self.soloist_strength = apply_soloist_strength(self.loaded.model, self.loaded.card, soloist_strength)
        self.name = str(model)
        self.tokenizer: JazzTokenizer = self.loaded.tokenizer
        self.model_hash = self.loaded.card.get("weights", {}).get("sha256", "")[:16]
        self._steppers = StepperCache(self.loaded.model)
        stored = self.loaded.extras.get(PHRASES_EXTRA, {}).get("hashes")
        self.training_phrases = stored.sort().values if stored is not None else None
        sampling = self.loaded.card.get("sampling") or {}
        # The settings chosen on validation solos (the card's), for a person who sets none.
        self.default_temperature = float(sampling.get("temperature") or 1.0)
        self.default_top_p = sampling.get("top_p")
        self.default_rhythm_temperature = float(sampling.get("rhythm_temperature") or 1.0)

    def copied(self, notes: list[SoloNote]) -> float | None:
        """The share of the solo's two-bar phrases found in the model's training solos (None if unknown)."""
        return None if self.training_phrases is None else copied_share(notes, self.training_phrases)

    # -- the changes as the model reads them ---------------------------------------------------------------------
    def _tables(self, request: SoloRequest, ticks: int) -> dict[str, torch.Tensor]:
        """Per tick 0..ticks (one past the end included): every condition stream's value, LongTensor each."""
        tok = self.tokenizer
        beats = [bar[beat * len(bar) // 4] for _ in range(request.choruses) for bar in request.chart.bars
                 for beat in range(4)]
        changes = ChangeIndex(beats)
        rows = [changes.at(t) for t in range(ticks + 1)]
        bars = request.form_length or request.chart.num_bars
        form = request.form if request.form != "auto" else ("blues" if bars == 12 else "other")
        fixed = {"styles": tok.style_id(request.style), "soloists": tok.soloist_id(request.soloist),
                 "forms": {"blues": 1, "other": 2, "none": 0}[form], "tempos": tok.tempo_id(request.tempo)}
        tables = {"chords": [r[0] for r in rows], "next_chords": [r[1] for r in rows],
                  "until_change": [r[2] for r in rows],
                  "positions": [t % TICKS_PER_BAR for t in range(ticks + 1)],
                  "form_bars": [min(self._form_bar(request, t // TICKS_PER_BAR, bars), MAX_FORM_BAR)
                                for t in range(ticks + 1)]}
        out = {name: torch.tensor(values, dtype=torch.long, device=self.device) for name, values in tables.items()}
        out.update({name: torch.full((ticks + 1,), value, dtype=torch.long, device=self.device)
                    for name, value in fixed.items()})
        return out

    @staticmethod
    def _form_bar(request: SoloRequest, bar: int, bars: int) -> int:
        given = request.form_bars
        return given[min(bar, len(given) - 1)] if given else bar % bars

    def _mask(self, request: SoloRequest, end: int) -> TokenMask:
        tok = self.tokenizer
        low = tok.low if request.low is None else request.low
        high = tok.high if request.high is None else request.high
        return event_mask(tok, end, low, high, request.key_lock, self.device)

    # -- playing ---------------------------------------------------------------------------------------------------
    def improvise(self, request: SoloRequest) -> list[JazzSolo]:
        """Play ``config.num_samples`` solos over the form, as one batch (beam modes: the n-best list)."""
        check_range("choruses", request.choruses, 1, MAX_CHORUSES, integer=True)
        check_range("tempo", request.tempo, 20, 400)
        check_choice("form", request.form, FORM_CHOICES)
        if request.form_length is not None:
            check_range("form_length (bars)", request.form_length, 1, request.chart.num_bars, integer=True)
        if request.form_bars is not None and not request.form_bars:
            raise StudioError("form_bars, when given, names the bar of the form of every bar (it is empty)")
        config = request.config
        seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
        end = request.choruses * request.chart.num_bars * TICKS_PER_BAR
        tables = self._tables(request, end)
        tok = self.tokenizer
        stepper = self._steppers.for_rows(search_rows(config)) if self.device.type == "cpu" else None
        model = self.loaded.model
        generator = torch.Generator(device=self.device).manual_seed(seed)

        def conditions(time: torch.Tensor) -> dict[str, torch.Tensor]:
            at = time.clamp(max=end)
            return {name: table[at][:, None] for name, table in tables.items()}

        def step(tokens: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
            time, pitch, rnn = state
            last = tokens[:, 0]
            time = time + torch.where(last >= tok.first_length, last - tok.first_length + 1, 0)
            played = (last >= 2) & (last < tok.first_length)  # a pitch token: the last note (MIDI + 1) moves
            pitch = torch.where(played, last - 2 + tok.low + 1, pitch)
            cond = {**conditions(time), "last_pitches": pitch[:, None]}
            if stepper is not None:
                logits, rnn = stepper(tokens, rnn, **cond)
            else:
                out, rnn = model(tokens, rnn, **cond)
                logits = out[:, -1, :]
            return logits, (time, pitch, rnn)

        def select(state: Any, index: torch.Tensor) -> Any:
            time, pitch, rnn = state
            return (time.index_select(0, index), pitch.index_select(0, index),
                    tuple(s.index_select(1, index) for s in rnn))

        def stop(seq: torch.Tensor, prompt_len: int) -> torch.Tensor:
            return (elapsed(seq, tok) >= end) & (seq[:, -1] >= tok.first_length)

        # Each event is two tokens and lasts at least a tick: this bounds any search.
        length = 2 * end + 2
        with torch.inference_mode():
            prefix = torch.tensor([[tok.BOS]], dtype=torch.long, device=self.device)
            zero = torch.zeros(1, dtype=torch.long, device=self.device)
            out, rnn = model(prefix, **conditions(zero), last_pitches=zero[:, None])
            if stepper is not None:
                rnn = stepper.convert_state(rnn)
            rhythm = (self.default_rhythm_temperature if request.rhythm_temperature is None
                      else request.rhythm_temperature)
            check_range("rhythm temperature", rhythm, 0.0, 100.0, low_open=True)
            hyps = run_search(config, step, select, (zero, zero, rnn), out[:, -1, :], prefix, length, generator,
                              [self._mask(request, end)], stop, [RhythmTemperature(tok, rhythm)])
        params = {"model": self.name, "model_sha256": self.model_hash, "chart": request.chart.text(),
                  "choruses": request.choruses, "tempo": request.tempo, "style": request.style,
                  "soloist": request.soloist, "soloist_strength": self.soloist_strength if request.soloist else None,
                  "form": request.form, **config.resolved(),
                  "rhythm_temperature": rhythm if config.samples_tokens else None, "seed": seed}
        return [JazzSolo(tok.decode(h.tokens), request.chart, request.choruses, request.tempo, h.logprob, seed,
                         params) for h in hyps]


class RhythmTemperature(LogitsProcessor):
    """Divide the logits of a length slot (after a pitch or a rest) by ``temperature``: the rhythm's own
    temperature, so a line's durations can be drawn more safely, or more adventurously, than its pitches."""

    def __init__(self, tokenizer: JazzTokenizer, temperature: float) -> None:
        self.tokenizer, self.temperature = tokenizer, float(temperature)

    def is_noop(self) -> bool:
        return self.temperature == 1.0

    def __call__(self, tokens: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        tok = self.tokenizer
        length_slot = (tokens[:, -1] != tok.BOS) & (tokens[:, -1] < tok.first_length)
        return torch.where(length_slot[:, None], logits / self.temperature, logits)


def event_mask(tok: JazzTokenizer, end: int, low: int, high: int, pitch_classes: list[int] | None = None,
               device: torch.device | str = "cpu") -> TokenMask:
    """The grammar and form of events as a sampling mask: after BOS or a length, a rest or a pitch in
    ``low``..``high`` (of ``pitch_classes`` when given); after a pitch or a rest, a length that does not run past
    tick ``end``. A range outside the model's is refused, naming both."""
    if not tok.low <= low <= high <= tok.high:
        raise StudioError(f"pitch range {low}..{high} must lie within the model's range {tok.low}..{tok.high}")
    what = torch.zeros(tok.vocab_size, dtype=torch.bool, device=device)
    what[tok.REST] = True
    for pitch in range(low, high + 1):
        if pitch_classes is None or pitch % 12 in pitch_classes:
            what[tok.pitch_id(pitch)] = True
    lengths = torch.arange(tok.vocab_size, device=device) - tok.first_length + 1  # 1.. for length ids

    def allowed(tokens: torch.Tensor) -> torch.Tensor:
        time = elapsed(tokens, tok)
        after_what = (tokens[:, -1] != tok.BOS) & (tokens[:, -1] < tok.first_length)
        fits = (lengths[None, :] >= 1) & (lengths[None, :] <= (end - time)[:, None])
        return torch.where(after_what[:, None], fits, what[None, :].expand(len(tokens), -1))

    return TokenMask(allowed, "grammar of events and the form")


def elapsed(tokens: torch.Tensor, tokenizer: JazzTokenizer) -> torch.Tensor:
    """Ticks covered by each row's tokens (the sum of its lengths), shape (rows,)."""
    first = tokenizer.first_length
    return torch.where(tokens >= first, tokens - first + 1, 0).sum(dim=1)


__all__ = ["FORM_CHOICES", "TICKS_PER_BEAT", "JazzSolo", "SoloRequest", "Soloist", "elapsed", "event_mask"]
