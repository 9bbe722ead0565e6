"""The plan of a Tensor function: its recorded op calls, replayed on arrays.

Built once from a recording (:func:`build`): the graph is followed back from the
outputs through every call's record (``grad_fn``: op, tensor arguments, other
arguments) and through what the :class:`~.record.Recorder` saw (calls that made
no graph node, ``Tensor(...)`` made inside, ``detach()``). Every array the call
used gets a *slot*:

* an argument (a Tensor's data, or a numpy array passed in): read at each call;
* a captured tensor (made before the call: a parameter, or a node of an outer
  graph): its ``.data`` read at each call, so optimizer updates take effect;
* a constant (anything else: numbers, arrays made inside the call);
* the result of a call: computed by the op's own ``forward``, with one reused
  ``Context`` per op.

A replay runs the ``forward`` of each recorded call in the recorded order on the
slots' arrays (no Tensor objects, no sorting, no dictionaries), and the backward
plan runs each op's ``backward`` in reverse, adding each gradient into the slot
fixed at build time. A numpy array is matched to a traced tensor by identity
(``Where.apply(cond.data, ...)``, ``F.cross_entropy(logits, y)``); an array
derived from traced data by numpy outside an op is a constant, which is why a
plan is only trusted once a second recording has reproduced every constant.
"""

from __future__ import annotations

import operator

import numpy as np

from ..function import Context
from ..ops.shape import sum_to
from ..tensor import Tensor
from . import codegen
from .signature import unflatten

__all__ = ["TensorPlan"]

_new = object.__new__

# slot kinds
ARG, ARRAY_ARG, CAPTURED, CONST, COMPUTED = range(5)
# step kinds: a Function's forward, Tensor(...) of a traced array, an argument holding
# traced arrays, a plain function of arrays (a comparison's ufunc)
OP, CONVERT, BUILD, CALL = range(4)


class _Ref:
    """A slot reference inside a nested constant (an index tuple holding a traced array)."""

    __slots__ = ("slot",)

    def __init__(self, slot):
        self.slot = slot


def _fill(template, vals):
    """``template`` with every :class:`_Ref` replaced by its slot's value."""
    t = type(template)
    if t is _Ref:
        return vals[template.slot]
    if t is tuple or t is list:
        return t(_fill(x, vals) for x in template)
    if t is dict:
        return {k: _fill(v, vals) for k, v in template.items()}
    return template


def _has_ref(template) -> bool:
    t = type(template)
    if t is _Ref:
        return True
    if t is tuple or t is list:
        return any(_has_ref(x) for x in template)
    if t is dict:
        return any(_has_ref(v) for v in template.values())
    return False


class Step:
    """One recorded call (or a ``Tensor(...)`` conversion) of a plan."""

    __slots__ = ("kind", "fn", "index", "kw", "out", "needs", "routes", "name",
                 "nargs", "builtin", "edges", "tensor_args", "dtype", "template", "at", "cone",
                 "plain")


class CallData(list):
    """The contexts of one call's ops (a list, one per step) and ``bufs``, the arrays its
    ops wrote into (by slot)."""

    __slots__ = ("bufs",)


class TensorPlan:
    """A recorded Tensor function, ready to replay (see the module docstring).

    Attributes used by the call nodes: ``inputs`` (slots of the traced tensors that
    gradients flow to, in order), ``outputs`` (one entry per output leaf), and
    the eager graph's counts (``counts``).
    """

    kind = "tensor"
    effects: list | tuple = ()  # what a whole step does besides its ops (see jit.step)
    effect_keys: list | tuple = ()  # (their comparable form)
    keep_versions = True  # whether a call keeps the versions of the saved tensors
    direct = False  # a whole step replayed without a call node (see jit.step.direct_step)

    def __init__(self, rec, arg_leaves, outputs):
        self.start = rec.start
        self.random = rec.random
        self.slots: list = []  # (kind, payload, requires_grad, shape, dtype)
        self.template: list = []  # the slots' values before a call (constants filled in)
        self.steps: list = []
        self.arg_slots: list = []  # (slot, arg index): a Tensor argument's data
        self.array_slots: list = []  # (slot, arg index): a numpy array argument
        self.captured: list = []  # (slot, tensor)
        self._slot_of: dict = {}  # id(tensor) -> slot
        self._const_of: dict = {}  # id(constant) -> slot
        self._known: dict = {}  # id(array) -> tensor, or ("arg", i) for numpy arguments
        self.saved_slots: set = set()  # slots some op saves for backward
        self.run_forward = self.run_backward = None  # the generated replay (see .codegen)
        self.forward_source = self.backward_source = None
        self._build(rec, arg_leaves, outputs)
        del self._slot_of, self._const_of, self._known

    # -- building ----------------------------------------------------------------------------
    def _new_slot(self, kind, payload, value, rg=False):
        self.slots.append((kind, payload, rg))
        self.template.append(value)
        return len(self.slots) - 1

    def _classify(self, t, rec, args):
        """How tensor ``t`` came to be: ("arg", i) | ("op", ...) | ("alias", src) |
        ("convert", source) | ("captured",) | ("const",)."""
        i = args.get(id(t))
        if i is not None:
            return ("arg", i)
        r = rec.graph.get(id(t))  # (a node of a graph that a backward inside freed)
        if r is not None:
            return ("op", *r[1:], True)
        ctx = t._ctx
        if ctx is not None and t._seq >= rec.start:
            return ("op", ctx.fn, ctx.call_args, ctx.call_kwargs, ctx.needs_input_grad,
                    ctx.saved_tensors, True)
        r = rec.ops.get(id(t))
        if r is not None:
            return ("op", r[1], r[2], r[3], (False,) * len(r[2]), (), False)
        r = rec.aliases.get(id(t))
        if r is not None:
            return ("alias", r[1])
        r = rec.leaves.get(id(t))
        if r is not None:
            return ("convert", r[1])
        if t._seq < rec.start:
            return ("captured",)
        return ("const",)

    def _discover(self, rec, args, arg_leaves, outputs) -> list:
        known = self._known
        for i, x in enumerate(arg_leaves):
            if isinstance(x, Tensor):
                known.setdefault(id(x.data), x)
            elif type(x) is np.ndarray:
                known.setdefault(id(x), ("arg", i))
        for table in (rec.graph, rec.ops, rec.leaves):
            for r in table.values():
                known.setdefault(id(r[0].data), r[0])
        for t, src in rec.aliases.values():
            known.setdefault(id(t.data), src)
        found: dict = {}
        kinds: dict = {}
        stack = [x for x in outputs if isinstance(x, Tensor)]
        pending: list = []

        def visit(x):
            t = type(x)
            if t is np.ndarray:
                k = known.get(id(x))
                if isinstance(k, Tensor):
                    stack.append(k)
                elif k is None:
                    pending.append(x)
            elif isinstance(x, Tensor):
                stack.append(x)
            elif t is tuple or t is list:
                for y in x:
                    visit(y)
            elif t is dict:
                for y in x.values():
                    visit(y)

        while True:
            while stack:
                t = stack.pop()
                if id(t) in found:
                    continue
                found[id(t)] = t
                known.setdefault(id(t.data), t)
                kind = self._classify(t, rec, args)
                kinds[id(t)] = kind
                if kind[0] == "op":
                    for a in kind[2]:
                        visit(a)
                    for a in kind[3].values():
                        visit(a)
                elif kind[0] == "convert":
                    visit(kind[1])
                elif kind[0] == "alias":
                    stack.append(kind[1])
            for x in pending:
                k = known.get(id(x))
                if isinstance(k, Tensor) and id(k) not in found:
                    stack.append(k)
            pending = [x for x in pending if known.get(id(x)) is None]
            if not stack:
                break
        order = sorted(found.values(), key=operator.attrgetter("_seq"))
        return [(t, kinds[id(t)]) for t in order]

    def _ref(self, x):
        """The slot that holds the op argument ``x`` (a constant gets one of its own)."""
        if isinstance(x, Tensor):
            return self._slot_of[id(x)]
        if type(x) is np.ndarray:
            k = self._known.get(id(x))
            if isinstance(k, Tensor):
                return self._slot_of[id(k)]
            if k is not None:  # a numpy array argument
                return self._array_arg(k[1], x)
        elif type(x) in (tuple, list, dict):
            template = self._template(x)
            if _has_ref(template):
                step = self._step(BUILD)
                step.template = template
                step.out = self._new_slot(COMPUTED, None, None)
                self.steps.append(step)
                return step.out
        c = self._const_of.get(id(x))
        if c is None:
            v = x.item() if isinstance(x, np.generic) else x  # (as Tensor._apply passes it)
            c = self._const_of[id(x)] = self._new_slot(CONST, v, v)
        return c

    def _array_arg(self, i, x):
        c = self._const_of.get(id(x))
        if c is None:
            c = self._const_of[id(x)] = self._new_slot(ARRAY_ARG, i, None)
            self.array_slots.append((c, i))
        return c

    def _template(self, x):
        t = type(x)
        if t is tuple or t is list:
            return t(self._template(y) for y in x)
        if t is dict:
            return {k: self._template(v) for k, v in x.items()}
        if isinstance(x, Tensor) or (t is np.ndarray and self._known.get(id(x)) is not None):
            return _Ref(self._ref(x))
        return x

    @staticmethod
    def _step(kind):
        s = _new(Step)
        s.kind = kind
        s.fn = s.kw = s.routes = s.template = s.dtype = None
        s.plain = False
        s.index = ()
        s.needs = ()
        s.edges = s.cone = 0
        s.name = None
        return s

    def _build(self, rec, arg_leaves, outputs):
        args = {id(x): i for i, x in enumerate(arg_leaves) if isinstance(x, Tensor)}
        slot_of = self._slot_of
        self.grad_steps = []
        for t, kind in self._discover(rec, args, arg_leaves, outputs):
            k = kind[0]
            if k == "alias":
                slot_of[id(t)] = slot_of[id(kind[1])]
                continue
            if k == "arg":
                s = self._new_slot(ARG, kind[1], None, t._rg)
                self.arg_slots.append((s, kind[1]))
            elif k == "captured":
                s = self._new_slot(CAPTURED, t, None, t._rg)
                self.captured.append((s, t))
            elif k == "const" or (k == "convert" and not self._traceable(kind[1])):
                s = self._new_slot(CONST, t, t.data, t._rg)
            elif k == "convert":
                step = self._step(CONVERT)
                step.index = (self._ref(kind[1]),)
                step.dtype = t.data.dtype
                s = step.out = self._new_slot(COMPUTED, t, None, t._rg)
                self.steps.append(step)
            else:
                s = self._op(t, kind)
            slot_of[id(t)] = s
        self.outputs = [self._output(x) for x in outputs]
        self.nslots = len(self.slots)
        self.buffered = self._buffered()
        for i, step in enumerate(self.steps):
            step.at = i
        self._grad_structure()

    def _buffered(self) -> set:
        """The slots whose op writes into ``out=`` (``Function.writes_out``; and
        ``Tensor(...)`` of a traced array, a copy) and whose array is never handed
        out: not an output, and no output's array a view of it. A call writes these
        into the arrays of the previous call with the same state."""
        outs = [self.slots[o[1]][1] for o in self.outputs if o[0] == "tensor"]
        outs = [t.data for t in outs if isinstance(t, Tensor)]
        taken = {o[1] for o in self.outputs if o[0] == "tensor"}
        found = set()
        for step in self.steps:
            if step.kind != CONVERT and (step.kind != OP or not step.fn.writes_out
                                         or "out" in step.kw):
                continue
            s = step.out
            t = self.slots[s][1]
            if s in taken or not isinstance(t, Tensor) or type(t.data) is not np.ndarray:
                continue
            if not any(np.may_share_memory(t.data, o) for o in outs):
                found.add(s)
        return found

    def _traceable(self, source) -> bool:
        if isinstance(source, Tensor):
            return True
        return type(source) is np.ndarray and self._known.get(id(source)) is not None

    def _op(self, t, kind):
        _, fn, call_args, call_kwargs, needs, saved, node = kind
        step = self._step(OP if hasattr(fn, "forward") else CALL)
        step.fn = fn
        step.name = getattr(fn, "name", None) or fn.__name__
        step.builtin = getattr(fn, "builtin", True)
        step.nargs = len(call_args)
        step.tensor_args = tuple(isinstance(a, Tensor) for a in call_args)
        step.index = tuple(self._ref(a) for a in call_args)
        kw = {}
        for name, v in call_kwargs.items():
            r = self._template(v)
            kw[name] = _Ref(self._ref(v)) if _has_ref(r) else v
        step.kw = kw
        step.needs = tuple(needs)
        s = step.out = self._new_slot(COMPUTED, t, None, t._rg)
        for p, a in enumerate(call_args):  # inputs whose arrays backward reads
            if isinstance(a, Tensor) and any(x is a.data for x in saved):
                self.saved_slots.add(step.index[p])
        if t._rg and node:  # a node of the eager graph: the backward plan runs it
            step.routes = tuple(
                (p, step.index[p], call_args[p].shape, call_args[p].dtype)
                for p, n in enumerate(needs) if n
            )
            step.edges = len(step.routes)
            self.grad_steps.append(step)
        self.steps.append(step)
        return s

    def _output(self, x):
        if isinstance(x, Tensor):
            s = self._slot_of[id(x)]
            return ("tensor", s, x._rg)
        if isinstance(x, np.ndarray):
            return ("array", x.copy())
        return ("const", x)

    def _grad_structure(self):
        """Which slots gradients flow to (the call's inputs, and leaves made inside it),
        the outputs that are graph nodes (ports), and what each port's part of the
        eager graph counts: its nodes (``cone`` bits) and paths to each input."""
        used = set()
        for step in self.grad_steps:
            for _, s, _, _ in step.routes:
                used.add(s)
        by_out = {step.out: step for step in self.grad_steps}
        kinds = [k for k, _, _ in self.slots]
        self.inputs = [s for s in sorted(used) if kinds[s] in (ARG, CAPTURED)]
        # the call's tensors whose arrays its backward reads: their versions are checked
        self.saved_inputs = [s for s in sorted(self.saved_slots) if kinds[s] in (ARG, CAPTURED)]
        # where a call finds the tensors of those slots: (an argument?, its index or itself)
        self.input_nodes = [(kinds[s] == ARG, self.slots[s][1]) for s in self.inputs]
        self.saved_nodes = [(kinds[s] == ARG, self.slots[s][1]) for s in self.saved_inputs]
        leaves = [s for s in sorted(used) if s not in by_out and kinds[s] not in (ARG, CAPTURED)]
        self.ports = []  # output slots that are eager graph nodes, each once
        for o in self.outputs:
            if o[0] == "tensor" and o[1] in by_out and o[1] not in self.ports:
                self.ports.append(o[1])
        self.paths = []  # per port: paths to each input, and to the leaves made inside
        self.leaf_cones = [0] * len(leaves)
        for bit, port in enumerate(self.ports):
            reach = {port: 1}
            for step in reversed(self.grad_steps):
                n = reach.get(step.out)
                if n:
                    step.cone |= 1 << bit
                    for _, s, _, _ in step.routes:
                        reach[s] = reach.get(s, 0) + n
            self.paths.append(([reach.get(s, 0) for s in self.inputs],
                               sum(reach.get(s, 0) for s in leaves)))
            for j, s in enumerate(leaves):
                if reach.get(s):
                    self.leaf_cones[j] |= 1 << bit
        self._counts: dict = {}

    def counts(self, reached: int) -> tuple:
        """(nodes, edges) of the eager graph below the ports in the bit mask ``reached``."""
        c = self._counts.get(reached)
        if c is None:
            steps = [s for s in self.grad_steps if s.cone & reached]
            nodes = len(steps) + sum(1 for m in self.leaf_cones if m & reached)
            c = self._counts[reached] = (nodes, sum(s.edges for s in steps))
        return c

    # -- comparing two recordings --------------------------------------------------------------
    def fingerprint(self) -> tuple:
        """Everything a replay takes from the recording: two recordings of the same
        function must give equal fingerprints for the plan to be trusted."""
        slots = tuple(_canon(k, p, v, rg) for (k, p, rg), v in zip(self.slots, self.template))
        steps = tuple((s.kind, s.fn, s.index, _freeze(s.kw), _freeze(s.template) if s.kind == BUILD
                       else None, s.needs, str(s.dtype)) for s in self.steps)
        outs = tuple((o[0], o[1] if o[0] == "tensor" else _freeze(o[1])) for o in self.outputs)
        return slots, steps, outs

    def describe_difference(self, other) -> str:
        """The first step whose constants differ between two recordings (for the warning)."""
        a, b = self.fingerprint(), other.fingerprint()
        for i, (x, y) in enumerate(zip(a[0], b[0])):
            if x != y:
                return f"constant #{i} ({_short(self.template[i])})"
        for x, y, s in zip(a[1], b[1], self.steps):
            if x != y:
                return f"the call of {s.name or 'a conversion'}"
        if len(a[1]) != len(b[1]):
            return "the number of recorded calls"
        return "the outputs"

    # -- replaying -------------------------------------------------------------------------------
    def new_state(self) -> list:
        """One reusable Context per recorded op (a call in flight owns one such state),
        and in ``.bufs`` the arrays its ops wrote into at the last call (see
        :attr:`buffered`)."""
        ctxs = CallData()
        ctxs.bufs = [None] * self.nslots
        for step in self.steps:
            if step.kind != OP:
                ctxs.append(None)
                continue
            ctx = _new(Context)
            ctx.fn = step.fn
            ctx.call_args = ()
            ctx.call_kwargs = step.kw
            ctx.saved_tensors = ()
            ctx.needs_input_grad = step.needs
            ctx.released = False
            ctxs.append(ctx)
        return ctxs

    def forward(self, arg_leaves, ctxs) -> list:
        """Every slot's array for this call: the recorded calls run on new data, by the
        plan's generated code (:mod:`.codegen`)."""
        if self.run_forward is None:
            codegen.compile_forward(self)
        return self.run_forward(arg_leaves, ctxs)

    def backward(self, ctxs, vals, seeds, reached: int, release: bool):
        """The recorded backward: ``seeds`` (one gradient or None per port) in,
        ``(gradients of self.inputs, unsent edges in the reached part)`` out.

        Interpreted here step by step until one pass has shown that every op's
        gradients come as they should (then the generated code of :mod:`.codegen`
        runs the plan with one port)."""
        run = self.run_backward
        if run is not None and seeds[0] is not None:
            out, unsent = run(ctxs, seeds[0], reached)
            if release:
                release_saved(ctxs)
            return _unshared(out, seeds), unsent
        gs = [None] * self.nslots
        own = [False] * self.nslots  # gs[s] is a sum this pass made (so it may add in place)
        for s, g in zip(self.ports, seeds):
            gs[s] = g
        unsent = 0
        for step in reversed(self.grad_steps):
            g = gs[step.out]
            if g is None:
                if step.cone & reached:
                    unsent += step.edges
                continue
            grads = step.fn.backward(ctxs[step.at], g)
            if type(grads) is not tuple:
                grads = tuple(grads) if isinstance(grads, list) else (grads,)
            plain = step.plain
            if not plain:
                if len(grads) != step.nargs:
                    raise RuntimeError(f"{step.name}.backward returned {len(grads)} gradients, "
                                       f"but forward took {step.nargs} inputs")
                plain = step.builtin  # (unless a gradient below needs fixing)
            for p, s, shape, dtype in step.routes:
                gi = grads[p]
                if gi is None:
                    continue
                if not step.plain:  # as Tensor._vjp: arrays, of the input's shape and dtype
                    if type(gi) is not np.ndarray:
                        gi = np.asarray(gi, dtype=dtype)
                        plain = False
                    if gi.shape != shape:
                        gi = sum_to(gi, shape, step.name)
                        plain = False
                    if gi.dtype != dtype:
                        gi = gi.astype(dtype)
                        plain = False
                    if not step.builtin and gi.base is None:
                        gi = gi.view()  # a custom op's array: never added into in place
                prev = gs[s]
                if prev is None:
                    gs[s] = gi
                elif own[s] and type(prev) is np.ndarray:
                    prev += gi
                else:  # (a sum of 0-d arrays is a numpy scalar: kept as it comes)
                    gs[s] = prev + gi
                    own[s] = True
            # A built-in op whose gradients came as they should (arrays of the right shapes
            # and dtypes: fixed by the guard's shapes) needs no checks at the next replays.
            step.plain = plain
        if release:
            release_saved(ctxs)
        if (self.run_backward is None and len(self.ports) == 1 and seeds[0] is not None
                and all(step.plain for step in self.grad_steps)):
            codegen.compile_backward(self)
        return _unshared([gs[s] for s in self.inputs], seeds), unsent

    def results(self, vals, ports: dict, leaves):
        """A call's outputs in the function's structure: the ports (slot -> node) as
        given, other tensors made from their slots' arrays (an argument or captured
        tensor itself; never a constant of the plan, nor an array of the plan's own)."""
        out = []
        for o in self.outputs:
            if o[0] == "tensor":
                s = o[1]
                p = ports.get(s)
                if p is None:
                    kind, payload, _ = self.slots[s]
                    if kind == ARG:
                        p = leaves[payload]
                    elif kind == CAPTURED:
                        p = payload
                    else:
                        data = vals[s]
                        p = Tensor._make(data.copy() if kind == CONST else data, o[2])
                out.append(p)
            else:
                out.append(o[1].copy() if o[0] == "array" else o[1])
        if self.out_structure is None:  # (one output, not in a container)
            return out[0]
        return unflatten(self.out_structure, iter(out))

    # -- eagerly, with graph nodes (create_graph) ------------------------------------------------
    def rebuild(self, nodes: dict, vals):
        """The recorded calls made again with ``fn.apply`` (graph nodes): ``nodes`` maps
        input slots to the Tensors to use; other slots become constants. Returns the
        tensor of every slot that became one (a list, ``None`` elsewhere)."""
        ts: list = [None] * self.nslots
        for s, t in nodes.items():
            ts[s] = t
        for step in self.steps:
            if step.kind == OP:
                args = []
                for p, s in enumerate(step.index):
                    if step.tensor_args[p]:
                        if ts[s] is None:  # (a copy of an array a later call writes into)
                            v = vals[s]
                            ts[s] = Tensor._make(v.copy() if s in self.buffered else v, False)
                        args.append(ts[s])
                    else:
                        args.append(vals[s])
                kw = {k: (vals[v.slot] if type(v) is _Ref else v) for k, v in step.kw.items()}
                ts[step.out] = step.fn.apply(*args, **kw)
        return ts


def release_saved(ctxs) -> None:
    """Let go of what the ops saved for backward (the contexts serve the next call)."""
    for ctx in ctxs:
        if ctx is not None:
            ctx.saved_tensors = ()
            if ctx.__dict__:
                ctx.__dict__.clear()


_FINE = {np.ndarray, type(None)}


def _unshared(out: list, seeds) -> list:
    """The inputs' gradients as arrays, none of them the same array as another's or a
    seed (an op may hand one array to two inputs): a repeat becomes a view."""
    ids = set(map(id, out))
    if len(ids) == len(out) and set(map(type, out)) <= _FINE and ids.isdisjoint(map(id, seeds)):
        return out  # (a None in both lists goes the long way below, to the same result)
    seen = {id(g) for g in seeds if g is not None}
    for k, g in enumerate(out):
        if g is not None and type(g) is not np.ndarray:
            out[k] = np.asarray(g)
        elif g is not None and g.base is None:
            if id(g) in seen:
                out[k] = g.view()
            seen.add(id(g))
    return out


def _freeze(x):
    """A comparable form of a constant (arrays by dtype, shape and bytes)."""
    t = type(x)
    if t is np.ndarray:
        return ("array", x.dtype.str, x.shape, x.tobytes())
    if t is tuple or t is list:
        return (t, tuple(_freeze(y) for y in x))
    if t is dict:
        return (dict, tuple((k, _freeze(v)) for k, v in x.items()))
    if t is _Ref:
        return ("ref", x.slot)
    if t is float and x != x:
        return ("nan",)
    return x


def _canon(kind, payload, value, rg):
    if kind == CONST:
        return (kind, _freeze(value), rg)
    if kind == CAPTURED:
        return (kind, id(payload), rg)
    if kind in (ARG, ARRAY_ARG):
        return (kind, payload, rg)
    return (kind, rg)


def _short(x) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape}"
    r = repr(x)
    return r if len(r) < 40 else r[:37] + "..."
