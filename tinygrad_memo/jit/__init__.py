"""``tm.jit``: memoize the plan of a step, not only its gradients.

A training step builds the same graph every time: the same ops on new data. The
memoized backward already stores each gradient once; :func:`jit` also stores the
*plan*, the recorded ops with their order, their slots and who adds into whom,
and replays it: no graph objects, no sorting, no Python dispatch per node.

* :mod:`.record`: the first calls run eagerly while a recorder watches;
* :mod:`.signature`: the guard (which calls may replay a plan);
* :mod:`.tensor_plan` and :mod:`.value_plan`: the plans of both engines;
* :mod:`.node`: a replayed call as one node of the outer graph;
* :mod:`.step`: a whole training step (its backward and optimizer steps inside).
"""

from __future__ import annotations

import operator
import warnings
from typing import NamedTuple

import numpy as np

from .. import anomaly as _anomaly
from ..engine import TAPS
from ..grad_mode import STATE
from ..random import rng
from ..tensor import Tensor
from ..value import Value
from . import tensor_plan as _tp
from .node import CallState, call_node
from .record import record
from .signature import Links, flatten, leaf_key, roots_of, signature, unflatten
from .step import direct_step, step_backward, step_effects
from .tensor_plan import TensorPlan
from .value_plan import ValuePlan

__all__ = ["Jit", "JitWarning", "PlanInfo", "jit"]

MAX_PLANS = 8  # as torch.compile's cache_size_limit


class JitWarning(RuntimeWarning):
    """A jitted function that cannot be replayed (it keeps running eagerly)."""


class PlanInfo(NamedTuple):
    """One plan of a jitted function: its ``signature`` (a readable summary of the
    arguments), how many times it was ``replays``-ed, its ``status`` (``"recording"``,
    ``"ready"`` or ``"eager"``) and, for ``"eager"``, the ``reason``.

    >>> PlanInfo("(Tensor(2,) float32)", 3, "ready", None).replays
    3
    """

    signature: str
    replays: int
    status: str
    reason: str | None


_RECORDING, _READY, _EAGER = "recording", "ready", "eager"


class _Pool:
    """The arrays and contexts of one plan's calls, reused by later calls once nothing
    can read them any more (a call in flight keeps its own)."""

    __slots__ = ("plan", "free", "busy")

    def __init__(self, plan):
        self.plan = plan
        self.free: list = []  # states' data ready for a call
        self.busy: list = []  # CallStates whose backward may still run

    def take(self):
        """The data of a call: one no call in flight can read any more, or a new one. A
        Tensor plan's contexts come clean (nothing saved, no attributes): the generated
        forward relies on it."""
        if not self.free and self.busy:
            busy = self.busy
            self.busy = []
            for st in busy:  # backward has run, or the outputs died without one
                if st.released or st.node() is None:
                    if not st.clean and self.plan.kind == "tensor":
                        _tp.release_saved(st.data)
                    self.free.append(st.data)
                else:
                    self.busy.append(st)
        return self.free.pop() if self.free else self.plan.new_state()

    def lend(self, state) -> None:
        """``state``'s data serve a call in flight (kept for reuse when it is over)."""
        if len(self.busy) < 8:  # (beyond, a call's data are simply dropped with it)
            self.busy.append(state)

    def give_back(self, data) -> None:
        """Data no call in flight uses."""
        if len(self.free) < 2:
            self.free.append(data)


class _Entry:
    """Everything about one signature: its recordings, its plan, its replays."""

    def __init__(self, summary: str):
        self.summary = summary
        self.status = _RECORDING
        self.candidate = None  # the plan of the first recording
        self.plan = None
        self.pool = None
        self.replay = None  # a whole step's replay (jit.step.direct_step), for plan.direct
        self.links = None
        self.replays = 0
        self.reason = None
        self.checked: list = []  # captured tensors
        self.checks: list = []  # what they were: (shape, dtype, requires_grad) of each
        self.snapshot = None  # the traced data of the first recording
        self.same_args: list = []  # (argument index, data) unchanged between the recordings
        self.same_bytes: list = []  # (argument index, is a Tensor, bytes): the small arrays

    def info(self) -> PlanInfo:
        return PlanInfo(self.summary, self.replays, self.status, self.reason)


def _summary(leaves) -> str:
    parts = []
    for x in leaves:
        if isinstance(x, Tensor):
            parts.append(f"Tensor{x.shape} {x.dtype}" + (" requires_grad" if x._rg else ""))
        elif isinstance(x, Value):
            parts.append("Value")
        elif isinstance(x, np.ndarray):
            parts.append(f"array{x.shape} {x.dtype}")
        elif isinstance(x, bool | int | float | str | type(None)):
            parts.append(repr(x))
        else:
            parts.append(type(x).__name__)
    if len(parts) > 6:
        parts = parts[:3] + [f"... {len(parts) - 5} more ..."] + parts[-2:]
    return "(" + ", ".join(parts) + ")"


class Jit:
    """A function that records its plan on its first calls and replays it after.

    Made by :func:`jit` (see there). ``plans`` lists the plans it holds (one per
    signature) with their replay counts; :meth:`clear` drops them.
    """

    def __init__(self, fn, max_plans: int = MAX_PLANS):
        if not callable(fn):
            raise TypeError(f"jit: expected a function, got {type(fn).__name__}")
        self.fn = fn
        self.max_plans = int(max_plans)
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        self.__doc__ = getattr(fn, "__doc__", None)
        self._entries: dict = {}
        self._hot = None  # the way straight into the plan replayed last (see _hot_call)
        self._full_warned = False

    def __get__(self, obj, objtype=None):  # a jitted method: bind it like a function
        if obj is None:
            return self
        import functools

        return functools.partial(self, obj)

    @property
    def plans(self) -> list:
        """One :class:`PlanInfo` per signature seen (in order of first call)."""
        return [e.info() for e in self._entries.values()]

    def clear(self) -> None:
        """Drop every plan: the next calls record again (after changing a setting the
        function reads, such as a dropout's ``p``)."""
        self._entries.clear()
        self._hot = None

    def __repr__(self) -> str:
        return f"<jit {self.__name__}: {len(self._entries)} plan(s)>"

    def __call__(self, *args, **kwargs):
        fn = self.fn
        if STATE.recorder is not None or _anomaly._STACK:  # inside another recording (part
            return fn(*args, **kwargs)  # of it), or checking each op (tm.detect_anomaly)
        hot = self._hot
        if hot is not None and not kwargs:
            out = hot(args)
            if out is not _MISS:
                return out
        if not kwargs and _CONTAINERS.isdisjoint(map(type, args)):
            leaves, structure = list(args), len(args)  # (the common case: plain arguments)
        else:
            leaves = []
            structure = flatten((args, kwargs), leaves)
        key = signature(leaves, structure, STATE.enabled)
        entry = self._entries.get(key)
        if entry is None:
            if len(self._entries) >= self.max_plans:
                if not self._full_warned:
                    self._full_warned = True
                    self._warn(f"it already holds {self.max_plans} plans (max_plans); calls "
                               "with other signatures run eagerly")
                return fn(*args, **kwargs)
            entry = self._entries[key] = _Entry(_summary(leaves))
            entry.key = key
        if entry.status is _READY:
            if self._guard(entry, leaves):
                out = self._replay(entry, leaves)
                if out is not _EAGER_NOW:
                    entry.replays += 1
                    if entry.replay is not None and type(entry.key[1]) is int and entry.key[0]:
                        self._hot = _hot_call(entry)  # (plain arguments: the next call tries it)
                    return out
                return fn(*args, **kwargs)
            entry.status, entry.candidate, entry.plan = _RECORDING, None, None
        if entry.status is _EAGER:
            return fn(*args, **kwargs)
        out, rec = record(fn, args, kwargs)
        self._learn(entry, rec, leaves, out)
        return out

    # -- learning from a recording ---------------------------------------------------------------
    def _learn(self, entry, rec, leaves, out) -> None:
        if rec.reads:
            what, file, line = rec.reads[0]
            self._give_up(entry, f"it reads a traced value into Python ({what}) at "
                          f"{file}:{line}", (file, line))
            return
        out_leaves: list = []
        out_structure = flatten(out, out_leaves)
        nodes = [x for x in out_leaves + leaves if isinstance(x, Tensor | Value)]
        values = any(isinstance(x, Value) for x in nodes)
        if values and any(isinstance(x, Tensor) for x in nodes):
            self._give_up(entry, "it mixes Values and Tensors")
            return
        if values and rec.effects:
            self._give_up(entry, "it steps an optimizer (or zeroes gradients) on Values; a "
                          "replayed Value step is its forward, backward outside")
            return
        losses = [what for kind, what, _ in rec.effects if kind == "backward"]
        if len(losses) > 1:
            self._give_up(entry, "it calls backward() more than once")
            return
        planned = out_leaves + [r for r in losses if not any(r is x for x in out_leaves)]
        try:
            plan = (ValuePlan if values else TensorPlan)(rec, leaves, planned)
        except Exception as e:  # pragma: no cover - a recording this module does not know
            self._give_up(entry, f"its recording could not be planned ({type(e).__name__}: {e})")
            return
        plan.out_structure = out_structure
        if rec.effects:
            why = step_effects(plan, rec, losses)
            if why:
                self._give_up(entry, why)
                return
        if entry.candidate is None:
            entry.candidate = plan
            entry.snapshot = _args_data(leaves)
            return
        if plan.effect_keys != entry.candidate.effect_keys:
            self._give_up(entry, "what it did besides ops (backward, optimizer and schedule "
                          "steps, zero_grad) changed between the first two calls")
            return
        if plan.fingerprint() != entry.candidate.fingerprint():
            diff = entry.candidate.describe_difference(plan)
            self._give_up(entry, f"its graph changed between the first two calls ({diff}): it "
                          "reads traced data outside the library's ops (e.g. through .data), "
                          "draws random numbers outside an op, or makes data inside")
            return
        args_then = entry.snapshot
        entry.candidate = entry.snapshot = None
        entry.plan = plan
        entry.pool = _Pool(plan)
        entry.replay = (direct_step(plan, entry.pool, self.__name__)
                        if plan.kind == "tensor" and plan.direct else None)
        entry.status = _READY
        # An argument with the same data in both recordings: their agreement says nothing
        # about a dependence on it, so a replay needs it unchanged still.
        entry.same_bytes, entry.same_args = [], []
        for i, d in enumerate(args_then):
            if d is None or not _same(_data(leaves[i]), d):
                continue
            if isinstance(d, np.ndarray) and d.nbytes <= 1 << 16:  # a small array: its bytes
                entry.same_bytes.append((i, isinstance(leaves[i], Tensor), d.tobytes()))
            else:  # (the signature has matched its shape and dtype)
                entry.same_args.append((i, d))
        roots = roots_of(self.fn) + [(lambda x=x: x, x) for x in leaves if _opaque(x)]
        if plan.kind == "tensor":
            captured = [t for _, t in plan.captured]
            entry.checked = captured
            entry.checks = list(map(_CHECK, captured))
        else:
            captured = [v for _, v in plan.captured]
            entry.checked, entry.checks = [], []
        entry.links = Links(roots, captured)

    def _give_up(self, entry, reason, where=None) -> None:
        entry.status = _EAGER
        entry.reason = reason
        entry.candidate = entry.plan = entry.pool = None
        self._warn(reason + "; it runs eagerly", where)

    def _warn(self, message, where=None) -> None:
        code = getattr(getattr(self.fn, "__func__", self.fn), "__code__", None)
        if where is None:
            where = (code.co_filename, code.co_firstlineno) if code else ("<unknown>", 0)
        warnings.warn_explicit(f"tm.jit({self.__name__}): {message}", JitWarning, *where)

    # -- replaying --------------------------------------------------------------------------------
    @staticmethod
    def _guard(entry, leaves) -> bool:
        """The captured parameters are the recorded ones, with the recorded shapes; an
        argument that was the same in both recordings is the same still (called once
        the signature has matched)."""
        if list(map(_CHECK, entry.checked)) != entry.checks:  # (one C-level pass)
            return False
        for i, tensor, raw in entry.same_bytes:
            a = leaves[i]
            if (a.data if tensor else a).tobytes() != raw:
                return False
        for i, then in entry.same_args:
            if not _same(_data(leaves[i]), then):
                return False
        return entry.links.hold()

    def _replay(self, entry, leaves):
        plan = entry.plan
        if plan.kind == "tensor":
            return self._replay_tensor(entry, plan, leaves)
        return self._replay_value(entry, plan, leaves)

    def _replay_tensor(self, entry, plan, leaves):
        pool = entry.pool
        if entry.replay is not None and STATE.enabled and not TAPS:
            return entry.replay(leaves)
        ctxs = pool.take()
        draws = rng().bit_generator.state if plan.random else None
        vals = plan.forward(leaves, ctxs)
        ports = {}
        state = None
        if STATE.enabled and plan.ports and plan.inputs:
            inputs = _nodes(plan.input_nodes, leaves)
            state = CallState(plan, ctxs, vals, inputs, draws)
            if plan.saved_nodes and plan.keep_versions:  # (for its backward's version check)
                saved = _nodes(plan.saved_nodes, leaves)
                state.versions = list(zip(saved, map(_VERSION, saved)))
            made = call_node(state, self.__name__, [vals[p] for p in plan.ports])
            pool.lend(state)
            ports = dict(zip(plan.ports, made))
        else:
            _tp.release_saved(ctxs)
            pool.give_back(ctxs)
        out = plan.results(vals, ports, leaves)
        if plan.effects:  # a whole step: its backward, optimizer steps..., in their order
            for kind, what in plan.effects:
                if kind == "call":
                    what[0](*what[1])
                elif state is not None:  # (else nothing needs a gradient)
                    step_backward(state, what, ports[plan.ports[what]])
        return out

    def _replay_value(self, entry, plan, leaves):
        pool = entry.pool
        state = pool.take()
        if not plan.forward(leaves, state):  # not finite: the eager engine decides
            pool.give_back(state)
            return _EAGER_NOW
        values = plan.output_values(state)
        inputs = [None] * plan.n_inputs
        for j, i in plan.arg_inputs:
            inputs[j] = leaves[i]
        for j, v in plan.captured:
            inputs[j] = v
        if STATE.enabled and plan.ports:
            cs = CallState(plan, state, None, inputs, None)
            made = call_node(cs, self.__name__, values)
            pool.lend(cs)
        else:
            made = [_plain_value(x) for x in values]
            pool.give_back(state)
        ports = dict(zip(plan.ports, made))
        results = []
        for o in plan.outputs:
            if o[0] == "value":
                p = o[1]
                if p < plan.n_inputs:
                    results.append(inputs[p])
                elif p < plan.n_leaves:
                    results.append(Value(float(plan.const_values[p - plan.n_inputs])))
                else:
                    results.append(ports[p])
            else:
                results.append(o[1])
        return unflatten(plan.out_structure, iter(results))


_EAGER_NOW = object()
_MISS = object()  # (a call that _hot_call's entry does not replay)


def _hot_call(entry):
    """The way straight into ``entry``'s whole-step replay for a call with plain
    positional arguments: what ``Jit.__call__`` checks before replaying it (no hook,
    grad mode on, the entry still ready, no container among the arguments, the
    signature compared leaf by leaf instead of looked up, the guard), then the replay.
    Returns ``_MISS``, having done nothing, for a call this entry would not replay:
    the long way then decides (and records again if the guard failed)."""
    n, keys, guard = entry.key[1], entry.key[2], Jit._guard

    def call(args):
        replay = entry.replay  # (read now: a plan recorded again has its own, or none)
        if (TAPS or not STATE.enabled or replay is None or entry.status is not _READY
                or len(args) != n or not _CONTAINERS.isdisjoint(map(type, args))
                or tuple(map(leaf_key, args)) != keys or not guard(entry, args)):
            return _MISS
        out = replay(args)
        entry.replays += 1
        return out

    return call


def _data(x):
    return x.data if isinstance(x, Tensor | Value) else x


def _args_data(leaves) -> list:
    """A copy of each traced argument's data (None for the others)."""
    out = []
    for x in leaves:
        d = _data(x)
        out.append(d.copy() if isinstance(d, np.ndarray) else d if isinstance(x, Value) else None)
    return out


# what the guard checks of each captured tensor: its data's shape and dtype, its
# requires_grad (tuples compare their items by identity first: the same dtype object)
_CHECK = operator.attrgetter("data.shape", "data.dtype", "_rg")


def _same(a, b) -> bool:
    """Whether argument data ``a`` is still ``b``: bit for bit for arrays (a NaN is the
    same NaN; -0.0 is not 0.0, so such a change records again)."""
    if isinstance(b, np.ndarray):
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.nbytes <= 1 << 16:  # (bytes compared: several times faster than array_equal)
            return a.tobytes() == b.tobytes()
        return np.array_equal(a.view(np.uint8), b.view(np.uint8)) if a.flags.c_contiguous \
            else a.tobytes() == b.tobytes()
    return a == b or (a != a and b != b)


_CONTAINERS = frozenset((list, tuple, dict))


_VERSION = operator.attrgetter("_version")


def _nodes(where: list, leaves) -> list:
    """The tensors of a call at ``where``'s places: ``(True, i)`` is argument ``i``,
    ``(False, t)`` a captured tensor ``t``."""
    return [leaves[p] if a else p for a, p in where]


def _plain_value(x) -> Value:
    v = Value(x)
    v._d0 = False  # (made as in no_grad: no graph)
    return v


def _opaque(x) -> bool:
    return not isinstance(x, Tensor | Value | np.ndarray | bool | int | float | complex | str
                          | bytes | type(None) | np.generic)


def jit(fn=None, *, max_plans: int = MAX_PLANS):
    """Record ``fn``'s plan on its first calls and replay it on later calls.

    ``step = tm.jit(fn)`` (or ``@tm.jit``) has ``fn``'s signature. The first two
    calls with a given signature run ``fn`` eagerly while recording its graph; if
    both recordings agree, later calls with that signature *replay* the recorded
    ops on the new data, and ``.backward()`` on the outputs replays the recorded
    backward plan: outputs, gradients and ``BackwardStats`` are those of eager.

    The signature: shapes, dtypes and ``requires_grad`` of the Tensor arguments,
    the structure of the arguments (lists of Values and their lengths), the values
    of plain-number arguments, the identity of other objects, the grad mode; and,
    checked before each replay, the identity, shape and dtype of the parameters
    ``fn`` captures (reached through ``self``, its closure or its globals) and the
    ``train()``/``eval()`` mode of the Modules there. Captured parameters are read
    at every replay, so optimizer updates take effect. A call with another
    signature records another plan (at most ``max_plans``, then it runs eagerly).

    A whole training step may be jitted: ``loss.backward()`` inside ``fn`` (one
    plain pass: no seed, ``retain_graph``, ``create_graph``, hooks) replays as the
    recorded backward plan, each parameter receiving its gradient into ``.grad``
    as from eager; an optimizer's ``step()``/``zero_grad()``, a Module's
    ``zero_grad()``, a schedule's ``step()`` and ``clip_grad_norm_`` inside are
    called again by every replay, in their recorded order (no op may come after
    ``opt.step()``, nor use what they return).

    Not replayed, detected: reading a traced value into Python (``float()``,
    ``item()``, ``numpy()``, ``.grad``, another kind of backward pass) marks the
    plan unreplayable: ``fn`` keeps running eagerly, with one :class:`JitWarning`
    naming the file and line. So does a graph that changed between the two
    recordings. Random ops (``F.dropout``) draw anew at every replay from the
    global generator.

    Other Python side effects inside ``fn`` (printing, appending to a list,
    changing an attribute) happen only while it records, as in JAX and TinyJit.

    >>> import tinygrad_memo as tm
    >>> w = tm.Tensor([1.0, -2.0], requires_grad=True)
    >>> loss_fn = tm.jit(lambda x: ((x * w).tanh() ** 2).sum())
    >>> for _ in range(3):
    ...     loss = loss_fn(tm.Tensor([0.5, 0.25]))
    >>> _ = loss.backward()
    >>> [(p.status, p.replays) for p in loss_fn.plans]
    [('ready', 1)]
    >>> from tinygrad_memo import optim
    >>> opt = optim.SGD([w], lr=0.1)
    >>> @tm.jit
    ... def train_step(x):
    ...     opt.zero_grad()
    ...     loss = ((x * w).tanh() ** 2).sum()
    ...     loss.backward()
    ...     opt.step()
    ...     return loss
    >>> for _ in range(3):
    ...     _ = train_step(tm.Tensor([0.5, 0.25]))
    >>> train_step.plans[0].replays, w.grad.shape
    (1, (2,))
    """
    if fn is None:
        return lambda f: Jit(f, max_plans)
    return Jit(fn, max_plans)
