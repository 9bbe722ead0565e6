"""Forward mode (issue 15): tm.jvp, jacfwd/jacrev, hessian/hvp and the adjoint check.

Oracles: central finite differences in float64, PyTorch (torch.func.jvp,
torch.autograd.functional.jacobian / hessian / hvp), the other order (reverse mode), and the
naive path enumeration. Random graphs come from tinygrad_memo.testing.strategies (they reuse
nodes: diamonds, x + x, ladders).
"""

from __future__ import annotations

import threading
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_memo as tm
from tinygrad_memo.engine import naive_grad
from tinygrad_memo.grad_mode import STATE
from tinygrad_memo.gradcheck import GradcheckError, gradcheck
from tinygrad_memo.testing import properties, strategies

# the random graphs' ops that forward mode reaches (every family of the strategies)
TENSOR_GRAPHS = strategies.tensor_expressions(max_ops=4, max_inputs=2, max_side=3, scalar=False)
SCALAR_GRAPHS = strategies.tensor_expressions(max_ops=4, max_inputs=2, max_side=3)
VALUE_GRAPHS = strategies.value_expressions(max_ops=6, max_inputs=3)


def _tangents(seed, xs):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(np.shape(x)) for x in xs]


def _build(expr):
    return lambda *xs: expr.build_tensor(list(xs))


# -- jvp against finite differences and PyTorch ------------------------------------------------------
@given(TENSOR_GRAPHS, st.integers(0, 2**31 - 1))
def test_jvp_matches_torch_func_jvp(expr, seed):
    torch = pytest.importorskip("torch")
    xs = [np.asarray(x, dtype=np.float64) for x in expr.inputs]
    ts = _tangents(seed, xs)
    out, tout = tm.jvp(_build(expr), tuple(xs), tuple(ts))
    t_out, t_tout = torch.func.jvp(lambda *a: expr.build_torch(list(a)),
                                   tuple(torch.tensor(x) for x in xs),
                                   tuple(torch.tensor(t) for t in ts))
    np.testing.assert_allclose(out.data, t_out.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tout.data, t_tout.numpy(), rtol=1e-9, atol=1e-11)
    assert not out.requires_grad and not tout.requires_grad  # no graph was kept


@given(TENSOR_GRAPHS, st.integers(0, 2**31 - 1))
def test_jvp_matches_finite_differences_tensor(expr, seed):
    xs = [np.asarray(x, dtype=np.float64) for x in expr.inputs]
    ts = _tangents(seed, xs)
    _, tout = tm.jvp(_build(expr), tuple(xs), tuple(ts))
    eps = 1e-6
    up = expr.evaluate([x + eps * t for x, t in zip(xs, ts)])
    down = expr.evaluate([x - eps * t for x, t in zip(xs, ts)])
    np.testing.assert_allclose(tout.data, (up - down) / (2 * eps), rtol=1e-5, atol=1e-6)


@given(VALUE_GRAPHS, st.integers(0, 2**31 - 1))
def test_jvp_matches_finite_differences_value(expr, seed):
    ts = [float(t) for t in _tangents(seed, expr.inputs)]
    out, tout = tm.jvp(lambda *v: expr.build_value(list(v)), tuple(expr.value_inputs()), tuple(ts))
    assert isinstance(out, tm.Value) and isinstance(tout, float)
    eps = 1e-6
    up = expr.evaluate([x + eps * t for x, t in zip(expr.inputs, ts)])
    down = expr.evaluate([x - eps * t for x, t in zip(expr.inputs, ts)])
    assert abs(out.data - expr.evaluate()) <= 1e-12 * (1 + abs(out.data))
    assert abs(tout - (up - down) / (2 * eps)) <= 1e-5 * (1 + abs(tout))


@given(VALUE_GRAPHS)
def test_value_jvp_agrees_with_the_tensor_engine(expr):
    ts = [1.0] + [0.5] * (len(expr.inputs) - 1)
    _, tv = tm.jvp(lambda *v: expr.build_value(list(v)), tuple(expr.value_inputs()), tuple(ts))
    _, tt = tm.jvp(_build(expr), tuple(np.float64(x) for x in expr.inputs),
                   tuple(np.float64(t) for t in ts))
    assert abs(tv - tt.item()) <= 1e-10 * (1 + abs(tv))


# -- Jacobians in both orders --------------------------------------------------------------------------
@settings(max_examples=10)
@given(TENSOR_GRAPHS)
def test_jacfwd_equals_jacrev_equals_torch(expr):
    torch = pytest.importorskip("torch")
    xs = [np.asarray(x, dtype=np.float64) for x in expr.inputs]
    nums = tuple(range(len(xs)))
    fwd, rev = tm.jacfwd(_build(expr), argnums=nums), tm.jacrev(_build(expr), argnums=nums)
    jf, jr = fwd(*xs), rev(*xs)
    theirs = torch.autograd.functional.jacobian(lambda *a: expr.build_torch(list(a)),
                                                tuple(torch.tensor(x) for x in xs))
    out_shape = np.shape(expr.evaluate())
    for a, b, c, x in zip(jf, jr, theirs, xs):
        assert a.shape == out_shape + x.shape
        np.testing.assert_allclose(a.data, c.numpy(), rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(b.data, c.numpy(), rtol=1e-9, atol=1e-11)
    # the sweeps the two functions counted: one per input element, one per output element
    assert fwd.sweeps == sum(x.size for x in xs)
    assert rev.sweeps == int(np.prod(out_shape, dtype=int))


@settings(max_examples=10)
@given(VALUE_GRAPHS)
def test_value_jacobians_agree_with_naive_enumeration(expr):
    def f(xs):
        y = expr.build_value(xs)
        return [y, y * xs[0]]  # two outputs sharing the whole graph

    fwd, rev = tm.jacfwd(f), tm.jacrev(f)
    jf, jr = fwd(list(expr.inputs)), rev(list(expr.inputs))
    xs = expr.value_inputs()
    naive = [[0.0 if g is None else g for g in naive_grad(y, xs)[0]] for y in f(xs)]
    np.testing.assert_allclose(jf, naive, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(jr, naive, rtol=1e-9, atol=1e-12)
    assert (fwd.sweeps, rev.sweeps) == (len(xs), 2)


def test_sweep_counts_follow_the_shape():
    W = np.random.default_rng(0).standard_normal((7, 3))

    def f(x):
        return (tm.Tensor(W) @ x).tanh()

    fwd, rev = tm.jacfwd(f), tm.jacrev(f)
    x = np.array([0.1, -0.2, 0.3])
    np.testing.assert_allclose(fwd(x).data, rev(x).data, rtol=1e-12)
    assert (fwd.sweeps, rev.sweeps) == (3, 7)
    rev(x)
    assert rev.sweeps == 7 and rev.total_sweeps == 14


# -- Hessians: forward over reverse --------------------------------------------------------------------
@settings(max_examples=10)
@given(SCALAR_GRAPHS, st.integers(0, 2**31 - 1))
def test_hessian_and_hvp_match_torch(expr, seed):
    torch = pytest.importorskip("torch")
    xs = [np.asarray(x, dtype=np.float64) for x in expr.inputs]
    f = _build(expr)
    H = tm.hessian(f)(*[tm.Tensor(x) for x in xs])  # w.r.t. the first
    tf = lambda *a: expr.build_torch(list(a))  # noqa: E731
    txs = tuple(torch.tensor(x) for x in xs)
    theirs = torch.autograd.functional.hessian(tf, txs)[0][0]
    np.testing.assert_allclose(H.data, theirs.numpy(), rtol=1e-8, atol=1e-10)
    vs = _tangents(seed, xs)
    y, hv = tm.hvp(f, tuple(xs), tuple(vs))
    ty, thv = torch.autograd.functional.hvp(tf, txs, tuple(torch.tensor(v) for v in vs))
    assert abs(y.item() - ty.item()) <= 1e-10 * (1 + abs(ty.item()))
    for a, b in zip(hv, thv):
        np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-8, atol=1e-10)
        assert not a.requires_grad


def test_hessian_of_a_known_function():
    # f = sum(x^3) + x0 x1: H = diag(6 x) + [[0, 1], [1, 0]]
    H = tm.hessian(lambda x: (x * x * x).sum() + x[0] * x[1])
    np.testing.assert_allclose(H(np.array([1.0, 2.0])).data, [[6.0, 1.0], [1.0, 12.0]])
    assert (H.sweeps, H.reverse.total_sweeps) == (2, 2)  # each forward sweep: one reverse inside


# -- the adjoint identity, both engines ----------------------------------------------------------------
@given(SCALAR_GRAPHS, st.integers(0, 2**31 - 1))
def test_adjoint_identity_tensor_graphs(expr, seed):
    assert tm.adjoint_check(_build(expr), expr.tensor_inputs(), seed=seed)


@given(TENSOR_GRAPHS, st.integers(0, 2**31 - 1))
def test_adjoint_identity_tensor_graphs_many_outputs(expr, seed):
    assert tm.adjoint_check(_build(expr), expr.tensor_inputs(), seed=seed)


@given(VALUE_GRAPHS, st.integers(0, 2**31 - 1))
def test_adjoint_identity_value_graphs(expr, seed):
    assert tm.adjoint_check(lambda *v: expr.build_value(list(v)), expr.value_inputs(), seed=seed)


class Cube(tm.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x ** 2

    @staticmethod
    def jvp(ctx, t):
        (x,) = ctx.saved_tensors
        return t * 3 * x ** 2


class WrongCube(Cube):
    @staticmethod
    def jvp(ctx, t):
        (x,) = ctx.saved_tensors
        return t * 3 * x * x * (1 + 1e-8)  # off by a relative 1e-8


def test_adjoint_check_catches_a_wrong_rule_and_gradcheck_runs_it():
    x = tm.Tensor(np.array([0.5, -1.5, 2.0]), requires_grad=True)
    assert gradcheck(WrongCube.apply, [x])  # the backward is right ...
    with pytest.raises(GradcheckError, match="forward and reverse mode disagree"):
        gradcheck(WrongCube.apply, [x], check_forward_ad=True)  # ... and the jvp is not
    assert gradcheck(WrongCube.apply, [x], check_forward_ad=True, raise_exception=False) is False
    with pytest.raises(AssertionError, match="jvp"):
        properties.adjoint_identity(WrongCube.apply, strategies.tensors(shape=(3,)))()
    assert x.grad is None


def test_adjoint_check_allows_the_rounding_of_cancelling_paths():
    """Paths of size 1 whose derivatives cancel (1 - 3x**2 against -1 at x = 2**-14) leave
    each mode's rounding relative to the paths, not to the tiny sum: ``atol * |u| |v|``
    allows it (found by hypothesis on random graphs), while the rule off by 1e-8 above is
    still caught."""
    x = tm.Tensor(np.array([2.0**-14]), requires_grad=True)

    def f(t):
        return ((t / (t * t + 1) + (t - 1).abs()) * 4.0).sum()

    assert tm.adjoint_check(f, [x])
    assert not tm.adjoint_check(f, [x], atol=0.0, raise_exception=False)  # (the terms alone)


def test_the_properties_accept_a_right_rule():
    properties.adjoint_identity(Cube.apply, strategies.tensors())()
    properties.jvp_matches_finite_differences(Cube.apply, strategies.tensors())()
    properties.adjoint_identity(lambda a, b: (a * b).sin(), strategies.values(),
                                strategies.values())()


# -- the contract for ops without a rule, and other errors --------------------------------------------
class NoRule(tm.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


def test_a_function_without_jvp_is_named():
    x = np.ones(3)
    for f in (NoRule.apply, lambda t: NoRule.apply(t.exp()).sin()):  # a bound apply too
        with pytest.raises(NotImplementedError, match=r"NoRule: forward mode .* no forward-mode rule"):
            tm.jvp(f, (x,), (x,))
    # without a tangent reaching it, it runs
    out, t = tm.jvp(lambda a, b: NoRule.apply(b) + a, (x, x), (x, None))
    np.testing.assert_array_equal(t.data, x)
    assert STATE.forward is None


def test_a_custom_rule_and_none_tangents():
    class Mul(tm.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            return g * b, g * a

        @staticmethod
        def jvp(ctx, ta, tb):
            a, b = ctx.saved_tensors
            return (0 if ta is None else ta * b) + (0 if tb is None else a * tb)

    a, b = np.array([1.0, 2.0]), np.array([3.0, 5.0])
    _, t = tm.jvp(Mul.apply, (a, b), (np.ones(2), None))
    np.testing.assert_array_equal(t.data, b)
    _, t = tm.jvp(Mul.apply, (a, b), (None, None))
    np.testing.assert_array_equal(t.data, [0.0, 0.0])


def test_errors():
    x = np.ones(2)
    with pytest.raises(ValueError, match="tangent 0 has shape"):
        tm.jvp(lambda t: t.exp(), (x,), (np.ones(3),))
    with pytest.raises(ValueError, match="2 primals but 1 tangents"):
        tm.jvp(lambda a, b: a + b, (x, x), (x,))
    with pytest.raises(RuntimeError, match="nested forward mode is not supported"):
        tm.jvp(lambda t: tm.jvp(lambda u: u.exp(), (x,), (x,))[0] * t, (x,), (x,))
    assert STATE.forward is None

    def in_place(t):
        u = t.exp()
        u += 1
        return u

    with pytest.raises(RuntimeError, match="in-place operations are not supported in forward mode"):
        tm.jvp(in_place, (x,), (x,))
    with pytest.raises(TypeError, match="f must return Tensors"):
        tm.jvp(lambda t: 3.0, (x,), (x,))


def test_no_grad_and_params_inside():
    w = tm.Tensor(np.array([[0.5, -1.0], [2.0, 0.25]]), requires_grad=True)
    x, v = np.array([0.3, -0.7]), np.array([1.0, 2.0])
    with tm.no_grad():
        _, t = tm.jvp(lambda u: (w @ u).tanh(), (x,), (v,))
    assert not t.requires_grad
    y = np.tanh(w.data @ x)
    np.testing.assert_allclose(t.data, (1 - y * y) * (w.data @ v), rtol=1e-12)
    # with grad on, the tangent depends on w: reverse over forward
    assert gradcheck(lambda w: tm.jvp(lambda u: (w @ u).tanh(), (x,), (v,))[1], [w])


def test_other_threads_are_not_in_forward_mode():
    seen = []
    started, release = threading.Event(), threading.Event()

    def other():
        started.wait()
        y = tm.Tensor(np.ones(2), requires_grad=True).exp()
        seen.append((STATE.forward, getattr(y, "_tangent", None)))
        release.set()

    th = threading.Thread(target=other)
    th.start()

    def f(t):
        started.set()
        release.wait(10)
        return t.exp()

    _, t = tm.jvp(f, (np.zeros(2),), (np.ones(2),))
    th.join()
    assert seen == [(None, None)]
    np.testing.assert_array_equal(t.data, [1.0, 1.0])


# -- memory: no graph kept -------------------------------------------------------------------------
def _peak(run) -> int:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _chain(x, depth):
    for _ in range(depth):
        x = (x * 0.9).tanh() + x * 0.1
    return x


def test_jvp_memory_does_not_grow_with_depth():
    x = np.linspace(-1.0, 1.0, 2048)
    short = _peak(lambda: tm.jvp(lambda t: _chain(t, 10), (x,), (x,)))
    long = _peak(lambda: tm.jvp(lambda t: _chain(t, 1000), (x,), (x,)))
    assert long < 1.5 * short, (short, long)
    # a recorded graph of the same chain holds every level until its backward
    recorded = _peak(lambda: _chain(tm.Tensor(x, requires_grad=True), 1000))
    assert recorded > 20 * long, (long, recorded)
    v_short = _peak(lambda: tm.jvp(lambda t: _chain(t, 100), (tm.Value(0.5),), (1.0,)))
    v_long = _peak(lambda: tm.jvp(lambda t: _chain(t, 10_000), (tm.Value(0.5),), (1.0,)))
    assert v_long < 1.5 * v_short + 4096, (v_short, v_long)
