"""A replayed call as one node of the outer graph.

A replay hands back ordinary Tensors (or Values). Those that carry a gradient are
*ports*: each has one input, the call node, which stands for the whole recorded
subgraph. The engine's walk reaches the ports first (they are newer), each sends
``(its number, its gradient)`` to the call node, whose slot collects them; when
the call node's turn comes, its gradient is complete for every output at once,
and its derivative rule is the recorded backward plan, run once. So a jitted
model composes with eager code on either side, ``tm.grad`` and ``retain_graph``
like any op.

The ports' and the call node's ``_inputs`` are :class:`engine.Subgraph` tuples:
through them the walk counts what the eager graph would have held (its nodes,
edges and paths), so a replayed backward reports the same ``BackwardStats``.
"""

from __future__ import annotations

import functools
import weakref

import numpy as np

from .. import engine
from ..engine import Subgraph
from ..grad_mode import enable_grad
from ..inplace import CLOCK
from ..tensor import Tensor
from ..value import Value

__all__ = ["CallState", "JitRecord", "call_node"]

_new = object.__new__
_next_seq = engine.next_seq


class JitRecord:
    """``grad_fn`` of a replayed output: the jitted function's ``name``, the call's
    ``inputs`` that gradients flow to, and ``args`` (which output this is).

    >>> import tinygrad_memo as tm
    >>> step = tm.jit(lambda x: (x * x).sum())
    >>> x = tm.Tensor([1.0, 2.0], requires_grad=True)
    >>> _ = [step(x) for _ in range(2)]
    >>> r = step(x).grad_fn
    >>> r.name, r.inputs[0] is x, r.args
    ('jit', True, {'fn': '<lambda>', 'output': 0})
    """

    __slots__ = ("fn_name", "state", "output")

    def __init__(self, fn_name, state, output):
        self.fn_name, self.state, self.output = fn_name, state, output

    name = "jit"
    released = False

    @property
    def inputs(self) -> tuple:
        return tuple(self.state.inputs)

    @property
    def args(self) -> dict:
        return {"fn": self.fn_name, "output": self.output}

    def __repr__(self) -> str:
        return f"<jit {self.fn_name} output={self.output}>"


class CallState:
    """What one replayed call holds until its backward has run (or its outputs died):
    the plan, the arrays and contexts of this call, its inputs, and what the walk
    told the ports."""

    __slots__ = ("plan", "data", "vals", "inputs", "released", "reached", "port_paths",
                 "unsent_ports", "unsent", "rng", "versions", "clock", "single", "node",
                 "clean")

    def __init__(self, plan, data, vals, inputs, rng):
        self.plan, self.data, self.vals = plan, data, vals
        self.inputs = inputs
        self.released = False
        self.reached = 0
        self.port_paths = [0] * len(plan.ports)
        self.unsent_ports = 0
        self.unsent = 0
        self.rng = rng
        self.versions = None  # (tensor, version) of the saved inputs, if any was ever written
        self.clock = CLOCK[0]
        self.single = len(plan.ports) == 1  # the one output is the call node itself
        self.clean = False  # whether the contexts hold nothing any more (released by backward)

    def vjp(self, g, create_graph, release):
        if self.released:
            raise RuntimeError(f"jit: {engine.GRAPH_FREED}")
        if self.versions and CLOCK[0] != self.clock:
            _check_versions(self.versions)
        plan = self.plan
        if self.single:
            seeds = [g]
        else:
            seeds = [None] * len(plan.ports)
            for bit, gi in (g if type(g) is list else [g]):
                seeds[bit] = gi if seeds[bit] is None else seeds[bit] + gi
        reached = self.reached or (1 << len(plan.ports)) - 1  # (naive_grad: every port)
        if create_graph:
            grads = self._graph_vjp(seeds)
        elif plan.kind == "tensor":
            grads, self.unsent = plan.backward(self.data, self.vals, seeds, reached, release)
            self.clean = release  # (plan.backward released the contexts)
        else:
            grads = plan.backward(self.data, seeds)
            self.unsent = 0
        if release:
            self.finish()
        return grads

    def _graph_vjp(self, seeds):
        """create_graph through a replay: the recorded calls are made again as graph
        nodes on the call's inputs (with the random draws of the replay), and the
        gradients are taken through them, so they can be differentiated again."""
        from ..random import rng

        plan = self.plan
        bits = rng().bit_generator
        saved = bits.state
        if self.rng is not None:
            bits.state = self.rng
        try:
            with enable_grad():
                if plan.kind == "tensor":
                    ts = plan.rebuild(dict(zip(plan.inputs, self.inputs)), self.vals)
                    outs = [ts[p] for p in plan.ports]
                else:
                    outs = plan.rebuild(self.inputs)
        finally:
            bits.state = saved
        pairs = [(o, s) for o, s in zip(outs, seeds) if s is not None]
        roots = [o for o, _ in pairs]
        w = engine.Walk(roots, [o._seed(s, True) for o, s in pairs], True, True)
        wanted = {id(x): i for i, x in enumerate(self.inputs)}
        grads: list = [None] * len(self.inputs)
        with enable_grad():
            for node, slot in w:
                i = wanted.get(id(node))
                if i is not None:
                    grads[i] = slot.grad
        return grads

    def account(self, paths, sent):
        """The counts of the eager graph this call stands for (see engine.Subgraph)."""
        plan = self.plan
        r = 0  # port nodes the walk counted itself
        if self.single:
            self.reached, self.port_paths[0] = 1, paths
        else:
            r = bin(self.reached).count("1")
        reached = self.reached or (1 << len(plan.ports)) - 1
        nodes, edges = plan.counts(reached)
        m = len(self.inputs)
        unsent = self.unsent if sent else edges
        through = [0] * m
        leaf_paths = 0
        for bit, n in enumerate(self.port_paths):
            if reached >> bit & 1:
                ps, lp = plan.paths[bit]
                leaf_paths += n * lp
                through = [t + n * p for t, p in zip(through, ps)]
        walk_unsent = self.unsent_ports + (0 if sent else m)
        self.reached = 0
        self.unsent_ports = 0
        self.port_paths = [0] * len(plan.ports)
        return nodes - r - 1, edges - r - m, unsent - walk_unsent, leaf_paths, through

    def port_account(self, bit, paths, sent):
        """What the walk tells port ``bit``: it was reached, by ``paths`` paths."""
        self.reached |= 1 << bit
        self.port_paths[bit] = paths
        if not sent:
            self.unsent_ports += 1
        return 0, 0, 0, 0, None

    def finish(self):
        """The call's backward has run: its arrays may serve the plan's next call."""
        self.released = True
        self.vals = None




def _check_versions(versions) -> None:
    for t, then in versions:
        now = t._version
        if now != then:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: a tensor of shape {tuple(t.shape)}, {t.dtype}, saved by a "
                f"replayed tm.jit call, is at version {now}; expected version {then} instead. "
                "Run backward before the in-place update (e.g. before opt.step())."
            )


def _add_packages(total, g):
    """How (output, gradient) packages from the ports add up in the call node's slot."""
    if type(total) is list:
        total.append(g)
        return total
    return [total, g]


class _Call:
    """The derivative rule of a call node: the recorded backward plan."""

    __slots__ = ()

    def _vjp(self, g, create_graph, release=False):
        return self._state.vjp(g, create_graph, release)


class TensorCall(_Call, Tensor):
    """The node of one replayed Tensor call with several outputs (see the module docstring)."""

    __slots__ = ("_state",)
    _add_grads = staticmethod(_add_packages)


class TensorOutput(_Call, Tensor):
    """The one output of a replayed Tensor call, which is the call node itself."""

    __slots__ = ("_state",)


class TensorPort(Tensor):
    """An output of a replayed Tensor call that gradients flow back from."""

    __slots__ = ("_bit",)

    def _vjp(self, g, create_graph, release=False):
        return ((self._bit, g),)


class ValueCall(_Call, Value):
    """The node of one replayed Value call with several outputs."""

    __slots__ = ("_state", "_ins")
    _retain = False
    _add_grads = staticmethod(_add_packages)

    @property
    def _inputs(self):
        return self._ins

    @property
    def grad_fn(self):
        return None


class _ValueOut:
    """What the Value outputs of a call share: inputs in a slot, a jit record."""

    __slots__ = ()

    @property
    def _inputs(self):
        return self._ins

    @property
    def grad_fn(self):
        return self._record


class ValueOutput(_ValueOut, _Call, Value):
    """The one output of a replayed Value call, which is the call node itself."""

    __slots__ = ("_state", "_ins", "_record")

    def _receive(self, g, create_graph):
        self.grad = g  # an interior Value keeps its gradient


class ValuePort(_ValueOut, Value):
    """An output of a replayed Value call that gradients flow back from."""

    __slots__ = ("_ins", "_record", "_bit")

    def _vjp(self, g, create_graph, release=False):
        return ((self._bit, g),)


class _JitOp:
    """What ``Value._op`` shows for a replayed call's nodes."""

    name = symbol = "jit"
    arity = 0


def call_node(state, fn_name: str, values: list) -> list:
    """The call node of ``state`` and one port per port value (``values``: the ports'
    data); returns the ports. A call with one port needs no separate call node."""
    ins = Subgraph(state.inputs, state.account)
    ports = _ports(state, ins, fn_name, values)
    state.node = weakref.ref(ports[0] if state.single else ports[0]._inputs[0])
    return ports


def _ports(state, ins, fn_name, values):
    if state.plan.kind == "tensor":
        if state.single:
            c = TensorOutput._make(values[0], True)
            c._ctx = JitRecord(fn_name, state, 0)
            c._inputs = ins
            c._state = state
            return [c]
        c = TensorCall._make(_EMPTY, True)  # (every field of a Tensor, as Tensor makes them)
        c._ctx = JitRecord(fn_name, state, None)
        c._inputs = ins
        c._state = state
        ports = []
        for bit, data in enumerate(values):
            p = TensorPort._make(data, True)
            p._ctx = JitRecord(fn_name, state, bit)
            p._inputs = Subgraph((c,), functools.partial(state.port_account, bit))
            p._bit = bit
            ports.append(p)
        return ports
    if state.single:
        c = _value(ValueOutput, values[0])
        c._ins = ins
        c._state = state
        c._record = JitRecord(fn_name, state, 0)
        return [c]
    c = _value(ValueCall, 0.0)
    c._ins = ins
    c._state = state
    ports = []
    for bit, data in enumerate(values):
        p = _value(ValuePort, data)
        p._a = c  # (an interior Value: it keeps its gradient, as every interior Value)
        p._ins = Subgraph((c,), functools.partial(state.port_account, bit))
        p._bit = bit
        p._record = JitRecord(fn_name, state, bit)
        ports.append(p)
    return ports


_EMPTY = np.zeros(0)


def _value(cls, data):
    v = _new(cls)
    v.data = data
    v.grad = 0.0
    v.label = ""
    v._fn = _JitOp
    v._a = v._b = v._aux = None
    v._left = False
    v._d0 = True
    v._d1 = None
    v._seq = _next_seq()
    return v
