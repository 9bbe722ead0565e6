"""Random graphs (tinygrad_memo.testing.strategies), jitted: over several replays with new
data and updated parameters, outputs and gradients equal eager's: bit for bit in the
Tensor engine (the same numpy calls in the same order), to 1e-12 relative in the Value
engine (numpy's elementwise functions and order of additions), BackwardStats equal."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_tensor_helpers import nudge

import tinygrad_memo as tm
from tinygrad_memo import Tensor, Value
from tinygrad_memo.testing import strategies as S

REPLAYS = 3


class Softsign(tm.Function):
    """A custom Function in the graph: x / (1 + |x|), saving its input."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x / (1 + np.abs(x))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / (1 + abs(x)) ** 2


@settings(deadline=None)
@given(S.tensor_expressions(max_ops=6, scalar=False), st.data())
def test_tensor_graphs_replay_as_eager(expr, data):
    n = expr.n_inputs
    captured = data.draw(st.lists(st.booleans(), min_size=n, max_size=n), label="captured")
    rng = np.random.default_rng(0)
    weights = rng.uniform(0.5, 1.5, np.shape(expr.evaluate()))
    params = [Tensor(np.array(x, dtype=np.float64), requires_grad=True) for x in expr.inputs]
    twins = [Tensor(p.data.copy(), requires_grad=True) for p in params]

    def build(ins, ps, custom):
        xs = iter(ins)
        full = [p if c else next(xs) for p, c in zip(ps, captured)]
        out = expr.build_tensor(full)
        if custom:
            out = Softsign.apply(out * 0.5)
        return out

    custom = data.draw(st.booleans(), label="custom Function")
    step = tm.jit(lambda *ins: build(ins, twins, custom))
    inputs = [x for x, c in zip(expr.inputs, captured) if not c]
    for i in range(2 + REPLAYS):
        arrays = nudge([np.asarray(x, dtype=np.float64) for x in inputs], i)
        eager_in = [Tensor(a, requires_grad=True) for a in arrays]
        jit_in = [Tensor(a.copy(), requires_grad=True) for a in arrays]
        out1 = build(eager_in, params, custom)
        out2 = step(*jit_in)
        np.testing.assert_array_equal(out2.numpy(), out1.numpy())
        seed = Tensor(weights * (1 + i))
        s1, s2 = out1.backward(seed), out2.backward(seed)
        assert s1 == s2
        for a, b in zip(eager_in + params, jit_in + twins):
            np.testing.assert_array_equal(a.grad, b.grad)
        for p, q in zip(params, twins):  # an optimizer step on the captured parameters
            if p.grad is None:
                continue
            p.data = p.data - 0.01 * np.tanh(p.grad)
            q.data = q.data - 0.01 * np.tanh(q.grad)
            p.grad = q.grad = None
    (plan,) = step.plans
    assert plan.status == "ready" and plan.replays == REPLAYS


def _close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isinf(a):  # (an overflow: eager and replay alike)
        return a == b or (math.isnan(a) and math.isnan(b))
    return abs(a - b) <= 1e-12 * max(1.0, abs(a))


@settings(deadline=None)
@given(S.value_expressions(max_ops=8), st.data())
def test_value_graphs_replay_as_eager(expr, data):
    n = expr.n_inputs
    captured = data.draw(st.lists(st.booleans(), min_size=n, max_size=n), label="captured")
    params = [Value(float(x)) for x in expr.inputs]
    twins = [Value(float(x)) for x in expr.inputs]

    def build(ins, ps):
        xs = iter(ins)
        return expr.build_value([p if c else next(xs) for p, c in zip(ps, captured)])

    step = tm.jit(lambda ins: build(ins, twins))
    inputs = [float(x) for x, c in zip(expr.inputs, captured) if not c]
    for i in range(2 + REPLAYS):
        vals = [x + 0.01 * (i + 1) * (1.0 + abs(x)) for x in inputs]  # (as nudge)
        eager_in = [Value(v) for v in vals]
        jit_in = [Value(v) for v in vals]
        out1 = build(eager_in, params)
        out2 = step(jit_in)
        assert _close(out1.data, out2.data)
        s1, s2 = out1.backward(), out2.backward()
        assert s1 == s2
        for a, b in zip(eager_in + params, jit_in + twins):
            assert _close(a.grad, b.grad), (a.grad, b.grad)
        for p, q in zip(params, twins):  # a small optimizer step
            p.data -= 0.01 * math.tanh(p.grad)
            q.data -= 0.01 * math.tanh(q.grad)
            p.grad = q.grad = 0.0
    (plan,) = step.plans
    assert plan.status == "ready" and plan.replays == REPLAYS
