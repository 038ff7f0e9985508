"""Typed configuration: one dataclass per concern, validated with messages that name the valid range.

Every config is stored whole in a checkpoint (``to_dict``) and rebuilt from it (``from_dict``), so a model is
built from its config alone. Unknown keys in a stored config are refused rather than silently dropped: they mean
the checkpoint was written by a newer Studio.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, TypeVar

from studio.errors import StudioError

# rnn (Elman, tanh), lstm (with forget gate), gru, cplstm (peepholes, Gers et al.), lnlstm (layer norm, Ba et al.)
CELLS = ("rnn", "lstm", "gru", "cplstm", "lnlstm")
TOKENIZERS = ("char", "word", "bpe")
PITCH_HEADS = ("chord", "interval")  # ModelConfig.pitch_heads
SCHEDULES = ("cosine", "plateau", "step", "constant")
OPTIMIZERS = ("adamw", "sgd")
DEVICES = ("auto", "cpu", "cuda", "mps")

# Generation lengths above this are refused: at ~1 ms/token they would run for hours and are nearly always a typo.
MAX_GENERATION_LENGTH = 100_000

C = TypeVar("C", bound="_Config")


def check_range(name: str, value: float, low: float | None = None, high: float | None = None,
                low_open: bool = False, integer: bool = False) -> None:
    """Raise ``StudioError`` naming ``name`` and its valid range when ``value`` is outside it.

    ``low_open`` makes the lower bound exclusive (``value > low``), as for a temperature.
    """
    if integer and (isinstance(value, bool) or not isinstance(value, int)):
        raise StudioError(f"{name} must be a whole number, got {value!r}")
    if not integer and (isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value)):
        raise StudioError(f"{name} must be a number, got {value!r}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and value > high
    if too_low or too_high:
        left = "(" if low_open else "["
        lo = "-inf" if low is None else _fmt(low)
        hi = "inf" if high is None else _fmt(high)
        raise StudioError(f"{name} must be in {left}{lo}, {hi}], got {_fmt(value)}")


def _fmt(number: float) -> str:
    """Whole numbers in full (100000000, not 1e+08); others in short form."""
    return str(number) if isinstance(number, int) else f"{number:g}"


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    """Raise ``StudioError`` when ``value`` is not one of ``choices``."""
    if value not in choices:
        raise StudioError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def check_bool(name: str, value: object) -> None:
    """Raise ``StudioError`` unless ``value`` is a real bool (a string "false" would otherwise count as true)."""
    if not isinstance(value, bool):
        raise StudioError(f"{name} must be true or false, got {value!r}")


class _Config:
    """Shared ``to_dict``/``from_dict`` for the config dataclasses."""

    def validate(self) -> None:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def __post_init__(self) -> None:
        self.validate()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - known)
        if unknown:
            raise StudioError(f"{cls.__name__} has no field(s) {', '.join(unknown)}: "
                              "the checkpoint was written by a newer Studio; upgrade Studio to load it")
        return cls(**data)


@dataclass
class ModelConfig(_Config):
    """The shape of a recurrent language model; ``RNNLanguageModel`` is built from this alone."""

    vocab_size: int = 256          # number of token ids the model reads and predicts
    cell: str = "lstm"             # one of CELLS: rnn, lstm, gru, cplstm (peephole LSTM) or lnlstm (layer-norm LSTM)
    num_layers: int = 2            # stacked recurrent layers
    embedding_size: int = 256      # width of the token embedding fed to the first layer
    hidden_size: int = 512         # width of each recurrent layer's state
    dropout_embedding: float = 0.0  # dropout on the embedded tokens (Zaremba et al. 2014)
    dropout_between: float = 0.0   # dropout between stacked layers (inside nn.LSTM/GRU/RNN)
    dropout_output: float = 0.0    # dropout on the top layer's output, before the softmax layer
    # DropConnect on the recurrent (hidden-to-hidden) matrices while training (Wan et al. 2013; Merity et al.'s
    # AWD-LSTM 2017): one mask per forward pass, so every time step of a window sees the same dropped weights.
    # It regularises the recurrence itself, which the dropout above leaves alone.
    weight_drop: float = 0.0
    tie_weights: bool = False      # share the embedding and output matrices (Press & Wolf; Inan et al.)
    forget_bias: float = 1.0       # the LSTMs' forget-gate bias at init (Jozefowicz et al. 2015); ignored for rnn/gru
    # Conditioning (music): at every step a chord and the position in the bar join the token embedding
    # (Eck & Schmidhuber 2002; Magenta's Improv RNN). 0 turns each off.
    chord_vocab_size: int = 0      # number of chord ids the model reads (a fixed table of chord features)
    chord_features: int = 0        # width of each chord's feature vector (root one-hot + chord-tone pitch classes)
    chord_embedding: int = 0       # width the chord features are projected to
    bar_positions: int = 0         # number of grid positions in a bar (16 for 4/4 in 16th notes)
    position_embedding: int = 0    # width of the bar-position embedding
    next_chord: bool = False       # also read the next chord of the changes ("next_chords"), through the chord table
    # More inputs joined at every step, each an embedding: (stream name, number of ids, width), e.g. the jazz
    # soloist's ("styles", 9, 8) or ("until_change", 97, 8). The model takes each stream by name.
    conditions: tuple[tuple[str, int, int], ...] = ()
    # Pitch heads (music): beside the output layer, scores of each pitch token by its interval above the chord's root
    # ("chord": 12 scores a step) and by its interval from the last note played ("interval": -24..+24 and one for
    # anything further), added to the pitch tokens' logits. Both are the same in every key, so what the model learns
    # about a third of the chord or a half step down holds for all of them (chord tones and steps are most of a jazz
    # line). "interval" reads the stream ``last_pitches`` (0: no note yet, else MIDI pitch + 1).
    pitch_tokens: tuple[int, ...] = ()  # (first pitch token id, number of pitch tokens, MIDI pitch of the first)
    pitch_heads: tuple[str, ...] = ()   # any of PITCH_HEADS

    def validate(self) -> None:
        check_range("vocab_size", self.vocab_size, 2, 10_000_000, integer=True)
        check_choice("cell", self.cell, CELLS)
        check_range("num_layers", self.num_layers, 1, 16, integer=True)
        check_range("embedding_size", self.embedding_size, 1, 65_536, integer=True)
        check_range("hidden_size", self.hidden_size, 1, 65_536, integer=True)
        for name in ("dropout_embedding", "dropout_between", "dropout_output", "weight_drop"):
            check_range(name, getattr(self, name), 0.0, 0.95)
        check_range("forget_bias", self.forget_bias, -10.0, 10.0)
        for name in ("chord_vocab_size", "chord_features", "chord_embedding", "bar_positions", "position_embedding"):
            check_range(name, getattr(self, name), 0, 65_536, integer=True)
        if bool(self.chord_vocab_size) != bool(self.chord_features) or bool(self.chord_features) != bool(
                self.chord_embedding):
            raise StudioError("chord conditioning needs chord_vocab_size, chord_features and chord_embedding all "
                              "set (or all 0)")
        if bool(self.bar_positions) != bool(self.position_embedding):
            raise StudioError("bar-position conditioning needs bar_positions and position_embedding both set "
                              "(or both 0)")
        check_bool("tie_weights", self.tie_weights)
        check_bool("next_chord", self.next_chord)
        if self.next_chord and not self.chord_vocab_size:
            raise StudioError("next_chord needs chord conditioning (chord_vocab_size, chord_features, chord_embedding)")
        try:  # JSON gives lists; the config keeps tuples
            self.conditions = tuple((str(name), int(ids), int(width)) for name, ids, width in self.conditions)
        except (TypeError, ValueError):
            raise StudioError("conditions must be a list of [name, number of ids, width] entries") from None
        names = [name for name, _, _ in self.conditions]
        if len(set(names)) != len(names) or {"chords", "next_chords", "positions"} & set(names):
            raise StudioError(f"condition names must be distinct and not chords/next_chords/positions: {names}")
        for name, ids, width in self.conditions:
            check_range(f"condition {name!r} ids", ids, 1, 1_000_000, integer=True)
            check_range(f"condition {name!r} width", width, 1, 65_536, integer=True)
        self.pitch_tokens, self.pitch_heads = tuple(self.pitch_tokens), tuple(self.pitch_heads)
        for head in self.pitch_heads:
            check_choice("pitch head", head, PITCH_HEADS)
        if self.pitch_heads:
            if len(self.pitch_tokens) != 3:
                raise StudioError("pitch heads need pitch_tokens: (first pitch token id, number of pitches, MIDI pitch "
                                  "of the first)")
            first, count, low = self.pitch_tokens
            check_range("pitch_tokens count", count, 1, 128, integer=True)
            check_range("pitch_tokens first id", first, 0, self.vocab_size - count, integer=True)
            check_range("pitch_tokens lowest MIDI pitch", low, 0, 128 - count, integer=True)
        if "chord" in self.pitch_heads and self.chord_features < 12:
            raise StudioError("the chord pitch head reads the chord's root (the first 12 chord features): it needs "
                              "chord conditioning")

    def to_dict(self) -> dict[str, Any]:
        """As written into model cards; ``weight_drop``, ``next_chord`` and ``conditions`` only when set, so a card
        of a model that does not use them still loads in a Studio that predates them."""
        data = super().to_dict()
        for name in ("weight_drop", "next_chord", "conditions", "pitch_tokens", "pitch_heads"):  # newer, when used
            if not data[name]:
                del data[name]
        if "conditions" in data:
            data["conditions"] = [list(entry) for entry in data["conditions"]]
        for name in ("pitch_tokens", "pitch_heads"):
            if name in data:
                data[name] = list(data[name])
        return data


@dataclass
class TokenizerConfig(_Config):
    """How a text corpus is cut into tokens."""

    kind: str = "char"      # char, word or bpe
    vocab_size: int = 8000  # bpe only: target vocabulary size, byte alphabet included
    min_count: int = 1      # word only: words seen fewer times than this become the unknown token

    def validate(self) -> None:
        check_choice("tokenizer", self.kind, TOKENIZERS)
        check_range("vocab_size", self.vocab_size, 260, 1_000_000, integer=True)
        check_range("min_count", self.min_count, 1, 1_000_000, integer=True)


@dataclass
class TrainConfig(_Config):
    """How a model is trained: batches, optimiser, schedule, budgets, evaluation."""

    batch_size: int = 64           # parallel streams per step
    seq_len: int = 128             # truncated-BPTT window (tokens per stream per step)
    optimizer: str = "adamw"       # adamw, or plain sgd (Zaremba et al.'s recipe, with the step schedule)
    lr: float = 2e-3               # peak learning rate
    weight_decay: float = 0.01     # decoupled (AdamW) or L2 (SGD) weight decay, applied to matrices only
    betas: tuple[float, float] = (0.9, 0.99)  # AdamW moment decay rates
    momentum: float = 0.0          # SGD momentum (0: plain SGD)
    grad_clip: float = 1.0         # global gradient-norm clip (Pascanu et al. 2013); 0 turns it off
    warmup_steps: int = 100        # linear warm-up from 0 to lr
    schedule: str = "cosine"       # after warm-up: cosine (to min_lr_ratio*lr at max_steps), plateau, step or constant
    min_lr_ratio: float = 0.05     # floor of the cosine decay, as a share of lr
    plateau_factor: float = 0.5    # plateau: multiply lr by this when validation stops improving
    plateau_patience: int = 2      # plateau: evaluations without improvement before decaying
    decay_start: int = 1000        # step: the first decay happens at this optimiser step
    decay_every: int = 1000        # step: then again every this many steps
    decay_factor: float = 0.5      # step: multiply lr by this at each decay
    max_steps: int = 2000          # optimiser steps budget
    minutes: float = 0.0           # wall-clock budget; 0 means none
    eval_every: int = 200          # steps between validations (and checkpoints)
    eval_tokens: int = 0           # cap on validation tokens per evaluation; 0 evaluates all of them
    # > 0: evaluate a fixed, seeded sample of about this many validation tokens (spans spread over the whole
    # stream, the same at every evaluation) instead of all; fine-tuning sizes it to its time budget
    eval_sample_tokens: int = 0
    patience: int = 0              # early stopping: evaluations without improvement; 0 never stops early
    valid_fraction: float = 0.1    # tail share of the corpus held out for validation (char-rnn/nanoGPT split)
    seed: int = 1337               # seeds every random number generator, so a run is repeatable
    device: str = "auto"           # auto picks cuda, then mps, then cpu
    amp: bool = True               # bf16 autocast on cuda (ignored on cpu)

    def validate(self) -> None:
        check_range("batch_size", self.batch_size, 1, 65_536, integer=True)
        check_range("seq_len", self.seq_len, 1, 100_000, integer=True)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_range("lr", self.lr, 0.0, 100.0, low_open=True)
        check_range("momentum", self.momentum, 0.0, 0.999)
        check_range("weight_decay", self.weight_decay, 0.0, 10.0)
        if not isinstance(self.betas, (list, tuple)) or len(self.betas) != 2:
            raise StudioError(f"betas must be two numbers in [0, 1], got {self.betas!r}")
        for beta in self.betas:
            check_range("beta", beta, 0.0, 1.0)
        self.betas = (float(self.betas[0]), float(self.betas[1]))
        check_range("grad_clip", self.grad_clip, 0.0, 1e6)
        check_range("warmup_steps", self.warmup_steps, 0, 10_000_000, integer=True)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_range("min_lr_ratio", self.min_lr_ratio, 0.0, 1.0)
        check_range("plateau_factor", self.plateau_factor, 0.0, 1.0, low_open=True)
        check_range("plateau_patience", self.plateau_patience, 0, 1000, integer=True)
        check_range("decay_start", self.decay_start, 0, 100_000_000, integer=True)
        check_range("decay_every", self.decay_every, 1, 100_000_000, integer=True)
        check_range("decay_factor", self.decay_factor, 0.0, 1.0, low_open=True)
        check_range("max_steps", self.max_steps, 1, 100_000_000, integer=True)
        check_range("minutes", self.minutes, 0.0, 1e6)
        check_range("eval_every", self.eval_every, 1, 100_000_000, integer=True)
        check_range("eval_tokens", self.eval_tokens, 0, 10**12, integer=True)
        check_range("eval_sample_tokens", self.eval_sample_tokens, 0, 10**12, integer=True)
        check_range("patience", self.patience, 0, 100_000, integer=True)
        check_range("valid_fraction", self.valid_fraction, 0.0, 0.5, low_open=True)
        check_range("seed", self.seed, 0, 2**63 - 1, integer=True)
        check_choice("device", self.device, DEVICES)
        check_bool("amp", self.amp)


@dataclass
class GenerationConfig(_Config):
    """How to generate: the search mode and its settings.

    The mode follows from the fields: ``beams == 1`` gives ``sample`` (or ``greedy`` when ``greedy`` is set);
    ``beams > 1`` gives ``beam``, ``diverse_beam`` (``beam_groups > 1``, Vijayakumar et al. 2016) or
    ``stochastic_beam`` (``sample_beams``, Magenta's beam_size / branch_factor / steps_per_iteration).
    Settings that would do nothing in the chosen mode are refused with a message that says so (transformers'
    GenerationConfig does the same). Fields left at ``None`` take the mode's default.
    """

    length: int = 500                     # tokens to generate after the prompt (at most)
    temperature: float | None = None      # sampling modes: softmax temperature, default 0.8
    top_k: int | None = None              # sampling modes: keep only the k most likely tokens (0: all)
    top_p: float | None = None            # sampling modes: nucleus, the smallest set with probability >= p (1: all)
    repetition_penalty: float = 1.0       # any mode: divide the logits of tokens already present (CTRL); 1 = off
    no_repeat_ngram: int = 0              # any mode: never repeat an n-gram of this size; 0 = off
    greedy: bool = False                  # pick the most likely token at every step (beams == 1)
    beams: int = 1                        # beam width; > 1 turns on beam search
    beam_groups: int = 1                  # diverse beam search: groups of beams/beam_groups beams each
    diversity: float | None = None        # diverse beam: penalty per earlier group choosing the same token (0.5)
    length_penalty: float | None = None   # beam modes: rank by logprob / length**length_penalty (default 1)
    sample_beams: bool = False            # stochastic beam search: extend beams by sampling (Magenta)
    branch_factor: int | None = None      # stochastic beam: samples drawn per beam per iteration (default 2)
    steps_per_iteration: int | None = None  # stochastic beam: tokens per branch between prunings (default 1)
    num_samples: int = 1                  # samples drawn as one batch, or the n-best list's length for beams
    stop: list[str] = field(default_factory=list)  # stop at the first of these strings (not included)
    seed: int | None = None               # fixes every random draw; None draws a seed and reports it
    banned: list[int] = field(default_factory=list)  # token ids never produced (e.g. the unknown token)

    @property
    def mode(self) -> str:
        """greedy, sample, beam, diverse_beam or stochastic_beam."""
        if self.beams == 1:
            return "greedy" if self.greedy else "sample"
        if self.beam_groups > 1:
            return "diverse_beam"
        return "stochastic_beam" if self.sample_beams else "beam"

    def resolved(self) -> dict[str, Any]:
        """Every field with the mode's defaults filled in, plus the mode (what a result records)."""
        out = self.to_dict()
        defaults = {"temperature": 0.8 if self.samples_tokens else None, "top_k": 0 if self.samples_tokens else None,
                    "top_p": 1.0 if self.samples_tokens else None,
                    "length_penalty": 1.0 if self.beams > 1 else None,
                    "diversity": 0.5 if self.mode == "diverse_beam" else None,
                    "branch_factor": 2 if self.mode == "stochastic_beam" else None,
                    "steps_per_iteration": 1 if self.mode == "stochastic_beam" else None}
        for key, value in defaults.items():
            if out[key] is None:
                out[key] = value
        out["mode"] = self.mode
        return out

    @property
    def samples_tokens(self) -> bool:
        """True in the modes that draw tokens at random (sample, stochastic_beam)."""
        return self.mode in ("sample", "stochastic_beam")

    def validate(self) -> None:
        check_range("length", self.length, 1, MAX_GENERATION_LENGTH, integer=True)
        if self.temperature is not None:
            check_range("temperature", self.temperature, 0.0, 100.0, low_open=True)
        if self.top_k is not None:
            check_range("top_k", self.top_k, 0, 1_000_000, integer=True)
        if self.top_p is not None:
            check_range("top_p", self.top_p, 0.0, 1.0, low_open=True)
        check_range("repetition_penalty", self.repetition_penalty, 0.0, 10.0, low_open=True)
        check_range("no_repeat_ngram", self.no_repeat_ngram, 0, 100, integer=True)
        check_bool("greedy", self.greedy)
        check_bool("sample_beams", self.sample_beams)
        check_range("beams", self.beams, 1, 256, integer=True)
        check_range("beam_groups", self.beam_groups, 1, 256, integer=True)
        if self.diversity is not None:
            check_range("diversity", self.diversity, 0.0, 100.0)
        if self.length_penalty is not None:
            check_range("length_penalty", self.length_penalty, -10.0, 10.0)
        if self.branch_factor is not None:
            check_range("branch_factor", self.branch_factor, 1, 64, integer=True)
        if self.steps_per_iteration is not None:
            check_range("steps_per_iteration", self.steps_per_iteration, 1, MAX_GENERATION_LENGTH, integer=True)
        check_range("num_samples", self.num_samples, 1, 4096, integer=True)
        if self.seed is not None:
            check_range("seed", self.seed, 0, 2**63 - 1, integer=True)
        if not isinstance(self.banned, (list, tuple)):
            raise StudioError(f"banned must be a list of token ids, got {self.banned!r}")
        for token in self.banned:
            check_range("banned token id", token, 0, None, integer=True)
        if not isinstance(self.stop, (list, tuple)) or not all(isinstance(s, str) and s for s in self.stop):
            raise StudioError(f"stop must be a list of non-empty strings, got {self.stop!r}")
        self._check_mode()

    def _check_mode(self) -> None:
        """Refuse settings that do nothing in the derived mode, saying what would."""
        mode = self.mode
        if self.greedy and self.beams > 1:
            raise StudioError("greedy and beam search exclude each other: beam search is already deterministic; "
                              "drop --greedy or --beam")
        if not self.samples_tokens:
            for name, flag in (("temperature", "--temperature"), ("top_k", "--top-k"), ("top_p", "--top-p")):
                if getattr(self, name) is not None:
                    raise StudioError(f"{flag} does nothing in {mode.replace('_', ' ')} mode (no token is drawn at "
                                      "random); drop it, or sample (leave out --greedy; with --beam add "
                                      "--sample-beams)")
        if self.beams == 1:
            for name, flag in (("length_penalty", "--length-penalty"), ("diversity", "--diversity"),
                               ("branch_factor", "--branch-factor"),
                               ("steps_per_iteration", "--steps-per-iteration")):
                if getattr(self, name) is not None:
                    raise StudioError(f"{flag} only applies to beam search; add --beam N (N > 1) or drop it")
            if self.beam_groups > 1 or self.sample_beams:
                raise StudioError("--beam-groups and --sample-beams need beam search: add --beam N (N > 1)")
        else:
            if self.beam_groups > 1 and self.sample_beams:
                raise StudioError("diverse beam search (--beam-groups) is deterministic and cannot sample beams; "
                                  "drop --sample-beams or --beam-groups")
            if self.beams % self.beam_groups:
                raise StudioError(f"--beam {self.beams} must be a multiple of --beam-groups {self.beam_groups}")
            if self.diversity is not None and self.beam_groups == 1:
                raise StudioError("--diversity needs several beam groups: add --beam-groups G (G > 1)")
            if mode != "stochastic_beam" and (self.branch_factor is not None
                                              or self.steps_per_iteration is not None):
                raise StudioError("--branch-factor and --steps-per-iteration only apply to stochastic beam search; "
                                  "add --sample-beams")
            if self.num_samples > self.beams:
                raise StudioError(f"beam search returns at most --beam {self.beams} results; "
                                  f"--num-samples {self.num_samples} asks for more")
