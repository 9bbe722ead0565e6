"""Second derivatives: Hessian-vector products of every op against PyTorch
(``torch.autograd.grad(..., create_graph=True)``), ``backward(create_graph=True)``
giving a differentiable ``.grad`` (a gradient penalty), and ``tm.grad``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_tensor_helpers import OP_IDS, OPS, op_settings, rng_of, upstream

import tinygrad_memo as tm

torch = pytest.importorskip("torch")


def _loss(y, w):
    # a composition with curvature of its own, so every op has a nonzero HVP
    return (y * y * w).sum() + (y * w).tanh().sum()


def hvp_tm(op, arrays, kw, w, vs):
    xs = [tm.Tensor(a, requires_grad=True) for a in arrays]
    loss = _loss(op.fn(*xs, **kw), tm.Tensor(w))
    grads = tm.grad(loss, xs, create_graph=True)
    assert all(isinstance(g, tm.Tensor) for g in grads)
    dot = sum((g * tm.Tensor(v)).sum() for g, v in zip(grads, vs))
    return [g.data for g in grads], tm.grad(dot, xs)


def hvp_torch(op, arrays, kw, w, vs):
    xs = [torch.tensor(a, requires_grad=True) for a in arrays]
    loss = _loss(op.tfn(*xs, **kw), torch.tensor(w))
    grads = torch.autograd.grad(loss, xs, create_graph=True)
    dot = sum((g * torch.tensor(v)).sum() for g, v in zip(grads, vs))
    if not dot.requires_grad:  # a gradient that is constant (floor, sign): no second order
        return [g.detach().numpy() for g in grads], [np.zeros(a.shape) for a in arrays]
    hv = torch.autograd.grad(dot, xs, allow_unused=True, materialize_grads=True)
    return [g.detach().numpy() for g in grads], [h.numpy() for h in hv]


@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
@op_settings(8)
@given(data=st.data())
def test_hessian_vector_product_matches_torch(op, data):
    arrays, kw = op.draw(data.draw)
    rng = rng_of(data.draw)
    with tm.no_grad():
        out = op.fn(*[tm.Tensor(a) for a in arrays], **kw)
    w = upstream(rng, out.shape)
    vs = [upstream(rng, a.shape) for a in arrays]
    g_m, h_m = hvp_tm(op, arrays, kw, w, vs)
    g_t, h_t = hvp_torch(op, arrays, kw, w, vs)
    for i in range(len(arrays)):
        np.testing.assert_allclose(g_m[i], g_t[i], rtol=1e-9, atol=1e-11, err_msg=f"{op.name} grad {i}")
        assert h_m[i].shape == arrays[i].shape
        np.testing.assert_allclose(h_m[i], h_t[i], rtol=1e-8, atol=1e-10, err_msg=f"{op.name} hvp {i}")


def test_second_derivative_of_pow_and_exp():
    x = tm.Tensor([0.5, 1.5], requires_grad=True, dtype=np.float64)
    (g,) = tm.grad((x ** 3 + x.exp()).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.data, 3 * x.data ** 2 + np.exp(x.data))
    (h,) = tm.grad(g.sum(), x, create_graph=True)
    np.testing.assert_allclose(h.data, 6 * x.data + np.exp(x.data))
    (h3,) = tm.grad(h.sum(), x)
    np.testing.assert_allclose(h3, 6 + np.exp(x.data))


def test_hessian_vector_product_of_mlp_matches_torch():
    rng = np.random.default_rng(3)
    X, W1, b1, W2 = (rng.normal(size=s) for s in [(5, 3), (3, 4), (4,), (4, 2)])
    y = rng.integers(0, 2, 5)
    vs = [rng.normal(size=a.shape) for a in (W1, b1, W2)]

    def run(lib, P, X):
        W1, b1, W2 = P
        h = (X @ W1 + b1).tanh()
        logits = h @ W2
        if lib is tm:
            logp = logits.log_softmax(axis=1)
            return -logp[np.arange(5), y].mean()
        return -logits.log_softmax(dim=1)[np.arange(5), y].mean()

    P = [tm.Tensor(a, requires_grad=True) for a in (W1, b1, W2)]
    gs = tm.grad(run(tm, P, tm.Tensor(X)), P, create_graph=True)
    hv = tm.grad(sum((g * v).sum() for g, v in zip(gs, vs)), P)
    tP = [torch.tensor(a, requires_grad=True) for a in (W1, b1, W2)]
    tgs = torch.autograd.grad(run(torch, tP, torch.tensor(X)), tP, create_graph=True)
    thv = torch.autograd.grad(sum((g * torch.tensor(v)).sum() for g, v in zip(tgs, vs)), tP)
    for a, b in zip(hv, thv):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-9, atol=1e-12)


def test_backward_create_graph_gives_differentiable_grad_gradient_penalty():
    rng = np.random.default_rng(4)
    xa, wa = rng.normal(size=(3, 2)), rng.normal(size=(2, 4))
    x = tm.Tensor(xa, requires_grad=True)
    W = tm.Tensor(wa, requires_grad=True)
    out = ((x @ W).tanh() * tm.Tensor(np.arange(12.0).reshape(3, 4))).sum()
    out.backward(create_graph=True)
    gx = x.grad
    assert isinstance(gx, tm.Tensor) and gx.requires_grad and not gx.is_leaf
    x.grad = W.grad = None
    penalty = ((gx * gx).sum(axis=1) - 1.0) ** 2
    penalty.mean().backward()

    tx = torch.tensor(xa, requires_grad=True)
    tW = torch.tensor(wa, requires_grad=True)
    tout = ((tx @ tW).tanh() * torch.arange(12.0, dtype=torch.float64).reshape(3, 4)).sum()
    (tgx,) = torch.autograd.grad(tout, tx, create_graph=True)
    (((tgx * tgx).sum(dim=1) - 1.0) ** 2).mean().backward()
    np.testing.assert_allclose(gx.data, tgx.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(W.grad, tW.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_tm_grad_does_not_touch_dot_grad_and_gives_zeros_for_unused_inputs():
    x = tm.Tensor([1.0, 2.0], requires_grad=True)
    z = tm.Tensor([3.0], requires_grad=True)
    gx, gz = tm.grad((x * x).sum(), [x, z])
    assert x.grad is None and z.grad is None
    np.testing.assert_array_equal(gx, [2.0, 4.0])
    np.testing.assert_array_equal(gz, [0.0])
    assert gx.dtype == np.float32


def test_tm_grad_with_grad_outputs_for_nonscalar_output():
    x = tm.Tensor([1.0, 2.0, 3.0], requires_grad=True, dtype=np.float64)
    (g,) = tm.grad(x * x, x, grad_outputs=np.array([1.0, 0.0, -1.0]))
    np.testing.assert_array_equal(g, [2.0, 0.0, -6.0])
    with pytest.raises(RuntimeError, match="shape"):
        tm.grad(x * x, x)


def test_create_graph_grad_keeps_param_dtype_float32():
    x = tm.Tensor([1.0, 2.0], requires_grad=True)
    (g,) = tm.grad((2.0 ** x + x * x).sum(), x, create_graph=True)
    assert g.dtype == np.float32
    (h,) = tm.grad(g.sum(), x)
    assert h.dtype == np.float32
    np.testing.assert_allclose(h, np.log(2.0) ** 2 * 2.0 ** x.data + 2, rtol=1e-6)


@pytest.mark.parametrize("name,f", [
    ("exp", lambda x: x.exp()),
    ("sqrt", lambda x: x.sqrt()),
    ("tanh", lambda x: x.tanh()),
    ("sigmoid", lambda x: x.sigmoid()),
    ("div", lambda x: 1.0 / x),
    ("pow", lambda x: x ** 2.5),
    ("rpow", lambda x: 2.0 ** x),
])
def test_second_derivative_of_0d_ops_that_save_their_output(name, f):
    """A ufunc on a 0-d array returns a numpy scalar; the op must still save the
    node's own array, or create_graph takes the saved output for a constant."""
    x = tm.Tensor(0.7, requires_grad=True, dtype=np.float64)
    tx = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    (g,) = tm.grad(f(x), x, create_graph=True)
    (h,) = tm.grad(g, x)
    (tg,) = torch.autograd.grad(f(tx), tx, create_graph=True)
    (th,) = torch.autograd.grad(tg, tx)
    np.testing.assert_allclose(h, th.numpy(), rtol=1e-12)


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 4)])
@pytest.mark.parametrize("how", ["T", "transpose()", "transpose(axes)"])
def test_transpose_second_order(shape, how):
    rng = np.random.default_rng(6)
    a, w = rng.normal(size=shape), rng.normal(size=shape[::-1])
    axes = tuple(reversed(range(len(shape))))

    def f(x, lib):
        y = x.T if how == "T" and lib is tm else x
        if how == "T" and lib is torch:
            y = x.permute(axes)
        elif how == "transpose()":
            y = x.transpose() if lib is tm else x.permute(axes)
        elif how == "transpose(axes)":
            y = x.transpose(*axes) if lib is tm else x.permute(axes)
        return (y * y * y * (tm.Tensor(w) if lib is tm else torch.tensor(w))).sum()

    x = tm.Tensor(a, requires_grad=True)
    (g,) = tm.grad(f(x, tm), x, create_graph=True)
    (h,) = tm.grad((g * g).sum(), x)
    tx = torch.tensor(a, requires_grad=True)
    (tg,) = torch.autograd.grad(f(tx, torch), tx, create_graph=True)
    (th,) = torch.autograd.grad((tg * tg).sum(), tx)
    np.testing.assert_allclose(h, th.numpy(), rtol=1e-10)


def test_numpy_functions_in_a_rule_record_the_op_or_are_refused_under_create_graph():
    class Square(tm.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return np.where(True, 2 * g * x, 0)  # np.where has a registry op: recorded

    class Clipped(Square):
        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return np.nan_to_num(2 * g * x)  # no registry op: it would drop the graph

    x = tm.Tensor([1.0, 2.0], requires_grad=True, dtype=np.float64)
    Square.apply(x).sum().backward()  # first order: plain numpy, fine
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
    (g,) = tm.grad(Square.apply(x).sum(), x, create_graph=True)
    assert g.grad_fn is not None  # the graph runs through np.where
    np.testing.assert_array_equal(tm.grad(g.sum(), x)[0], [2.0, 2.0])
    with pytest.raises(TypeError, match="numpy.nan_to_num.*cut the graph"):
        tm.grad(Clipped.apply(x).sum(), x, create_graph=True)
    # outside a differentiable backward, numpy functions simply see arrays
    assert np.allclose(x, [1.0, 2.0])


def test_create_graph_without_retaining_the_first_graph():
    # as in PyTorch: the gradient's graph runs through the first graph's nodes, so
    # once those are freed, differentiating again says to retain the graph
    x = tm.Tensor([0.5, -1.0], requires_grad=True, dtype=np.float64)
    y = (x * x * x).sum()
    (g,) = tm.grad(y, x, create_graph=True, retain_graph=False)
    np.testing.assert_allclose(g.data, 3 * x.data**2)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        tm.grad(g.sum(), x)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        tm.grad(y, x)
