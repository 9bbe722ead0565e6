"""Every op is the registry's.

1. Every public method, property and operator of ``Tensor`` and ``Value`` is called
   (on suitable inputs, found by trying a list of candidate arguments; ``SAMPLES``
   gives the few calls the candidates cannot guess), and every node of every graph it
   returns (or rewrites in place) was made by an op of
   ``tinygrad_memo.function.REGISTRY``: ``node.grad_fn.fn`` is a registered op. A new
   method that builds a node any other way fails here, and so does one that no
   candidate can call: give it a sample call in ``SAMPLES``.
2. No derivative rule is defined outside the registry: a scan of the package's source
   finds every class (nested ones too) that subclasses an op base, or defines an
   elementwise rule ``d``/``da``/``db``, a ``backward``/``jvp`` with the op protocol's
   ``(ctx, ...)`` signature, or a ``_vjp`` outside a node class (the nodes' ``_vjp``,
   in Value, Tensor and the jit's replayed calls, runs the registry's rules); outside
   ``tinygrad_memo/ops/`` only the op protocol itself (``Function``) may.
   Custom-op examples in docstrings and docs are not code of the package and are not seen.
"""

from __future__ import annotations

import ast
import inspect
import types
from pathlib import Path

import numpy as np
import pytest

import tinygrad_memo as tm
from tinygrad_memo.engine import topological_order
from tinygrad_memo.function import REGISTRY, Function
from tinygrad_memo.ops import ELEMENTWISE

REGISTERED = frozenset(REGISTRY.values())
PACKAGE = Path(tm.__file__).resolve().parent

#: Python's and numpy's hooks that are not ops and take no generic arguments
NOT_CALLED = {
    "__init__", "__new__", "__init_subclass__", "__subclasshook__", "__class_getitem__",
    "__getattribute__", "__getattr__", "__setattr__", "__delattr__", "__dir__", "__format__",
    "__reduce__", "__reduce_ex__", "__getstate__", "__setstate__", "__sizeof__", "__hash__",
}


def _any(*args, **kwargs):  # a callback that accepts anything (hooks)
    return None


def tensor_fixtures():
    rng = np.random.default_rng(0)
    leaf = tm.Tensor(rng.uniform(0.2, 0.9, (2, 3)), requires_grad=True)
    x = leaf * 1.0  # an interior node
    y = tm.Tensor(rng.uniform(0.2, 0.9, (2, 3)), requires_grad=True)
    z = tm.Tensor(rng.uniform(0.2, 0.9, (3, 2)), requires_grad=True)
    s = tm.Tensor(np.array(0.5), requires_grad=True) * 1.0
    plain = tm.Tensor(rng.uniform(0.2, 0.9, (2, 3)))  # in-place writes are allowed on it
    return [x, s, leaf, plain], [(), (y,), (z,), (0.5,), (0,), (1,), (0.3, 0.7), (1, 0), ((3, 2),), (3, 2),
                    ((0, 1),), ([0, 1],), (1, np.array([[0, 1], [2, 0]])), (0, 0.5), (_any,),
                    ({},)]


def value_fixtures():
    x = tm.Value(0.5) * 1.0
    return [x, tm.Value(0.6)], [(), (tm.Value(0.7),), (0.7,), (_any,), ({},)]


#: calls the candidates cannot guess: name -> (receiver index, receiver -> args)
SAMPLES = {
    "__array_ufunc__": (0, lambda r: (np.exp, "__call__", r)),
    "__array_function__": (0, lambda r: (np.mean, (tm.Tensor,), (r,), {})),
    "expand": (0, lambda r: ((2, 2, 3),)),
}


def public_members(cls) -> list:
    """(name, static attribute) of every public method/property/operator of ``cls``."""
    names = {n for c in cls.__mro__ if c is not object for n in vars(c)}
    out = []
    for name in sorted(names):
        if name in NOT_CALLED or (name.startswith("_") and not (name.startswith("__")
                                                                 and name.endswith("__"))):
            continue
        attr = inspect.getattr_static(cls, name)
        if isinstance(attr, (property, staticmethod, classmethod, types.FunctionType)):
            out.append((name, attr))
    return out


def nodes_of(result) -> list:
    """Every Value/Tensor in ``result`` (tuples, lists, dicts and generators opened)."""
    if isinstance(result, (tm.Tensor, tm.Value)):
        return [result]
    if isinstance(result, (list, tuple, types.GeneratorType)):
        return [n for r in result for n in nodes_of(r)]
    if isinstance(result, dict):
        return [n for r in result.values() for n in nodes_of(r)]
    return []


def check_graph(roots, who: str) -> int:
    """Every node below ``roots`` that has inputs was made by a registered op; returns
    how many nodes with a record were seen."""
    seen = 0
    for node in topological_order(roots) if roots else ():
        if not node._inputs:
            continue
        rec = node.grad_fn
        assert rec is not None, f"{who}: a node with inputs but no record (grad_fn is None)"
        assert rec.fn in REGISTERED, f"{who}: a node made by {rec.fn!r}, not a registry op"
        seen += 1
    return seen


def call_member(cls, name, attr, fixtures):
    """Call a member on fresh fixtures; returns (result, receiver) of the first call that works."""
    receivers, candidates = fixtures()
    if name in SAMPLES:
        calls = [SAMPLES[name]]
    else:
        calls = [(i, lambda r, a=args: a) for i in range(len(receivers)) for args in candidates]
    errors = []
    for i, make_args in calls:
        r = fixtures()[0][i]
        args = make_args(r)
        try:
            if isinstance(attr, property):
                if args:
                    continue
                return attr.fget(r), r
            result = getattr(r, name)(*args)
            if isinstance(result, types.GeneratorType):
                result = list(result)
            return result, r
        except Exception as e:  # the next candidate
            errors.append(f"{name}{args!r}: {type(e).__name__}: {e}")
    pytest.fail(f"{cls.__name__}.{name}: no candidate call works; add one to SAMPLES. "
                f"Tried: {errors[:5]}")


TENSOR_MEMBERS = public_members(tm.Tensor)
VALUE_MEMBERS = public_members(tm.Value)


@pytest.mark.parametrize("name,attr", TENSOR_MEMBERS, ids=[n for n, _ in TENSOR_MEMBERS])
def test_every_tensor_member_that_makes_a_node_uses_a_registry_op(name, attr):
    result, receiver = call_member(tm.Tensor, name, attr, tensor_fixtures)
    check_graph(nodes_of(result) + [receiver], f"Tensor.{name}")


@pytest.mark.parametrize("name,attr", VALUE_MEMBERS, ids=[n for n, _ in VALUE_MEMBERS])
def test_every_value_member_that_makes_a_node_uses_a_registry_op(name, attr):
    result, receiver = call_member(tm.Value, name, attr, value_fixtures)
    check_graph(nodes_of(result) + [receiver], f"Value.{name}")


def test_the_walk_calls_the_ops_it_should():
    """The members include the operators and the registry's generated methods, and the
    checks see nodes where ops were called."""
    tnames, vnames = {n for n, _ in TENSOR_MEMBERS}, {n for n, _ in VALUE_MEMBERS}
    unary = {op.name for op in ELEMENTWISE.values() if op.arity == 1}
    assert unary <= tnames and {"__add__", "__rpow__", "__matmul__", "__getitem__", "T"} <= tnames
    assert unary - {"neg", "abs"} <= vnames and {"__neg__", "__abs__", "__rtruediv__"} <= vnames
    result, x = call_member(tm.Tensor, "tanh", inspect.getattr_static(tm.Tensor, "tanh"),
                            tensor_fixtures)
    assert check_graph([result], "Tensor.tanh") == 2  # x = leaf * 1.0, then tanh


class _Unregistered(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2.0

    @staticmethod
    def backward(ctx, g):
        return g * 2.0


def test_a_method_that_builds_a_node_without_a_registry_op_fails(monkeypatch):
    monkeypatch.setattr(tm.Tensor, "double", lambda self: _Unregistered.apply(self), raising=False)
    attr = inspect.getattr_static(tm.Tensor, "double")
    assert ("double", attr) in public_members(tm.Tensor)
    result, x = call_member(tm.Tensor, "double", attr, tensor_fixtures)
    with pytest.raises(AssertionError, match="not a registry op"):
        check_graph(nodes_of(result) + [x], "Tensor.double")


def test_a_method_that_builds_a_node_by_hand_fails(monkeypatch):
    def by_hand(self):
        out = tm.Tensor._make(self.data * 2.0, True)
        out._inputs = (self,)
        return out

    monkeypatch.setattr(tm.Tensor, "double", by_hand, raising=False)
    result, x = call_member(tm.Tensor, "double", inspect.getattr_static(tm.Tensor, "double"),
                            tensor_fixtures)
    with pytest.raises(AssertionError, match="no record"):
        check_graph(nodes_of(result) + [x], "Tensor.double")


def test_a_method_that_no_candidate_can_call_fails(monkeypatch):
    monkeypatch.setattr(tm.Tensor, "odd", lambda self, a, b, c, d: self, raising=False)
    with pytest.raises(pytest.fail.Exception, match="add one to SAMPLES"):
        call_member(tm.Tensor, "odd", inspect.getattr_static(tm.Tensor, "odd"), tensor_fixtures)


# -- 2. no derivative rule outside the registry ---------------------------------------------------

OP_BASES = {"Function", "Elementwise", "Unary", "Binary"}
NODE_CLASSES = {"Tensor", "Value"}


def _base_name(b) -> str:
    return b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "")


def rules_in(source: str):
    """(class name, what in it is a derivative rule) for every class in ``source``:
    an op base class; an elementwise rule ``d``/``da``/``db``; a ``backward`` or ``jvp``
    with the op protocol's signature ``(ctx, ...)``; a ``_vjp`` outside a node class
    (a node's ``_vjp``, or a mixin's that a node class is made of, is the engine
    protocol, which runs the registry's rules)."""
    classes = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ClassDef)]
    nodes = set(NODE_CLASSES)  # node classes, and the mixins they are made of
    for node in classes:
        if {_base_name(b) for b in node.bases} & nodes:
            nodes |= {node.name} | {_base_name(b) for b in node.bases}
    for node in classes:
        bases = {_base_name(b) for b in node.bases}
        found = [f"subclasses {b}" for b in sorted(bases & OP_BASES)]
        for item in node.body:
            if isinstance(item, ast.FunctionDef):
                first = item.args.args[0].arg if item.args.args else ""
                if item.name in ("d", "da", "db") or (
                        item.name in ("backward", "jvp") and first == "ctx") or (
                        item.name == "_vjp" and node.name not in nodes):
                    found.append(f"defines {item.name}")
            elif isinstance(item, ast.Assign):
                found += [f"defines {t.id}" for t in item.targets
                          if isinstance(t, ast.Name) and t.id in ("d", "da", "db")]
        if found:
            yield node.name, found


#: outside ops/, only the op protocol itself may look like an op
# the custom-op base class, and the jit's call node, whose "rule" is the recorded backward
# plan of registry rules (not a derivative of its own)
ALLOWED = {("function.py", "Function"), ("jit/node.py", "_Call")}


def outside_the_registry(root: Path) -> list:
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] == "ops":
            continue
        for cls, what in rules_in(path.read_text(encoding="utf-8")):
            if (rel.as_posix(), cls) not in ALLOWED:
                found.append(f"{rel}: class {cls}: {', '.join(what)}")
    return found


def test_no_derivative_rule_outside_the_registry():
    assert not outside_the_registry(PACKAGE), (
        "derivative rules belong in tinygrad_memo/ops/ (registered ops)")


def test_every_registered_op_is_defined_in_ops():
    where = {op.__module__ for op in REGISTERED}
    assert all(m.startswith("tinygrad_memo.ops.") for m in where), where
    assert all(op.builtin for op in REGISTERED)


def test_the_scan_finds_rules_outside_ops(tmp_path):
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "fine.py").write_text("class Exp(Unary):\n    d = 1.0\n")
    (tmp_path / "helpers.py").write_text(
        "import tinygrad_memo as tm\n\n"
        "def make():\n"
        "    class Sneaky(tm.Function):\n"
        "        @staticmethod\n"
        "        def backward(ctx, g):\n"
        "            return g\n"
        "    return Sneaky\n\n"
        "class Node:\n"
        "    def _vjp(self, g, create_graph, release=False):\n"
        "        return (g,)\n\n"
        "class Port(Tensor):\n"
        "    def _vjp(self, g, create_graph, release=False):\n"
        "        return (g,)\n\n"
        "class Rule:\n"
        "    da = staticmethod(lambda a, b, out, fn: b)\n\n"
        "DOC = '''\n"
        "class InADocstring(tm.Function):\n"
        "    def backward(ctx, g): ...\n"
        "'''\n")
    found = outside_the_registry(tmp_path)
    assert sorted(f.split(": ")[1] for f in found) == ["class Node", "class Rule", "class Sneaky"]
