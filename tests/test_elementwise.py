"""Every elementwise op of the registry, in both engines, read from the registry itself.

For each op of ``tinygrad_memo.ops.ELEMENTWISE`` (not a hand-kept list) and each way
of calling it (``f(x)``; ``f(x, y)``, ``f(x, c)``, ``f(c, x)`` with a constant ``c``
on either side, e.g. ``3 - x``, ``x ** 2``, ``2 ** x``; ``f(x, x)``), on hypothesis
float64 inputs inside the op's declared ``domain`` and at least ``MARGIN`` away
from its ``kinks``:

* the Value graph and the same graph on a float64 Tensor agree element by
  element: forward values, first derivatives and second derivatives (the whole
  Hessian, by ``create_graph=True`` in both engines), with non-uniform upstream
  gradients;
* the Tensor op passes ``gradcheck`` and ``gradgradcheck`` (finite differences), and
  its first derivative under ``create_graph`` is the plain one;
* the Tensor results agree with PyTorch's (float64), skipped only without torch.

A new op added to the registry is checked here with no edit.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_memo as tm
from tinygrad_memo.function import Call
from tinygrad_memo.gradcheck import gradcheck, gradgradcheck
from tinygrad_memo.ops import ELEMENTWISE
from tinygrad_memo.testing.strategies import _INFIX, _spell, _Torch

MARGIN = 1e-2
#: per op and form (a 1-d domain, up to 4 points an example); the suite runs every op
EXAMPLES = settings(max_examples=25 if os.environ.get("HYPOTHESIS_PROFILE") == "ci" else 10)

FORMS = ("x", "xy", "xc", "cx", "xx")


def forms(op) -> list:
    """The calls of ``op`` checked: which operand is a leaf (x, y) and which a constant (c)."""
    if op.arity == 1:
        return ["x"]
    out = ["xy", "xc", "cx"]
    (alo, ahi), (blo, bhi) = op.input_domains()
    if not op.kinks and max(alo, blo) < min(ahi, bhi):  # f(x, x) sits on a - b = 0
        out.append("xx")
    return out


CASES = [(op, form) for op in ELEMENTWISE.values() for form in forms(op)]
IDS = [f"{op.name}-{form}" for op, form in CASES]


def domain(op, form):
    """The interval each leaf is drawn from (both domains at once for f(x, x))."""
    doms = op.input_domains()
    if form == "xx":
        return {"x": (max(doms[0][0], doms[1][0]), min(doms[0][1], doms[1][1]))}
    return {name: dom for name, dom in zip(form, doms) if name != "c"}


def off_kinks(op, operands) -> bool:
    """At least MARGIN from every kink that the known operands (None: not drawn yet) fix."""
    if op.arity == 1:
        return all(abs(operands[0] - k) >= MARGIN for k in op.kinks)
    for p, q, k in op.kinks:
        if (p and operands[0] is None) or (q and operands[1] is None):
            continue
        a, b = (0.0 if x is None else x for x in operands)
        if abs(p * a + q * b - k) < MARGIN * max(abs(p), abs(q)):
            return False
    return True


@st.composite
def cases(draw, op, form):
    """(leaf data: name -> float64 array, the constant, upstream w, upstream u)."""
    n = draw(st.integers(1, 4))
    c = None
    if "c" in form:
        lo, hi = op.input_domains()[form.index("c")]
        ok = lambda v: off_kinks(op, [v if s == "c" else None for s in form])  # noqa: E731
        ints = [float(i) for i in range(math.ceil(lo), math.floor(hi) + 1) if ok(float(i))]
        c = draw((st.sampled_from(ints) if ints else st.nothing()) | st.floats(lo, hi).filter(ok))
    doms = domain(op, form)
    data = {name: np.empty(n) for name in doms}
    for i in range(n):
        known = {"c": c}
        for name, (lo, hi) in doms.items():  # each leaf clear of the kinks fixed so far
            def ok(v, name=name, known=known):
                return off_kinks(op, [{**known, name: v}.get(s) for s in form])
            known[name] = data[name][i] = draw(st.floats(lo, hi, allow_subnormal=False).filter(ok))
    up = st.lists(st.floats(0.5, 2.0) | st.floats(-2.0, -0.5), min_size=n, max_size=n)
    return data, c, np.array(draw(up)), np.array(draw(up))


def operands(form, leaves: dict, c) -> list:
    return [c if s == "c" else leaves[s] for s in form]


def call(op, xs):
    """``op`` on Values or Tensors as a user writes it; a constant on the left of an op
    that is a method (``maximum(c, x)``) through the registry op itself."""
    if isinstance(xs[0], float) and op.symbol not in _INFIX:
        x = xs[1]
        if isinstance(x, tm.Value):
            return Call(op, (x,), {"a": xs[0]}).rerun([x])
        return op.apply(*xs)
    return _spell(op, xs)


def value_results(op, form, data, c, w, u):
    """Forward, first derivatives (one row per leaf) and Hessians, one Value graph per element."""
    names = list(data)
    n = len(w)
    fw, g1, g2 = np.empty(n), np.empty((len(names), n)), np.empty((len(names), len(names), n))
    for i in range(n):
        leaves = {name: tm.Value(float(data[name][i])) for name in names}
        xs = list(leaves.values())
        out = call(op, operands(form, leaves, c))
        fw[i] = out.data
        gs = tm.grad(out, xs, grad_outputs=w[i], create_graph=True)
        for j, g in enumerate(gs):
            g1[j, i] = float(g.data if isinstance(g, tm.Value) else g)
            hs = (tm.grad(g, xs, grad_outputs=u[i], retain_graph=True)
                  if isinstance(g, tm.Value) else [0.0] * len(xs))
            g2[j, :, i] = [float(h) for h in hs]
    return fw, g1, g2


def second(g, xs, u):
    if not g.requires_grad:  # a constant first derivative
        return [np.zeros(x.shape) for x in xs]
    return [h.data if isinstance(h, tm.Tensor) else h
            for h in tm.grad(g, xs, grad_outputs=u, retain_graph=True)]


def tensor_results(op, form, data, c, w, u):
    leaves = {name: tm.Tensor(d.copy(), requires_grad=True) for name, d in data.items()}
    xs = list(leaves.values())
    out = call(op, operands(form, leaves, c))
    gs = tm.grad(out, xs, grad_outputs=w, create_graph=True)
    return (out.data, np.array([g.data for g in gs]),
            np.array([second(g, xs, u) for g in gs]))


def torch_results(torch, op, form, data, c, w, u):
    leaves = {name: torch.tensor(d, requires_grad=True) for name, d in data.items()}
    xs = list(leaves.values())
    out = _Torch(torch.float64).elementwise(op, operands(form, leaves, c))
    w, u = torch.tensor(w), torch.tensor(u)
    def grad(y, up, **kw):  # zeros for what y does not depend on
        if not y.requires_grad:
            return [torch.zeros_like(x) for x in xs]
        gs = torch.autograd.grad(y, xs, up, allow_unused=True, **kw)
        return [torch.zeros_like(x) if g is None else g for x, g in zip(xs, gs)]

    gs = grad(out, w, create_graph=True)
    hs = [grad(g, u, retain_graph=True) for g in gs]
    numpy = lambda t: t.detach().numpy(force=True)  # noqa: E731 (also torch's ZeroTensors)
    return numpy(out), np.array([numpy(g) for g in gs]), np.array([[numpy(h) for h in row]
                                                                   for row in hs])


def close(a, b, rtol, what):
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64),
                               rtol=rtol, atol=1e-12, err_msg=what)


@pytest.mark.parametrize("op,form", CASES, ids=IDS)
@EXAMPLES
@given(data=st.data())
def test_value_graph_equals_tensor_graph(op, form, data):
    case = data.draw(cases(op, form))
    v, t = value_results(op, form, *case), tensor_results(op, form, *case)
    for a, b, what, rtol in zip(v, t, ("forward", "first derivatives", "second derivatives"),
                                (1e-12, 1e-10, 1e-9)):
        close(a, b, rtol, f"{op.name} {form}: Value vs Tensor, {what}")


@pytest.mark.parametrize("op,form", CASES, ids=IDS)
@EXAMPLES
@given(data=st.data())
def test_tensor_op_against_finite_differences(op, form, data):
    d, c, w, _ = data.draw(cases(op, form))
    leaves = [tm.Tensor(x.copy(), requires_grad=True) for x in d.values()]

    def f(*xs):
        return call(op, operands(form, dict(zip(d, xs)), c))

    assert gradcheck(f, leaves)
    assert gradgradcheck(f, leaves, [tm.Tensor(w, requires_grad=True)])
    # gradgradcheck differentiates the create_graph form of the rule: it must be the same
    # first derivative as the plain one (which gradcheck checked)
    plain = tm.grad(f(*leaves), leaves, grad_outputs=w)
    graph = tm.grad(f(*leaves), leaves, grad_outputs=w, create_graph=True)
    for a, b in zip(plain, graph):
        close(a, b.data, 1e-12, f"{op.name} {form}: create_graph first derivative")


@pytest.mark.parametrize("op,form", CASES, ids=IDS)
@EXAMPLES
@given(data=st.data())
def test_tensor_op_against_torch(op, form, data):
    torch = pytest.importorskip("torch")
    case = data.draw(cases(op, form))
    t, p = tensor_results(op, form, *case), torch_results(torch, op, form, *case)
    for a, b, what in zip(t, p, ("forward", "first derivatives", "second derivatives")):
        close(a, b, 1e-10, f"{op.name} {form}: Tensor vs PyTorch, {what}")


def test_every_op_is_checked_in_every_form():
    """The table above is the registry's: every op, every binary op with constants."""
    assert {op for op, _ in CASES} == set(ELEMENTWISE.values())
    for op in ELEMENTWISE.values():
        assert {"xc", "cx"} <= set(forms(op)) if op.arity == 2 else forms(op) == ["x"]
    assert ("sub", "cx") in [(op.name, f) for op, f in CASES]  # 3 - x
    assert {("pow", "xc"), ("pow", "cx")} <= {(op.name, f) for op, f in CASES}  # x ** 2, 2 ** x


NEW_OPS = '''

class Sinc(Unary, name="sinc"):
    """sin(pi x) / (pi x), on a positive domain (a test's op)."""
    scalar = staticmethod(lambda x: math.sin(math.pi * x) / (math.pi * x))
    array = staticmethod(lambda x: np.sin(np.pi * x) / (np.pi * x))
    domain = (0.2, 1.8)

    @staticmethod
    def d(x, out, fn):
        return (fn.cos(x * math.pi) - out) * fn.recip(x)


class Hardshrink(Unary, name="hardshrink"):
    """x where |x| > 0.5, else 0: kinks at -0.5 and 0.5 (a test's op)."""
    scalar = staticmethod(lambda x: x if abs(x) > 0.5 else 0.0)
    array = staticmethod(lambda x: np.where(np.abs(x) > 0.5, x, 0.0))
    kinks = (-0.5, 0.5)

    @staticmethod
    def d(x, _out, fn):
        return fn.step(x - 0.5) + fn.step(-x - 0.5)


ELEMENTWISE.update(sinc=Sinc, hardshrink=Hardshrink)
'''


def test_a_new_op_needs_only_its_declarations(tmp_path):
    """Two ops appended to a copy of ops/elementwise.py (a positive domain; kinks) are
    drawn by the strategies and pass this file's cross-checks, with no other edit."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    root = Path(tm.__file__).resolve().parent
    shutil.copytree(root, tmp_path / "tinygrad_memo", ignore=shutil.ignore_patterns("__pycache__"))
    with open(tmp_path / "tinygrad_memo" / "ops" / "elementwise.py", "a") as f:
        f.write(NEW_OPS)
    tests = tmp_path / "tests"
    tests.mkdir()
    for name in ("conftest.py", "test_elementwise.py", "test_strategies.py"):
        shutil.copy(Path(__file__).parent / name, tests / name)
    env = dict(os.environ, PYTHONPATH=str(tmp_path), HYPOTHESIS_PROFILE="dev")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "sinc or hardshrink",
         str(tests / "test_elementwise.py"), str(tests / "test_strategies.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    # 3 + 3 here, 3 + 3 there; without the torch extra its comparisons are skipped
    import importlib.util
    want = "12 passed" if importlib.util.find_spec("torch") else "10 passed, 2 skipped"
    assert want in proc.stdout, proc.stdout[-500:]
