"""Every op of the registry, jitted: over several replays with new data and updated
parameters, outputs, gradients and BackwardStats equal eager's, bit for bit (a replay
runs the same op code in the same order). The elementwise ops come from the registry
itself; the others each have a call below, and a new op without one fails the
coverage test (add its call here)."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_memo as tm
from tinygrad_memo import Tensor
from tinygrad_memo.nn import functional as F
from tinygrad_memo.ops import ELEMENTWISE, REGISTRY

RNG = np.random.default_rng(7)
W = RNG.uniform(0.5, 1.5, (3, 4))  # a captured parameter's starting value
IMG = (2, 2, 5, 5)


def _grad_of(f):
    """A call that records the op's derivative ops too (create_graph inside the call)."""
    def g(x, w):
        (gx,) = tm.grad((f(x, w) * f(x, w)).sum(), [x], create_graph=True)
        return gx
    return g


# op name -> (input shape, function of (x, w)); w is a captured (3, 4) parameter
CALLS = {
    "astype": ((3, 4), lambda x, w: (x * w).astype(np.float32) * 2.0),
    "avg_pool2d": (IMG, lambda x, w: F.avg_pool2d(x, 2, stride=1) * w[0, 0]),
    "clip": ((3, 4), lambda x, w: (x * w).clip(0.8, 1.2)),
    "clone": ((3, 4), lambda x, w: REGISTRY["clone"].apply(x * w) * w),
    "concatenate": ((3, 4), lambda x, w: tm.concatenate([x, w * x], axis=1)),
    "conv2d": (IMG, lambda x, w: F.conv2d(x, w[:2, :2].reshape(2, 2, 1, 1).expand(2, 2, 2, 2),
                                          padding=1)),
    "conv2d_weight": (IMG, _grad_of(lambda x, w: F.conv2d(
        x * w[0, 0], w[:2, :2].reshape(2, 2, 1, 1).expand(2, 2, 2, 2)))),
    "conv_transpose2d": (IMG, lambda x, w: F.conv_transpose2d(
        x, w[:2, :2].reshape(2, 2, 1, 1).expand(2, 2, 2, 2), stride=2)),
    "cross_entropy": ((3, 4), lambda x, w: F.cross_entropy(x * w, np.array([0, 3, 1]))),
    "cumsum": ((3, 4), lambda x, w: (x * w).cumsum(axis=1)),
    "diagonal": ((3, 4), lambda x, w: (x * w).diagonal()),
    "dropout": ((3, 4), lambda x, w: F.dropout(x * w, 0.3)),
    "embedding": ((3, 4), lambda x, w: F.embedding(Tensor(np.array([[2, 0], [2, 1]])), x * w)),
    "einsum": ((3, 4), lambda x, w: tm.einsum("ij,kj->ik", x, w)),
    "expand": ((3, 4), lambda x, w: (x * w)[:1].expand(2, 3, 4)),
    "flip": ((3, 4), lambda x, w: (x * w).flip(1)),
    "gather": ((3, 4), lambda x, w: (x * w).gather(1, np.array([[0, 0], [3, 1], [2, 2]]))),
    "getitem": ((3, 4), lambda x, w: (x * w)[[0, 0, 2], 1:]),
    "index_add": ((3, 4), _grad_of(lambda x, w: (x * w)[[0, 0, 2]])),
    "linear": ((2, 4), lambda x, w: F.linear(x, w, w[:, 0])),
    "log_softmax": ((3, 4), lambda x, w: (x * w).log_softmax(axis=0)),
    "logsumexp": ((3, 4), lambda x, w: (x * w).logsumexp(axis=1)),
    "matmul": ((2, 3), lambda x, w: x @ w),
    "max": ((3, 4), lambda x, w: (x * w).max(axis=1)),
    "max_pool2d": (IMG, lambda x, w: F.max_pool2d(x * w[0, 0], 2, stride=1)),
    "mean": ((3, 4), lambda x, w: (x * w).mean(axis=0, keepdims=True)),
    "min": ((3, 4), lambda x, w: (x * w).min()),
    "multinomial": ((3, 4), lambda x, w: tm.multinomial(x * w, 2) * 1.0),
    "one_hot": ((3, 4), lambda x, w: F.one_hot(tm.multinomial(x, 3), 4) * w[0] + x),
    "pad": ((3, 4), lambda x, w: F.pad(x * w, (1, 2))),
    "prod": ((3, 4), lambda x, w: (x * w).prod(axis=0)),
    "repeat": ((3, 4), lambda x, w: (x * w).repeat(2, axis=0)),
    "reshape": ((3, 4), lambda x, w: (x * w).reshape(4, 3)),
    "roll": ((3, 4), lambda x, w: (x * w).roll(1, axis=1)),
    "softmax": ((3, 4), lambda x, w: (x * w).softmax(axis=1)),
    "stack": ((3, 4), lambda x, w: tm.stack([x, x * w], axis=2)),
    "std": ((3, 4), lambda x, w: (x * w).std(axis=1)),
    "sum": ((3, 4), lambda x, w: (x * w).sum(axis=(0, 1))),
    "tile": ((3, 4), lambda x, w: (x * w).tile(1, 2)),
    "trace": ((3, 4), lambda x, w: (x * w).trace()),
    "transpose": ((3, 4), lambda x, w: (x * w).T),
    "tril": ((3, 4), lambda x, w: (x * w).tril()),
    "triu": ((3, 4), lambda x, w: (x * w).triu(1)),
    "var": ((3, 4), lambda x, w: (x * w).var(axis=0, ddof=1)),
    "where": ((3, 4), lambda x, w: tm.where(x > 1.0, x * w, w)),
    "window_scatter": (IMG, _grad_of(lambda x, w: F.avg_pool2d(x * w[0, 0], 2))),
    "window_sum": (IMG, lambda x, w: F.avg_pool2d(x, 3, stride=2, padding=1) * w[0, 0]),
}


def _inside(x, domain):
    """x in [0.5, 1.5] (or so) moved into the op's domain (lo, hi)."""
    lo, hi = domain
    return (x - 0.5) * ((hi - lo) / 3) + (lo + (hi - lo) / 3)


def _elementwise_call(op):
    domains = op.input_domains()
    if op.arity == 1:
        return (3, 4), lambda x, w: op.apply(_inside(x * w / 1.5, domains[0]))
    return (3, 4), lambda x, w: op.apply(_inside(x, domains[0]), _inside(w, domains[1]))


def _call(name):
    if name in CALLS:
        return CALLS[name]
    return _elementwise_call(REGISTRY[name])


def test_every_registry_op_has_a_call():
    missing = sorted(n for n in REGISTRY if n not in ELEMENTWISE and n not in CALLS)
    assert not missing, f"add a call for these ops to tests/test_jit_ops.py: {missing}"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_op_replays_as_eager(name):
    if name not in ELEMENTWISE and name not in CALLS:
        pytest.skip("no call yet (see test_every_registry_op_has_a_call)")
    shape, f = _call(name)
    w1, w2 = Tensor(W.copy(), requires_grad=True), Tensor(W.copy(), requires_grad=True)
    step = tm.jit(lambda x: f(x, w2))
    for i in range(4):
        data = RNG.uniform(0.5, 1.5, shape) + 0.1 * i
        x1, x2 = Tensor(data, requires_grad=True), Tensor(data.copy(), requires_grad=True)
        seed = 1000 + i
        tm.manual_seed(seed)
        out1 = f(x1, w1)
        tm.manual_seed(seed)
        out2 = step(x2)
        np.testing.assert_array_equal(out2.numpy(), out1.numpy())
        if not out1.requires_grad:
            continue
        g = RNG.uniform(0.5, 1.5, out1.shape)
        s1, s2 = out1.backward(Tensor(g)), out2.backward(Tensor(g))
        assert s1 == s2
        for a, b in ((x1, x2), (w1, w2)):
            if a.grad is None:
                assert b.grad is None
            else:
                np.testing.assert_array_equal(b.grad, a.grad)
        for w in (w1, w2):  # an optimizer step between the calls
            if w.grad is not None:
                with tm.no_grad():
                    w -= 0.01 * w.grad
                w.grad = None
    (plan,) = step.plans
    assert plan.status == "ready" and plan.replays == 2


VALUE_OPS = sorted(n for n, op in ELEMENTWISE.items() if getattr(op, "scalar", None) is not None)


@pytest.mark.parametrize("name", VALUE_OPS)
def test_value_op_replays_as_eager(name):
    """Every scalar op, in all its operand forms (two nodes, a constant on either side):
    the grouped numpy replay gives eager's values and gradients to 1e-12."""
    from tinygrad_memo import Value
    from tinygrad_memo.value import _call

    op = ELEMENTWISE[name]
    (la, ha), (lb, hb) = (op.input_domains() * 2)[:2]
    ma, mb = (la + ha) / 2, (lb + hb) / 2
    params = dict(zip(getattr(op, "params", {}), getattr(op, "example_args", ())))

    def f(xs, ps):
        a = xs[0] * ((ha - la) / 4) + ma * ps[0]
        if op.arity == 1:
            return _call(op, [a], params) * ps[1]
        b = xs[1] * ((hb - lb) / 4) + mb * ps[1]
        return (_call(op, [a, b], {}) + _call(op, [a], {"b": mb}) * 2
                + _call(op, [b], {"a": ma}) * ps[0])

    p1, p2 = [Value(1.0), Value(1.1)], [Value(1.0), Value(1.1)]
    step = tm.jit(lambda xs: f(xs, p2))
    for i in range(4):
        vals = [0.3 + 0.1 * i, -0.2 + 0.05 * i]
        x1, x2 = [Value(v) for v in vals], [Value(v) for v in vals]
        out1, out2 = f(x1, p1), step(x2)
        assert out2.data == pytest.approx(out1.data, rel=1e-12, abs=1e-14)
        assert out1.backward() == out2.backward()
        for a, b in zip(x1 + p1, x2 + p2):
            assert b.grad == pytest.approx(a.grad, rel=1e-12, abs=1e-14)
        for p in p1 + p2:
            p.data -= 0.01 * p.grad
            p.grad = 0.0
    assert step.plans[0].replays == 2
