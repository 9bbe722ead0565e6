"""Checkpointing: keep a function's inputs, recompute its inside during backward.

The memoized backward needs what the forward pass saved for every node; on a deep
model that storage runs out first. ``tm.checkpoint(fn, *args)`` turns the trade
around for the nodes ``fn`` makes: it runs ``fn`` as usual, then keeps the graph's
structure (so hooks, ``tm.grad``, ``retain_graph`` and ``create_graph`` work as
without it) but drops the data of the nodes inside ``fn`` and what they saved for
backward. When a backward pass reaches those nodes, :func:`checkpoint` runs
``fn`` again on the same inputs (with the library's random generator put back
where it was, so dropout draws the same mask) and hands the recomputed arrays
to the original nodes; the derivative rules then run exactly as they would have
(the same numpy calls, in the same order), and the recomputed arrays are
dropped again once the pass has gone through. This is PyTorch's non-reentrant
checkpoint.

How, in terms of the engine: the nodes inside are replaced in the graph by
stand-ins with no data (a zero-strided placeholder of the right shape and dtype)
whose records are marked released; a tap in the engine's walk notices the first
stand-in a pass reaches, recomputes, and fills them in. A node that the caller
still holds (returned, stored, with a hook) is left as it was. A recomputation
that does not give what the forward gave (other ops, shapes, dtypes or values)
raises a RuntimeError instead of giving wrong gradients.

For the Value engine the same protocol applies (the local derivatives are
dropped and recomputed); it saves no memory there, as a Value's data lives in
the node itself.

>>> import numpy as np
>>> import tinygrad_memo as tm
>>> from tinygrad_memo import nn
>>> layers = nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 4), nn.Tanh())
>>> x = tm.Tensor(np.ones((2, 4), np.float32), requires_grad=True)
>>> y = tm.checkpoint(layers, x)
>>> tm.saved_tensors_report(y).total_bytes  # nothing saved until backward recomputes
0
>>> _ = y.sum().backward()
>>> x.grad.shape
(2, 4)
"""

from __future__ import annotations

import threading
import weakref

import numpy as np

from . import anomaly, engine
from . import random as _random
from .function import Context
from .grad_mode import STATE
from .hooks import has_hooks
from .tensor import Tensor
from .value import Value

__all__ = ["checkpoint", "checkpoint_sequential"]

_new = object.__new__


class _Local(threading.local):
    depth = 0  # > 0 while a checkpointed function runs (forward or recomputation)


_LOCAL = _Local()
_TABLE: dict = {}  # id(stand-in or output node) -> its _Region, while it may need a recompute


def checkpoint(fn, *args, preserve_rng_state: bool = True, **kwargs):
    """``fn(*args, **kwargs)``, keeping only its inputs; what it computes inside is
    recomputed when a backward pass needs it (see the module docstring).

    ``fn`` may return a node or a tuple/list of nodes (and other values). With
    ``preserve_rng_state`` (the default) the recomputation draws the same random
    numbers as the forward did. Inside ``no_grad``, or inside another checkpointed
    function, it is just ``fn(*args, **kwargs)``.

    >>> import tinygrad_memo as tm
    >>> x = tm.Value(0.5)
    >>> y = tm.checkpoint(lambda v: (v * v).tanh(), x)
    >>> _ = y.backward(); round(x.grad, 6)  # 2x (1 - tanh(x**2)**2)
    0.940015
    """
    return _checkpoint(fn, args, kwargs, preserve_rng_state, True)


def _checkpoint(fn, args, kwargs, preserve_rng_state: bool, empty: bool):
    """``checkpoint``; with ``empty=False`` the region keeps what the forward made until
    the first backward pass has gone through it (then drops it, as checkpointing would)."""
    if not STATE.enabled or _LOCAL.depth:
        return fn(*args, **kwargs)
    state = _random.rng().bit_generator.state if preserve_rng_state else None
    start = engine.next_seq()
    out = _run(fn, args, kwargs)
    outputs = _outputs(out, start)
    if outputs:
        _Region(fn, args, kwargs, state, start, outputs, empty)
    return out


def checkpoint_sequential(functions, segments: int, x, preserve_rng_state: bool = True):
    """``functions`` (a list of callables, or an ``nn.Sequential``) applied to ``x`` in
    ``segments`` chunks, each but the last under :func:`checkpoint` (as PyTorch's):
    the memo keeps the segments' outputs, and one segment's inside at a time
    during backward. The last segment is not recomputed (its backward comes first),
    but what it holds is dropped once the backward has gone through it. With n
    layers, ``segments = sqrt(n)`` keeps about 2 sqrt(n) layers' activations
    instead of n, for one more forward pass.

    >>> import numpy as np
    >>> import tinygrad_memo as tm
    >>> from tinygrad_memo import nn
    >>> net = nn.Sequential(*[nn.Linear(8, 8) for _ in range(4)])
    >>> x = tm.Tensor(np.ones((2, 8), np.float32))
    >>> y = tm.checkpoint_sequential(net, 2, x)
    >>> bool(np.allclose(y.numpy(), net(x).numpy()))
    True
    """
    functions = list(functions)
    n = len(functions)
    if isinstance(segments, bool) or not isinstance(segments, int | np.integer) \
            or not 1 <= segments <= n:
        raise ValueError(f"checkpoint_sequential: segments must be an int between 1 and the "
                         f"number of functions ({n}), got {segments!r}")
    size = n // segments
    start = 0
    for _ in range(segments - 1):
        x = checkpoint(_Segment(functions[start:start + size]), x,
                       preserve_rng_state=preserve_rng_state)
        start += size
    return _checkpoint(_Segment(functions[start:]), (x,), {}, preserve_rng_state, False)


class _Segment:
    """Some functions applied in turn (one checkpointed segment)."""

    def __init__(self, functions):
        self.functions = functions

    def __call__(self, x):
        for f in self.functions:
            x = f(x)
        return x

    @property
    def __name__(self) -> str:
        return f"a segment of {len(self.functions)} functions"


def _run(fn, args, kwargs):
    _LOCAL.depth += 1
    try:
        return fn(*args, **kwargs)
    finally:
        _LOCAL.depth -= 1


def _outputs(out, start) -> list:
    """The nodes ``fn`` returned that it made (in order, each once)."""
    items = out if isinstance(out, list | tuple) else [out]
    found: list = []
    for o in items:
        if isinstance(o, Tensor | Value) and o._seq > start and o._inputs \
                and not any(o is f for f in found):
            found.append(o)
    return found


def _region_nodes(outputs, start) -> list:
    """Every node made after ``start`` that the outputs depend on, in creation order."""
    seen = set(outputs)
    stack = list(outputs)
    while stack:
        for child in stack.pop()._inputs:
            if child._seq > start and child not in seen:
                seen.add(child)
                stack.append(child)
    return sorted(seen, key=_seq)


def _seq(node):
    return node._seq


def _name(fn) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__


def _signature(node, index: dict) -> tuple:
    """What must be the same when ``node`` is recomputed: its op, shape, dtype, inputs
    (a position in the region, or the very same outside node) and constants."""
    ins = tuple(("r", index[c]) if c in index else ("o", id(c)) for c in node._inputs)
    if isinstance(node, Value):
        return (node._fn, (), "float", ins, node.grad_fn.args)
    return (node._ctx.fn, node.data.shape, node.data.dtype, ins)


def _describe(sig) -> str:
    op, shape, dtype = sig[0], sig[1], sig[2]
    name = getattr(op, "name", None) or getattr(op, "__name__", repr(op))
    return f"{name!r} of shape {shape}, dtype {dtype}"


_PLACEHOLDERS: dict = {}  # (shape, dtype) -> placeholder, shared (they are read-only)


def _placeholder(a: np.ndarray) -> np.ndarray:
    """An array of ``a``'s shape and dtype that holds no memory (and is read-only)."""
    key = (a.shape, a.dtype)
    p = _PLACEHOLDERS.get(key)
    if p is None:
        if len(_PLACEHOLDERS) > 256:
            _PLACEHOLDERS.clear()
        p = _PLACEHOLDERS[key] = np.broadcast_to(np.zeros((), a.dtype), a.shape)
    return p


_SAME = ("A checkpointed function must compute the same thing when it is called again: the "
         "same ops, shapes and dtypes, and the same random numbers (keep "
         "preserve_rng_state=True, and do not change its inputs in place between forward "
         "and backward).")

# what a region position holds: a stand-in (or a Value of the region) the region keeps
# alive, an output (weakly: the region lives as long as its outputs), or a node the
# caller still holds, left as it was (weakly)
_INNER, _OUTPUT, _KEPT = "inner", "output", "kept"


class _Region:
    """One checkpointed call: what it needs to run again, and the nodes it fills in."""

    def __init__(self, fn, args, kwargs, rng_state, start, outputs, empty: bool = True):
        self.fn, self.args, self.kwargs, self.rng_state = fn, args, kwargs, rng_state
        self.versions = [a._version for a in args if isinstance(a, Tensor)]
        nodes = _region_nodes(outputs, start)
        index = {node: i for i, node in enumerate(nodes)}
        self.signatures = [_signature(node, index) for node in nodes]
        self.positions = [index[o] for o in outputs]  # where each output sits
        del index
        self.low = nodes[0]._seq  # a pass past this creation number is past the region
        self.spent: set = set()  # positions a releasing backward went through
        self.filled, self.keep = not empty, False
        if isinstance(outputs[0], Value):
            self.kinds, self.members = _detach_values(nodes, set(self.positions), empty)
        else:
            self.kinds, self.members = _detach_tensors(nodes, set(self.positions), outputs,
                                                       empty)
        self.ids = [id(_deref(m)) if k != _KEPT else None
                    for k, m in zip(self.kinds, self.members)]
        self.live = len(outputs)
        me = weakref.ref(self)
        for i in self.positions:
            self.members[i] = weakref.ref(_deref(self.members[i]), lambda _, me=me: _gone(me))
        for key in self.ids:
            if key is not None:
                _TABLE[key] = self
        if _tap not in engine.TAPS:
            engine.TAPS.append(_tap)

    def drop(self, table=None, taps=None) -> None:
        """Forget the region: no pass will recompute it any more."""
        table = _TABLE if table is None else table
        for key in self.ids:
            if key is not None and table.get(key) is self:
                del table[key]
        taps = engine.TAPS if taps is None else taps
        if not table and _tap in taps:
            taps.remove(_tap)

    # -- backward -------------------------------------------------------------------------
    def fill(self) -> None:
        """Run the function again and hand what it computed to the region's nodes."""
        for k, (a, v) in enumerate(zip([a for a in self.args if isinstance(a, Tensor)],
                                       self.versions)):
            if a._version != v:
                raise RuntimeError(
                    f"checkpoint: tensor argument {k} of {_name(self.fn)} (shape {a.shape}) was "
                    f"modified by an inplace operation between forward and backward: it is at "
                    f"version {a._version}; expected version {v}. {_SAME}")
        gen = _random.rng()
        current = gen.bit_generator.state
        if self.rng_state is not None:
            gen.bit_generator.state = self.rng_state
        start = engine.next_seq()
        enabled, STATE.enabled = STATE.enabled, True
        try:
            out = _run(self.fn, self.args, self.kwargs)
        finally:
            STATE.enabled = enabled
            gen.bit_generator.state = current
        outputs = _outputs(out, start)
        nodes = _region_nodes(outputs, start) if outputs else []
        self._check(outputs, nodes)
        originals: dict = {}  # id(recomputed array) -> the array a kept node holds
        for i, new in enumerate(nodes):
            if self.kinds[i] != _INNER and isinstance(new, Tensor):
                old = _deref(self.members[i])
                if old is not None:
                    if not (np.array_equal(old.data, new.data)
                            or np.array_equal(old.data, new.data, equal_nan=True)):
                        raise self._differs(i)
                    originals[id(new.data)] = old.data
        for i, new in enumerate(nodes):
            node = _deref(self.members[i])
            if node is None or self.kinds[i] == _KEPT or i in self.spent:
                continue
            if isinstance(node, Value):
                if not (node.data == new.data or node.data != node.data):
                    raise self._differs(i)
                node._d0, node._d1 = new._d0, new._d1
            else:
                _fill_tensor(node, new, originals, self.kinds[i] == _INNER)
        self.filled = True

    def _check(self, outputs, nodes) -> None:
        index = {node: i for i, node in enumerate(nodes)}
        what = f"checkpoint: recomputing {_name(self.fn)} inside backward gave"
        if len(outputs) != len(self.positions) or len(nodes) != len(self.signatures):
            raise RuntimeError(
                f"{what} {len(nodes)} nodes and {len(outputs)} outputs, the forward gave "
                f"{len(self.signatures)} nodes and {len(self.positions)} outputs. {_SAME}")
        for k, (o, i) in enumerate(zip(outputs, self.positions)):
            if index[o] != i:
                raise RuntimeError(f"{what} output {k} from another node than the forward "
                                   f"did. {_SAME}")
        for i, (node, sig) in enumerate(zip(nodes, self.signatures)):
            new = _signature(node, index)
            if new != sig:
                raise RuntimeError(f"{what} {_describe(new)} at node {i}, the forward gave "
                                   f"{_describe(sig)}. {_SAME}")

    def _differs(self, i: int) -> RuntimeError:
        where = f"output {self.positions.index(i)}" if i in self.positions else f"node {i}"
        return RuntimeError(f"checkpoint: recomputing {_name(self.fn)} inside backward gave "
                            f"other values for {where} than the forward did. {_SAME}")

    def finish(self, walk) -> None:
        """After a pass went through: drop what was recomputed (kept under create_graph,
        whose new graph refers to it)."""
        if walk.create_graph:
            self.keep = True
            return
        for i, (kind, m) in enumerate(zip(self.kinds, self.members)):
            node = _deref(m)
            if node is None or kind == _KEPT or i in self.spent:
                continue
            if _released(node) and not walk.retain_graph:
                self.spent.add(i)  # freed by this pass, as in a graph without checkpoint
            _empty(node, kind == _INNER)
        self.filled = False
        if len(self.spent) == sum(k != _KEPT for k in self.kinds):
            self.drop()


def _gone(me) -> None:
    """An output died (a weakref callback): once all have, the region goes too."""
    region = me()
    if region is not None:
        region.live -= 1
        if region.live == 0:
            region.drop()


def _deref(m):
    return m() if isinstance(m, weakref.ref) else m


def _released(node) -> bool:
    return node._d0 is None if isinstance(node, Value) else node._ctx.released


def _empty(node, stand_in: bool) -> None:
    """Drop what a region node holds for backward (and a stand-in's data)."""
    if isinstance(node, Value):
        node._d0 = node._d1 = None
        return
    ctx = node._ctx
    ctx.saved_tensors = ()
    ctx.released = True
    if ctx.__dict__:
        ctx.__dict__.clear()
    args = ctx.call_args
    if np.ndarray in map(type, args):  # constant arrays (a mask): dropped too
        ctx.call_args = tuple(_placeholder(a) if type(a) is np.ndarray else a for a in args)
    if stand_in:
        node.data = _placeholder(node.data)


def _fill_tensor(node, new, originals: dict, stand_in: bool) -> None:
    ctx, nctx = node._ctx, new._ctx
    if stand_in:
        node.data = new.data
    if originals:  # arrays of kept nodes: the saved ones must be those very arrays
        get = originals.get
        ctx.saved_tensors = tuple(get(id(s), s) if type(s) is np.ndarray else s
                                  for s in nctx.saved_tensors)
        ctx.__dict__.update({k: get(id(v), v) if type(v) is np.ndarray else v
                             for k, v in nctx.__dict__.items()})
    else:
        ctx.saved_tensors = nctx.saved_tensors
        if nctx.__dict__:
            ctx.__dict__.update(nctx.__dict__)
    args = ctx.call_args
    if np.ndarray in map(type, args):
        ctx.call_args = tuple(b if type(a) is np.ndarray else a
                              for a, b in zip(args, nctx.call_args))
    ctx.versions, ctx.clock, ctx.out_version = nctx.versions, nctx.clock, nctx.out_version
    ctx.released = False


def _detach_values(nodes, outputs: set, empty: bool):
    """Value regions are emptied in place (a Value's data is the node itself)."""
    kinds = [_OUTPUT if i in outputs else _INNER for i in range(len(nodes))]
    for node in nodes if empty else ():
        _empty(node, False)
    return kinds, list(nodes)


def _detach_tensors(nodes, outputs: set, output_nodes, empty: bool):
    """Replace the region's inner nodes by stand-ins without data (the outputs stay, their
    records emptied); an inner node that someone else still holds, or that has a hook or
    keeps its gradient, is left as it was."""
    n = len(nodes)
    stand_ins = {node: _stand_in(node, empty) for i, node in enumerate(nodes) if i not in outputs}
    for s in stand_ins.values():
        _rewire(s, stand_ins)
    for o in output_nodes:
        _rewire(o, stand_ins)
        if empty:
            _empty(o, False)
    held = [node for i, node in enumerate(nodes)
            if i not in outputs and (has_hooks(node) or node._retain)]
    refs = [weakref.ref(node) for node in nodes]
    subs = [stand_ins.get(node) for node in nodes]
    stand_ins.clear()
    nodes.clear()  # the inner nodes die here, unless someone else holds them
    kept = {i: refs[i]() for i in range(n) if i not in outputs and refs[i]() is not None}
    del held
    if kept:  # point the stand-ins and outputs back at the kept nodes
        back = {subs[i]: node for i, node in kept.items()}
        for i in range(n):
            if subs[i] is not None and i not in kept:
                _rewire(subs[i], back)
        for o in output_nodes:
            _rewire(o, back)
        del back
    kinds = [_OUTPUT if i in outputs else _KEPT if i in kept else _INNER for i in range(n)]
    members = [refs[i] if kinds[i] == _KEPT else (refs[i]() if kinds[i] == _OUTPUT else subs[i])
               for i in range(n)]
    return kinds, members


def _stand_in(node, empty: bool) -> Tensor:
    """A node like ``node`` (same op, inputs, shape, dtype, creation number), with no
    data (``empty``) or with ``node``'s."""
    ctx = node._ctx
    c = _new(Context)
    c.fn = ctx.fn
    c.call_args = ctx.call_args
    c.call_kwargs = ctx.call_kwargs
    c.needs_input_grad = ctx.needs_input_grad
    c.versions, c.clock, c.out_version = None, 0, 0  # (set from the recomputation)
    t = Tensor._make(node.data, True)
    t._inputs = node._inputs
    t._ctx = c
    t._seq = node._seq
    if empty:
        _empty(t, True)
    else:
        _fill_tensor(t, node, {}, True)
    if anomaly._SITES:
        anomaly.copy_site(node, t)
    return t


def _rewire(node, mapping: dict) -> None:
    """Point ``node``'s inputs (and its record's arguments) at ``mapping``'s nodes."""
    ins = node._inputs
    node._inputs = tuple(map(mapping.get, ins, ins))
    ctx = node._ctx
    ctx.call_args = tuple([mapping.get(a, a) if isinstance(a, Tensor) else a
                           for a in ctx.call_args])


def _tap(walk, pairs):
    """The engine tap: recompute a region when a pass reaches it, empty it once past."""
    table = _TABLE
    active: list = []
    low = -1  # the highest creation number below which an active region is past
    try:
        for node, slot in pairs:
            if node._seq < low and node._inputs:  # (leaves may come early: in no region)
                seq = node._seq
                for r in [r for r in active if seq < r.low]:
                    active.remove(r)
                    r.finish(walk)
                low = max((r.low for r in active), default=-1)
            if table and slot.grad is not None:  # (a node no gradient reaches needs nothing)
                r = table.get(id(node))
                if r is not None and r not in active:  # (regions compare by identity)
                    if not (r.filled or r.keep):
                        r.fill()
                    active.append(r)
                    low = max(low, r.low)
            yield node, slot
    finally:
        for r in active:
            r.finish(walk)
