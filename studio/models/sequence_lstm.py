"""A plain LSTM from vectors to logits, the baseline the Neural Turing Machine is measured against on its tasks.

The paper (Graves et al. 2014) sets an LSTM beside the NTM on every algorithmic task; Studio sizes it to a
similar number of parameters, so the comparison is of the memory, not of the size. Shapes: ``inputs`` (batch,
time, input_size) -> logits (batch, time, output_size).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from studio.config import _Config, check_range


@dataclass
class SequenceLSTMConfig(_Config):
    """The shape of a ``SequenceLSTM``; the model is built from this alone."""

    input_size: int = 9            # bits read at each step
    output_size: int = 8           # bits predicted at each step (logits)
    hidden_size: int = 120         # units of each layer (120 x 1 layer: about the copy-task NTM's 63k parameters)
    num_layers: int = 1            # stacked layers

    def validate(self) -> None:
        check_range("input_size", self.input_size, 1, 65_536, integer=True)
        check_range("output_size", self.output_size, 1, 65_536, integer=True)
        check_range("hidden_size", self.hidden_size, 1, 65_536, integer=True)
        check_range("num_layers", self.num_layers, 1, 16, integer=True)


class SequenceLSTM(nn.Module):
    """Stacked LSTM and a linear read-out, from a zero state."""

    def __init__(self, config: SequenceLSTMConfig) -> None:
        super().__init__()
        self.config = config
        self.lstm = nn.LSTM(config.input_size, config.hidden_size, config.num_layers, batch_first=True)
        self.output = nn.Linear(config.hidden_size, config.output_size)
        with torch.no_grad():  # forget-gate bias 1, as every LSTM in Studio (Jozefowicz et al. 2015)
            for name, bias in self.lstm.named_parameters():
                if name.startswith("bias_hh"):
                    bias[config.hidden_size:2 * config.hidden_size].fill_(1.0)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """``inputs`` (batch, time, input_size) -> logits (batch, time, output_size)."""
        hidden, _ = self.lstm(inputs)
        return self.output(hidden)


__all__ = ["SequenceLSTM", "SequenceLSTMConfig"]
