"""A recurrent piano-roll model: 88 Bernoulli keys per time step (Boulanger-Lewandowski et al. 2012; Chung et al.
2014).

The input at step t is the binary 88-key vector of step t-1 (zeros before the first step); the output is 88 logits
whose sigmoids are the probabilities that each key sounds at step t. The loss is the summed binary cross-entropy over
the 88 keys, in nats per time step, averaged over the frames that are not padding.

``within_frame`` says how the keys of one frame relate. ``"independent"`` (Chung et al.): given the past, the 88 keys
are independent coins, so a model cannot say "C or E, but with G either way". ``"top_down"``: the keys are predicted
from the highest down, each also reading the keys above it in the same frame (a masked linear map, and with
``frame_hidden`` a masked hidden layer as in MADE, Germain et al. 2015), which is the chain rule, so the loss is still
an exact NLL in the same units. It is the idea of Boulanger-Lewandowski's RNN-NADE, in a form that costs a few small
matrix products per frame in training. Top-down order puts the melody first: a harmoniser reads the tune's note
before it draws the voices under it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from studio.config import CELLS, _Config, check_bool, check_choice, check_range
from studio.errors import StudioError
from studio.models.cells import build_recurrent

KEYS = 88          # piano keys, A0 (MIDI 21) .. C8 (MIDI 108)
LOWEST_MIDI = 21   # MIDI number of key 0

WITHIN_FRAME = ("independent", "top_down")


@dataclass
class PianoRollConfig(_Config):
    """The shape of a ``PianoRollModel``; the model is built from this alone."""

    keys: int = KEYS               # width of a frame (88 piano keys)
    cell: str = "gru"              # one of CELLS: rnn (Elman, tanh), lstm, gru, cplstm or lnlstm
    num_layers: int = 1            # stacked recurrent layers
    hidden_size: int = 200         # width of each recurrent layer's state
    input_size: int = 0            # width of a linear projection of the frame before the RNN; 0 feeds it directly
    dropout_input: float = 0.0     # dropout on the (projected) input frame
    dropout_between: float = 0.0   # dropout between stacked layers
    dropout_output: float = 0.0    # dropout on the top layer's output, before the 88 sigmoids
    forget_bias: float = 1.0       # the LSTMs' forget-gate bias at init; ignored for rnn/gru
    learn_initial: bool = False    # learn the first step's input instead of zeros (Chung et al. use zeros)
    beat_periods: tuple[int, ...] = ()  # also read the predicted frame's index modulo each period, one-hot
    within_frame: str = "independent"  # "top_down": each key also reads the keys above it in its frame
    frame_hidden: int = 0          # top_down only: width of the masked hidden layer over the frame (0: linear only)

    def validate(self) -> None:
        check_range("keys", self.keys, 1, 1024, integer=True)
        check_choice("cell", self.cell, CELLS)
        check_range("num_layers", self.num_layers, 1, 16, integer=True)
        check_range("hidden_size", self.hidden_size, 1, 65_536, integer=True)
        check_range("input_size", self.input_size, 0, 65_536, integer=True)
        for name in ("dropout_input", "dropout_between", "dropout_output"):
            check_range(name, getattr(self, name), 0.0, 0.95)
        check_range("forget_bias", self.forget_bias, -10.0, 10.0)
        check_bool("learn_initial", self.learn_initial)
        if not isinstance(self.beat_periods, (list, tuple)):
            raise StudioError(f"beat_periods must be a list of whole numbers in [2, 64], got {self.beat_periods!r}")
        for period in self.beat_periods:
            check_range("beat period", period, 2, 64, integer=True)
        self.beat_periods = tuple(self.beat_periods)
        check_choice("within_frame", self.within_frame, WITHIN_FRAME)
        check_range("frame_hidden", self.frame_hidden, 0, 65_536, integer=True)
        if self.frame_hidden and self.within_frame != "top_down":
            raise StudioError("frame_hidden needs within_frame 'top_down' (independent keys read nothing in their "
                              "frame)")

    @property
    def position_features(self) -> int:
        """Width of the frame-position input (sum of the beat periods; 0 without them)."""
        return sum(self.beat_periods)


class PianoRollModel(nn.Module):
    """Predicts every frame of a piano roll from the frames before it.

    Parameters
    ----------
    config : PianoRollConfig
    """

    def __init__(self, config: PianoRollConfig) -> None:
        super().__init__()
        self.config = c = config
        self.projection = nn.Linear(c.keys + c.position_features, c.input_size) if c.input_size else None
        rnn_in = c.input_size or c.keys + c.position_features
        self.dropout_input = nn.Dropout(c.dropout_input)
        self.rnn = build_recurrent(c.cell, rnn_in, c.hidden_size, c.num_layers, c.dropout_between, c.forget_bias)
        self.dropout_output = nn.Dropout(c.dropout_output)
        self.decoder = nn.Linear(c.hidden_size, c.keys)
        self.frame = TopDownFrame(c.keys, c.hidden_size, c.frame_hidden) if c.within_frame == "top_down" else None
        # The first step sees "no previous frame": zeros, or a learned frame when learn_initial.
        self.initial_frame = nn.Parameter(torch.zeros(c.keys)) if c.learn_initial else None

    def shifted_inputs(self, rolls: torch.Tensor) -> torch.Tensor:
        """The inputs for ``rolls``: frame t-1 at step t, the initial frame at step 0.

        rolls : Tensor, shape (batch, time, keys) -> Tensor, same shape.
        """
        first = (self.initial_frame.expand(rolls.shape[0], 1, -1) if self.initial_frame is not None
                 else rolls.new_zeros(rolls.shape[0], 1, rolls.shape[2]))
        return torch.cat([first.to(rolls.dtype), rolls[:, :-1]], dim=1)

    def forward(self, rolls: torch.Tensor) -> torch.Tensor:
        """Logits of every key at every step.

        Parameters
        ----------
        rolls : Tensor, shape (batch, time, keys), 0/1 floats
            The target frames; the model reads them shifted by one step (and, top-down, each key reads the keys
            above it in its own frame).

        Returns
        -------
        logits : Tensor, shape (batch, time, keys); ``sigmoid(logits[b, t, k])`` predicts ``rolls[b, t, k]``.
        """
        context, _ = self.read(self.shifted_inputs(rolls))
        return self.frame_logits(context, rolls)

    def read(self, inputs: torch.Tensor, state: Any = None, start: int = 0) -> tuple[torch.Tensor, Any]:
        """Run the network over input frames (each the frame before the one predicted), from ``state``.

        Parameters
        ----------
        inputs : Tensor, shape (batch, time, keys), 0/1 floats
        state : the recurrent state from a previous call, or None for the start of a piece
        start : int
            Index in the piece of the frame the first input predicts (for the beat-position input).

        Returns
        -------
        context : Tensor, shape (batch, time, hidden_size): what ``frame_logits`` turns into each frame's logits
        state : the state after the last input (a tensor, or an (h, c) pair for the LSTM)
        """
        x = inputs
        if self.config.beat_periods:
            x = torch.cat([x, self.positions(start, x.shape[1], x.shape[0]).to(x.dtype)], dim=-1)
        if self.projection is not None:
            x = torch.tanh(self.projection(x))
        out, state = self.rnn(self.dropout_input(x), state)
        return self.dropout_output(out), state

    def frame_logits(self, context: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """The logits of each key given the past (``context``) and, top-down, the keys above it in ``frames``.

        context : Tensor, shape (..., hidden_size); frames : Tensor, shape (..., keys), 0/1 floats.
        Returns Tensor, shape (..., keys). Key k's logit depends on ``frames[..., j]`` only for j > k, so a frame
        can be drawn from the top key down, and the logits of a whole known frame come from one call. Independent
        keys ignore ``frames``.
        """
        logits = self.decoder(context)
        if self.frame is not None:
            logits = logits + self.frame(context, frames.to(logits.dtype))
        return logits

    def draw_frame(self, context: torch.Tensor,
                   choose: Callable[[int, torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """Draw one frame per row from the top key down (a top-down model's way to sample).

        Parameters
        ----------
        context : Tensor, shape (rows, hidden_size)
            ``read``'s output for the frame to draw.
        choose : callable (key, logits (rows,)) -> bool Tensor (rows,)
            Decides key ``key`` from its logit given the keys already decided (the sampling policy: temperature,
            clamps, caps belong to the caller).

        Returns Tensor, shape (rows, keys), 0/1 floats.
        """
        frame = context.new_zeros(context.shape[0], self.config.keys)
        base = self.decoder(context)
        steps = self.frame.steps(context) if self.frame is not None else None
        for key in range(self.config.keys - 1, -1, -1):
            logit = base[:, key] + (steps.logit(frame, key) if steps is not None else 0.0)
            chosen = choose(key, logit)
            frame[:, key] = chosen.to(frame.device, frame.dtype)
            # Most keys of most frames are off: nothing to add (asked of ``choose``'s own result, which is on the
            # CPU when the caller works there, so a model on a GPU is not waited for once per key).
            if steps is not None and bool(chosen.any()):
                steps.decided(key, frame[:, key])
        return frame

    @property
    def reads_frame(self) -> bool:
        """True when a key's probability depends on the keys above it (draw frames key by key, from the top)."""
        return self.frame is not None

    def positions(self, start: int, length: int, batch: int) -> torch.Tensor:
        """One-hot ``index mod period`` of frames ``start .. start+length-1`` for each beat period, concatenated.

        Returns Tensor, shape (batch, length, sum of periods). A piano roll does not record its meter; with periods
        like (12, 16) the network can learn where bar lines fall in common meters from the frame index alone.
        """
        index = torch.arange(start, start + length, device=self.decoder.weight.device)
        parts = [F.one_hot(index % period, period) for period in self.config.beat_periods]
        return torch.cat(parts, dim=-1).float().expand(batch, -1, -1)

    def first_input(self, batch: int) -> torch.Tensor:
        """The input before a piece's first frame (zeros, or the learned initial frame): shape (batch, 1, keys)."""
        if self.initial_frame is not None:
            return self.initial_frame.detach().expand(batch, 1, -1)
        return self.decoder.weight.new_zeros(batch, 1, self.config.keys)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


class TopDownFrame(nn.Module):
    """The part of each key's logit that comes from the keys above it in the same frame.

    A strictly masked ``keys x keys`` linear map, plus, with ``hidden`` > 0, a MADE hidden layer: each hidden unit
    has a degree d and reads only the d+1 highest keys (and the recurrent context); key k (the (88-k)-th in top-down
    order) reads only units of degree below its place. Both output maps start at zero, so a new model starts as the
    independent one and learns what the frame adds.

    Parameters
    ----------
    keys : int
    context_size : int
        Width of the recurrent context (conditions the hidden layer).
    hidden : int
        Hidden units (0: the linear map only).
    """

    def __init__(self, keys: int, context_size: int, hidden: int) -> None:
        super().__init__()
        place = torch.arange(keys - 1, -1, -1)   # place[k]: how many keys come before k, top down (key 87 first)
        self.above = nn.Linear(keys, keys, bias=False)
        nn.init.zeros_(self.above.weight)
        self.register_buffer("above_mask", (place[None, :] < place[:, None]).float(), persistent=False)
        self.hidden_in = self.hidden_context = self.hidden_out = None
        if hidden:
            degree = torch.arange(hidden) % max(keys - 1, 1)  # unit u reads the keys with place <= degree[u]
            self.hidden_in = nn.Linear(keys, hidden, bias=False)
            self.hidden_context = nn.Linear(context_size, hidden)
            self.hidden_out = nn.Linear(hidden, keys, bias=False)
            nn.init.zeros_(self.hidden_out.weight)
            self.register_buffer("in_mask", (place[None, :] <= degree[:, None]).float(), persistent=False)
            self.register_buffer("out_mask", (degree[None, :] < place[:, None]).float(), persistent=False)

    def steps(self, context: torch.Tensor) -> _TopDownSteps:
        """Key-by-key evaluation for drawing a frame; context (rows, context_size)."""
        return _TopDownSteps(self, context)

    def forward(self, context: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """context (..., context_size), frames (..., keys) -> (..., keys) added to the independent logits."""
        out = F.linear(frames, self.above.weight * self.above_mask)
        if self.hidden_in is not None:
            hidden = torch.relu(F.linear(frames, self.hidden_in.weight * self.in_mask) + self.hidden_context(context))
            out = out + F.linear(hidden, self.hidden_out.weight * self.out_mask)
        return out


class _TopDownSteps:
    """``TopDownFrame`` one key at a time: the hidden layer's input sums are kept and grown as keys are decided, so
    each key costs O(rows x hidden) instead of a whole frame's evaluation."""

    def __init__(self, frame: TopDownFrame, context: torch.Tensor) -> None:
        self.above = frame.above.weight * frame.above_mask
        self.pre = self.hidden_in = self.hidden_out = None
        if frame.hidden_in is not None:
            self.pre = frame.hidden_context(context)                   # (rows, hidden)
            self.hidden_in = frame.hidden_in.weight * frame.in_mask    # (hidden, keys)
            self.hidden_out = frame.hidden_out.weight * frame.out_mask  # (keys, hidden)

    def logit(self, frame: torch.Tensor, key: int) -> torch.Tensor:
        """The frame's part of ``key``'s logit, given the keys above it in ``frame`` (rows, keys) -> (rows,)."""
        out = frame @ self.above[key]
        if self.pre is not None:
            out = out + torch.relu(self.pre) @ self.hidden_out[key]  # units that read ``key`` have no weight here
        return out

    def decided(self, key: int, on: torch.Tensor) -> None:
        """Record that ``key`` is on (1) or off (0) in each row: on (rows,)."""
        if self.pre is not None:
            self.pre = self.pre + on[:, None] * self.hidden_in[:, key]


def frame_nll(logits: torch.Tensor, rolls: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, int]:
    """Summed binary cross-entropy of every key over the real (unpadded) frames, and the number of those frames.

    Parameters
    ----------
    logits, rolls : Tensor, shape (batch, time, keys)
    mask : BoolTensor, shape (batch, time), optional
        True on real frames; padding frames contribute nothing. All frames count when omitted.

    Returns
    -------
    total : scalar Tensor, nats summed over keys and real frames
    frames : int
    """
    per_frame = F.binary_cross_entropy_with_logits(logits.float(), rolls.float(), reduction="none").sum(-1)
    if mask is None:
        return per_frame.sum(), per_frame.numel()
    return (per_frame * mask).sum(), int(mask.sum())
