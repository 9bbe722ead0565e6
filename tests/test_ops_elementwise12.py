"""The elementwise ops of issue 12 (tan ... softsign, clip and the activations):
both engines agree with each other and with PyTorch, also exactly at the kinks;
gradcheck and gradgradcheck; ops with parameters are recorded, re-run and
refused by name. (The sweep over shapes is the OPS table of test_tensor_helpers.)"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_tensor_helpers import ELEMENTWISE12, rng_of, values

import tinygrad_memo as tm
from tinygrad_memo.gradcheck import gradcheck, gradgradcheck
from tinygrad_memo.ops import ELEMENTWISE

torch = pytest.importorskip("torch")

NEW = ["tan", "reciprocal", "rsqrt", "expm1", "log2", "log10", "exp2", "sign", "floor", "ceil",
       "clip", "hardtanh", "relu6", "elu", "hardswish", "mish", "softsign",
       "erf", "leaky_relu", "gelu", "silu", "softplus"]


def _off_kinks(rng, op, n):
    lo, hi = op.domain
    x = rng.uniform(lo, hi, 4 * n)
    for k in op.kinks:
        x = x[np.abs(x - k) > 0.05]
    return x[:n]


@pytest.mark.parametrize("name", NEW)
def test_value_and_tensor_agree_off_kinks(name):
    """Forward, first and second derivative: Value == Tensor elementwise (float64)."""
    op = ELEMENTWISE[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    xs = _off_kinks(rng, op, 6)
    args = op.example_args
    t = tm.Tensor(xs, requires_grad=True)
    (g,) = tm.grad(getattr(t, name)(*args).sum(), t, create_graph=True)
    (h,) = tm.grad(g.sum(), t) if g.requires_grad else (np.zeros_like(xs),)
    for i, x in enumerate(xs):
        v = tm.Value(float(x))
        out = getattr(v, name)(*args)
        (gv,) = tm.grad(out, [v], create_graph=True)
        hv = tm.grad(gv, [v])[0] if isinstance(gv, tm.Value) and gv.requires_grad else 0.0
        assert math.isclose(out.data, getattr(t, name)(*args).data[i], rel_tol=1e-12, abs_tol=1e-14)
        assert math.isclose(float(gv), g.data[i], rel_tol=1e-12, abs_tol=1e-14), (name, x)
        assert math.isclose(float(hv), h[i], rel_tol=1e-9, abs_tol=1e-12), (name, x)


# (op, torch function, args, points exactly on or around the kinks)
AT_KINKS = [
    ("clip", lambda x: x.clamp(-1.0, 1.5), (-1.0, 1.5), [-2.0, -1.0, 0.0, 1.5, 2.0]),
    ("clip", lambda x: x.clamp(max=0.5), (None, 0.5), [0.0, 0.5, 1.0]),
    ("clip", lambda x: x.clamp(2.0, 1.0), (2.0, 1.0), [0.0, 1.0, 1.5, 2.0, 3.0]),
    ("hardtanh", lambda x: torch.nn.functional.hardtanh(x), (), [-2.0, -1.0, 0.0, 1.0, 2.0]),
    ("relu6", torch.nn.functional.relu6, (), [-1.0, 0.0, 3.0, 6.0, 7.0]),
    ("hardswish", torch.nn.functional.hardswish, (), [-4.0, -3.0, 0.0, 3.0, 4.0]),
    ("elu", lambda x: torch.nn.functional.elu(x, alpha=2.0), (2.0,), [-1.0, 0.0, 1.0]),
    ("sign", torch.sign, (), [-1.0, 0.0, 1.0]),
    ("floor", torch.floor, (), [-1.0, 0.0, 2.0]),
    ("ceil", torch.ceil, (), [-1.0, 0.0, 2.0]),
    ("softsign", torch.nn.functional.softsign, (), [-1.0, 0.0, 1.0]),
    ("mish", torch.nn.functional.mish, (), [-30.0, -1.0, 0.0, 1.0, 30.0]),
    ("leaky_relu", lambda x: torch.nn.functional.leaky_relu(x, 0.2), (0.2,), [-1.0, 0.0, 1.0]),
    ("softplus", lambda x: torch.nn.functional.softplus(x, 2.0, 3.0), (2.0, 3.0),
     [-800.0, 0.0, 1.4999, 1.5, 1.5001, 800.0]),
    ("gelu", torch.nn.functional.gelu, (), [-40.0, -7.0, -1.0, 0.0, 1.0, 7.0, 40.0]),
    ("gelu", lambda x: torch.nn.functional.gelu(x, approximate="tanh"), ("tanh",),
     [-40.0, -1.0, 0.0, 1.0, 40.0]),
    ("silu", torch.nn.functional.silu, (), [-800.0, -1.0, 0.0, 1.0, 800.0]),
    ("erf", torch.erf, (), [-7.0, -2.0, -1e-300, 0.0, 1e-8, 1.9999, 2.0, 5.99, 6.0, 30.0]),
]


@pytest.mark.parametrize("name,tf,args,points", AT_KINKS, ids=[c[0] for c in AT_KINKS])
def test_kink_conventions_are_pytorchs_in_both_engines(name, tf, args, points):
    x = np.array(points)
    tx = torch.tensor(x, requires_grad=True)
    tout = tf(tx)
    tout.backward(torch.ones_like(tx))
    t = tm.Tensor(x, requires_grad=True)
    out = getattr(t, name)(*args)
    out.backward(np.ones_like(x))
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(t.grad, tx.grad.numpy(), rtol=1e-12, atol=1e-15)
    for i, p in enumerate(points):
        v = tm.Value(p)
        getattr(v, name)(*args).backward()
        assert math.isclose(v.grad, tx.grad[i].item(), rel_tol=1e-12, abs_tol=1e-15), (name, p)


@pytest.mark.parametrize("op", ELEMENTWISE12, ids=[o.name for o in ELEMENTWISE12])
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_gradcheck_and_gradgradcheck(op, data):
    (x,), _ = op.draw(data.draw)
    rng = rng_of(data.draw)
    if op.name in ("sign", "floor", "ceil", "clip", "clip_hi", "clip_lo", "hardtanh",
                   "hardtanh_args", "relu6", "hardswish", "leaky_relu", "leaky_relu_slope",
                   "softplus_args"):
        x = np.where(np.abs(x - np.round(x * 2) / 2) < 0.02, x + 0.05, x)  # off the kinks
    t = tm.Tensor(x, requires_grad=True)
    assert gradcheck(op.fn, [t])
    assert gradgradcheck(op.fn, [t], [tm.Tensor(values(rng, x.shape), requires_grad=True)])


def test_recorded_with_parameters_and_rerun():
    x = tm.Tensor([-2.0, 0.5, 2.0], requires_grad=True)
    y = x.clip(0, hi=1)
    assert y.grad_fn.name == "clip" and y.grad_fn.args == {"lo": 0, "hi": 1}
    np.testing.assert_array_equal(y.grad_fn.rerun([tm.Tensor([5.0, -5.0])]).data, [1.0, 0.0])
    assert x.elu().grad_fn.args == {"alpha": 1.0}
    v = tm.Value(0.5).hardtanh(max_val=0.25)
    assert v.grad_fn.name == "hardtanh" and v.grad_fn.args == {"min_val": -1.0, "max_val": 0.25}
    assert v.grad_fn.rerun([tm.Value(-3.0)]).data == -1.0
    assert repr(v.grad_fn) == "<hardtanh min_val=-1.0, max_val=0.25>"


def test_registry_call_with_keywords():
    y = ELEMENTWISE["elu"].apply(tm.Tensor([-1.0], requires_grad=True), alpha=2.0)
    np.testing.assert_allclose(y.data, [2.0 * math.expm1(-1.0)], rtol=1e-6)


@pytest.mark.parametrize("engine", ["value", "tensor"])
def test_bad_parameters_are_refused_by_name(engine):
    x = tm.Value(0.5) if engine == "value" else tm.Tensor([0.5])
    with pytest.raises(ValueError, match="clip: give at least one of lo and hi"):
        x.clip()
    with pytest.raises(TypeError, match="use lo="):
        x.clip(min=0.0)
    with pytest.raises(TypeError, match="clip: hi must be a number"):
        x.clip(0.0, "1")
    with pytest.raises(TypeError, match=r"elu\(\) takes 1 argument"):
        x.elu(1.0, 2.0)
    with pytest.raises(TypeError, match="multiple values for argument 'alpha'"):
        x.elu(1.0, alpha=2.0)
    with pytest.raises(ValueError, match="min_val .* cannot be greater than max_val"):
        x.hardtanh(1.0, -1.0)


@pytest.mark.parametrize("name,x,err", [
    ("log2", 0.0, ValueError), ("log10", -1.0, ValueError), ("rsqrt", 0.0, ValueError),
    ("reciprocal", 0.0, ZeroDivisionError),
])
def test_value_domain_errors_name_the_op(name, x, err):
    with pytest.raises(err, match=f"Value.{name}"):
        getattr(tm.Value(x), name)()


def test_tensor_outside_the_domain_is_numpy():
    with np.errstate(all="ignore"):
        x = tm.Tensor([0.0, -1.0])
        np.testing.assert_array_equal(x.log2().data, [-np.inf, np.nan])
        np.testing.assert_array_equal(x.reciprocal().data, [np.inf, -1.0])


def test_numpy_ufuncs_record_the_new_ops():
    x = tm.Tensor([0.3, 1.7], requires_grad=True)
    for f, name in [(np.tan, "tan"), (np.expm1, "expm1"), (np.log2, "log2"), (np.exp2, "exp2"),
                    (np.floor, "floor"), (np.sign, "sign"), (np.reciprocal, "reciprocal")]:
        y = f(x)
        assert isinstance(y, tm.Tensor) and y.grad_fn.name == name


def test_float32_stays_float32():
    x = tm.Tensor([0.25, 0.5, 2.0], requires_grad=True)
    for name in NEW:
        op = ELEMENTWISE[name]
        y = getattr(x, name)(*op.example_args)
        assert y.dtype == np.float32, name
        y.backward(np.ones(3, dtype=np.float32))
        assert x.grad.dtype == np.float32, name
        x.grad = None


def test_mish_is_stable_at_large_magnitudes():
    a = np.array([-1e4, -100.0, -30.0, 30.0, 100.0, 1e4])
    t = tm.Tensor(a, requires_grad=True)
    t.mish().backward(np.ones(6))
    tx = torch.tensor(a, requires_grad=True)
    torch.nn.functional.mish(tx).backward(torch.ones(6, dtype=torch.float64))
    assert np.isfinite(t.grad).all()
    np.testing.assert_allclose(t.mish().data, torch.nn.functional.mish(tx).detach().numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(t.grad, tx.grad.numpy(), rtol=1e-9, atol=1e-300)


def test_jit_replays_ops_with_parameters_as_eager():
    def f(x, lo):
        return (x * 2).clip(lo, 1.5) + x.elu(0.5) + x.hardtanh(max_val=0.3)

    step = tm.jit(f)
    for v, lo in [(0.2, -1.0), (-0.7, -1.0), (2.0, -1.0), (-0.7, -0.2), (-3.0, -2.0)]:
        x, x2 = tm.Value(v), tm.Value(v)
        y, y2 = step(x, lo), f(x2, lo)
        y.backward()
        y2.backward()
        assert (y.data, x.grad) == (y2.data, x2.grad), (v, lo)


@pytest.mark.parametrize("name", NEW + ["exp", "tanh", "relu"])
def test_unary_forward_mode_rule_is_the_directional_derivative(name):
    op = ELEMENTWISE[name]
    x = _off_kinks(np.random.default_rng(5), op, 5)
    t = np.random.default_rng(6).normal(size=x.shape)
    kw = dict(zip(op.params, op.example_args))

    def run(a):
        ctx = tm.function.Context(op, (a,), kw)
        ctx.needs_input_grad = (True,)
        return op.forward(ctx, a, **kw), ctx

    _, ctx = run(x)
    eps = 1e-6
    fd = (run(x + eps * t)[0] - run(x - eps * t)[0]) / (2 * eps)
    np.testing.assert_allclose(op.jvp(ctx, t), fd, rtol=1e-6, atol=1e-8)
    assert op.jvp(ctx, None) is None


@pytest.mark.parametrize("name", [n for n, op in ELEMENTWISE.items() if getattr(op, "params", None)])
def test_parameters_given_positionally_to_apply(name):
    """op.apply(x, *params): the parameters are positional inputs of the call, so the
    derivative returns None for each and forward mode passes them no tangent."""
    op = ELEMENTWISE[name]
    x = _off_kinks(np.random.default_rng(2), op, 5)
    t1, t2 = tm.Tensor(x, requires_grad=True), tm.Tensor(x, requires_grad=True)
    by_name = getattr(t1, name)(*op.example_args)
    y = op.apply(t2, *op.example_args)
    (by_name * by_name).sum().backward()
    (y * y).sum().backward()
    np.testing.assert_allclose(y.data, by_name.data, rtol=1e-15)
    np.testing.assert_allclose(t2.grad, t1.grad, rtol=1e-15)
    v = np.random.default_rng(3).normal(size=x.shape)
    _, tangent = tm.jvp(lambda a: op.apply(a, *op.example_args), (tm.Tensor(x),), (tm.Tensor(v),))
    np.testing.assert_allclose(tangent.data, _directional(op, x, v), rtol=1e-6, atol=1e-8)


def _directional(op, x, v, eps=1e-6):
    kw = dict(zip(op.params, op.example_args))
    with tm.no_grad():
        up = getattr(tm.Tensor(x + eps * v), op.name)(**kw).data
        down = getattr(tm.Tensor(x - eps * v), op.name)(**kw).data
    return (up - down) / (2 * eps)


def test_array_forwards_keep_numpy_scalars_numpy():
    for name in ("sigmoid", "mish"):
        out = ELEMENTWISE[name].array(np.float64(0.5))
        assert isinstance(out, np.generic | np.ndarray) and hasattr(out, "max"), name
