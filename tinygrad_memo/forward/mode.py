"""The forward-mode machinery: tangents carried beside the values, op by op.

While :func:`~tinygrad_memo.forward.jvp` runs, this thread has a *level* (``STATE.forward``)
and every node it computes may carry a tangent, kept in the node's ``_tangent`` slot as
``(level, tangent)`` (a tangent of another level, or none, means zero). Each op that meets a
tangent calls its forward-mode rule right after its forward, with the op's own context:

* Tensor ops (every :class:`~tinygrad_memo.function.Function`, built-in or custom):
  ``fn.jvp(ctx, *tangents)``, one tangent per positional input (``None`` for zero), returning
  the output's tangent (``None`` for zero). A tangent may come back in any shape that broadcasts
  to the output's (elementwise rules keep their input's): it is broadcast here, in one place.
  An op without a ``jvp`` raises ``NotImplementedError`` naming it.
* Value ops: the op's float derivative rules (``d``, ``da``, ``db``), the same ones the Value
  backward uses; tangents are floats.

Where it hooks in, and what that costs outside forward mode: ``Tensor._apply`` (what every
``Function.apply`` runs, bound methods like ``MyOp.apply`` included) hands the op to
:meth:`Level.apply` when this thread has a level; the Value operators do the same on their
no-graph path only (Value functions run inside ``no_grad`` in forward mode), so the Value
engine's recording path is unchanged; in-place writes refuse tensors that carry a tangent. The
check is a plain global (how many forward-mode evaluations run, :data:`grad_mode.FORWARD`)
before the per-thread level. Measured per op (CPU time, best of 30 interleaved runs of 2000-op
chains, main against this, in one process): Tensor ops 3.2 us either way, no-grad Tensor ops
+0.7 to +3%, Value ops and no-grad Value ops within +-4% (the noise of the runs). The
benchmarks, before and after, two runs each: benchmarks/tensor_mlp.py 0.150/0.157 ms against
0.152/0.149 ms per step (small) and 1.88/1.85 against 1.81/1.80 ms (deep);
benchmarks/scalar_mlp.py 136/139 against 140/135 ms per step.

A Tensor op saves what its rule needs: for the forward call, an input with a tangent counts as
needing grad (``ctx.needs_input_grad``); the recorded node (if the op records one) keeps the
true flags. When the op records a graph node (an input requires grad) or a tangent is itself a
graph node, the rule runs on graph nodes (the saved arrays resolved to the graph's nodes, as in
``create_graph``), so the tangent is differentiable in turn (reverse over forward); otherwise it
runs on numpy arrays and nothing is recorded. While a rule runs, forward mode is paused (a
rule's own ops carry no tangents).
"""

from __future__ import annotations

import threading

import numpy as np

from ..function import _name
from ..grad_mode import FORWARD, STATE, enable_grad
from ..ops.elementary import FLOATS
from ..tensor import Tensor
from ..value import Value

__all__ = ["Level", "forward_mode", "tangent", "set_tangent"]


class Level:
    """One forward-mode evaluation (a call of ``tm.jvp``): tangents are tagged with it, and the
    ops of this thread reach it while it runs. ``rules`` counts the forward-mode rules it
    evaluated."""

    __slots__ = ("rules",)

    def __init__(self):
        self.rules = 0

    # -- the Tensor engine ------------------------------------------------------------------------
    def apply(self, fn, args: tuple, kwargs: dict):
        """``fn.apply(*args, **kwargs)`` with the output's tangent from ``fn.jvp``."""
        tangents = [tangent(a, self) if isinstance(a, Tensor) else None for a in args]
        if all(t is None for t in tangents):
            return _eager(self, fn, args, kwargs)
        rule = getattr(fn, "jvp", None)
        if rule is None:
            raise _no_rule(fn)
        # the forward call: an input with a tangent needs what a gradient would (its rule reads it)
        marked = [a for a, t in zip(args, tangents) if t is not None and not a._rg]
        enabled = STATE.enabled
        for a in marked:
            a._rg = True
        STATE.enabled = True
        try:
            out = _eager(self, fn, args, kwargs)
        finally:
            for a in marked:
                a._rg = False
            STATE.enabled = enabled
        ctx = out._ctx
        recorded = tuple(x for x in out._inputs if x._rg)
        if not (enabled and recorded):  # no graph here: a plain result
            out._rg = False
            out._inputs = ()
            out._ctx = None
        elif marked:  # the node's true flags
            out._inputs = recorded
            ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._rg for a in args)
        graph = enabled and (bool(recorded) or any(isinstance(t, Tensor) and t._rg
                                                   for t in tangents))
        STATE.forward = None  # a rule's own ops carry no tangents
        try:
            if graph:
                saved = ctx.saved_tensors
                ctx.saved_tensors = tuple(out._resolve(s, ctx) for s in saved)
                try:
                    t = rule(ctx, *[_as_node(t) for t in tangents])
                finally:
                    ctx.saved_tensors = saved
            else:
                t = rule(ctx, *[t.data if isinstance(t, Tensor) else t for t in tangents])
            if t is not None:
                set_tangent(out, self, _fit(t, out, fn, graph))
        finally:
            STATE.forward = self
        self.rules += 1
        return out

    def refuse_in_place(self, op: str, t) -> None:
        """An in-place write into (or from) a tensor with a tangent would not reach the tangent."""
        if tangent(t, self) is not None:
            raise RuntimeError(f"{op}: in-place operations are not supported in forward mode "
                               "(tm.jvp) on tensors that carry a tangent (the write would not "
                               "reach the tangent): write the out-of-place form (t = t + u)")

    # -- the Value engine: the op's float derivative rules ----------------------------------------
    def unary(self, out, op, x, params: tuple) -> None:
        """Give ``out = op(x, *params)`` its tangent (the Value operators call this)."""
        t = tangent(x, self)
        if t is not None:
            set_tangent(out, self, t * op.derivative(x.data, out.data, FLOATS, *params))
            self.rules += 1

    def binary(self, out, op, x, y) -> None:
        """Give ``out = op(x, y)`` its tangent (either operand may be a plain number)."""
        tx = tangent(x, self) if isinstance(x, Value) else None
        ty = tangent(y, self) if isinstance(y, Value) else None
        if tx is None and ty is None:
            return
        a = x.data if isinstance(x, Value) else x
        b = y.data if isinstance(y, Value) else y
        t = 0.0
        if tx is not None:
            da = op.da
            t += tx * (da if type(da) is float else da(a, b, out.data, FLOATS))
        if ty is not None:
            db = op.db
            t += ty * (db if type(db) is float else db(a, b, out.data, FLOATS))
        set_tangent(out, self, t)
        self.rules += 1


def tangent(x, level):
    """``x``'s tangent at ``level`` (``None``: zero)."""
    t = getattr(x, "_tangent", None)
    if t is None or t[0] is not level:
        return None
    return t[1]


def set_tangent(x, level, t) -> None:
    """Give node ``x`` the tangent ``t`` at ``level``."""
    x._tangent = (level, t)


class forward_mode:
    """``with forward_mode() as level:`` this thread computes tangents at a new level."""

    def __enter__(self) -> Level:
        if STATE.forward is not None:
            raise RuntimeError(
                "jvp: forward mode is already running in this thread (a tm.jvp or tm.jacfwd "
                "inside another): nested forward mode is not supported; differentiate a "
                "gradient instead (forward over reverse: tm.hvp, tm.hessian)")
        with _LOCK:  # (the ops read the count without the lock: it only gates a per-thread look)
            FORWARD[0] += 1
        self.level = STATE.forward = Level()
        return self.level

    def __exit__(self, *exc):
        STATE.forward = None
        with _LOCK:
            FORWARD[0] -= 1
        return False


_LOCK = threading.Lock()


# -- the Tensor engine ---------------------------------------------------------------------------------
def _no_rule(fn) -> NotImplementedError:
    return NotImplementedError(
        f"{_name(fn)}: forward mode (tm.jvp) reached this op, but it has no forward-mode rule: "
        "define a staticmethod jvp(ctx, *tangents) beside its backward (one tangent per input "
        "of forward, None for a zero tangent; return the output's tangent, or None)")


def _eager(level, fn, args, kwargs):
    """The op as outside forward mode (the level is set aside while it runs)."""
    STATE.forward = None
    try:
        return Tensor._apply(fn, *args, **kwargs)
    finally:
        STATE.forward = level


def _as_node(t):
    return t if t is None or isinstance(t, Tensor) else Tensor._make(t, False)


def _fit(t, out, fn, graph):
    """A rule's tangent in the output's shape and dtype (a clear error if it cannot be)."""
    shape = out.data.shape
    if not isinstance(t, Tensor):
        t = np.asarray(t)
        if t.dtype != out.dtype and out.dtype.kind == "f":
            t = t.astype(out.dtype)
        if t.shape != shape:
            t = np.broadcast_to(t, _check_shape(t.shape, shape, fn))
        return _as_node(t) if graph else t
    if t.shape != shape:
        _check_shape(t.shape, shape, fn)
        with enable_grad():
            t = t + Tensor._make(np.zeros(shape, dtype=out.dtype), False)
    return t


def _check_shape(got, shape, fn):
    try:
        if np.broadcast_shapes(got, shape) == shape:
            return shape
    except ValueError:
        pass
    raise ValueError(f"{_name(fn)}.jvp returned a tangent of shape {got}, but the op's output "
                     f"has shape {shape}")
