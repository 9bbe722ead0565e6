"""gradcheck / gradgradcheck: pass on correct functions of both engines, fail (naming
the element) on deliberately wrong test-only ops, never change inputs or ``.grad``."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import tinygrad_memo as tm
from tinygrad_memo.gradcheck import GradcheckError, gradcheck, gradgradcheck
from tinygrad_memo.testing import assert_grads_close


def T(a, rg=True) -> tm.Tensor:
    return tm.Tensor(np.array(a, dtype=np.float64), requires_grad=rg)


def R(seed, *shape, rg=True) -> tm.Tensor:
    return T(np.random.default_rng(seed).uniform(-1.5, 1.5, shape), rg)


# -- test-only ops --------------------------------------------------------------------------

class WrongAt(tm.Function):
    """x * x with a backward that is wrong at one element (flat index 3): sign flipped."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        d = np.array(2 * x, dtype=np.float64)
        d.reshape(-1)[3] *= -1
        return g * d


class WrongSecond(tm.Function):
    """a * b whose gradient for b is off by 1% everywhere (a is right)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g * b, g * a * 1.01


class CutGraph(tm.Function):
    """tanh whose backward computes with raw numpy on ``.data``: first-order right,
    but under create_graph the gradient is a constant (the graph is cut)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.tanh(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        xd = x.data if isinstance(x, tm.Tensor) else x
        gd = g.data if isinstance(g, tm.Tensor) else g
        return gd * (1 - np.tanh(xd) ** 2)


class WrongSecondOrder(tm.Function):
    """x ** 3 whose backward is 3 * x * c with c a saved *copy* of x: the same number,
    so first order is right, but d/dx of it is 3c instead of 6x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        ctx.copy = np.array(x, copy=True)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * ctx.copy


class GradOutputConstant(tm.Function):
    """2 x whose backward takes the upstream gradient as a constant: right in x,
    wrong (zero) in the grad_output under create_graph."""

    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        return np.array(g.data if isinstance(g, tm.Tensor) else g) * 2


class NotReentrant(tm.Function):
    """3 x whose backward changes what it saved: each backward pass differs."""

    @staticmethod
    def forward(ctx, x):
        ctx.scale = 3.0
        return 3 * x

    @staticmethod
    def backward(ctx, g):
        ctx.scale += 1e-3
        return g * (ctx.scale - 1e-3)


# -- passing --------------------------------------------------------------------------------

TENSOR_FUNCTIONS = {
    "matmul_softmax": (lambda a, b: (a @ b).softmax(axis=-1), [(3, 4), (4, 2)]),
    "broadcast": (lambda a, b: (a * b + b.exp()) / (a * a + 1.0), [(2, 3), (3,)]),
    "log_softmax_mean": (lambda a: a.log_softmax(axis=0).mean(axis=1), [(3, 2)]),
    "batched_matmul": (lambda a, b: (a @ b).tanh(), [(2, 3, 4), (4,)]),
    "reductions": (lambda a: a.sum(axis=0, keepdims=True) * a.max(axis=1, keepdims=True), [(2, 3)]),
    "indexing": (lambda a: a[np.array([0, 2, 0])] * a[1:, ::-1].sum(), [(3, 2)]),
    "reshape_transpose": (lambda a: (a.reshape(3, 2).T @ a.reshape(3, 2)).sigmoid(), [(2, 3)]),
    "sqrt_log": (lambda a: (a * a + 0.5).sqrt().log(), [(4,)]),
    "pow_tensor": (lambda a, b: (a * a + 0.5) ** b, [(2, 2), (2, 2)]),
}


@pytest.mark.parametrize("name", sorted(TENSOR_FUNCTIONS))
@pytest.mark.parametrize("fast", [False, True], ids=["full", "fast"])
def test_gradcheck_passes_on_tensor_compositions(name, fast):
    fn, shapes = TENSOR_FUNCTIONS[name]
    xs = [R(i, *s) for i, s in enumerate(shapes)]
    assert gradcheck(fn, xs, fast_mode=fast)


def test_gradcheck_passes_on_value_expressions():
    x, y, z = tm.Value(0.4), tm.Value(-1.3), tm.Value(2.2)

    def f(x, y, z):
        a = x * y + z.tanh()
        b = a * a + (x - z).sigmoid()
        return (b / (y * y + 1.0)).exp() + (z * z + 0.5).log() + x.sin() * y.cos() + b ** 1.5

    assert gradcheck(f, [x, y, z])
    assert gradcheck(f, [x, y, z], fast_mode=True)


def test_gradcheck_several_outputs_and_passthrough_inputs():
    a, b = R(0, 2, 3), R(1, 3, rg=False)

    def f(a, b, k):
        return (a * b) ** k, a.sum(), (a > 0)  # the boolean output is skipped

    assert gradcheck(f, [a, b, 2])
    assert gradcheck(f, [a, b, 2], fast_mode=True)


def test_gradcheck_fortran_ordered_and_repeated_inputs():
    a = T(np.arange(6.0).reshape(2, 3).T / 4)  # a Fortran-ordered array
    assert a.data.flags["F_CONTIGUOUS"] and not a.data.flags["C_CONTIGUOUS"]
    assert gradcheck(lambda a: (a @ a.T).tanh(), [a])
    assert gradcheck(lambda a, b: a * b.exp(), [a, a])  # the same tensor twice
    v = tm.Value(0.3)
    assert gradcheck(lambda x, y: x * y.exp(), [v, v])


def test_gradcheck_identity_and_constant_outputs():
    a = R(0, 3)
    assert gradcheck(lambda a: a, [a])
    assert gradcheck(lambda a: (a, T([1.0, 2.0], rg=False)), [a])


# -- failing --------------------------------------------------------------------------------

def test_gradcheck_names_the_wrong_element():
    x = T(np.linspace(-1, 1, 6).reshape(2, 3))
    with pytest.raises(GradcheckError) as info:
        gradcheck(WrongAt.apply, [x])
    msg = str(info.value)
    assert "output 0 with respect to input 0" in msg
    assert "input index (1, 0), output index (1, 0)" in msg  # flat element 3 of a (2, 3)
    a, n = 2 * x.data.reshape(-1)[3], 2 * x.data.reshape(-1)[3]
    m = re.search(r"analytical (\S+), numerical (\S+): \|difference\| \S+ > tolerance (\S+)", msg)
    assert m, msg
    assert float(m.group(1)) == pytest.approx(-a)
    assert float(m.group(2)) == pytest.approx(n, rel=1e-6)
    assert float(m.group(3)) == pytest.approx(1e-5 + 1e-3 * abs(n), rel=1e-3)
    assert "1 of 36 entries" in msg
    assert isinstance(info.value, AssertionError)


def test_gradcheck_names_the_input():
    a, b = R(0, 2, 2), R(1, 2, 2)
    with pytest.raises(GradcheckError, match="with respect to input 1 at input index"):
        gradcheck(WrongSecond.apply, [a, b])
    x = tm.Value(0.5)
    with pytest.raises(GradcheckError, match=r"input 0 \(a Value\) has shape \(\)"):
        gradcheck(lambda x: x.relu() * 0 + x.data * x, [x])  # misses d/dx of the constant


def test_fast_mode_catches_the_same_op_and_names_the_element():
    x = T(np.linspace(-1, 1, 6).reshape(2, 3))
    with pytest.raises(GradcheckError) as info:
        gradcheck(WrongAt.apply, [x], fast_mode=True)
    msg = str(info.value)
    assert msg.startswith("gradcheck (fast mode): Jacobian mismatch for output 0 with respect to input 0")
    assert "v^T J u" in msg
    assert "input index (1, 0), output index (1, 0)" in msg  # recomputed in full mode
    with pytest.raises(GradcheckError, match="fast mode"):
        gradcheck(WrongSecond.apply, [R(0, 3), R(1, 3)], fast_mode=True)


def test_raise_exception_false_returns_false():
    x = T(np.linspace(-1, 1, 6))
    assert gradcheck(WrongAt.apply, [x], raise_exception=False) is False
    assert gradcheck(WrongAt.apply, [x], raise_exception=False, fast_mode=True) is False
    assert gradgradcheck(CutGraph.apply, [x], raise_exception=False) is False


def test_fast_mode_cost_does_not_grow_with_input_size():
    calls = []

    def f(a, b):
        calls.append(1)
        return (a @ b).tanh()

    for n in (2, 12):
        calls.clear()
        gradcheck(f, [R(0, n, n), R(1, n)], fast_mode=True)
        assert len(calls) == 1 + 2 * 2  # the forward, then one JVP (two calls) per input
    calls.clear()
    gradcheck(f, [R(0, 12, 12), R(1, 12)])
    assert len(calls) == 1 + 2 * (144 + 12)


def test_not_reentrant_backward_is_reported():
    with pytest.raises(GradcheckError, match="not reentrant"):
        gradcheck(NotReentrant.apply, [R(0, 3)])


def test_errors_on_bad_use():
    with pytest.raises(ValueError, match="no input to check"):
        gradcheck(lambda a: a * 2, [R(0, 2, rg=False)])
    with pytest.raises(TypeError, match="output 0 is a float"):
        gradcheck(lambda a: 2.0, [R(0, 2)])


def test_float32_inputs_warn():
    x = tm.Tensor([0.5, 1.0], requires_grad=True)  # float32 by default
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gradcheck(lambda t: t * 2, [x], raise_exception=False)
    messages = [str(w.message) for w in caught]
    assert all(w.category is UserWarning and w.filename == __file__ for w in caught)
    assert any("input 0 requires grad and has dtype float32" in m for m in messages)
    assert any("output 0 has dtype float32" in m for m in messages)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gradcheck(lambda t: t * 2, [T([0.5, 1.0])])  # float64: silent
    assert_grads_close(lambda t: (t * t).tanh(), [x])  # converts to float64, no warning
    assert x.dtype == np.float32


# -- nothing changes -----------------------------------------------------------------------

@pytest.mark.parametrize("fn", [lambda a, b: (a @ b).exp(), lambda a, b: WrongSecond.apply(a, b)],
                         ids=["passing", "failing"])
@pytest.mark.parametrize("fast", [False, True], ids=["full", "fast"])
def test_inputs_and_grads_untouched(fn, fast):
    a, b = R(0, 2, 2), R(1, 2, 2)
    b.grad = np.full((2, 2), 7.0)  # an existing .grad stays as it is
    view = a.data[0]  # a view of an input: never sees a perturbation
    before = [a.data, a.data.copy(), b.data, b.data.copy(), b.grad, view.copy()]
    gradcheck(fn, [a, b], raise_exception=False, fast_mode=fast)
    gradgradcheck(fn, [a, b], raise_exception=False, fast_mode=fast)
    assert a.data is before[0] and np.array_equal(a.data, before[1])
    assert b.data is before[2] and np.array_equal(b.data, before[3])
    assert b.grad is before[4] and np.all(b.grad == 7.0)
    assert a.grad is None
    assert np.array_equal(view, before[5])


def test_inputs_restored_when_fn_raises():
    a = R(0, 3)
    data, copy = a.data, a.data.copy()
    calls = []

    def f(a):
        calls.append(1)
        if len(calls) > 2:
            raise ZeroDivisionError("boom")
        return a * 2

    with pytest.raises(ZeroDivisionError):
        gradcheck(f, [a])
    assert a.data is data and np.array_equal(a.data, copy)
    v = tm.Value(0.25)
    calls.clear()
    with pytest.raises(ZeroDivisionError):
        gradcheck(lambda v: f(v), [v])
    assert v.data == 0.25 and v.grad == 0.0


def test_values_grad_untouched():
    x, y = tm.Value(0.3), tm.Value(-0.7)
    x.grad = 5.0
    assert gradcheck(lambda x, y: x * y * y, [x, y])
    assert gradgradcheck(lambda x, y: x * y * y, [x, y])
    assert (x.data, x.grad, y.data, y.grad) == (0.3, 5.0, -0.7, 0.0)


# -- gradgradcheck --------------------------------------------------------------------------

GRADGRAD_FUNCTIONS = {
    "tanh": (lambda a: a.tanh(), [(3,)]),
    "exp_mul": (lambda a, b: (a * b).exp(), [(2, 3), (3,)]),
    "matmul_tanh": (lambda w, x: (w @ x).tanh(), [(3, 4), (4, 2)]),
    "matmul_exp_sum": (lambda w, x: ((x @ w).exp() * x.sum()).sum(axis=0), [(4, 2), (3, 4)]),
    "softmax_matmul": (lambda w, x: (x @ w).softmax(axis=-1), [(3, 3), (2, 3)]),
}


@pytest.mark.parametrize("name", sorted(GRADGRAD_FUNCTIONS))
@pytest.mark.parametrize("fast", [False, True], ids=["full", "fast"])
def test_gradgradcheck_passes(name, fast):
    fn, shapes = GRADGRAD_FUNCTIONS[name]
    xs = [T(np.random.default_rng(i).uniform(-0.8, 0.8, s)) for i, s in enumerate(shapes)]
    assert gradgradcheck(fn, xs, fast_mode=fast)


def test_gradgradcheck_values_and_given_grad_outputs():
    x, y = tm.Value(0.3), tm.Value(-0.9)
    f = lambda x, y: ((x * y).tanh() + x.exp() * y, (x * x * x).sigmoid())  # noqa: E731
    assert gradgradcheck(f, [x, y])
    assert gradgradcheck(f, [x, y], [tm.Value(0.5), tm.Value(-2.0)])
    a = R(0, 2, 3)
    go = R(5, 2, 3)
    assert gradgradcheck(lambda a: a.tanh() * a, [a], [go])
    assert gradgradcheck(lambda a: a.tanh() * a, [a], [R(5, 2, 3, rg=False)])


def test_gradgradcheck_fails_when_backward_cuts_the_graph():
    x = R(0, 2, 3)
    assert gradcheck(CutGraph.apply, [x])  # first order is fine
    with pytest.raises(GradcheckError) as info:
        gradgradcheck(CutGraph.apply, [x])
    msg = str(info.value)
    assert msg.startswith("gradgradcheck: Jacobian mismatch for the gradient w.r.t. input 0 "
                          "with respect to input 0 at input index (0, 0), output index (0, 0)")
    with pytest.raises(GradcheckError, match="fast mode"):
        gradgradcheck(CutGraph.apply, [x], fast_mode=True)


def test_gradgradcheck_fails_on_a_wrong_second_order_expression():
    x = R(0, 4)
    assert gradcheck(WrongSecondOrder.apply, [x])
    with pytest.raises(GradcheckError, match="with respect to input 0 at input index"):
        gradgradcheck(WrongSecondOrder.apply, [x])


def test_gradgradcheck_names_the_grad_output():
    x = R(0, 3)
    assert gradcheck(GradOutputConstant.apply, [x])
    with pytest.raises(GradcheckError, match=r"with respect to grad_outputs\[0\] at input index"):
        gradgradcheck(GradOutputConstant.apply, [x])


# -- assert_grads_close ------------------------------------------------------------------------

def test_assert_grads_close():
    w = tm.Tensor(np.array([[0.5, -1.0], [0.3, 0.2]], dtype=np.float32), requires_grad=True)
    data = w.data
    assert_grads_close(lambda w: (w @ w).softmax(axis=0), [w])
    assert w.data is data
    with pytest.raises(AssertionError, match="input index"):
        assert_grads_close(WrongAt.apply, [w])
    assert w.data is data and w.dtype == np.float32
