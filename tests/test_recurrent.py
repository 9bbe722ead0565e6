"""nn.RNNCell, nn.GRUCell, nn.LSTMCell against PyTorch's cells given the same weights
(outputs and gradients over unrolled steps, float64), against finite differences,
and their names, shapes, initialisation, repr and errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_memo as tm
from tinygrad_memo import nn
from tinygrad_memo.gradcheck import gradcheck, gradgradcheck

CELLS = ["RNNCell", "GRUCell", "LSTMCell"]
GATES = {"RNNCell": 1, "GRUCell": 3, "LSTMCell": 4}


def _pair(name, input_size, hidden_size, **kw):
    """Our cell (float64) and PyTorch's (float64), ours holding PyTorch's weights."""
    torch = pytest.importorskip("torch")
    theirs = getattr(torch.nn, name)(input_size, hidden_size, **kw).double()
    ours = getattr(nn, name)(input_size, hidden_size, dtype=np.float64, **kw)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _unroll(cell, xs, hx):
    """Run ``cell`` over ``xs`` (time first) and return the list of hidden outputs."""
    outs, state = [], hx
    for x in xs:
        state = cell(x, state)
        outs.append(state[0] if isinstance(state, tuple) else state)
    return outs, state


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("bias", [True, False])
def test_state_dict_keys_and_shapes_are_pytorch_s(name, bias):
    torch = pytest.importorskip("torch")
    theirs = getattr(torch.nn, name)(5, 3, bias=bias)
    ours = getattr(nn, name)(5, 3, bias=bias)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert ours.weight_ih.shape == (GATES[name] * 3, 5)
    assert repr(ours) == repr(theirs)
    assert repr(nn.RNNCell(2, 4, nonlinearity="relu")) == repr(torch.nn.RNNCell(2, 4, nonlinearity="relu"))


@pytest.mark.parametrize("name", CELLS)
@given(n=st.integers(1, 4), input_size=st.integers(1, 5), hidden_size=st.integers(1, 5),
       bias=st.booleans(), given_hx=st.booleans(), seed=st.integers(0, 2**16))
def test_unrolled_outputs_and_gradients_match_pytorch(name, n, input_size, hidden_size, bias,
                                                       given_hx, seed):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(name, input_size, hidden_size, bias=bias)
    g = np.random.default_rng(seed)
    steps = 4
    xs = g.normal(size=(steps, n, input_size))
    n_states = 2 if name == "LSTMCell" else 1
    h0 = [g.normal(size=(n, hidden_size)) for _ in range(n_states)]

    x_ours = tm.Tensor(xs, requires_grad=True)
    h_ours = [tm.Tensor(h, requires_grad=True) for h in h0]
    x_theirs = torch.tensor(xs, requires_grad=True)
    h_theirs = [torch.tensor(h, requires_grad=True) for h in h0]

    def start(hs):
        if not given_hx:
            return None
        return tuple(hs) if n_states == 2 else hs[0]

    outs_o, _ = _unroll(ours, [x_ours[t] for t in range(steps)], start(h_ours))
    outs_t, _ = _unroll(theirs, [x_theirs[t] for t in range(steps)], start(h_theirs))
    w = g.normal(size=(steps, n, hidden_size))
    loss_o = sum((o * w[t]).sum() for t, o in enumerate(outs_o))
    loss_t = sum((o * torch.from_numpy(w[t])).sum() for t, o in enumerate(outs_t))
    for o, t in zip(outs_o, outs_t):
        np.testing.assert_allclose(o.numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)
    loss_o.backward()
    loss_t.backward()
    np.testing.assert_allclose(x_ours.grad, x_theirs.grad.numpy(), rtol=1e-9, atol=1e-12)
    if given_hx:
        for a, b in zip(h_ours, h_theirs):
            np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-9, atol=1e-12)
    theirs_params = dict(theirs.named_parameters())
    for k, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, theirs_params[k].grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=k)


@pytest.mark.parametrize("name", CELLS)
def test_unbatched_input_is_a_batch_of_one(name):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(name, 3, 4)
    g = np.random.default_rng(1)
    x = g.normal(size=3)
    hx = tuple(g.normal(size=4) for _ in range(2)) if name == "LSTMCell" else g.normal(size=4)
    for state in (None, hx):
        mine = ours(tm.Tensor(x), None if state is None else (
            tuple(tm.Tensor(s) for s in state) if isinstance(state, tuple) else tm.Tensor(state)))
        other = theirs(torch.from_numpy(x), None if state is None else (
            tuple(torch.from_numpy(s) for s in state) if isinstance(state, tuple)
            else torch.from_numpy(state)))
        mine = mine if isinstance(mine, tuple) else (mine,)
        other = other if isinstance(other, tuple) else (other,)
        for a, b in zip(mine, other):
            assert a.shape == (4,)
            np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", CELLS)
def test_gradcheck_through_two_steps(name):
    tm.manual_seed(3)
    cell = getattr(nn, name)(3, 2, dtype=np.float64)
    g = np.random.default_rng(2)
    x1, x2 = (tm.Tensor(g.normal(size=(2, 3)), requires_grad=True) for _ in range(2))
    hs = [tm.Tensor(g.normal(size=(2, 2)), requires_grad=True)
          for _ in range(2 if name == "LSTMCell" else 1)]

    def two_steps(x1, x2, *rest):
        state = tuple(rest[:len(hs)]) if len(hs) == 2 else rest[0]
        state = cell(x2, cell(x1, state))
        return state  # all of h (and c) is checked

    assert gradcheck(two_steps, [x1, x2, *hs, *cell.parameters()])


def test_gradgradcheck_gru():
    tm.manual_seed(4)
    cell = nn.GRUCell(2, 2, dtype=np.float64)
    g = np.random.default_rng(5)
    x = tm.Tensor(g.normal(size=(2, 2)), requires_grad=True)
    h = tm.Tensor(g.normal(size=(2, 2)), requires_grad=True)
    assert gradgradcheck(lambda x, h, w: cell(x, h), [x, h, cell.weight_hh])


@pytest.mark.parametrize("name", CELLS)
def test_initialisation_is_uniform_in_one_over_sqrt_hidden(name):
    tm.manual_seed(0)
    cell = getattr(nn, name)(6, 16)
    values = np.concatenate([p.numpy().ravel() for p in cell.parameters()])
    assert values.dtype == np.float32
    assert np.abs(values).max() <= 0.25 and np.abs(values).max() > 0.24  # 1 / sqrt(16)
    assert abs(values.mean()) < 0.02 and np.std(values) == pytest.approx(0.25 / np.sqrt(3), rel=0.1)
    tm.manual_seed(0)
    again = getattr(nn, name)(6, 16)
    assert all(np.array_equal(a, b) for a, b in zip(cell.state_dict().values(),
                                                    again.state_dict().values()))


def test_rnn_relu_matches_pytorch():
    torch = pytest.importorskip("torch")
    ours, theirs = _pair("RNNCell", 3, 4, nonlinearity="relu")
    x = np.random.default_rng(0).normal(size=(5, 3))
    np.testing.assert_allclose(ours(tm.Tensor(x)).numpy(),
                               theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("make, call, match", [
    (lambda: nn.LSTMCell(4, 3), lambda c: c(tm.Tensor(np.zeros((2, 5)))),
     r"LSTMCell: input has inconsistent input_size: got 5 expected 4"),
    (lambda: nn.GRUCell(4, 3), lambda c: c(tm.Tensor(np.zeros((2, 2, 4)))),
     r"GRUCell: Expected input to be 1D or 2D, got 3D instead"),
    (lambda: nn.GRUCell(4, 3), lambda c: c(tm.Tensor(np.zeros((2, 4))), tm.Tensor(np.zeros((3, 3)))),
     r"GRUCell: Input batch size 2 doesn't match hx batch size 3"),
    (lambda: nn.LSTMCell(4, 3), lambda c: c(tm.Tensor(np.zeros((2, 4))),
                                            (tm.Tensor(np.zeros((2, 3))), tm.Tensor(np.zeros((2, 2))))),
     r"LSTMCell: hx\[1\] has inconsistent hidden_size: got 2, expected 3"),
    (lambda: nn.RNNCell(4, 3), lambda c: c(tm.Tensor(np.zeros(4)), tm.Tensor(np.zeros((1, 3)))),
     r"RNNCell: hx must be 1D like the input"),
    (lambda: nn.LSTMCell(4, 3), lambda c: c(tm.Tensor(np.zeros(4)), tm.Tensor(np.zeros(3))),
     r"LSTMCell: hx must be a tuple \(h, c\)"),
    (lambda: nn.GRUCell(4, 3), lambda c: c(tm.Tensor(np.zeros(4)), (tm.Tensor(np.zeros(3)),) * 2),
     r"GRUCell: hx must be one tensor"),
])
def test_errors_name_the_cell_and_the_shapes(make, call, match):
    with pytest.raises(ValueError, match=match):
        call(make())


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match=r"RNNCell: Unknown nonlinearity 'gelu'"):
        nn.RNNCell(2, 3, nonlinearity="gelu")
    with pytest.raises(ValueError, match=r"LSTMCell: hidden_size must be a positive int"):
        nn.LSTMCell(2, 0)
