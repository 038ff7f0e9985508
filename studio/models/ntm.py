"""The Neural Turing Machine (Graves, Wayne & Danihelka 2014): an LSTM controller with one read and one write head
on an external memory of ``memory_rows`` x ``memory_width`` numbers.

At every step the controller (an ``nn.LSTMCell``) reads the input joined to the previous read vector. From its
output each head emits its addressing parameters, and a weighting over the memory's rows is found in four stages
(the paper's section 3.3):

1. content: ``w_c(i) = softmax_i(beta * cos(k, M(i)))``, a key ``k`` and a key strength ``beta > 0``;
2. interpolation with the head's previous weighting: ``w_g = g * w_c + (1 - g) * w_(t-1)``, a gate ``g`` in (0, 1);
3. circular convolution with a shift distribution ``s`` over ``-shift_range .. +shift_range`` rows;
4. sharpening: ``w(i) = w~(i)^gamma / sum_j w~(j)^gamma``, ``gamma >= 1``.

The write head erases and adds: ``M(i) <- M(i) * (1 - w(i) e) + w(i) a``, an erase vector ``e`` in (0, 1) and an
add vector ``a``; then the read head reads ``r = sum_i w(i) M(i)`` from the written memory. The output at each step
is a linear map of the controller's output joined to the read vector (logits; the tasks' targets are bits).

The memory starts as a small constant (Collier & Beel 2018 found this the initialisation that learns fastest and
most reliably), the heads' first weightings on row 0, the first read vector and the controller's first state are
learned. ``forward`` can also return every step's read and write weightings, the paper's picture of how the machine
uses its memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from studio.config import _Config, check_range

MEMORY_INIT = 1e-6  # the constant every memory cell starts at (Collier & Beel 2018)
EPS = 1e-8          # keeps the cosine's denominator and the sharpening's base away from 0


@dataclass
class NTMConfig(_Config):
    """The shape of an ``NTM``; the machine is built from this alone. The defaults are the paper's copy task."""

    input_size: int = 9            # bits read at each step (copy: 8 data bits and the delimiter channel)
    output_size: int = 8           # bits predicted at each step (logits)
    controller_size: int = 100     # units of the LSTM controller
    memory_rows: int = 128         # N, the number of memory locations
    memory_width: int = 20         # M, the width of each location
    shift_range: int = 1           # the write and read heads shift by -shift_range .. +shift_range rows
    clip_controller: float = 20.0  # the controller's output is clipped to +-this (Collier & Beel 2018); 0: off

    def validate(self) -> None:
        check_range("input_size", self.input_size, 1, 65_536, integer=True)
        check_range("output_size", self.output_size, 1, 65_536, integer=True)
        check_range("controller_size", self.controller_size, 1, 65_536, integer=True)
        check_range("memory_rows", self.memory_rows, 2, 65_536, integer=True)
        check_range("memory_width", self.memory_width, 1, 65_536, integer=True)
        check_range("shift_range", self.shift_range, 0, (self.memory_rows - 1) // 2, integer=True)
        check_range("clip_controller", self.clip_controller, 0.0, 1e6)

    @property
    def shifts(self) -> int:
        return 2 * self.shift_range + 1


def address(memory: torch.Tensor, previous: torch.Tensor, key: torch.Tensor, beta: torch.Tensor, gate: torch.Tensor,
            shift: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """One head's weighting over the memory's rows (content, interpolation, shift, sharpening).

    Parameters
    ----------
    memory : Tensor (batch, rows, width)
    previous : Tensor (batch, rows), the head's weighting at the previous step
    key : Tensor (batch, width); beta : Tensor (batch, 1), > 0; gate : Tensor (batch, 1), in (0, 1)
    shift : Tensor (batch, 2 * shift_range + 1), a distribution over shifts -shift_range .. +shift_range
    gamma : Tensor (batch, 1), >= 1

    Returns
    -------
    Tensor (batch, rows): non-negative, each row of the batch summing to 1.
    """
    similarity = F.cosine_similarity(memory, key.unsqueeze(1), dim=-1, eps=EPS)   # (batch, rows)
    content = torch.softmax(beta * similarity, dim=-1)
    gated = gate * content + (1 - gate) * previous
    reach = (shift.shape[-1] - 1) // 2
    # Circular convolution: w~(i) = sum_k s(k) w_g(i - k). Rolling by k moves the weight k rows on; there are only a
    # few shifts, so a few rolls beat a full convolution over the rows.
    shifted = sum(shift[:, k + reach, None] * torch.roll(gated, k, dims=-1) for k in range(-reach, reach + 1))
    sharp = (shifted + EPS) ** gamma
    return sharp / sharp.sum(dim=-1, keepdim=True)


class _Head(nn.Module):
    """Turns the controller's output into one head's addressing parameters (and, for writing, erase and add)."""

    def __init__(self, config: NTMConfig, writes: bool) -> None:
        super().__init__()
        self.width, self.shifts, self.writes = config.memory_width, config.shifts, writes
        sizes = [config.memory_width, 1, 1, config.shifts, 1] + ([config.memory_width] * 2 if writes else [])
        self.sizes = sizes
        self.linear = nn.Linear(config.controller_size, sum(sizes))

    def forward(self, h: torch.Tensor) -> dict[str, torch.Tensor]:
        """The head's parameters from the controller output ``h`` (batch, controller_size)."""
        parts = torch.split(self.linear(h), self.sizes, dim=-1)
        out = {"key": parts[0], "beta": F.softplus(parts[1]), "gate": torch.sigmoid(parts[2]),
               "shift": torch.softmax(parts[3], dim=-1), "gamma": 1 + F.softplus(parts[4])}
        if self.writes:
            out["erase"], out["add"] = torch.sigmoid(parts[5]), parts[6]
        return out


class NTM(nn.Module):
    """A Neural Turing Machine (see the module docstring). ``forward`` maps a whole input sequence to logits."""

    def __init__(self, config: NTMConfig) -> None:
        super().__init__()
        c = self.config = config
        self.controller = nn.LSTMCell(c.input_size + c.memory_width, c.controller_size)
        self.read_head = _Head(c, writes=False)
        self.write_head = _Head(c, writes=True)
        self.output = nn.Linear(c.controller_size + c.memory_width, c.output_size)
        # Learned starts: the controller's state and the first read vector (Collier & Beel 2018).
        self.h0 = nn.Parameter(torch.zeros(c.controller_size))
        self.c0 = nn.Parameter(torch.zeros(c.controller_size))
        self.r0 = nn.Parameter(torch.randn(c.memory_width) * 0.01)
        with torch.no_grad():  # forget-gate bias 1, as every LSTM in Studio (Jozefowicz et al. 2015)
            self.controller.bias_hh[c.controller_size:2 * c.controller_size].fill_(1.0)  # forget gate

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def initial_state(self, batch: int) -> dict[str, torch.Tensor]:
        """The machine before its first step: memory (batch, rows, width), weightings (batch, rows) on row 0, the
        first read vector (batch, width) and the controller's (h, c), each (batch, controller_size)."""
        c = self.config
        device = self.h0.device
        first = torch.zeros(batch, c.memory_rows, device=device)
        first[:, 0] = 1.0
        return {"memory": torch.full((batch, c.memory_rows, c.memory_width), MEMORY_INIT, device=device),
                "read_w": first, "write_w": first.clone(), "read": self.r0.expand(batch, -1),
                "h": self.h0.expand(batch, -1), "c": self.c0.expand(batch, -1)}

    def step(self, x: torch.Tensor, state: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One step: ``x`` (batch, input_size) -> logits (batch, output_size) and the next state."""
        h, cell = self.controller(torch.cat([x, state["read"]], dim=-1), (state["h"], state["c"]))
        out = h.clamp(-self.config.clip_controller, self.config.clip_controller) if self.config.clip_controller \
            else h
        memory = state["memory"]
        w = self.write_head(out)
        write_w = address(memory, state["write_w"], w["key"], w["beta"], w["gate"], w["shift"], w["gamma"])
        memory = memory * (1 - write_w.unsqueeze(-1) * w["erase"].unsqueeze(1)) \
            + write_w.unsqueeze(-1) * w["add"].unsqueeze(1)
        r = self.read_head(out)
        read_w = address(memory, state["read_w"], r["key"], r["beta"], r["gate"], r["shift"], r["gamma"])
        read = torch.bmm(read_w.unsqueeze(1), memory).squeeze(1)
        logits = self.output(torch.cat([out, read], dim=-1))
        return logits, {"memory": memory, "read_w": read_w, "write_w": write_w, "read": read, "h": h, "c": cell}

    def forward(self, inputs: torch.Tensor, return_weightings: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Run the machine over ``inputs`` (batch, time, input_size) from its initial state.

        Returns logits (batch, time, output_size); with ``return_weightings`` also ``{"read": (batch, time, rows),
        "write": (batch, time, rows)}``, each step's weightings.
        """
        state = self.initial_state(inputs.shape[0])
        logits, reads, writes = [], [], []
        for t in range(inputs.shape[1]):
            y, state = self.step(inputs[:, t], state)
            logits.append(y)
            if return_weightings:
                reads.append(state["read_w"].detach())
                writes.append(state["write_w"].detach())
        out = torch.stack(logits, dim=1)
        if return_weightings:
            return out, {"read": torch.stack(reads, dim=1), "write": torch.stack(writes, dim=1)}
        return out


__all__ = ["NTM", "NTMConfig", "address"]
