"""One-token steps of an ``RNNLanguageModel`` for generation on the CPU, without ``nn.LSTM``'s per-call overhead.

During generation every call advances one token, and on a CPU ``nn.LSTM/GRU/RNN`` spend much of such a call on
setup around two small matrix products per layer. ``SingleStepper`` precomputes each layer's input and recurrent
weights as one concatenated matrix (one ``addmm`` per layer for LSTM and tanh RNN; GRU needs its two products
apart for the reset gate) and runs the gate arithmetic directly. With ``dtype=torch.bfloat16`` the products run on
oneDNN's bf16 kernels (AMX where the CPU has it), which pays off for batches of many samples.

The arithmetic is PyTorch's own gate equations (and, for ``cplstm`` and ``lnlstm``, those of
``studio.models.cells``), so in float32 the logits match the module's to ~1e-6.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from studio.models.cells import LN_EPS, LSTM_LIKE
from studio.models.language_model import RNNLanguageModel, State


class SingleStepper:
    """Advance a trained model by one token per row.

    Parameters
    ----------
    model : RNNLanguageModel
        In eval mode (dropout is not applied).
    dtype : torch.dtype
        float32 (exact) or bfloat16 (faster for large batches).
    """

    def __init__(self, model: RNNLanguageModel, dtype: torch.dtype = torch.float32) -> None:
        c = model.config
        self.cell, self.layers, self.hidden, self.dtype = c.cell, c.num_layers, c.hidden_size, dtype
        self.model = model  # its pitch heads, when it has them, score each step's top output
        with torch.no_grad():
            self.embedding = model.embedding.weight.detach().to(dtype)
            # Conditioned models: the projected chord vectors and position embeddings, precomputed per id.
            self.chord_vectors = (model.chord_projection(model.chord_table).detach().to(dtype)
                                  if c.chord_vocab_size else None)
            self.next_chord_vectors = (model.next_chord_projection(model.chord_table).detach().to(dtype)
                                       if model.next_chord_projection is not None else None)
            self.position_vectors = (model.position_table.weight.detach().to(dtype)
                                     if model.position_table is not None else None)
            self.condition_vectors = {name: table.weight.detach().to(dtype)
                                      for name, table in model.condition_tables.items()}
            self.weights, self.biases, self.weights_hh, self.biases_hh = [], [], [], []
            self.extras: list[torch.Tensor] = []  # cplstm: peepholes (3, H); lnlstm: gains, shift (4H+4H+2H)
            for layer in range(c.num_layers):
                w_ih = getattr(model.rnn, f"weight_ih_l{layer}").detach()
                w_hh = getattr(model.rnn, f"weight_hh_l{layer}").detach()
                if self.cell in ("cplstm", "lnlstm"):
                    self._own_cell_layer(model.rnn, layer, w_ih, w_hh)
                    continue
                b_ih = getattr(model.rnn, f"bias_ih_l{layer}").detach()
                b_hh = getattr(model.rnn, f"bias_hh_l{layer}").detach()
                if self.cell == "gru":
                    # r and z gates may sum both products; the candidate needs W_hn h apart (it is gated by r).
                    self.weights.append(w_ih.t().contiguous().to(dtype))
                    self.biases.append(b_ih.to(dtype))
                    self.weights_hh.append(w_hh.t().contiguous().to(dtype))
                    self.biases_hh.append(b_hh.to(dtype))
                else:
                    self.weights.append(torch.cat([w_ih, w_hh], dim=1).t().contiguous().to(dtype))
                    self.biases.append((b_ih + b_hh).to(dtype))
            self.projection = (model.projection.weight.detach().t().contiguous().to(dtype)
                               if model.projection is not None else None)
            self.decoder = model.decoder.weight.detach().t().contiguous().to(dtype)
            self.decoder_bias = model.decoder.bias.detach().to(dtype)

    def _own_cell_layer(self, rnn: torch.nn.Module, layer: int, w_ih: torch.Tensor, w_hh: torch.Tensor) -> None:
        """One layer of a ``studio.models.cells`` stack: CP-LSTM reads [x, h] through one matrix; LN-LSTM normalises
        the two products apart, so it keeps them apart."""
        dtype = self.dtype
        bias = getattr(rnn, f"bias_l{layer}").detach().to(dtype)
        if self.cell == "cplstm":
            self.weights.append(torch.cat([w_ih, w_hh], dim=1).t().contiguous().to(dtype))
            self.extras.append(getattr(rnn, f"peephole_l{layer}").detach().view(3, -1).to(dtype))
        else:
            self.weights.append(w_ih.t().contiguous().to(dtype))
            self.weights_hh.append(w_hh.t().contiguous().to(dtype))
            self.extras.append(torch.cat([getattr(rnn, f"norm_ih_l{layer}").detach(),
                                          getattr(rnn, f"norm_hh_l{layer}").detach(),
                                          getattr(rnn, f"norm_c_l{layer}").detach()]).to(dtype))
        self.biases.append(bias)

    def _own_cell_step(self, layer: int, x: torch.Tensor, h: torch.Tensor,
                       c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step of a CP-LSTM or LN-LSTM layer: x (rows, in), h and c (rows, H) -> new h and c."""
        hidden = self.hidden
        if self.cell == "cplstm":
            peep = self.extras[layer]
            i, f, o, g = torch.addmm(self.biases[layer], torch.cat([x, h], dim=1), self.weights[layer]).split(
                hidden, dim=1)
            c = torch.sigmoid(f + peep[1] * c) * c + torch.sigmoid(i + peep[0] * c) * torch.tanh(g)
            return torch.sigmoid(o + peep[2] * c) * torch.tanh(c), c
        gain_ih, gain_hh, gain_c, shift_c = self.extras[layer].split([4 * hidden, 4 * hidden, hidden, hidden])
        pre = (F.layer_norm(x @ self.weights[layer], (4 * hidden,), gain_ih, self.biases[layer], LN_EPS)
               + F.layer_norm(h @ self.weights_hh[layer], (4 * hidden,), gain_hh, None, LN_EPS))
        i, f, o, g = pre.split(hidden, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(F.layer_norm(c, (hidden,), gain_c, shift_c, LN_EPS)), c

    def convert_state(self, state: State) -> State:
        """The model's state in this stepper's dtype."""
        return tuple(s.to(self.dtype) for s in state)

    def __call__(self, tokens: torch.Tensor, state: State, chords: torch.Tensor | None = None,
                 positions: torch.Tensor | None = None, **conditions: torch.Tensor) -> tuple[torch.Tensor, State]:
        """One step.

        Parameters
        ----------
        tokens : LongTensor, shape (batch, 1)
        state : tuple of Tensor, each (num_layers, batch, hidden_size), in this stepper's dtype
        chords, positions : LongTensor, shape (batch, 1), optional
            For conditioned models: the chord id and bar position of the step being predicted.
        **conditions : LongTensor, shape (batch, 1)
            The model's other streams (``next_chords``, each of ``config.conditions``), likewise.

        Returns
        -------
        logits : float32 Tensor, shape (batch, vocab_size)
        state : tuple of Tensor, each (num_layers, batch, hidden_size)
        """
        x = self.embedding[tokens[:, 0]]
        if self.chord_vectors is not None or self.position_vectors is not None or self.condition_vectors:
            parts = [x]  # the order of RNNLanguageModel.embed
            if self.chord_vectors is not None:
                parts.append(self.chord_vectors[chords[:, 0]])
            if self.next_chord_vectors is not None:
                parts.append(self.next_chord_vectors[conditions["next_chords"][:, 0]])
            if self.position_vectors is not None:
                parts.append(self.position_vectors[positions[:, 0]])
            parts += [vectors[conditions[name][:, 0]] for name, vectors in self.condition_vectors.items()]
            x = torch.cat(parts, dim=1)
        h_all = state[0]
        new_h, new_c = [], []
        for layer in range(self.layers):
            h = h_all[layer]
            if self.cell in ("cplstm", "lnlstm"):
                h, c = self._own_cell_step(layer, x, h, state[1][layer])
                new_c.append(c)
            elif self.cell == "lstm":
                gates = torch.addmm(self.biases[layer], torch.cat([x, h], dim=1), self.weights[layer])
                i, f, g, o = gates.chunk(4, dim=1)
                c = torch.sigmoid(f) * state[1][layer] + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
                new_c.append(c)
            elif self.cell == "gru":
                gi = torch.addmm(self.biases[layer], x, self.weights[layer])
                gh = torch.addmm(self.biases_hh[layer], h, self.weights_hh[layer])
                i_r, i_z, i_n = gi.chunk(3, dim=1)
                h_r, h_z, h_n = gh.chunk(3, dim=1)
                r = torch.sigmoid(i_r + h_r)
                z = torch.sigmoid(i_z + h_z)
                n = torch.tanh(i_n + r * h_n)
                h = (1 - z) * n + z * h
            else:
                h = torch.tanh(torch.addmm(self.biases[layer], torch.cat([x, h], dim=1), self.weights[layer]))
            new_h.append(h)
            x = h
        top = x
        if self.projection is not None:
            x = x @ self.projection
        logits = torch.addmm(self.decoder_bias, x, self.decoder).float()
        if self.model.config.pitch_heads:
            last = conditions.get("last_pitches")
            logits = logits + self.model.pitch_scores(top.float(), None if chords is None else chords[:, 0],
                                                      None if last is None else last[:, 0])
        out = (torch.stack(new_h), torch.stack(new_c)) if self.cell in LSTM_LIKE else (torch.stack(new_h),)
        return logits, out


BF16_MIN_ROWS = 32  # from this many rows on, bf16 steps are faster on CPUs with AMX/AVX512-BF16 (BENCHMARKS.md)


def bf16_matmul_supported() -> bool:
    """True where oneDNN has native bf16 kernels (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - builds without oneDNN
        return False


class StepperCache:
    """The steppers of one model, built on first use: float32 for a few rows, bfloat16 from ``BF16_MIN_ROWS`` rows
    on where the CPU has native bf16 kernels. Both the text Generator and the blues Composer step through this."""

    def __init__(self, model: RNNLanguageModel) -> None:
        self.model = model
        self._by_dtype: dict[torch.dtype, SingleStepper] = {}

    def for_rows(self, rows: int) -> SingleStepper:
        dtype = torch.bfloat16 if rows >= BF16_MIN_ROWS and bf16_matmul_supported() else torch.float32
        if dtype not in self._by_dtype:
            self._by_dtype[dtype] = SingleStepper(self.model, dtype)
        return self._by_dtype[dtype]
