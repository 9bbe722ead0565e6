"""Properties over random graphs drawn by tinygrad_memo.testing.strategies.

The memoized backward of both engines is checked against three independent
oracles on the same drawn graph: the naive path-enumerating chain rule
(``naive_grad``), central finite differences (``gradcheck``) and the other engine
(Value vs Tensor elementwise, and PyTorch when installed). Every drawn graph has
real fan-out (``paths > edges``), asserted per example. The strategies' own
guarantees (domains, kink margins, bounds, executable source) are tested too.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

import tinygrad_memo as tm
from tinygrad_memo.engine import naive_grad
from tinygrad_memo.gradcheck import GradcheckError, gradcheck
from tinygrad_memo.ops import ELEMENTWISE
from tinygrad_memo.testing import strategies as S

CI = os.environ.get("HYPOTHESIS_PROFILE") == "ci"


def examples(ci: int, dev: int):
    """More examples than the profile's for the central properties (the rest of the
    loaded profile, e.g. ci's derandomize, still applies)."""
    return settings(max_examples=ci if CI else dev)


# Ops both engines have (for the Value-vs-Tensor comparison)
SHARED_OPS = S.VALUE_OPS & S.TENSOR_OPS


def close(a, b, rtol=1e-9, atol=1e-12):
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64),
                               rtol=rtol, atol=atol)


# find() for coverage claims: the first example found is enough (no shrinking)
FIND = settings(max_examples=3000, database=None, phases=(Phase.generate,))


def check_stats(stats, expr):
    """The engine's count of the graph matches the recipe's, and it has real fan-out."""
    assert (stats.nodes, stats.edges, stats.paths) == tuple(expr.stats)
    assert stats.local_grads == stats.edges
    assert stats.paths > stats.edges


# -- simple strategies -------------------------------------------------------------------

@given(S.values(-1.0, 1.0), S.tensors(shape=S.shapes(max_dims=3)), S.shapes(1, 2, max_side=3))
def test_simple_strategies(v, t, shape):
    assert isinstance(v, tm.Value) and -1 <= v.data <= 1
    assert t.dtype == np.float64 and t.requires_grad and np.all(np.abs(t.data) <= 2)
    assert 1 <= len(shape) <= 2 and all(1 <= n <= 3 for n in shape)


@given(S.tensors(shape=(2, 2), dtype=np.float32, requires_grad=False))
def test_tensors_dtype(t):
    assert t.dtype == np.float32 and not t.requires_grad


@given(S.broadcastable_shapes(3), st.data())
def test_broadcastable_shapes_work_in_the_engine(bs, data):
    xs = [tm.Tensor(np.ones(s), requires_grad=True) for s in bs.input_shapes]
    out = xs[0] * xs[1] + xs[2]
    assert out.shape == bs.result_shape == np.broadcast_shapes(*bs.input_shapes)
    out.backward(np.ones(out.shape))
    assert [x.grad.shape for x in xs] == list(bs.input_shapes)


@given(S.matmul_shapes())
def test_matmul_shapes_follow_numpy(ms):
    a, b = ms.input_shapes
    assert (np.zeros(a) @ np.zeros(b)).shape == ms.result_shape
    ta, tb = tm.Tensor(np.ones(a), requires_grad=True), tm.Tensor(np.ones(b), requires_grad=True)
    assert (ta @ tb).shape == ms.result_shape


@pytest.mark.parametrize("case", ["vec@vec", "vec@mat", "mat@vec", "broadcast batch"])
def test_matmul_shapes_cover_numpy_cases(case):
    pred = {
        "vec@vec": lambda ms: len(ms.input_shapes[0]) == len(ms.input_shapes[1]) == 1,
        "vec@mat": lambda ms: len(ms.input_shapes[0]) == 1 and len(ms.input_shapes[1]) >= 3,
        "mat@vec": lambda ms: len(ms.input_shapes[0]) >= 3 and len(ms.input_shapes[1]) == 1,
        "broadcast batch": lambda ms: min(map(len, ms.input_shapes)) >= 3
        and ms.input_shapes[0][:-2] != ms.input_shapes[1][:-2],
    }[case]
    find(S.matmul_shapes(), pred, settings=FIND)


# -- the central properties: Value graphs ----------------------------------------------------

@examples(ci=400, dev=30)
@given(S.value_expressions())
def test_value_graphs_memoized_equals_naive(expr):
    xs = expr.value_inputs()
    out = expr.build_value(xs)
    close(out.data, expr.evaluate(), rtol=1e-12)
    stats = out.backward(retain_graph=True)
    check_stats(stats, expr)
    grads, evaluations = naive_grad(out, xs)
    assert evaluations == stats.paths
    close([x.grad for x in xs], grads)
    # tm.grad gives the same numbers and touches no .grad
    before = [x.grad for x in xs]
    close(tm.grad(out, xs), grads)
    assert [x.grad for x in xs] == before


@examples(ci=400, dev=30)
@given(S.value_expressions())
def test_value_graphs_against_finite_differences(expr):
    assert gradcheck(lambda *xs: expr.build_value(xs), expr.value_inputs())


@examples(ci=400, dev=30)
@given(S.value_expressions(ops=SHARED_OPS))
def test_value_graphs_value_engine_equals_tensor_engine(expr):
    xs = expr.value_inputs()
    out = expr.build_value(xs)
    vstats = out.backward()
    ts = expr.tensor_inputs()  # 0-d float64 tensors: the same graph, elementwise
    tout = expr.build_tensor(ts)
    tstats = tout.backward()
    assert vstats == tstats
    close(tout.item(), out.data, rtol=1e-12)
    close([float(t.grad) for t in ts], [x.grad for x in xs])


@examples(ci=300, dev=15)
@given(S.value_expressions())
def test_value_graphs_against_torch(expr):
    pytest.importorskip("torch")
    xs = expr.value_inputs()
    out = expr.build_value(xs)
    out.backward()
    txs = expr.torch_inputs()
    tout = expr.build_torch(txs)
    tout.backward()
    close(float(tout.detach()), out.data, rtol=1e-12)
    close([float(t.grad) for t in txs], [x.grad for x in xs])


# -- the central properties: Tensor graphs -----------------------------------------------------

@examples(ci=400, dev=30)
@given(S.tensor_expressions())
def test_tensor_graphs_memoized_equals_naive(expr):
    xs = expr.tensor_inputs()
    out = expr.build_tensor(xs)
    close(out.data, expr.evaluate(), rtol=1e-12)
    stats = out.backward(retain_graph=True)
    check_stats(stats, expr)
    grads, evaluations = naive_grad(out, xs)
    assert evaluations == stats.paths
    for x, g in zip(xs, grads):
        assert x.grad.shape == x.shape
        close(x.grad, g)
    for g, n in zip(tm.grad(out, xs), grads):
        close(g, n)


@examples(ci=400, dev=20)
@given(S.tensor_expressions())
def test_tensor_graphs_against_finite_differences(expr):
    assert gradcheck(lambda *xs: expr.build_tensor(xs), expr.tensor_inputs())


@examples(ci=100, dev=10)
@given(S.tensor_expressions(scalar=False, max_ops=4))
def test_non_scalar_tensor_graphs_full_jacobian(expr):
    # every row of the Jacobian (one backward per output element) against finite differences
    assert gradcheck(lambda *xs: expr.build_tensor(xs), expr.tensor_inputs())


@examples(ci=300, dev=20)
@given(S.tensor_expressions(), st.integers(0, 2**32 - 1))
def test_tensor_graphs_against_torch(expr, seed):
    torch = pytest.importorskip("torch")
    xs = expr.tensor_inputs()
    out = expr.build_tensor(xs)
    txs = expr.torch_inputs()
    tout = expr.build_torch(txs)
    close(tout.detach().numpy(), out.data, rtol=1e-12)
    out.backward()
    tout.backward()
    for x, t in zip(xs, txs):
        close(x.grad, t.grad.numpy())
    # and a non-scalar variant with a random upstream gradient
    expr2 = S.Expression("tensor", expr.inputs, expr.steps[:-2])  # drop the final weighted sum
    xs, txs = expr2.tensor_inputs(), expr2.torch_inputs()
    out, tout = expr2.build_tensor(xs), expr2.build_torch(txs)
    up = np.random.default_rng(seed).uniform(-1, 1, out.shape)
    out.backward(up)
    tout.backward(torch.as_tensor(up))
    for x, t in zip(xs, txs):
        close(x.grad, t.grad.numpy())


# -- the strategies' own guarantees ---------------------------------------------------------------

def elementwise_call(step):
    """(registry op, its operands as node indices or the constant) of an elementwise step,
    by the documented naming: ``name`` on nodes, ``name_c`` with the constant on the
    right, ``rname_c`` on the left; (None, None) for other steps."""
    if step.op in ELEMENTWISE:
        return ELEMENTWISE[step.op], list(step.args)
    if step.op.endswith("_c"):
        name = step.op[:-2]
        if name in ELEMENTWISE:
            return ELEMENTWISE[name], [step.args[0], step.const]
        return ELEMENTWISE[name[1:]], [step.const, step.args[0]]
    return None, None


def is_positive_wrapper(steps, j, lo) -> bool:
    """Node j is ``a * a * 2**-k + c`` with ``c >= lo`` (the scaling is optional)."""
    if steps[j].op != "add_c" or not steps[j].const >= lo:
        return False
    j = steps[j].args[0]
    if steps[j].op == "mul_c":
        j = steps[j].args[0]
    return steps[j].op == "mul" and steps[j].args[0] == steps[j].args[1]


def check_guarantees(expr):
    vals = expr.node_values()
    steps = expr.steps
    for i, s in enumerate(steps):
        ins = [vals[j] for j in s.args]
        assert np.all(np.isfinite(vals[i]))
        assert np.max(np.abs(vals[i]), initial=0.0) <= 1e6, s
        if s.op in ("mul_c", "add_c") and np.max(np.abs(ins[0]), initial=0.0) > S.BOUND:
            continue  # a helper bringing a value over BOUND back (every other op: in domain)
        op, operands = elementwise_call(s)
        if op is not None:
            nodes = [j if j is not s.const else None for j in operands]
            xs = [vals[j] if j is not None else np.asarray(s.const) for j in nodes]
            for x, j, (lo, hi) in zip(xs, nodes, op.input_domains()):
                assert lo <= np.min(x) and np.max(x) <= hi, (s, op.input_domains())
                if lo > 0 and j is not None:
                    assert is_positive_wrapper(steps, j, lo), s
            for kink in op.kinks:
                if op.arity == 1:
                    d = xs[0] - kink
                else:  # a line p * a + q * b = k
                    p, q, k = kink
                    d = (p * xs[0] + q * xs[1] - k) / max(abs(p), abs(q))
                assert np.min(np.abs(d)) >= 1.5 * S.MARGIN, s
        elif s.op in ("max", "min"):
            x = ins[0] if s.op == "max" else -ins[0]
            axis = tuple(range(x.ndim)) if s.const[0] is None else s.const[0]
            if axis:
                moved = np.moveaxis(x, axis, tuple(range(-len(axis), 0)))
                flat = np.sort(moved.reshape(moved.shape[: x.ndim - len(axis)] + (-1,)), axis=-1)
                if flat.shape[-1] > 1:
                    assert np.min(flat[..., -1] - flat[..., -2]) >= 2 * S.MARGIN, s


@examples(ci=200, dev=20)
@given(S.value_expressions())
def test_value_graphs_stay_in_domain_and_off_kinks(expr):
    check_guarantees(expr)
    assert expr.stats.paths > expr.stats.edges


@examples(ci=200, dev=20)
@given(S.tensor_expressions())
def test_tensor_graphs_stay_in_domain_and_off_kinks(expr):
    check_guarantees(expr)
    assert expr.stats.paths > expr.stats.edges


@given(S.value_expressions(max_ops=4))
def test_value_source_is_executable(expr):
    xs = expr.value_inputs()
    env = {f"x{i}": x for i, x in enumerate(xs)}
    exec(expr.source(), {}, env)
    assert env[f"v{len(expr.steps) - 1}"].data == expr.build_value(expr.value_inputs()).data
    assert repr(expr).startswith("ValueExpression(inputs=[")


@given(S.tensor_expressions(max_ops=4))
def test_tensor_source_is_executable(expr):
    xs = expr.tensor_inputs()
    env = {f"x{i}": x for i, x in enumerate(xs)}
    scope = {"array": np.array, "stack": tm.stack, "maximum": tm.maximum, "minimum": tm.minimum}
    exec(expr.source(), scope, env)
    close(env[f"v{len(expr.steps) - 1}"].data, expr.evaluate(), rtol=1e-12)


def ops_of(expr) -> set:
    return {s.op for s in expr.steps}


def has_self_op(expr, op) -> bool:
    return any(s.op == op and s.args[0] == s.args[1] for s in expr.steps)


def has_ladder(expr) -> bool:
    """b = a + a; c = b + b: a reused interior node feeding a reused node."""
    steps = expr.steps
    for s in steps:
        if s.op == "add" and s.args[0] == s.args[1]:
            b = steps[s.args[0]]
            if b.op == "add" and b.args[0] == b.args[1] and steps[b.args[0]].op != "input":
                return True
    return False


def has_diamond(expr) -> bool:
    """h(f(a), g(a)) with f, g unary: two distinct paths from h to a."""
    steps = expr.steps
    for s in steps:
        if len(s.args) == 2 and s.args[0] != s.args[1]:
            u, w = (steps[j] for j in s.args)
            if len(u.args) == len(w.args) == 1 and u.args == w.args:
                return True
    return False


def longest_chain(expr) -> int:
    depth = []
    for s in expr.steps:
        depth.append(1 + depth[s.args[0]] if len(s.args) == 1 else 0)
    return max(depth)


STRUCTURES = {
    "x + x": lambda e: has_self_op(e, "add"),
    "x * x": lambda e: has_self_op(e, "mul"),
    "b = a + a; c = b + b": has_ladder,
    "diamond": has_diamond,
    "long chain": lambda e: longest_chain(e) >= 8,
    "shared subexpression": lambda e: any(
        sum(i in s.args for s in e.steps) >= 3 for i in range(len(e.steps))),
    "two inputs": lambda e: e.n_inputs >= 2,
}


@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_value_expressions_draw_every_structure(name):
    find(S.value_expressions(), STRUCTURES[name], settings=FIND)


@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_tensor_expressions_draw_every_structure(name):
    find(S.tensor_expressions(), STRUCTURES[name], settings=FIND)


def step_forms(op) -> list:
    """The step names of a registry op: its name and, for a binary op, its forms with a
    constant on the right (``sub_c``) and, for Python's operators, on the left (``rsub_c``)."""
    if op.arity == 1:
        return [op.name]
    reflected = ["r" + op.name + "_c"] if op.symbol in ("+", "-", "*", "/", "**") else []
    return [op.name, op.name + "_c"] + reflected


ELEMENTWISE_FORMS = [(op.name, form) for op in ELEMENTWISE.values() for form in step_forms(op)]
STRUCTURAL_STEPS = ["sum", "mean", "max", "min", "softmax", "log_softmax", "matmul", "reshape",
                    "transpose", "take", "flip", "stack"]


def test_the_op_families_are_the_registrys():
    assert S.VALUE_OPS == set(ELEMENTWISE)
    assert S.VALUE_OPS < S.TENSOR_OPS


@pytest.mark.parametrize("family,form", ELEMENTWISE_FORMS, ids=[f for _, f in ELEMENTWISE_FORMS])
def test_value_expressions_draw_every_elementwise_op_in_every_form(family, form):
    find(S.value_expressions(ops={family}), lambda e: form in ops_of(e), settings=FIND)


@pytest.mark.parametrize("family,form", ELEMENTWISE_FORMS, ids=[f for _, f in ELEMENTWISE_FORMS])
def test_tensor_expressions_draw_every_elementwise_op_in_every_form(family, form):
    find(S.tensor_expressions(ops={family}), lambda e: form in ops_of(e), settings=FIND)


@pytest.mark.parametrize("family", sorted(ELEMENTWISE))
@examples(ci=20, dev=5)
@given(data=st.data())
def test_graphs_of_each_elementwise_op_keep_the_guarantees(family, data):
    """Graphs of one op (and the helpers) keep its declared domain and kinks, and build
    and differentiate alike in the engines (the ops' own derivatives are checked on
    their whole domains by tests/test_elementwise.py)."""
    vexpr = data.draw(S.value_expressions(ops={family}, max_ops=4))
    texpr = data.draw(S.tensor_expressions(ops={family}, max_ops=3))
    for expr in (vexpr, texpr):
        check_guarantees(expr)
        assert expr.stats.paths > expr.stats.edges
    xs, ts = vexpr.value_inputs(), vexpr.tensor_inputs()
    out, tout = vexpr.build_value(xs), vexpr.build_tensor(ts)
    close(tout.item(), out.data, rtol=1e-12)
    assert out.backward() == tout.backward()
    close([float(t.grad) for t in ts], [x.grad for x in xs], rtol=1e-10)
    ts = texpr.tensor_inputs()
    out = texpr.build_tensor(ts)
    close(out.data, texpr.evaluate(), rtol=1e-12)
    out.backward()
    assert all(t.grad.shape == t.shape and np.all(np.isfinite(t.grad)) for t in ts)


@pytest.mark.parametrize("op", STRUCTURAL_STEPS)
def test_tensor_expressions_draw_every_structural_op(op):
    find(S.tensor_expressions(), lambda e: op in ops_of(e), settings=FIND)


def test_tensor_expressions_draw_broadcasting_and_batched_matmul():
    def broadcasts(e):
        vals = e.node_values()
        return any(len(s.args) == 2 and vals[s.args[0]].shape != vals[s.args[1]].shape
                   and s.op != "matmul" for s in e.steps)

    def batched(e):
        vals = e.node_values()
        return any(s.op == "matmul" and vals[s.args[1]].ndim == 3 for s in e.steps)

    def repeated_index(e):
        return any(s.op == "take" and len(set(s.const[1].tolist())) < len(s.const[1])
                   for s in e.steps)

    for pred in (broadcasts, batched, repeated_index):
        find(S.tensor_expressions(), pred, settings=FIND)


def test_ops_are_validated():
    with pytest.raises(ValueError, match="unknown ops"):
        S.value_expressions(ops={"tanh", "softmax"})
    with pytest.raises(ValueError, match="unknown ops"):
        S.tensor_expressions(ops={"frobnicate"})


@examples(ci=50, dev=10)
@given(S.value_expressions(ops={"tanh"}), S.tensor_expressions(ops={"tanh"}))
def test_restricted_ops_still_have_fan_out(vexpr, texpr):
    for e in (vexpr, texpr):
        assert ops_of(e) <= {"input", "tanh", "add", "mul", "mul_c", "add_c", "sum"}  # + helpers
        assert e.stats.paths > e.stats.edges


# -- the properties catch planted bugs -------------------------------------------------------------

def test_planted_tensor_bug_is_caught(monkeypatch):
    """A slightly wrong tanh derivative in the Tensor engine fails the finite-difference property."""
    from tinygrad_memo import ops

    monkeypatch.setattr(ops.Tanh, "d", staticmethod(lambda _x, out, _fn: (1 - out * out) * 1.01))

    @settings(max_examples=300, database=None)
    @given(S.tensor_expressions(ops={"tanh", "add", "mul"}))
    def prop(expr):
        gradcheck(lambda *xs: expr.build_tensor(xs), expr.tensor_inputs())

    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        prop()


def test_planted_value_bug_is_caught(monkeypatch):
    """A wrong float forward of sigmoid (the Value engine's form) disagrees with the
    Tensor engine's numpy form of the same registry op."""
    from tinygrad_memo import Value, ops, value

    right = ops.Sigmoid.scalar
    monkeypatch.setattr(ops.Sigmoid, "scalar", staticmethod(lambda x: right(x) * 1.01))
    monkeypatch.setattr(Value, "sigmoid", value._unary_method(ops.Sigmoid, "sigmoid"))

    @settings(max_examples=300, database=None)
    @given(S.value_expressions(ops={"sigmoid", "add", "mul"}))
    def prop(expr):
        test_value_graphs_value_engine_equals_tensor_engine.hypothesis.inner_test(expr)

    with pytest.raises(AssertionError):
        prop()


def test_planted_shared_rule_bug_is_caught_in_the_value_engine(monkeypatch):
    """A wrong derivative rule is shared by both engines (one definition), so the
    engines agree with each other; finite differences catch it."""
    from tinygrad_memo import Value, ops, value

    monkeypatch.setattr(ops.Sigmoid, "d", staticmethod(lambda _x, out, _fn: out * (1.0 - out) * 1.01))
    monkeypatch.setattr(Value, "sigmoid", value._unary_method(ops.Sigmoid, "sigmoid"))

    @settings(max_examples=300, database=None)
    @given(S.value_expressions(ops={"sigmoid", "add", "mul"}))
    def prop(expr):
        gradcheck(lambda *xs: expr.build_value(xs), expr.value_inputs())

    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        prop()
