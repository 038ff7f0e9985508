"""LSTM variants beyond ``nn.LSTM``: the peephole CP-LSTM and the layer-normalised LN-LSTM, as fast multi-layer stacks.

CP-LSTM (Gers, Schmidhuber & Cummins 2000; peepholes of Gers, Schraudolph & Schmidhuber 2002): the forget-gate LSTM
whose gates also read the cell through diagonal "peephole" weights; the input and forget gates see the old cell
c_{t-1}, the output gate the new cell c_t::

    i = σ(W_i x + U_i h' + p_i ⊙ c' + b_i)      f = σ(W_f x + U_f h' + p_f ⊙ c' + b_f)
    g = tanh(W_g x + U_g h' + b_g)              c = f ⊙ c' + i ⊙ g
    o = σ(W_o x + U_o h' + p_o ⊙ c + b_o)       h = o ⊙ tanh(c)

LN-LSTM (Ba, Kiros & Hinton 2016, eq. 20-22): the input and recurrent pre-activations of all four gates are
layer-normalised separately (each over its 4H units, with its own gain), and so is the cell before the output tanh::

    [i f o g] = LN(W x; α_x) + LN(U h'; α_h) + b      c = σ(f) ⊙ c' + σ(i) ⊙ tanh(g)
    h = σ(o) ⊙ tanh(LN(c; α_c, β_c))

The paper gives both gate normalisations a shift as well; they add to ``b``, so here ``b`` is the one shift (the same
family of functions, without two redundant vectors).

Speed. A stack of per-step autograd ops would record ~15 nodes per step and run their backward one by one. Here each
layer is one ``autograd.Function`` with a hand-written backward through time, laid out the way cuDNN does it: the
input products of every step are one matrix product before the loop (and the input layer norm of LN-LSTM runs over
the whole sequence), the loop does one (B, H) x (H, 4H) product and a few element-wise ops per step, and in the
backward every factor that does not depend on the recurrence is computed for all steps at once, so a step costs one
(B, 4H) x (4H, H) product and about six element-wise ops (CP-LSTM). The gradients of the recurrent matrix, the
peepholes and the gains are each one product or reduction over all steps after the loop. ``benchmarks/cell_speed.py``
measures a training step against ``nn.LSTM``'s fused oneDNN kernel; ``tests/test_cells.py`` checks the backward with
``torch.autograd.gradcheck`` in float64 and against plain autograd on a reference cell.

Gate order inside both cells is (i, f, o, g), so the three sigmoids are one contiguous slice.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

LN_EPS = 1e-5  # layer-norm epsilon (PyTorch's default)


def _gates(block: torch.Tensor, hidden: int) -> tuple[torch.Tensor, ...]:
    """(..., 4H) in the order (i, f, o, g) -> four (..., H) views."""
    return block.split(hidden, dim=-1)


def _input_forget_cell_factors(i: torch.Tensor, f: torch.Tensor, g: torch.Tensor, c_prev: torch.Tensor) -> torch.Tensor:
    """d(i, f, o, g pre-activation) / dc for the three gates that feed the cell, all steps at once (the o slot is 0:
    the output gate does not feed c): i, f, g, c_prev (T, B, H) -> (T, B, 4, H)."""
    k = i.new_empty(*i.shape[:2], 4, i.shape[2])
    torch.mul(g, i * (1 - i), out=k[:, :, 0])
    torch.mul(c_prev, f * (1 - f), out=k[:, :, 1])
    k[:, :, 2] = 0
    torch.mul(i, 1 - g * g, out=k[:, :, 3])
    return k


class _CPLSTMLayer(torch.autograd.Function):
    """One CP-LSTM layer over a whole sequence (time-major); the input products come in precomputed."""

    @staticmethod
    def forward(ctx, xw: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor, w_hh: torch.Tensor,
                peep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """xw (T, B, 4H): W x + b for every step; h0, c0 (B, H); w_hh (4H, H); peep (3, H): p_i, p_f, p_o.

        Returns out (T, B, H), the last h (B, H) and the last c (B, H)."""
        steps, batch, four = xw.shape
        hidden = four // 4
        gates = torch.empty_like(xw)                       # the activated gates i, f, o, g of every step
        cells = xw.new_empty(steps + 1, batch, hidden)     # c_0 .. c_T
        tanh_c = xw.new_empty(steps, batch, hidden)
        out = xw.new_empty(steps, batch, hidden)
        cells[0] = c0
        # Per-step views made once (unbind is one call; indexing in the loop costs a Python call per view).
        xs, gs, cs, ts, hs = xw.unbind(0), gates.unbind(0), cells.unbind(0), tanh_c.unbind(0), out.unbind(0)
        w_t = w_hh.t()
        p_if, p_o = peep[:2].unsqueeze(0), peep[2]         # (1, 2, H) broadcast over the batch; (H,)
        h = h0
        for t in range(steps):
            g_t = torch.addmm(xs[t], h, w_t, out=gs[t])
            c_prev = cs[t]
            g_t[:, :2 * hidden].view(batch, 2, hidden).addcmul_(c_prev.unsqueeze(1), p_if)
            g_t[:, :2 * hidden].sigmoid_()
            g_t[:, 3 * hidden:].tanh_()
            i, f, o, g = g_t.split(hidden, dim=1)
            c = torch.mul(f, c_prev, out=cs[t + 1]).addcmul_(i, g)
            o.addcmul_(c, p_o).sigmoid_()                  # the output gate peeps at the new cell
            h = torch.mul(o, torch.tanh(c, out=ts[t]), out=hs[t])
        ctx.save_for_backward(gates, cells, tanh_c, out, h0, w_hh, peep)
        return out, out[-1].clone(), cells[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_hn, d_cn):
        gates, cells, tanh_c, out, h0, w_hh, peep = ctx.saved_tensors
        steps, batch, hidden = out.shape
        i, f, o, g = _gates(gates, hidden)
        c_prev, c_new = cells[:-1], cells[1:]
        # Every factor that does not depend on the recurrence, for all steps at once:
        #   d(o pre) = dh * a_o;  dc += dh * b_c;  d(i, f, g pre) = dc * k;  dc' = dc * f'.
        a_o = tanh_c * o * (1 - o)
        b_c = o * (1 - tanh_c * tanh_c) + a_o * peep[2]
        k = _input_forget_cell_factors(i, f, g, c_prev)
        f_back = f + k[:, :, 0] * peep[0] + k[:, :, 1] * peep[1]
        d_pre = torch.empty_like(gates)                    # gradient of every gate pre-activation
        d_pre4 = d_pre.view(steps, batch, 4, hidden)
        d_out = d_out.contiguous()
        d_outs, d_pres, d_os, b_cs, ks, a_os, f_backs = (d_out.unbind(0), d_pre.unbind(0), d_pre4[:, :, 2].unbind(0),
                                                         b_c.unbind(0), k.unbind(0), a_o.unbind(0), f_back.unbind(0))
        dh, dc = d_hn, d_cn
        for t in range(steps - 1, -1, -1):
            dh = d_outs[t] + dh
            dc = torch.addcmul(dc, dh, b_cs[t])
            torch.mul(dc.unsqueeze(1), ks[t], out=d_pres[t].view(batch, 4, hidden))
            torch.mul(dh, a_os[t], out=d_os[t])
            dc = dc * f_backs[t]
            dh = d_pres[t] @ w_hh
        h_prev = torch.cat([h0.unsqueeze(0), out[:-1]])
        d_w_hh = d_pre.reshape(-1, 4 * hidden).t() @ h_prev.reshape(-1, hidden)
        d_peep = torch.stack([(d_pre4[:, :, 0] * c_prev).sum((0, 1)), (d_pre4[:, :, 1] * c_prev).sum((0, 1)),
                              (d_pre4[:, :, 2] * c_new).sum((0, 1))])
        return d_pre, dh, dc, d_w_hh, d_peep


class _LNLSTMLayer(torch.autograd.Function):
    """One LN-LSTM layer over a whole sequence (time-major); the normalised input part comes in precomputed."""

    @staticmethod
    def forward(ctx, xn: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor, w_hh: torch.Tensor,
                gain_hh: torch.Tensor, gain_c: torch.Tensor, shift_c: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """xn (T, B, 4H): LN(W x; α_x) + b for every step; h0, c0 (B, H); w_hh (4H, H); gain_hh (4H);
        gain_c, shift_c (H).

        Returns out (T, B, H), the last h (B, H) and the last c (B, H)."""
        steps, batch, four = xn.shape
        hidden = four // 4
        rec = torch.empty_like(xn)                         # U h' of every step, before its layer norm
        gates = torch.empty_like(xn)
        cells = xn.new_empty(steps + 1, batch, hidden)
        tanh_c = xn.new_empty(steps, batch, hidden)
        out = xn.new_empty(steps, batch, hidden)
        cells[0] = c0
        xs, rs, gs, cs, ts, hs = (xn.unbind(0), rec.unbind(0), gates.unbind(0), cells.unbind(0), tanh_c.unbind(0),
                                  out.unbind(0))
        rec_stats, cell_stats = [], []                     # (mean, 1/std) of each step's two normalisations
        w_t = w_hh.t()
        h = h0
        for t in range(steps):
            normed, *stats = torch.native_layer_norm(torch.mm(h, w_t, out=rs[t]), (four,), None, None, LN_EPS)
            rec_stats.append(stats)
            g_t = torch.addcmul(xs[t], normed, gain_hh, out=gs[t])
            g_t[:, :3 * hidden].sigmoid_()
            g_t[:, 3 * hidden:].tanh_()
            i, f, o, g = g_t.split(hidden, dim=1)
            c = torch.mul(f, cs[t], out=cs[t + 1]).addcmul_(i, g)
            c_norm, *stats = torch.native_layer_norm(c, (hidden,), gain_c, shift_c, LN_EPS)
            cell_stats.append(stats)
            h = torch.mul(o, torch.tanh(c_norm, out=ts[t]), out=hs[t])
        rec_stats = torch.stack([torch.stack(column) for column in zip(*rec_stats, strict=True)])  # (2, T, B, 1)
        cell_stats = torch.stack([torch.stack(column) for column in zip(*cell_stats, strict=True)])
        ctx.save_for_backward(rec, rec_stats, gates, cells, cell_stats, tanh_c, out, h0, w_hh, gain_hh, gain_c,
                              shift_c)
        return out, out[-1].clone(), cells[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_hn, d_cn):
        rec, rec_stats, gates, cells, cell_stats, tanh_c, out, h0, w_hh, gain_hh, gain_c, shift_c = ctx.saved_tensors
        steps, batch, hidden = out.shape
        four = 4 * hidden
        i, f, o, g = _gates(gates, hidden)
        # Factors free of the recurrence, for all steps at once: d(o pre) = dh * a_o; d(LN c) = dh * a_c;
        # d(i, f, g pre) = dc * k.
        a_o = tanh_c * o * (1 - o)
        a_c = o * (1 - tanh_c * tanh_c)
        k = _input_forget_cell_factors(i, f, g, cells[:-1])
        d_pre = torch.empty_like(gates)
        d_pre4 = d_pre.view(steps, batch, 4, hidden)
        d_rec = torch.empty_like(rec)                      # gradient of U h' before its layer norm
        d_hs = torch.empty_like(out)                       # dh of every step (for the cell norm's gain and shift)
        d_out = d_out.contiguous()
        d_outs, d_pres, d_os, d_recs, d_hss = (d_out.unbind(0), d_pre.unbind(0), d_pre4[:, :, 2].unbind(0),
                                               d_rec.unbind(0), d_hs.unbind(0))
        a_os, a_cs, ks, fs, recs, cs = a_o.unbind(0), a_c.unbind(0), k.unbind(0), f.unbind(0), rec.unbind(0), \
            cells.unbind(0)
        r_means, r_rstds, c_means, c_rstds = rec_stats[0].unbind(0), rec_stats[1].unbind(0), \
            cell_stats[0].unbind(0), cell_stats[1].unbind(0)
        layer_norm_backward = torch.ops.aten.native_layer_norm_backward
        input_only = [True, False, False]
        dh, dc = d_hn, d_cn
        for t in range(steps - 1, -1, -1):
            dh = torch.add(d_outs[t], dh, out=d_hss[t])
            dc = dc + layer_norm_backward(dh * a_cs[t], cs[t + 1], (hidden,), c_means[t], c_rstds[t], gain_c,
                                          shift_c, input_only)[0]
            torch.mul(dc.unsqueeze(1), ks[t], out=d_pres[t].view(batch, 4, hidden))
            torch.mul(dh, a_os[t], out=d_os[t])
            dc = dc * fs[t]
            d_r = layer_norm_backward(d_pres[t], recs[t], (four,), r_means[t], r_rstds[t], gain_hh, None,
                                      input_only)[0]
            d_recs[t].copy_(d_r)
            dh = d_r @ w_hh
        h_prev = torch.cat([h0.unsqueeze(0), out[:-1]])
        d_w_hh = d_rec.reshape(-1, four).t() @ h_prev.reshape(-1, hidden)
        # The gains' gradients: one layer-norm backward over all steps, asking for the parameter parts only.
        _, d_gain_hh, _ = layer_norm_backward(d_pre, rec, (four,), rec_stats[0], rec_stats[1], gain_hh, None,
                                              [False, True, False])
        _, d_gain_c, d_shift_c = layer_norm_backward(d_hs * a_c, cells[1:], (hidden,), cell_stats[0],
                                                     cell_stats[1], gain_c, shift_c, [False, True, True])
        return d_pre, dh, dc, d_w_hh, d_gain_hh, d_gain_c, d_shift_c


class _LSTMStack(nn.Module):
    """A stack of LSTM-like layers with the interface of ``nn.LSTM(batch_first=True)``.

    Parameters
    ----------
    input_size, hidden_size, num_layers : int
    dropout : float
        Dropout on each layer's output except the last, while training (as ``nn.LSTM``'s ``dropout``).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers, self.dropout = input_size, hidden_size, num_layers, dropout
        h = hidden_size
        for k in range(num_layers):
            self.register_parameter(f"weight_ih_l{k}", nn.Parameter(torch.empty(4 * h, input_size if k == 0 else h)))
            self.register_parameter(f"weight_hh_l{k}", nn.Parameter(torch.empty(4 * h, h)))
            self.register_parameter(f"bias_l{k}", nn.Parameter(torch.empty(4 * h)))

    def reset_parameters(self, forget_bias: float = 1.0) -> None:
        """Matrices uniform in ±1/sqrt(H) (``nn.LSTM``'s init), biases 0 but the forget gate's ``forget_bias``."""
        bound = 1 / math.sqrt(self.hidden_size)
        h = self.hidden_size
        with torch.no_grad():
            for k in range(self.num_layers):
                nn.init.uniform_(getattr(self, f"weight_ih_l{k}"), -bound, bound)
                nn.init.uniform_(getattr(self, f"weight_hh_l{k}"), -bound, bound)
                bias = getattr(self, f"bias_l{k}")
                bias.zero_()
                bias[h:2 * h].fill_(forget_bias)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None,
                weight_drop: float = 0.0) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Run the stack.

        Parameters
        ----------
        x : Tensor, shape (batch, time, input_size)
        state : (h, c), each (num_layers, batch, hidden_size); zeros when omitted
        weight_drop : float
            DropConnect on every layer's recurrent matrix (one mask for the whole call); the caller passes 0
            outside training.

        Returns
        -------
        out : Tensor, shape (batch, time, hidden_size), the top layer's h at every step
        state : (h, c), each (num_layers, batch, hidden_size), after the last step
        """
        batch = x.shape[0]
        if state is None:
            zeros = x.new_zeros(self.num_layers, batch, self.hidden_size)
            state = (zeros, zeros)
        if torch.is_autocast_enabled(x.device.type):
            # The hand-written backward assumes one dtype: under mixed precision the cell runs in float32.
            with torch.autocast(x.device.type, enabled=False):
                return self.forward(x.float(), tuple(s.float() for s in state), weight_drop)
        seq = x.transpose(0, 1).contiguous()              # time-major: each step's rows are contiguous
        h_last, c_last = [], []
        for k in range(self.num_layers):
            if k and self.dropout and self.training:
                seq = F.dropout(seq, self.dropout, True)
            w_hh = getattr(self, f"weight_hh_l{k}")
            if weight_drop:
                w_hh = F.dropout(w_hh, weight_drop, True)
            seq, h, c = self._layer(k, seq, state[0][k], state[1][k], w_hh)
            h_last.append(h)
            c_last.append(c)
        return seq.transpose(0, 1), (torch.stack(h_last), torch.stack(c_last))

    def _layer(self, k: int, seq: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor,
               w_hh: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, dropout={self.dropout}"


class CPLSTM(_LSTMStack):
    """Peephole LSTM with forget gate (Gers et al.); parameters per layer k: ``weight_ih_lk`` (4H, I),
    ``weight_hh_lk`` (4H, H), ``bias_lk`` (4H), gates in the order (i, f, o, g), and ``peephole_lk`` (3H), the
    diagonal weights from the cell into the input, forget and output gates (p_i, p_f, p_o). Vectors are 1-D so that
    the trainers, which decay matrices only, leave them alone as they do biases."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__(input_size, hidden_size, num_layers, dropout)
        for k in range(num_layers):
            self.register_parameter(f"peephole_l{k}", nn.Parameter(torch.empty(3 * hidden_size)))
        self.reset_parameters()

    def reset_parameters(self, forget_bias: float = 1.0) -> None:
        super().reset_parameters(forget_bias)
        bound = 1 / math.sqrt(self.hidden_size)
        for k in range(self.num_layers):
            nn.init.uniform_(getattr(self, f"peephole_l{k}"), -bound, bound)

    def _layer(self, k, seq, h0, c0, w_hh):
        xw = F.linear(seq, getattr(self, f"weight_ih_l{k}"), getattr(self, f"bias_l{k}"))
        return _CPLSTMLayer.apply(xw, h0, c0, w_hh, getattr(self, f"peephole_l{k}").view(3, self.hidden_size))


class LNLSTM(_LSTMStack):
    """Layer-normalised LSTM (Ba et al. 2016); parameters per layer k: ``weight_ih_lk``, ``weight_hh_lk``,
    ``bias_lk`` as in ``CPLSTM``, the gains ``norm_ih_lk`` and ``norm_hh_lk`` (4H) of the two gate normalisations,
    and ``norm_c_lk`` (2H): gain and shift of the cell's normalisation (1-D, like biases, so never decayed)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__(input_size, hidden_size, num_layers, dropout)
        for k in range(num_layers):
            self.register_parameter(f"norm_ih_l{k}", nn.Parameter(torch.empty(4 * hidden_size)))
            self.register_parameter(f"norm_hh_l{k}", nn.Parameter(torch.empty(4 * hidden_size)))
            self.register_parameter(f"norm_c_l{k}", nn.Parameter(torch.empty(2 * hidden_size)))
        self.reset_parameters()

    def reset_parameters(self, forget_bias: float = 1.0) -> None:
        """As ``_LSTMStack``'s, with unit gains and a zero shift (each normalisation starts as plain LN)."""
        super().reset_parameters(forget_bias)
        with torch.no_grad():
            for k in range(self.num_layers):
                getattr(self, f"norm_ih_l{k}").fill_(1.0)
                getattr(self, f"norm_hh_l{k}").fill_(1.0)
                getattr(self, f"norm_c_l{k}")[:self.hidden_size].fill_(1.0)
                getattr(self, f"norm_c_l{k}")[self.hidden_size:].zero_()

    def _layer(self, k, seq, h0, c0, w_hh):
        four = 4 * self.hidden_size
        # The input half of every gate normalised over the whole sequence at once; ``b`` rides in as its shift.
        xn = F.layer_norm(F.linear(seq, getattr(self, f"weight_ih_l{k}")), (four,), getattr(self, f"norm_ih_l{k}"),
                          getattr(self, f"bias_l{k}"), LN_EPS)
        norm_c = getattr(self, f"norm_c_l{k}").view(2, self.hidden_size)
        return _LNLSTMLayer.apply(xn, h0, c0, w_hh, getattr(self, f"norm_hh_l{k}"), norm_c[0], norm_c[1])


LSTM_LIKE = ("lstm", "cplstm", "lnlstm")  # cells whose state is (h, c)


def build_recurrent(cell: str, input_size: int, hidden_size: int, num_layers: int, dropout: float,
                    forget_bias: float = 1.0) -> nn.Module:
    """The stacked recurrent layers of ``cell`` (rnn, lstm, gru, cplstm or lnlstm), batch-first, with every LSTM's
    forget-gate bias at ``forget_bias`` (Jozefowicz et al. 2015) and its other biases at 0.

    ``dropout`` applies between layers (ignored for one layer, where ``nn.LSTM`` would warn)."""
    dropout = dropout if num_layers > 1 else 0.0
    if cell == "cplstm":
        rnn = CPLSTM(input_size, hidden_size, num_layers, dropout)
    elif cell == "lnlstm":
        rnn = LNLSTM(input_size, hidden_size, num_layers, dropout)
    else:
        kinds = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
        kwargs = {"nonlinearity": "tanh"} if cell == "rnn" else {}
        return _with_forget_bias(kinds[cell](input_size, hidden_size, num_layers=num_layers, batch_first=True,
                                             dropout=dropout, **kwargs), cell, forget_bias)
    rnn.reset_parameters(forget_bias)
    return rnn


def _with_forget_bias(rnn: nn.Module, cell: str, forget_bias: float) -> nn.Module:
    """``nn.LSTM`` sums two bias vectors per layer (gates i, f, g, o): the input one starts with the forget gate at
    ``forget_bias`` and the rest at 0, the recurrent one at 0. Other cells are left as PyTorch made them."""
    if cell == "lstm":
        h = rnn.hidden_size
        with torch.no_grad():
            for name, param in rnn.named_parameters():
                if name.startswith("bias_"):
                    param.zero_()
                    if name.startswith("bias_ih"):
                        param[h:2 * h].fill_(forget_bias)
    return rnn
