"""The CP-LSTM and LN-LSTM stacks (studio.models.cells): their equations against plain-autograd references written
from the papers, their hand-written backward against gradcheck in float64, and the nn.LSTM-like interface."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from studio.models.cells import CPLSTM, LNLSTM, build_recurrent

STACKS = {"cplstm": CPLSTM, "lnlstm": LNLSTM}


def _reference_cplstm(stack: CPLSTM, x: torch.Tensor, state):
    """Gers et al.'s peephole LSTM step by step with autograd: input and forget gates read c_{t-1}, the output gate
    reads c_t. x (B, T, I); state (h, c) each (L, B, H)."""
    hidden, seq, last_h, last_c = stack.hidden_size, x, [], []
    for k in range(stack.num_layers):
        w, u, b = (getattr(stack, f"{name}_l{k}") for name in ("weight_ih", "weight_hh", "bias"))
        p_i, p_f, p_o = getattr(stack, f"peephole_l{k}").view(3, hidden)
        h, c, outs = state[0][k], state[1][k], []
        for t in range(seq.shape[1]):
            z_i, z_f, z_o, z_g = (seq[:, t] @ w.t() + h @ u.t() + b).split(hidden, dim=-1)
            i, f = torch.sigmoid(z_i + p_i * c), torch.sigmoid(z_f + p_f * c)
            c = f * c + i * torch.tanh(z_g)
            h = torch.sigmoid(z_o + p_o * c) * torch.tanh(c)
            outs.append(h)
        seq = torch.stack(outs, dim=1)
        last_h.append(h)
        last_c.append(c)
    return seq, (torch.stack(last_h), torch.stack(last_c))


def _reference_lnlstm(stack: LNLSTM, x: torch.Tensor, state):
    """Ba et al. (2016) eq. 20-22 step by step with autograd: W x and U h normalised apart, the cell before tanh."""
    hidden, seq, last_h, last_c = stack.hidden_size, x, [], []
    for k in range(stack.num_layers):
        w, u, b = (getattr(stack, f"{name}_l{k}") for name in ("weight_ih", "weight_hh", "bias"))
        gain_x, gain_h = getattr(stack, f"norm_ih_l{k}"), getattr(stack, f"norm_hh_l{k}")
        gain_c, shift_c = getattr(stack, f"norm_c_l{k}").view(2, hidden)
        h, c, outs = state[0][k], state[1][k], []
        for t in range(seq.shape[1]):
            z = (F.layer_norm(seq[:, t] @ w.t(), (4 * hidden,), gain_x)
                 + F.layer_norm(h @ u.t(), (4 * hidden,), gain_h) + b)
            z_i, z_f, z_o, z_g = z.split(hidden, dim=-1)
            c = torch.sigmoid(z_f) * c + torch.sigmoid(z_i) * torch.tanh(z_g)
            h = torch.sigmoid(z_o) * torch.tanh(F.layer_norm(c, (hidden,), gain_c, shift_c))
            outs.append(h)
        seq = torch.stack(outs, dim=1)
        last_h.append(h)
        last_c.append(c)
    return seq, (torch.stack(last_h), torch.stack(last_c))


REFERENCES = {"cplstm": _reference_cplstm, "lnlstm": _reference_lnlstm}


def _stack(cell: str, input_size: int = 3, hidden: int = 4, layers: int = 2, seed: int = 0,
           dtype: torch.dtype = torch.float64):
    """A stack whose every parameter is perturbed away from its init (unit gains, zero shifts would hide bugs)."""
    torch.manual_seed(seed)
    stack = STACKS[cell](input_size, hidden, layers).to(dtype)
    with torch.no_grad():
        for param in stack.parameters():
            param.add_(0.3 * torch.randn_like(param))
    return stack


def _inputs(stack, batch: int = 2, steps: int = 4, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    dtype = next(stack.parameters()).dtype
    x = torch.randn(batch, steps, stack.input_size, generator=gen, dtype=dtype)
    state = tuple(torch.randn(stack.num_layers, batch, stack.hidden_size, generator=gen, dtype=dtype)
                  for _ in range(2))
    return x, state


@pytest.mark.parametrize("cell", STACKS)
def test_outputs_and_gradients_equal_the_papers_equations_under_autograd(cell: str) -> None:
    stack = _stack(cell)
    x, state = _inputs(stack)
    x.requires_grad_(True)
    state = tuple(s.requires_grad_(True) for s in state)
    inputs = [x, *state, *stack.parameters()]
    results = []
    for run in (stack, lambda a, s: REFERENCES[cell](stack, a, s)):
        out, (h, c) = run(x, state)
        weights = torch.Generator().manual_seed(5)  # the same random loss on both sides, reaching every output
        loss = sum((t * torch.randn(t.shape, generator=weights, dtype=t.dtype)).sum() for t in (out, h, c))
        results.append((out, h, c, *torch.autograd.grad(loss, inputs)))
    for ours, theirs in zip(*results, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell", STACKS)
def test_hand_written_backward_passes_gradcheck(cell: str) -> None:
    stack = _stack(cell, input_size=2, hidden=3, layers=2, seed=2)
    x, state = _inputs(stack, batch=2, steps=3, seed=3)
    names = [name for name, _ in stack.named_parameters()]

    def run(x, h0, c0, *params):
        out, (h, c) = functional_call(stack, dict(zip(names, params, strict=True)), (x, (h0, c0)))
        return out, h, c

    inputs = tuple(t.detach().clone().requires_grad_(True) for t in (x, *state, *stack.parameters()))
    assert torch.autograd.gradcheck(run, inputs, eps=1e-6, atol=1e-7)


def test_cplstm_without_peepholes_is_pytorchs_lstm() -> None:
    # With p = 0 the CP-LSTM is the forget-gate LSTM: the same weights in nn.LSTM (gate order i, f, g, o, two summed
    # biases) give the same sequence, which ties the gate order and equations to PyTorch's.
    stack = _stack("cplstm", input_size=3, hidden=5, layers=2, dtype=torch.float32)
    lstm = torch.nn.LSTM(3, 5, num_layers=2, batch_first=True)
    order = torch.cat([torch.arange(0, 10), torch.arange(15, 20), torch.arange(10, 15)])  # (i, f, g, o) <- ours
    with torch.no_grad():
        for k in range(2):
            getattr(stack, f"peephole_l{k}").zero_()
            for theirs, ours in (("weight_ih", "weight_ih"), ("weight_hh", "weight_hh"), ("bias_ih", "bias")):
                getattr(lstm, f"{theirs}_l{k}").copy_(getattr(stack, f"{ours}_l{k}")[order])
            getattr(lstm, f"bias_hh_l{k}").zero_()
    x, state = _inputs(stack)
    ours, (h, c) = stack(x, state)
    theirs, (h_ref, c_ref) = lstm(x, state)
    for a, b in ((ours, theirs), (h, h_ref), (c, c_ref)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_peepholes_read_the_old_cell_into_input_and_forget_and_the_new_cell_into_output() -> None:
    # All weights 0 and a zero input: each gate's pre-activation is its bias plus its peephole term, so
    # c1 = sigmoid(p_f c0) c0 + sigmoid(p_i c0) tanh(b_g) and h1 = sigmoid(p_o c1) tanh(c1).
    stack = CPLSTM(1, 3).double()
    with torch.no_grad():
        for param in stack.parameters():
            param.zero_()
        stack.bias_l0[9:].fill_(0.5)  # the cell input g (gate order i, f, o, g)
        stack.peephole_l0.copy_(torch.tensor([0.5, -1.0, 2.0, 1.5, 0.3, -0.7, -2.0, 1.0, 0.4]))
    c0 = torch.tensor([[[0.8, -1.2, 2.0]]], dtype=torch.float64)
    _, (h1, c1) = stack(torch.zeros(1, 1, 1, dtype=torch.float64), (torch.zeros_like(c0), c0))
    p_i, p_f, p_o = stack.peephole_l0.detach().view(3, 3)
    expected_c = torch.sigmoid(p_f * c0) * c0 + torch.sigmoid(p_i * c0) * torch.tanh(torch.tensor(0.5))
    torch.testing.assert_close(c1, expected_c)
    torch.testing.assert_close(h1, torch.sigmoid(p_o * expected_c) * torch.tanh(expected_c))


def test_lnlstm_normalises_input_and_recurrent_products_apart() -> None:
    # Each product has its own normalisation, so scaling W or U alone changes nothing (up to LN's epsilon); were
    # W x + U h normalised as one sum, scaling U by 7 would drown the input.
    stack = _stack("lnlstm", layers=1, hidden=6)
    x, state = _inputs(stack, steps=5)
    with torch.no_grad():
        before, _ = stack(x, state)
        stack.weight_hh_l0.mul_(7.0)
        stack.weight_ih_l0.mul_(3.0)
        after, _ = stack(x, state)
    torch.testing.assert_close(after, before, rtol=0, atol=1e-4)
    assert (after - before).abs().max() > 0  # the scaling did reach the stack


@pytest.mark.parametrize("cell", STACKS)
def test_state_carries_across_calls_and_defaults_to_zeros(cell: str) -> None:
    stack = _stack(cell, dtype=torch.float32).eval()
    x, _ = _inputs(stack, steps=7)
    with torch.no_grad():
        whole, (h, c) = stack(x)
        first, state = stack(x[:, :3])
        second, (h2, c2) = stack(x[:, 3:], state)
        zeros = torch.zeros(stack.num_layers, 2, stack.hidden_size)
        explicit, _ = stack(x, (zeros, zeros))
    assert whole.shape == (2, 7, stack.hidden_size) and h.shape == c.shape == (2, 2, stack.hidden_size)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole)
    torch.testing.assert_close((h2, c2), (h, c))
    torch.testing.assert_close(explicit, whole, rtol=0, atol=0)


@pytest.mark.parametrize("cell", STACKS)
def test_dropout_between_layers_only_while_training(cell: str) -> None:
    torch.manual_seed(0)
    stack = STACKS[cell](3, 8, num_layers=2, dropout=0.5)
    x = torch.randn(2, 5, 3)
    assert not torch.equal(stack(x)[0], stack(x)[0])  # a fresh dropout mask each call
    stack.eval()
    assert torch.equal(stack(x)[0], stack(x)[0])
    one_layer = STACKS[cell](3, 8, num_layers=1, dropout=0.5)
    assert torch.equal(one_layer(x)[0], one_layer(x)[0])  # nothing between layers to drop


@pytest.mark.parametrize("cell", STACKS)
def test_weight_drop_masks_the_recurrent_matrices_only(cell: str) -> None:
    stack = _stack(cell, dtype=torch.float32)
    x, state = _inputs(stack)
    out, _ = stack(x, state, weight_drop=0.5)
    out.sum().backward()
    for k in range(stack.num_layers):
        assert 0.3 < (getattr(stack, f"weight_hh_l{k}").grad == 0).float().mean() < 0.7
        assert (getattr(stack, f"weight_ih_l{k}").grad != 0).float().mean() > 0.9


@pytest.mark.parametrize("cell", ["lstm", *STACKS])
@pytest.mark.parametrize("forget_bias", [1.0, -0.5])
def test_forget_gate_bias_at_init(cell: str, forget_bias: float) -> None:
    rnn = build_recurrent(cell, 3, 4, 2, 0.0, forget_bias)
    for k in range(2):
        bias = getattr(rnn, f"bias_ih_l{k}" if cell == "lstm" else f"bias_l{k}").detach()
        torch.testing.assert_close(bias[4:8], torch.full((4,), forget_bias))  # f is the second gate in both orders
        assert not bias[:4].any() and not bias[8:].any()
    if cell == "lnlstm":
        assert torch.equal(rnn.norm_c_l0, torch.cat([torch.ones(4), torch.zeros(4)]))
        assert torch.equal(rnn.norm_hh_l1, torch.ones(16))


@pytest.mark.parametrize("cell", STACKS)
def test_cells_run_in_float32_under_autocast(cell: str) -> None:
    stack = _stack(cell, dtype=torch.float32)
    x, state = _inputs(stack)
    plain, _ = stack(x, state)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed, (h, _) = stack(x.bfloat16(), tuple(s.bfloat16() for s in state))
    assert mixed.dtype == h.dtype == torch.float32
    torch.testing.assert_close(mixed, plain, atol=0.05, rtol=0.05)  # only the inputs were rounded to bf16
    mixed.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in stack.parameters())
