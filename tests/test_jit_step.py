"""tm.jit of a whole training step: forward, zero_grad, backward and optimizer step in
one jitted function, replayed as eager (bit for bit), or detected and run eagerly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from test_tensor_helpers import nudge

import tinygrad_memo as tm
from tinygrad_memo import Function, Tensor, Value, nn, optim
from tinygrad_memo.jit import JitWarning
from tinygrad_memo.nn import functional as F
from tinygrad_memo.testing import strategies as S


def _model(seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    m = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))
    for p in m.parameters():
        p.data = rng.standard_normal(p.shape).astype(dtype)
    return m


OPTIMIZERS = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.1),
    "momentum": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda ps: optim.Adam(ps, lr=0.01),
}


def _data(rng, n=6):
    return rng.standard_normal((n, 4)).astype(np.float32), rng.integers(0, 3, n)


def _assert_same(m1, m2):
    for p, q in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
        if p.grad is None:
            assert q.grad is None
        else:
            np.testing.assert_array_equal(p.grad, q.grad)


@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
@pytest.mark.parametrize("zero", ["optimizer", "module"])
def test_whole_step_replays_as_eager_bit_for_bit(opt, zero):
    models = [_model(), _model()]
    opts = [OPTIMIZERS[opt](m.parameters()) for m in models]
    scheds = [optim.StepLR(o, step_size=2, gamma=0.5) for o in opts]

    def make_step(m, o, s):
        def step(x, y):
            (o if zero == "optimizer" else m).zero_grad()
            loss = F.cross_entropy(m(Tensor(x)), y)
            twice = loss.detach() * 2  # (computed before the step: see the test below)
            loss.backward()
            o.step()
            s.step()
            return loss, twice

        return step

    eager = make_step(models[0], opts[0], scheds[0])
    jitted = tm.jit(make_step(models[1], opts[1], scheds[1]))
    rng = np.random.default_rng(1)
    for _ in range(6):
        x, y = _data(rng)
        (a, a2), (b, b2) = eager(x, y), jitted(x, y)
        assert a.item() == b.item() and a2.item() == b2.item()
        _assert_same(*models)
        assert opts[0].lr == opts[1].lr
    assert jitted.plans[0].status == "ready" and jitted.plans[0].replays == 4
    assert _plan(jitted).direct  # (the common step: replayed without a call node)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        b.backward()  # the step's backward has freed its graph, as eager's


def test_gradients_accumulate_without_zero_grad_as_eager():
    models = [_model(), _model()]

    def make_step(m):
        def step(x, y):
            F.cross_entropy(m(Tensor(x)), y).backward()

        return step

    eager, jitted = make_step(models[0]), tm.jit(make_step(models[1]))
    rng = np.random.default_rng(2)
    for _ in range(4):
        x, y = _data(rng)
        eager(x, y)
        jitted(x, y)
        _assert_same(*models)
    assert jitted.plans[0].replays == 2


def _side_by_side(make_step, models, opts, steps, seed):
    """``make_step(model, opt)`` run eagerly on the first model and jitted on the second,
    on the same data: the same losses, parameters and gradients after every step.
    Returns the jitted step."""
    eager, jitted = make_step(models[0], opts[0]), tm.jit(make_step(models[1], opts[1]))
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x, y = _data(rng)
        assert eager(x, y).item() == jitted(x, y).item()
        _assert_same(*models)
    return jitted


def _plan(jitted):
    (entry,) = jitted._entries.values()
    return entry.plan


class _Stop(Function):
    """The identity, whose backward sends no gradient (None)."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        return None


def test_parameters_no_gradient_reaches_keep_none_as_eager():
    models = [_model(), _model()]
    opts = [optim.SGD(m.parameters(), lr=0.1, momentum=0.5) for m in models]

    def make_step(m, o):
        def step(x, y):
            o.zero_grad()
            h = Tensor(x)
            for i, layer in enumerate(m):
                h = layer(h)
                if i == 1:  # nothing flows back into the first layer
                    h = _Stop.apply(h)
            loss = F.cross_entropy(h, y)
            loss.backward()
            o.step()
            return loss

        return step

    jitted = _side_by_side(make_step, models, opts, steps=4, seed=5)
    assert models[1][0].weight.grad is None and models[1][2].weight.grad is not None
    assert jitted.plans[0].replays == 2 and _plan(jitted).direct


def test_a_hook_added_later_runs_at_each_replay():
    m = _model()
    opt = optim.SGD(m.parameters(), lr=0.1)

    @tm.jit
    def step(x, y):
        opt.zero_grad()
        F.cross_entropy(m(Tensor(x)), y).backward()

    rng = np.random.default_rng(3)
    for _ in range(3):
        step(*_data(rng))
    seen = []
    w = m[0].weight
    handle = w.register_hook(lambda g: seen.append(g.copy()) or g * 0)
    x, y = _data(rng)
    step(x, y)
    assert len(seen) == 1 and not w.grad.any()  # the hook ran and replaced the gradient
    handle.remove()
    step(x, y)
    np.testing.assert_array_equal(w.grad, seen[0])  # the plan's own pass again
    assert step.plans[0].replays >= 3


def test_an_input_from_an_outer_graph_gets_its_gradient_through_the_engine():
    emb = nn.Embedding(5, 4)
    ms = [_model(), _model()]
    embs = [emb, nn.Embedding(5, 4)]
    embs[1].weight.data = emb.weight.data.copy()

    def make_step(m):
        def step(h, y):
            m.zero_grad()
            F.cross_entropy(m(h), y).backward()

        return step

    eager, jitted = make_step(ms[0]), tm.jit(make_step(ms[1]))
    rng = np.random.default_rng(4)
    for _ in range(4):
        idx, y = rng.integers(0, 5, 6), rng.integers(0, 3, 6)
        for e in embs:
            e.zero_grad()
        eager(embs[0](idx), y)
        jitted(embs[1](idx), y)
        _assert_same(*ms)
        np.testing.assert_array_equal(embs[0].weight.grad, embs[1].weight.grad)
    assert jitted.plans[0].replays == 2


def _runs_eagerly(step, match):
    rng = np.random.default_rng(5)
    with pytest.warns(JitWarning, match=match):
        for _ in range(3):
            step(*_data(rng))
    assert step.plans[0].status == "eager" and step.plans[0].replays == 0


def test_gradient_clipping_inside_replays_as_eager():
    models = [_model(), _model()]
    opts = [optim.SGD(m.parameters(), lr=0.1) for m in models]

    def make_step(m, opt):
        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(m(Tensor(x)), y)
            loss.backward()
            nn.utils.clip_grad_norm_(m.parameters(), 0.5)  # called again by every replay
            opt.step()
            return loss

        return step

    jitted = _side_by_side(make_step, models, opts, steps=5, seed=7)
    assert jitted.plans[0].replays == 3


def test_reading_a_gradient_or_using_a_clipped_norm_inside_is_detected():
    m = _model()
    opt = optim.SGD(m.parameters(), lr=0.1)

    def reads(x, y):
        opt.zero_grad()
        F.cross_entropy(m(Tensor(x)), y).backward()
        for p in m.parameters():
            p.grad = p.grad * 0.5  # Python arithmetic on .grad: no op records it
        opt.step()

    _runs_eagerly(tm.jit(reads), r"\.grad")

    def returns_norm(x, y):
        opt.zero_grad()
        F.cross_entropy(m(Tensor(x)), y).backward()
        return nn.utils.clip_grad_norm_(m.parameters(), 0.5)  # (a new number each call)

    _runs_eagerly(tm.jit(returns_norm), "clip_grad_norm_")


def test_computing_after_the_optimizer_step_is_detected():
    m = _model()
    opt = optim.SGD(m.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        F.cross_entropy(m(Tensor(x)), y).backward()
        opt.step()
        return m(Tensor(x))  # with the updated weights

    _runs_eagerly(tm.jit(step), r"computes after opt\.step\(\)")


def test_two_backward_passes_and_changed_effects_are_detected():
    m = _model()
    opt = optim.SGD(m.parameters(), lr=0.1)

    def twice(x, y):
        F.cross_entropy(m(Tensor(x)), y).backward()
        F.cross_entropy(m(Tensor(x)), y).backward()

    _runs_eagerly(tm.jit(twice), "more than once")
    calls = []

    def every_other(x, y):
        calls.append(1)
        F.cross_entropy(m(Tensor(x)), y).backward()
        if len(calls) % 2:
            opt.step()

    _runs_eagerly(tm.jit(every_other), "changed between the first two calls")


def test_a_value_optimizer_inside_is_detected():
    ws = [Value(0.5), Value(-1.0)]
    opt = optim.SGD(ws, lr=0.1)

    def step(a, b):
        opt.zero_grad()
        return (ws[0] * a + ws[1] * b).tanh()

    jitted = tm.jit(step)
    with pytest.warns(JitWarning, match="Values"):
        for k in range(3):
            assert jitted(Value(1.0 + k), Value(2.0)).data == step(Value(1.0 + k), Value(2.0)).data
    assert jitted.plans[0].status == "eager"


def test_a_hook_inside_the_step_is_detected_and_one_elsewhere_is_not():
    m = _model()
    elsewhere = Tensor(np.ones(2), requires_grad=True)
    handle = elsewhere.register_hook(lambda g: g)  # (a hook on another graph's tensor)

    def step(x, y):
        h = m(Tensor(x))
        h.register_hook(lambda g: g * 2)
        F.cross_entropy(h, y).backward()

    _runs_eagerly(tm.jit(step), "hook or checkpoint inside")

    def plain(x, y):
        F.cross_entropy(m(Tensor(x)), y).backward()

    jitted = tm.jit(plain)
    rng = np.random.default_rng(6)
    for _ in range(3):
        jitted(*_data(rng))
    assert jitted.plans[0].replays == 1
    handle.remove()


def test_a_checkpoint_inside_the_step_is_detected():
    m = _model()

    def step(x, y):
        h = tm.checkpoint(m, Tensor(x))
        F.cross_entropy(h, y).backward()

    _runs_eagerly(tm.jit(step), "checkpoint")


@settings(deadline=None)
@given(S.tensor_expressions(max_ops=6, scalar=False), hst.data())
def test_random_graphs_as_whole_steps_replay_as_eager(expr, data):
    """Random graphs (shared subexpressions, broadcasting, reductions, indexing) as the
    loss of a jitted step with backward and SGD inside: the same losses, gradients
    (of captured parameters and of arguments) and updated parameters as eager, bit for
    bit, over several replays with new data."""
    n = expr.n_inputs
    captured = data.draw(hst.lists(hst.booleans(), min_size=n, max_size=n), label="captured")
    weights = np.random.default_rng(0).uniform(0.5, 1.5, np.shape(expr.evaluate()))
    params = [Tensor(np.array(x, dtype=np.float64), requires_grad=True) for x in expr.inputs]
    twins = [Tensor(p.data.copy(), requires_grad=True) for p in params]

    def make(ps):
        opt = optim.SGD(ps, lr=0.01, momentum=0.5)

        def step(*ins):
            xs = iter(ins)
            opt.zero_grad()
            loss = (expr.build_tensor([p if c else next(xs) for p, c in zip(ps, captured)])
                    * weights).sum()
            loss.backward()
            opt.step()
            return loss

        return step

    eager, jitted = make(params), tm.jit(make(twins))
    inputs = [x for x, c in zip(expr.inputs, captured) if not c]
    for i in range(5):
        arrays = nudge([np.asarray(x, dtype=np.float64) for x in inputs], i)  # (new data)
        eager_in = [Tensor(a, requires_grad=True) for a in arrays]
        jit_in = [Tensor(a.copy(), requires_grad=True) for a in arrays]
        np.testing.assert_array_equal(jitted(*jit_in).numpy(), eager(*eager_in).numpy())
        for a, b in zip(eager_in + params, jit_in + twins):
            assert (a.grad is None) == (b.grad is None)
            if a.grad is not None:
                np.testing.assert_array_equal(a.grad, b.grad)
            np.testing.assert_array_equal(a.data, b.data)
    (plan,) = jitted.plans
    assert plan.status == "ready" and plan.replays == 3


def test_the_fast_way_in_never_replays_a_call_the_long_way_would_not():
    """After a replay, the next call goes straight to the plan replayed last
    (``Jit._hot``): a call with another signature, after a parameter was replaced or
    after ``clear()`` must each do what the long way does (record, or replay another
    plan), as eager."""
    models = [_model(), _model()]
    boxes = [{"opt": optim.SGD(m.parameters(), lr=0.1)} for m in models]

    def make_step(m, box):
        def step(x, y):
            box["opt"].zero_grad()
            loss = F.cross_entropy(m(Tensor(x)), y)
            loss.backward()
            box["opt"].step()
            return loss

        return step

    eager, jitted = make_step(models[0], boxes[0]), tm.jit(make_step(models[1], boxes[1]))
    rng = np.random.default_rng(3)

    def both(n=6):
        x, y = _data(rng, n)
        a, b = eager(x, y), jitted(x, y)
        np.testing.assert_array_equal(a.data, b.data)
        _assert_same(*models)

    for _ in range(4):
        both()
    assert jitted._hot is not None and jitted.plans[0].replays == 2
    for _ in range(3):  # another batch size: its own plan, then back to the first
        both(5)
    both()
    assert [p.replays for p in jitted.plans] == [3, 1]
    for m, box in zip(models, boxes):  # a parameter replaced: recorded again, never stale
        m[0].weight = Tensor(m[0].weight.data * 0.5, requires_grad=True)
        box["opt"] = optim.SGD(m.parameters(), lr=0.1)
    both()
    assert jitted.plans[0].status == "recording"
    for _ in range(4):
        both()
    assert jitted.plans[0].status == "ready" and jitted.plans[0].replays == 3 + 3
    jitted.clear()
    assert jitted._hot is None
    both()
    assert jitted.plans[0].replays == 0
