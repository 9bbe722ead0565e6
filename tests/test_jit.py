"""tm.jit: replays give eager's outputs, gradients and counts; the guard never replays a
mismatch; what cannot be replayed is detected; randomness, aliasing and freeing."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import tinygrad_memo as tm
from tinygrad_memo import Tensor, Value, nn, optim
from tinygrad_memo.jit import JitWarning
from tinygrad_memo.nn import functional as F


def _mlp(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    ws = [Tensor(rng.normal(size=(5, 3)) / 2, requires_grad=True, dtype=dtype),
          Tensor(rng.normal(size=(5,)) / 5, requires_grad=True, dtype=dtype),
          Tensor(rng.normal(size=(4, 5)) / 2, requires_grad=True, dtype=dtype)]
    return ws


def _loss(ws, x, y):
    h = F.linear(x, ws[0], ws[1]).tanh()
    return F.cross_entropy(h @ ws[2].T, y)


def _twins(seed=0):
    return _mlp(seed), _mlp(seed)


def _sgd(ws, lr=0.1):
    for w in ws:
        w.data -= lr * w.grad
        w.grad = None


def _step_both(eager, jitted, step, x, y, eager_x=None):
    """One training step eagerly and jitted: losses, BackwardStats and gradients equal
    bit for bit, then an SGD update of both. Returns the jitted loss."""
    l1, l2 = _loss(eager, x if eager_x is None else eager_x, y), step(x, y)
    assert l1.backward() == l2.backward()
    assert l1.item() == l2.item()
    for a, b in zip(eager, jitted):
        np.testing.assert_array_equal(a.grad, b.grad)
    _sgd(eager)
    _sgd(jitted)
    return l2


def test_tensor_steps_replay_as_eager():
    """Five training steps: losses, gradients and BackwardStats equal eager's, bit for bit
    (the same numpy calls in the same order), with new data and updated parameters."""
    eager, jitted = _twins()
    step = tm.jit(lambda x, y: _loss(jitted, x, y))
    rng = np.random.default_rng(1)
    for _i in range(5):
        x = Tensor(rng.normal(size=(6, 3)))
        y = rng.integers(0, 4, 6)
        l2 = _step_both(eager, jitted, step, x, y)
    (plan,) = step.plans
    assert plan.status == "ready" and plan.replays == 3
    assert type(l2).__name__ == "TensorOutput" and l2.grad_fn.name == "jit"


def test_non_uniform_seed_and_several_outputs():
    """Outputs used by eager code on top (one of them twice), a non-uniform seed."""
    eager, jitted = _twins(3)

    def model(ws, x):
        h = F.linear(x, ws[0], ws[1])
        return h.tanh(), h * h

    step = tm.jit(lambda x: model(jitted, x))
    rng = np.random.default_rng(2)
    for _i in range(4):
        x = Tensor(rng.normal(size=(2, 3)), requires_grad=True)
        x2 = Tensor(x.data.copy(), requires_grad=True)
        outs = [model(eager, x), step(x2)]
        roots = []
        for a, b in outs:
            roots.append(((a * b + a) ** 2).mean())
        s1, s2 = roots[0].backward(), roots[1].backward()
        assert s1 == s2
        np.testing.assert_array_equal(x.grad, x2.grad)
        for a, b in zip(eager, jitted):
            np.testing.assert_array_equal(a.grad, b.grad)
            a.grad = b.grad = None


def test_grad_retain_graph_and_freed_graph():
    ws = _mlp(4)
    step = tm.jit(lambda x: (F.linear(x, ws[0], ws[1]) ** 2).sum())
    x = Tensor(np.ones((2, 3)))
    want = None
    for _ in range(3):
        out = step(x)
        g1 = tm.grad(out, [ws[0]], retain_graph=True)[0]
        g2 = tm.grad(out, [ws[0]])[0]
        np.testing.assert_array_equal(g1, g2)
        if want is None:
            want = g1
        np.testing.assert_array_equal(g1, want)
        assert g1 is not g2
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        out.backward()


def test_create_graph_through_a_replay():
    """Hessian-vector products through a replayed plan equal eager's."""
    w = Tensor(np.array([0.3, -0.7, 1.1]), requires_grad=True)
    f = tm.jit(lambda x: ((x * w).tanh() * w).sum())
    v = np.array([1.0, 2.0, -1.0])
    for i in range(4):
        x = Tensor(np.array([0.5, 1.0, -2.0]) + i)
        out = f(x)
        (g,) = tm.grad(out, [w], create_graph=True)
        (hv,) = tm.grad((g * Tensor(v)).sum(), [w])
        eager = ((x * w).tanh() * w).sum()
        (ge,) = tm.grad(eager, [w], create_graph=True)
        (hve,) = tm.grad((ge * Tensor(v)).sum(), [w])
        np.testing.assert_allclose(hv, hve, rtol=1e-12)
    assert f.plans[0].replays == 2


def test_value_steps_replay_as_eager():
    """A micrograd-style MLP on Values: the grouped numpy replay gives eager's loss and
    gradients (to 1e-12 relative: numpy's order of additions) and BackwardStats."""
    tm.manual_seed(0)
    eager = nn.scalar.MLP(2, [4, 4, 1])
    jitted = nn.scalar.MLP(2, [4, 4, 1])
    jitted.load_state_dict(eager.state_dict())

    def loss(model, xs, ys):
        scores = [model(x) for x in xs]
        data = sum(((1 - y * s).relu() for y, s in zip(ys, scores)), Value(0.0)) * (1 / len(xs))
        return data + 1e-4 * sum(p * p for p in model.parameters())

    xs = [[0.5, -1.0], [1.5, 0.25], [-0.5, 0.75]]
    ys = [1.0, -1.0, 1.0]
    step = tm.jit(lambda xs: loss(jitted, xs, ys))
    for i in range(5):
        data = [[Value(a + 0.1 * i), Value(b)] for a, b in xs]
        data2 = [[Value(a + 0.1 * i), Value(b)] for a, b in xs]
        l1, l2 = loss(eager, data, ys), step(data2)
        s1, s2 = l1.backward(), l2.backward()
        assert s1 == s2
        assert l2.data == pytest.approx(l1.data, rel=1e-12)
        for p, q in zip(eager.parameters() + sum(data, []), jitted.parameters() + sum(data2, [])):
            assert q.grad == pytest.approx(p.grad, rel=1e-12, abs=1e-14)
        for m in (eager, jitted):
            for p in m.parameters():
                p.data -= 0.1 * p.grad
                p.grad = 0.0
    assert step.plans[0].replays == 3


# -- the guard ---------------------------------------------------------------------------------

def _check_same(step, fn, *args):
    """The jitted call gives what fn gives eagerly (never a wrong replay)."""
    got, want = step(*args), fn(*args)
    np.testing.assert_array_equal(np.asarray(got.data), np.asarray(want.data))


@pytest.mark.parametrize("change", ["shape", "dtype", "requires_grad", "number", "length"])
def test_a_changed_signature_gets_its_own_plan(change):
    def fn(xs, c=2.0):
        total = xs[0] * c
        for x in xs[1:]:
            total = total + x.exp()
        return total.sum()

    step = tm.jit(fn)
    base = [Tensor(np.arange(3.0)), Tensor(np.ones(3))]
    other = {
        "shape": ([Tensor(np.arange(4.0)), Tensor(np.ones(4))],),
        "dtype": ([Tensor(np.arange(3.0), dtype=np.float32), Tensor(np.ones(3), dtype=np.float32)],),
        "requires_grad": ([Tensor(np.arange(3.0), requires_grad=True), Tensor(np.ones(3))],),
        "number": (base, 3.0),
        "length": (base + [Tensor(np.zeros(3))],),
    }[change]
    for _ in range(3):
        _check_same(step, fn, base)
    for _ in range(3):
        _check_same(step, fn, *other)
    for _ in range(2):
        _check_same(step, fn, base)
    assert [p.replays for p in step.plans] == [3, 1]


@pytest.mark.parametrize("change", ["shape", "dtype", "requires_grad"])
def test_a_changed_captured_tensor_is_never_replayed_wrongly(change):
    w = Tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)

    def fn(x):
        return (x * w).tanh().sum()

    step = tm.jit(fn)
    x = Tensor(np.array([0.3, 0.2, -0.1]))
    for _ in range(3):
        _check_same(step, fn, x)
    assert step.plans[0].replays == 1
    if change == "shape":  # (broadcasting would have hidden a wrong replay)
        w.data = np.array([[1.0], [3.0]])
    elif change == "dtype":
        w.data = w.data.astype(np.float32) + np.float32(1e-3)
    else:
        w.requires_grad = False
    for _ in range(3):
        got, want = step(x), fn(x)
        np.testing.assert_array_equal(got.data, want.data)
        assert got.data.dtype == want.data.dtype and got.requires_grad == want.requires_grad
    assert [p.replays for p in step.plans] == [2]  # (recorded anew twice, then replayed)


def test_value_list_length_and_captured_parameter_identity():
    w = [Value(0.5), Value(-1.5)]

    def fn(xs):
        return sum((wi * x for wi, x in zip(w, xs)), Value(0.0)).tanh()

    step = tm.jit(fn)
    for n in (2, 1, 2, 1, 2, 1, 2):
        xs = [Value(float(i) + 0.5) for i in range(n)]
        assert step(xs).data == pytest.approx(fn(xs).data, rel=1e-15)
    assert sorted(p.replays for p in step.plans) == [1, 2]
    w[0] = Value(3.0)  # a new parameter object: the recorded plan must not be replayed
    xs = [Value(1.0), Value(2.0)]
    assert step(xs).data == fn(xs).data


def test_replaced_module_parameter_and_eval_mode():
    model = nn.Sequential(nn.Linear(3, 2), nn.Dropout(0.5))
    step = tm.jit(lambda x: model(x).sum())
    x = Tensor(np.ones((4, 3)))
    for _ in range(3):
        step(x)
    model[0].weight = nn.Parameter(np.zeros((2, 3)))
    model.eval()
    assert step(x).item() == model(x).sum().item()
    model[0].bias.data[...] = 1.0
    for _ in range(3):
        assert step(x).item() == pytest.approx(2 * 4.0)


def test_too_many_signatures_run_eagerly_with_one_warning():
    step = tm.jit(lambda x: (x * 2).sum(), max_plans=2)
    with pytest.warns(JitWarning, match="max_plans") as record:
        for n in range(1, 6):
            assert step(Tensor(np.ones(n))).item() == 2.0 * n
    assert len(record) == 1 and len(step.plans) == 2


# -- what cannot be replayed ----------------------------------------------------------------------

@pytest.mark.parametrize("read", ["item", "float", "numpy", "backward"])
def test_reading_a_traced_value_is_detected(read):
    w = Tensor(np.array([1.0, -1.0]), requires_grad=True)

    def fn(x):
        y = (x * w).sum()
        if read == "item":
            scale = 2.0 if y.item() > 0 else -2.0
        elif read == "float":
            scale = 2.0 if float(Value(1.0) * y.item()) > 0 else -2.0
        elif read == "numpy":
            scale = 2.0 if y.numpy() > 0 else -2.0
        else:
            y.backward(retain_graph=True)
            scale = 1.0
        return y * scale

    step = tm.jit(fn)
    with pytest.warns(JitWarning, match=r"test_jit\.py:\d+") as record:
        for x in ([3.0, 1.0], [1.0, 3.0], [3.0, 1.0], [0.0, 2.0]):
            got, want = step(Tensor(x)), fn(Tensor(x))
            assert got.item() == want.item()
    assert len(record) == 1
    assert step.plans[0].status == "eager" and step.plans[0].replays == 0


def test_data_read_outside_ops_is_caught_by_the_second_recording():
    w = Tensor(np.array([2.0]), requires_grad=True)

    def fn(x):
        h = x * w
        return h * Tensor(h.data * 2)  # numpy on traced data: a constant of the recording

    step = tm.jit(fn)
    with pytest.warns(JitWarning, match="changed between the first two calls"):
        for v in (1.0, 2.0, 3.0, 4.0):
            assert step(Tensor([v])).item() == fn(Tensor([v])).item()


def test_non_finite_value_replay_runs_eagerly():
    """The Value engine raises at log(0); a replay that meets it does the same."""
    step = tm.jit(lambda x: (x * x).log())
    for v in (1.0, 2.0, 3.0):
        assert step(Value(v)).data == pytest.approx(np.log(v * v))
    with pytest.raises(ValueError, match="Value.log"):
        step(Value(0.0))


# -- randomness, aliasing, freeing ----------------------------------------------------------------

def test_dropout_draws_anew_on_each_replay_as_eager():
    w = Tensor(np.ones(64), requires_grad=True)
    step = tm.jit(lambda x: F.dropout(x * w, 0.5))
    x = Tensor(np.arange(64.0))
    tm.manual_seed(5)
    eager = [F.dropout(x * w, 0.5).numpy() for _ in range(5)]
    tm.manual_seed(5)
    jitted = [step(x).numpy() for _ in range(5)]
    assert step.plans[0].replays == 3
    for a, b in zip(eager, jitted):
        np.testing.assert_array_equal(a, b)
    assert len({a.tobytes() for a in jitted}) == 5  # a new mask each time
    out = step(x)
    out.backward(Tensor(np.ones(64)))
    np.testing.assert_array_equal(w.grad, out.numpy())  # d(x w mask)/dw = x mask, w = 1


def test_outputs_are_not_overwritten_by_later_calls():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    step = tm.jit(lambda x: (x * w, (x + w).sum()))
    kept = []
    for i in range(6):
        a, b = step(Tensor([float(i), 1.0]))
        kept.append((a, a.numpy().copy(), b, b.numpy().copy()))
    for a, va, b, vb in kept:
        np.testing.assert_array_equal(a.numpy(), va)
        np.testing.assert_array_equal(b.numpy(), vb)
    # backward of an older call after newer ones: its own saved values
    a, va, b, vb = kept[3]
    w.grad = None
    (a.sum() + b).backward()
    np.testing.assert_array_equal(w.grad, np.array([3.0 + 1.0, 1.0 + 1.0]))


def test_plans_are_freed_with_the_jitted_function():
    w = Tensor(np.ones(3), requires_grad=True)
    step = tm.jit(lambda x: (x * w).sum())
    for _ in range(3):
        step(Tensor(np.ones(3))).backward()
    ref = weakref.ref(step._entries[next(iter(step._entries))].plan)
    del step
    gc.collect()
    assert ref() is None


def test_jitted_method_and_nested_jit():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2, dtype=np.float64)

        @tm.jit
        def forward(self, x):
            return inner(self.fc(x)).sum()

    inner = tm.jit(lambda h: h.tanh() * 2)
    m = Model()
    x = Tensor(np.ones((2, 3)))
    want = (m.fc(x).tanh() * 2).sum().item()
    assert [m(x).item() for _ in range(4)] == [want] * 4
    assert Model.forward.plans[0].replays == 2
    assert inner.plans == []  # called inside a recording: part of it


def test_in_place_write_inside_is_detected():
    def fn(x):
        h = x * 2  # x needs no grad: h is a plain result
        h += 1  # not an op: a replay would miss it
        return h.sum()

    step = tm.jit(fn)
    with pytest.warns(JitWarning, match="in-place write"):
        for v in (1.0, 2.0, 3.0):
            assert step(Tensor([v])).item() == fn(Tensor([v])).item()


def test_parameter_written_before_backward_raises_as_eager():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    step = tm.jit(lambda x: (x * w * w).sum())  # (w * w saves w; x * w alone would not)
    w.grad = np.ones(2)
    for _ in range(4):  # eager twice (recording), then replays: the same error
        loss = step(Tensor([1.0, 1.0]))
        opt.step()
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            loss.backward()
    assert step.plans[0].replays == 2


def test_comparisons_are_replayed_and_their_truth_value_detected():
    w = Tensor(np.array([1.0, -1.0, 0.5]), requires_grad=True)

    def masked(x):  # a comparison feeding an op: recorded, recomputed at each replay
        h = x * w
        return tm.where(h > 0, h, h * 0.1).sum()

    step = tm.jit(masked)
    for x in ([1.0, 1.0, 1.0], [-1.0, -1.0, 2.0], [1.0, -3.0, -1.0], [-2.0, 2.0, 1.0]):
        assert step(Tensor(x)).item() == masked(Tensor(x)).item()
    assert step.plans[0].replays == 2

    def branch(x):  # a comparison used in an if: its truth value read into Python
        h = (x * w).sum()
        return h * 2 if h > 0 else h * -3

    step = tm.jit(branch)
    with pytest.warns(JitWarning, match=r"bool\(\)\) at .*test_jit\.py:\d+"):
        for x in ([1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]):
            assert step(Tensor(x)).item() == branch(Tensor(x)).item()


def test_detect_anomaly_checks_a_jitted_function_eagerly():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    step = tm.jit(lambda x: (x * w).log().sum())
    for _ in range(3):
        step(Tensor([1.0, 1.0]))
    with tm.detect_anomaly(), pytest.raises(tm.anomaly.AnomalyError, match="log"):
        step(Tensor([-1.0, 1.0]))


def test_data_the_same_in_both_recordings_is_guarded():
    """Both recordings saw the same x: their agreement says nothing about a constant
    computed from x outside the ops, so a new x is recorded again, never replayed."""
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)

    def fn(x):
        return (Tensor(x / 2) * w).sum()  # numpy on the argument: a constant of the recording

    step = tm.jit(fn)
    a, b = np.array([1.0, 3.0]), np.array([5.0, 7.0])
    for x in (a, a, a, b, b, b, a):
        assert step(x).item() == fn(x).item()
    assert step.plans[0].replays >= 2
    # the comparison is bit for bit: the same NaN replays, 0.0 -> -0.0 records again
    big = np.arange(20_000.0)  # (above the size compared as bytes)
    for x in (np.array([np.nan, 1.0]), np.array([0.0, 1.0]), big):
        v = Tensor(np.ones_like(x), requires_grad=True)

        def fn(x, v=v):
            return (Tensor(x / 2) * v).sum()

        step = tm.jit(fn)
        for _ in range(3):
            step(x.copy())
        assert step.plans[0].replays == 1
        if x[0] == 0.0:
            y = x.copy()
            y[0] = -0.0
            step(y)
            assert step.plans[0].replays == 1  # (recorded again, not replayed)
        if x is big:
            y = x.copy()
            y[-1] += 1  # a change past the bytes compared at once: recorded again
            with pytest.warns(JitWarning, match="graph changed"):
                assert step(y).item() == fn(y).item()
            assert step.plans[0].replays == 1


def _plan(step):
    (entry,) = step._entries.values()
    return entry.plan


def test_generated_replay_code_runs_and_gives_eager_bit_for_bit():
    """After the first replay's interpreted backward, the plan runs as generated
    straight-line code (codegen): the same op calls in the same order, so losses and
    gradients stay equal to eager's bit for bit over later replays."""
    eager, jitted = _twins(3)
    step = tm.jit(lambda x, y: _loss(jitted, x, y))
    rng = np.random.default_rng(4)
    for i in range(6):
        x = Tensor(rng.normal(size=(6, 3)))
        y = rng.integers(0, 4, 6)
        _step_both(eager, jitted, step, x, y)
        if i >= 3:  # (two recordings, then one interpreted replay)
            plan = _plan(step)
            assert plan.run_backward is not None
            assert "def replay_backward" in plan.backward_source
            assert plan.backward_source.count("= b") == len(plan.grad_steps)


def test_generated_backward_adds_fan_out_and_never_shares_an_array():
    """A slot reached by several consumers gets their sum; an op that hands one array to
    two inputs (add gives g to both) never leaves two parameters with the same array."""
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)

    def fan_out(x):
        s = a + b
        return (s * x + s.tanh() * a).sum()

    def shared(x):
        return ((a + b) * x).sum()  # add's backward returns (g, g): one array, two inputs

    for f in (fan_out, shared):
        _check_against_eager(f, a, b)


def _check_against_eager(f, a, b):
    step = tm.jit(f)
    for k in range(5):
        x = Tensor([0.5 + k, -1.0])
        a.grad = b.grad = None
        step(x).backward()
        ga, gb = a.grad.copy(), b.grad.copy()
        assert not np.shares_memory(a.grad, b.grad)
        a.grad = b.grad = None
        f(x).backward()
        np.testing.assert_array_equal(ga, a.grad)
        np.testing.assert_array_equal(gb, b.grad)
    assert _plan(step).run_backward is not None


def test_replays_write_into_the_arrays_of_the_previous_call():
    """Ops that take out= (linear, ufunc unaries, Tensor(...) copies) write a replay's
    intermediates into the arrays the previous replay made: allocated once, and the
    results still those of eager."""
    eager, jitted = _twins(5)
    step = tm.jit(lambda x, y: _loss(jitted, Tensor(x), y))
    rng = np.random.default_rng(6)
    seen = []
    for _ in range(6):
        x = rng.normal(size=(6, 3))
        y = rng.integers(0, 4, 6)
        _step_both(eager, jitted, step, x, y, eager_x=Tensor(x))
        entry = next(iter(step._entries.values()))
        states = entry.pool.free + [s.data for s in entry.pool.busy] if entry.pool else []
        if states:  # (one call in flight at a time: one state, reused)
            (state,) = states
            bufs = [state.bufs[s] for s in sorted(entry.plan.buffered)]
            assert all(type(b) is np.ndarray for b in bufs)
            seen.append([id(b) for b in bufs])
    plan = _plan(step)
    assert len(plan.buffered) == 3  # Tensor(x), linear, tanh (the loss is an output)
    assert "out=B[" in plan.forward_source and "_copyto" in plan.forward_source
    assert seen[-1] == seen[-2] == seen[-3]  # the same arrays, replay after replay


def test_an_output_that_views_an_intermediate_is_never_overwritten():
    """An output that is a view of an intermediate keeps that intermediate out of the
    reused arrays: earlier outputs keep their values after later calls."""
    w = Tensor([0.5, -1.0, 2.0], requires_grad=True)

    def f(x):
        h = (x * w).tanh()
        return h[1:], h.sum()

    step = tm.jit(f)
    xs = [Tensor([1.0 + k, 2.0, -k]) for k in range(5)]
    kept = []
    for x in xs:
        part, total = step(x)
        total.backward()  # (the call's arrays may serve the next call from now on)
        kept.append(part)
    for x, out in zip(xs, kept):
        np.testing.assert_array_equal(out.data, f(x)[0].data)
    plan = _plan(step)
    (tanh,) = [st for st in plan.steps if st.name == "tanh"]
    assert tanh.out not in plan.buffered
