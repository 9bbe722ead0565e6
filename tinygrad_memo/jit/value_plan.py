"""The plan of a Value function: the recorded scalar graph, evaluated group by group.

A scalar graph (a micrograd-style MLP step has some 65 thousand nodes) is made of
few kinds of node: the same op, on the same kind of operands, at the same depth
(the longest path from the leaves). Every node of such a *group* can be computed
at once, since none of them depends on another: the replay evaluates each group
with one numpy call, in order of depth, and the backward plan goes through the
groups in reverse, evaluating each op's derivative rule from the registry on the
group's arrays (the ``ARRAYS`` namespace of ``ops/elementary.py``: the very rule
the Value engine evaluates on floats) and adding ``g * d`` into the gradients of
the operands. A node's gradient is complete before its group runs, because all
of its consumers are deeper: the memo of the eager engine, with whole groups as
its slots.

The values live in one float64 array, numbered so that each group's results are
one contiguous slice: the leaves first (the call's inputs, then the constants),
then the groups in order.

Where the eager engine would raise (``log`` of a negative number, division by
zero) or its float arithmetic would give ``inf``/``nan``, numpy gives ``inf`` or
``nan`` too: a replay that meets one runs the function eagerly instead, so that
the error (or the float result) is exactly the eager one.
"""

from __future__ import annotations

import functools
import operator

import numpy as np

from ..ops.elementary import ARRAYS
from ..value import Value, _call

__all__ = ["ValuePlan"]

# operand forms of a group
UNARY, NODES, CONST_RIGHT, CONST_LEFT = range(4)


def _ufunc(array):
    """``(ufunc, first)`` if ``array`` is a numpy ufunc (or one with a fixed first
    argument, as relu's ``partial(np.maximum, 0)``), so it can write into ``out=``."""
    if isinstance(array, np.ufunc):
        return array, None
    if isinstance(array, functools.partial) and isinstance(array.func, np.ufunc) \
            and len(array.args) == 1 and not array.keywords:
        return array.func, array.args[0]
    return None, None


class Group:
    """Nodes of one op, one operand form and one depth: evaluated together."""

    __slots__ = ("op", "form", "start", "end", "ia", "ib", "const", "dup_a", "dup_b", "ufunc",
                 "first", "edges", "params")

    def forward(self, vals, view):
        """The group's results into ``view`` (its slice of ``vals``); returns the operands."""
        form = self.form
        a = vals[self.ia] if self.ia is not None else None
        if form == NODES:
            b = vals[self.ib]
        elif form == UNARY:
            b = None
        else:
            b = self.const
        x, y = (b, a) if form == CONST_LEFT else (a, b)
        uf = self.ufunc
        if uf is not None:
            if form == UNARY:
                if self.first is None:
                    uf(x, out=view)
                else:
                    uf(self.first, x, out=view)
            else:
                uf(x, y, out=view)
        else:
            view[...] = self.op.array(x, *self.params) if form == UNARY else self.op.array(x, y)
        return x, y


class ValuePlan:
    """A recorded Value function, ready to replay (see the module docstring)."""

    kind = "value"
    effects: list | tuple = ()  # what a whole step does besides its ops (see jit)
    effect_keys: list | tuple = ()  # (their comparable form)

    def __init__(self, rec, arg_leaves, outputs):
        self.start = rec.start
        self.random = rec.random
        # (Values hash by identity: dictionaries keyed by the nodes themselves)
        args = {x: i for i, x in enumerate(arg_leaves) if isinstance(x, Value)}
        found: set = set()
        stack = [x for x in outputs if isinstance(x, Value)]
        inputs, consts, nodes = [], [], []
        start = rec.start
        while stack:
            v = stack.pop()
            if v in found:
                continue
            found.add(v)
            if v in args or v._seq < start:
                inputs.append(v)
            elif v._a is None:
                consts.append(v)  # a leaf made inside the call: a constant
            else:
                nodes.append(v)
                stack.append(v._a)
                if v._b is not None:
                    stack.append(v._b)
        seq = operator.attrgetter("_seq")
        inputs.sort(key=seq)
        consts.sort(key=seq)
        nodes.sort(key=seq)
        # the call's inputs: arguments by position, captured Values by identity
        self.arg_inputs = []  # (position among inputs, argument index)
        self.captured = []  # (position, Value)
        for j, v in enumerate(inputs):
            i = args.get(v)
            if i is not None:
                self.arg_inputs.append((j, i))
            else:
                self.captured.append((j, v))
        self.n_inputs = m = len(inputs)
        self.n_leaves = m + len(consts)
        pos = {v: j for j, v in enumerate(inputs)}
        pos.update({v: m + j for j, v in enumerate(consts)})
        self.const_values = np.array([v.data for v in consts], dtype=np.float64)
        self._group(nodes, pos)
        self.outputs = []
        for x in outputs:
            if isinstance(x, Value):
                self.outputs.append(("value", pos[x]))
            else:
                self.outputs.append(("const", x))
        self.ports = []
        for kind, p in self.outputs:
            if kind == "value" and p >= self.n_leaves and p not in self.ports:
                self.ports.append(p)
        self._paths_and_cones(consts)

    # -- building ----------------------------------------------------------------------------
    def _group(self, nodes, pos):
        depth: dict = {}
        keys = []
        get = depth.get
        for v in nodes:
            a, b = v._a, v._b
            d = get(a, 0)
            if b is not None:
                e = get(b, 0)
                if e > d:
                    d = e
                form = NODES
            elif v._fn.arity == 1:
                form = UNARY
            else:
                form = CONST_LEFT if v._left else CONST_RIGHT
            depth[v] = d + 1
            # a unary op's parameters (clip's lo, hi, kept in _aux) are one group's own
            keys.append((d + 1, v._fn.name, form, v._aux if form == UNARY and v._aux else ()))
        order = sorted(range(len(nodes)), key=keys.__getitem__)  # (stable: by creation within)
        n = self.n_leaves
        for i in order:  # every group one contiguous slice, in order of depth
            pos[nodes[i]] = n
            n += 1
        self.size = n
        self.groups = []
        self.structure = []  # (op name, form, ia, ib, constants): what a replay takes
        start = self.n_leaves
        j = 0
        while j < len(order):
            key = keys[order[j]]
            k = j
            while k < len(order) and keys[order[k]] == key:
                k += 1
            members = [nodes[i] for i in order[j:k]]
            g = Group()
            g.op = members[0]._fn
            g.form, g.params = key[2], key[3]
            g.start, g.end = start, start + len(members)
            g.ia = np.array([pos[v._a] for v in members], dtype=np.intp)
            g.ib = (np.array([pos[v._b] for v in members], dtype=np.intp)
                    if g.form == NODES else None)
            g.const = (np.array([v._aux for v in members], dtype=np.float64)
                       if g.form in (CONST_LEFT, CONST_RIGHT) else None)
            g.dup_a = len(np.unique(g.ia)) != len(g.ia)
            g.dup_b = g.ib is not None and len(np.unique(g.ib)) != len(g.ib)
            g.ufunc, g.first = _ufunc(g.op.array)
            g.edges = len(members) * (2 if g.form == NODES else 1)
            self.groups.append(g)
            self.structure.append((g.op.name, g.form, g.params, g.ia.tobytes(),
                                   None if g.ib is None else g.ib.tobytes(),
                                   None if g.const is None else g.const.tobytes()))
            start = g.end
            j = k

    def _paths_and_cones(self, consts):
        """Per port: the paths to each input and to the constants (leaves made inside),
        and which nodes lie below it (for the counts of a pass that reaches some ports)."""
        self.paths = []
        self.cones = []
        m, L = self.n_inputs, self.n_leaves
        for p in self.ports:
            reach = self._reach(p, np.int64)
            if reach is None:  # more paths than an int64 holds: Python's integers
                reach = self._reach(p, object)
            self.paths.append(([int(x) for x in reach[:m]], int(sum(reach[m:L]))))
            self.cones.append(reach[m:] != 0)
        self._counts: dict = {}

    def _reach(self, port, dtype):
        """Paths from ``port`` to every node (dynamic programming over the groups), or
        None if an int64 count would overflow."""
        reach = np.zeros(self.size, dtype=dtype)
        reach[port] = 1
        for g in reversed(self.groups):
            r = reach[g.start:g.end]
            if not r.any():
                continue
            if dtype is not object and r.max() > 2 ** 61:
                return None
            np.add.at(reach, g.ia, r)
            if g.ib is not None:
                np.add.at(reach, g.ib, r)
        return reach

    def counts(self, reached: int) -> tuple:
        """(nodes, edges) of the eager graph below the ports in the bit mask ``reached``."""
        c = self._counts.get(reached)
        if c is None:
            mask = np.zeros(self.size - self.n_inputs, dtype=bool)
            for bit, cone in enumerate(self.cones):
                if reached >> bit & 1:
                    mask |= cone
            nodes = int(mask.sum())
            edges = 0
            for g in self.groups:
                k = int(mask[g.start - self.n_inputs:g.end - self.n_inputs].sum())
                edges += k * (2 if g.form == NODES else 1)
            c = self._counts[reached] = (nodes, edges)
        return c

    def fingerprint(self) -> tuple:
        """What a replay takes from the recording (compared between two recordings)."""
        return (self.n_inputs, tuple(self.arg_inputs), tuple(id(v) for _, v in self.captured),
                self.const_values.tobytes(), tuple(self.structure), tuple(
                    o if o[0] == "value" else ("const", repr(o[1])) for o in self.outputs))

    def describe_difference(self, other) -> str:
        """What differs between two recordings (for the warning)."""
        if self.const_values.tobytes() != other.const_values.tobytes():
            return "a Value made inside the function (a constant)"
        for a, b in zip(self.structure, other.structure):
            if a != b:
                return f"the {a[0]} nodes (their inputs or constants)"
        return "the graph's shape"

    # -- replaying -------------------------------------------------------------------------------
    def new_state(self):
        """The arrays one call in flight owns: values, gradients, and each group's slice."""
        vals = np.empty(self.size)
        vals[self.n_inputs:self.n_leaves] = self.const_values
        views = [vals[g.start:g.end] for g in self.groups]
        grads = np.empty(self.size)
        gviews = [grads[g.start:g.end] for g in self.groups]
        return [vals, views, grads, gviews, [None] * len(self.groups)]

    def forward(self, arg_leaves, state) -> bool:
        """Evaluate every group; False if a value is not finite (run eagerly instead)."""
        vals, views, _, _, operands = state
        getdata = _DATA
        if self.arg_inputs:
            for j, i in self.arg_inputs:
                vals[j] = getdata(arg_leaves[i])
        if self.captured:
            vals[[j for j, _ in self.captured]] = [v.data for _, v in self.captured]
        with np.errstate(all="ignore"):
            i = 0
            for g in self.groups:
                operands[i] = g.forward(vals, views[i])
                i += 1
        return bool(np.isfinite(vals).all())

    def backward(self, state, seeds) -> list:
        """Gradients of the inputs (floats), from one seed (float or None) per port."""
        vals, views, grads, gviews, operands = state
        grads.fill(0.0)
        for p, s in zip(self.ports, seeds):
            if s is not None:
                grads[p] += s
        with np.errstate(all="ignore"):
            i = len(self.groups)
            for g in reversed(self.groups):
                i -= 1
                gout = gviews[i]
                x, y = operands[i]
                op, form = g.op, g.form
                out = views[i]
                if form == UNARY:
                    _send(grads, g.ia, g.dup_a, gout, op.d, (x, out, ARRAYS, *g.params))
                elif form == NODES:
                    _send(grads, g.ia, g.dup_a, gout, op.da, (x, y, out, ARRAYS))
                    _send(grads, g.ib, g.dup_b, gout, op.db, (x, y, out, ARRAYS))
                elif form == CONST_RIGHT:
                    _send(grads, g.ia, g.dup_a, gout, op.da, (x, y, out, ARRAYS))
                else:
                    _send(grads, g.ia, g.dup_a, gout, op.db, (x, y, out, ARRAYS))
        return grads[:self.n_inputs].tolist()

    def output_values(self, state) -> list:
        return state[0][self.ports].tolist()

    # -- eagerly, with graph nodes (create_graph) ------------------------------------------------
    def rebuild(self, inputs: list):
        """The recorded graph made again from Value ``inputs`` (one per input, in order):
        returns the node of every port."""
        nodes: list = [None] * self.size
        nodes[:self.n_inputs] = inputs
        for j, c in enumerate(self.const_values.tolist()):
            nodes[self.n_inputs + j] = Value(c)
        for g in self.groups:
            op, form = g.op, g.form
            ia = g.ia.tolist()
            if form == NODES:
                for k, (a, b) in enumerate(zip(ia, g.ib.tolist())):
                    nodes[g.start + k] = _call(op, [nodes[a], nodes[b]], {})
            elif form == UNARY:
                params = dict(zip(op.params, g.params))
                for k, a in enumerate(ia):
                    nodes[g.start + k] = _call(op, [nodes[a]], params)
            else:
                name = "a" if form == CONST_LEFT else "b"
                for k, (a, c) in enumerate(zip(ia, g.const.tolist())):
                    nodes[g.start + k] = _call(op, [nodes[a]], {name: c})
        return [nodes[p] for p in self.ports]


_DATA = operator.attrgetter("data")


def _send(grads, index, dup, gout, rule, args):
    """``grads[index] += gout * d`` for the derivative rule ``rule`` (or a constant)."""
    if type(rule) is float:
        if rule == 0.0:
            return
        contrib = gout if rule == 1.0 else gout * rule
    else:
        contrib = gout * rule(*args)
    if dup:
        np.add.at(grads, index, contrib)
    else:
        grads[index] += contrib
