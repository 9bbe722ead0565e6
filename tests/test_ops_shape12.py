"""Reductions, scans and shape ops of issue 12 beyond the OPS-table sweep (which
checks each against PyTorch, finite differences and PyTorch's Hessian-vector
products): gradcheck and gradgradcheck, forward-mode rules, the numpy-vs-PyTorch
meanings, integer results, conversions and errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_tensor_helpers import SHAPE12, rng_of, upstream, values

import tinygrad_memo as tm
from tinygrad_memo.function import Context
from tinygrad_memo.gradcheck import gradcheck, gradgradcheck
from tinygrad_memo.ops import REGISTRY

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("op", SHAPE12, ids=[o.name for o in SHAPE12])
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_gradcheck_and_gradgradcheck(op, data):
    arrays, kw = op.draw(data.draw)
    rng = rng_of(data.draw)
    xs = [tm.Tensor(a, requires_grad=True) for a in arrays]
    assert gradcheck(lambda *t: op.fn(*t, **kw), xs)
    with tm.no_grad():
        out = op.fn(*xs, **kw)
    go = tm.Tensor(upstream(rng, out.shape), requires_grad=True)
    assert gradgradcheck(lambda *t: op.fn(*t, **kw), xs, [go])


def _jvp_by_rule(op_name, x, t, **kw):
    """Run an op's forward and its jvp rule on numpy arrays (ctx from the forward)."""
    fn = REGISTRY[op_name]
    ctx = Context(fn, (x,), kw)
    ctx.needs_input_grad = (True,)
    out = fn.forward(ctx, x, **kw)
    return out, fn.jvp(ctx, t)


JVP_CASES = [
    ("var", {"axis": 1, "keepdims": False, "ddof": 1}),
    ("std", {"axis": None, "keepdims": True, "ddof": 0}),
    ("prod", {"axis": (0, 2), "keepdims": False}),
    ("logsumexp", {"axis": -1, "keepdims": True}),
    ("cumsum", {"axis": 1}),
    ("cumsum", {"axis": None}),
    ("flip", {"axis": (0, 2)}),
    ("repeat", {"repeats": [1, 0, 2], "axis": 1}),
    ("tile", {"reps": (2, 1, 1, 2)}),
    ("roll", {"shift": (1, -2), "axis": (0, 2)}),
    ("tril", {"k": -1}),
    ("triu", {"k": 1}),
    ("diagonal", {"offset": 1, "axis1": 2, "axis2": 0}),
    ("trace", {"offset": -1, "axis1": 0, "axis2": 2}),
    ("gather", {"axis": 2, "index": np.array([[[0, 1, 2, 3]], [[2, 2, 1, 0]]])}),
]


@pytest.mark.parametrize("name,kw", JVP_CASES, ids=[c[0] for c in JVP_CASES])
def test_forward_mode_rule_is_the_directional_derivative(name, kw):
    """jvp(ctx, t) == (f(x + eps t) - f(x - eps t)) / 2 eps, on float64 arrays."""
    rng = np.random.default_rng(7)
    x = rng.uniform(0.5, 2.0, (2, 3, 4))
    t = rng.normal(size=x.shape)
    _, jt = _jvp_by_rule(name, x, t, **kw)
    eps = 1e-6
    up, _ = _jvp_by_rule(name, x + eps * t, t, **kw)
    down, _ = _jvp_by_rule(name, x - eps * t, t, **kw)
    np.testing.assert_allclose(jt, (up - down) / (2 * eps), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("zeros", [0, 1, 2, 3])
def test_prod_with_zeros_first_and_second_order_like_torch(zeros):
    rng = np.random.default_rng(zeros)
    a = rng.uniform(0.5, 2.0, (3, 4))
    a[0, :zeros] = 0.0
    a[2, -1] = 0.0 if zeros else a[2, -1]
    w, v = rng.normal(size=3), rng.normal(size=a.shape)
    x = tm.Tensor(a, requires_grad=True)
    (g,) = tm.grad((x.prod(axis=1) * tm.Tensor(w)).sum(), x, create_graph=True)
    (h,) = tm.grad((g * tm.Tensor(v)).sum(), x)
    tx = torch.tensor(a, requires_grad=True)
    (tg,) = torch.autograd.grad((tx.prod(dim=1) * torch.tensor(w)).sum(), tx, create_graph=True)
    (th,) = torch.autograd.grad((tg * torch.tensor(v)).sum(), tx)
    np.testing.assert_allclose(g.data, tg.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(h, th.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("method", ["argmax", "argmin"])
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_argmax_argmin_are_numpys_integer_results(method, data):
    from test_tensor_helpers import shapes1

    shape = data.draw(shapes1)
    rng = rng_of(data.draw)
    a = np.round(values(rng, shape), 1)  # ties happen: the first index wins, as in both
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    keepdims = data.draw(st.booleans())
    x = tm.Tensor(a, requires_grad=True)
    out = getattr(x, method)(axis=axis, keepdims=keepdims)
    expected = getattr(np, method)(a, axis=axis, keepdims=keepdims)
    assert out.dtype.kind == "i" and not out.requires_grad and out.grad_fn is None
    np.testing.assert_array_equal(out.data, expected)
    if axis is not None:
        t = getattr(torch, method)(torch.tensor(a), dim=axis, keepdim=keepdims)
        np.testing.assert_array_equal(out.data, t.numpy())


def test_repeat_is_numpys_and_tile_is_pytorchs_repeat():
    a = np.arange(6.0).reshape(2, 3)
    x = tm.Tensor(a)
    np.testing.assert_array_equal(x.repeat(2).data, np.repeat(a, 2))
    np.testing.assert_array_equal(x.repeat([1, 2], axis=0).data, np.repeat(a, [1, 2], axis=0))
    np.testing.assert_array_equal(x.tile(2, 3).data, torch.tensor(a).repeat(2, 3).numpy())
    np.testing.assert_array_equal(x.tile((2, 1, 1)).data, np.tile(a, (2, 1, 1)))
    with pytest.raises(TypeError, match=r"use x.tile\(2, 3\)"):
        x.repeat(2, 3)  # PyTorch's spelling of tiling: refused, never silently numpy's


def test_split_is_numpys_and_chunk_is_pytorchs():
    a = np.arange(10.0)
    x = tm.Tensor(a)
    for arg in (5, [2, 7], [3, 3, 9]):
        parts = x.split(arg)
        assert [p.tolist() for p in parts] == [p.tolist() for p in np.split(a, arg)]
    with pytest.raises(ValueError, match="3 equal parts do not divide axis 0 of size 10"):
        x.split(3)
    for k in (1, 3, 4, 6, 11):
        assert [p.tolist() for p in x.chunk(k)] == [p.tolist() for p in torch.tensor(a).chunk(k)]


def test_split_parts_get_their_own_gradients():
    x = tm.Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    a, b = x.split([1], axis=0)
    (a * 2 + b.sum() * 0).sum().backward()
    np.testing.assert_array_equal(x.grad, [[2.0, 2.0], [0.0, 0.0], [0.0, 0.0]])


def test_gather_repeated_indices_accumulate_and_errors_name_the_op():
    x = tm.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = x.gather(1, tm.Tensor(np.array([[0, 0, 2], [1, 1, 1]])))
    np.testing.assert_array_equal(y.data, [[0.0, 0.0, 2.0], [4.0, 4.0, 4.0]])
    y.backward(np.ones((2, 3)))
    np.testing.assert_array_equal(x.grad, [[2.0, 0.0, 1.0], [0.0, 3.0, 0.0]])
    with pytest.raises(IndexError, match="gather: index out of range"):
        x.gather(1, np.array([[3]]))
    with pytest.raises(ValueError, match="gather: index of shape"):
        x.gather(0, np.array([0, 1]))
    with pytest.raises(TypeError, match="gather: index must be integers"):
        x.gather(0, np.array([[0.5]]))


def test_squeeze_unsqueeze_and_errors():
    x = tm.Tensor.zeros(1, 3, 1)
    assert x.squeeze(axis=(0, 2)).shape == (3,)
    assert x.unsqueeze((0, -1)).shape == (1, 1, 3, 1, 1)
    with pytest.raises(ValueError, match="squeeze: axis 1 has size 3, not 1"):
        x.squeeze(1)
    with pytest.raises(np.exceptions.AxisError, match="unsqueeze: axis 4"):
        x.unsqueeze(4)


def test_matrix_ops_need_two_axes():
    for name in ("tril", "triu", "diagonal", "trace"):
        with pytest.raises(ValueError, match=f"{name}: needs at least 2 dimensions"):
            getattr(tm.Tensor([1.0, 2.0]), name)()
    with pytest.raises(ValueError, match="axis1 and axis2 cannot be the same"):
        tm.Tensor.zeros(2, 2).diagonal(0, 1, -1)


def test_astype_and_tolist():
    x = tm.Tensor([1.5, -2.5], requires_grad=True)
    y = x.astype(np.float64)
    assert y.dtype == np.float64 and y.grad_fn.name == "astype"
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [3.0, -5.0])
    z = x.astype(np.int64)
    assert z.dtype == np.int64 and not z.requires_grad
    assert z.tolist() == [1, -2] and isinstance(x.tolist()[0], float)
    ctx = x.astype(np.float64).grad_fn  # its forward-mode rule casts the tangent like the data
    assert REGISTRY["astype"].jvp(ctx, np.ones(2, np.float32)).dtype == np.float64
    assert tm.Tensor(3.0).tolist() == 3.0


def test_reductions_are_recorded_with_their_arguments():
    x = tm.Tensor(np.ones((2, 3)), requires_grad=True)
    assert x.var(axis=1, ddof=1).grad_fn.args == {"axis": 1, "keepdims": False, "ddof": 1}
    assert x.cumsum(0).grad_fn.name == "cumsum"
    r = x.roll(1, axis=0).grad_fn
    assert r.name == "roll" and r.args == {"shift": 1, "axis": 0}
    assert np.array_equal(r.rerun([tm.Tensor(np.arange(6.0).reshape(2, 3))]).data,
                          np.roll(np.arange(6.0).reshape(2, 3), 1, axis=0))


def test_std_gradient_at_zero_spread_is_zero_like_torch():
    x = tm.Tensor(np.array([[1.0, 1.0], [1.0, 3.0]]), requires_grad=True)
    x.std(axis=1).backward(np.array([1.0, 1.0]))
    tx = torch.tensor(x.data, requires_grad=True)
    tx.std(dim=1, correction=0).backward(torch.ones(2, dtype=torch.float64))
    np.testing.assert_array_equal(x.grad, tx.grad.numpy())
    np.testing.assert_array_equal(x.grad[0], [0.0, 0.0])


def test_logsumexp_of_minus_infinity_and_large_values_like_torch():
    a = np.array([[-np.inf, -np.inf], [1e4, 1e4], [-np.inf, 0.0]])
    x = tm.Tensor(a, requires_grad=True)
    out = x.logsumexp(axis=1)
    np.testing.assert_allclose(out.data, [-np.inf, 1e4 + np.log(2), 0.0])
    out.backward(np.ones(3))
    tx = torch.tensor(a, requires_grad=True)
    torch.logsumexp(tx, 1).backward(torch.ones(3, dtype=torch.float64))
    np.testing.assert_allclose(x.grad, tx.grad.numpy())  # nan for the all -inf row in both


@pytest.mark.parametrize("call,name", [
    (lambda x: np.var(x, axis=1, ddof=1), "var"), (lambda x: np.std(x), "std"),
    (lambda x: np.prod(x, axis=0), "prod"), (lambda x: np.cumsum(x, axis=1), "cumsum"),
    (lambda x: np.flip(x, 0), "flip"), (lambda x: np.repeat(x, 2, 1), "repeat"),
    (lambda x: np.tile(x, (2, 1)), "tile"), (lambda x: np.roll(x, 1, axis=0), "roll"),
    (lambda x: np.tril(x, -1), "tril"), (lambda x: np.triu(x), "triu"),
    (lambda x: np.diagonal(x, 1), "diagonal"), (lambda x: np.trace(x), "trace"),
    (lambda x: np.clip(x, 0.5, 2.0), "clip"), (lambda x: np.einsum("ij->j", x), "einsum"),
    (lambda x: np.tensordot(x, x, ([0], [0])), "einsum"), (lambda x: np.outer(x, x), "einsum"),
])
def test_numpy_functions_record_the_ops(call, name):
    a = np.arange(6.0).reshape(2, 3)
    x = tm.Tensor(a, requires_grad=True)
    out = call(x)
    assert isinstance(out, tm.Tensor) and out.grad_fn.name == name
    np.testing.assert_allclose(out.data, call(a))


def test_jit_replays_issue12_tensor_ops_as_eager():
    def f(x):
        return ((x.clip(-0.5, 0.5) * x.elu(0.3)).sum() + x.var(axis=0, ddof=1).sum()
                + tm.einsum("ij,ij->", x, x) + x.cumsum(1).prod() + x.flip(0).tile(2, 1)[1:].sum())

    step = tm.jit(f)
    for seed in range(4):
        a = np.random.default_rng(seed).normal(size=(3, 4))
        x, x2 = tm.Tensor(a, requires_grad=True), tm.Tensor(a, requires_grad=True)
        step(x).backward()
        y2 = f(x2)
        y2.backward()
        np.testing.assert_allclose(step(tm.Tensor(a)).data, y2.data, rtol=1e-12)
        np.testing.assert_allclose(x.grad, x2.grad, rtol=1e-12)
