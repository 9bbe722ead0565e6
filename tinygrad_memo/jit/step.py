"""A whole training step inside ``tm.jit``: ``loss.backward()`` and the optimizer.

While a step records, the library tells the recorder what it does besides ops
(:mod:`.record`): a backward pass (whose graph the plan is then read from a copy
of, the pass having freed it), and *effects*, the calls that change state
outside the graph: an optimizer's ``step()`` and ``zero_grad()``, a Module's
``zero_grad()``, a schedule's ``step()``, ``clip_grad_norm_``.
:func:`step_effects` checks that a replay can do them in order after the
recorded ops, and :func:`step_backward` is the backward of a replayed step: the
recorded plan, each input's gradient handed to it as the engine would, without
a graph or a walk.

>>> import tinygrad_memo as tm
>>> from tinygrad_memo import optim
>>> w = tm.Tensor([1.0, -2.0], requires_grad=True)
>>> opt = optim.SGD([w], lr=0.5)
>>> def train_step(x):
...     opt.zero_grad()
...     (x * w).sum().backward()
...     opt.step()
>>> step = tm.jit(train_step)
>>> for _ in range(3):
...     step(tm.Tensor([1.0, 1.0]))
>>> w.numpy(), step.plans[0].replays
(array([-0.5, -3.5], dtype=float32), 1)
"""

from __future__ import annotations

from collections import deque
from itertools import repeat
from operator import is_not

from .. import engine
from ..engine import TAPS, Subgraph
from ..tensor import Tensor
from .node import CallState, JitRecord, TensorOutput
from .tensor_plan import COMPUTED

__all__ = ["direct_step", "step_backward", "step_effects"]


def step_effects(plan, rec, roots) -> str | None:
    """Set ``plan.effects`` from the recording's effects (``("call", (method, args))``
    and ``("backward", port number)``), or say why they cannot be replayed."""
    by_slot = {id(t): s for s, (kind, t, _) in enumerate(plan.slots) if kind == COMPUTED}
    made = {id(r) for r in rec.results}
    if made and any(id(t) in made for _, t, _ in plan.slots):
        return ("it uses what a call such as clip_grad_norm_() returned inside it (a replay "
                "makes the call again but cannot hand its result to the recorded ops)")
    for step in plan.steps:
        t = plan.slots[step.out][1]
        if rec.writes_at is not None and getattr(t, "_seq", -1) > rec.writes_at:
            return ("it computes after opt.step() (a replay runs every op first, then "
                    "backward and the steps)")
        if getattr(t, "_retain", False) and roots:
            return "it keeps an intermediate gradient (retain_grad()) in a backward() inside"
    effects = []
    for kind, what, seq in rec.effects:
        if kind == "call":
            effects.append((kind, what))
            continue
        # no write between the replay's forward and this backward: nothing to check then
        plan.keep_versions = rec.writes_at is not None and rec.writes_at < seq
        s = by_slot.get(id(what))
        if s is None or s not in plan.ports:
            return "it calls backward() on a tensor it did not compute"
        bit = plan.ports.index(s)
        plan.step_seed = what._seed(None, False)  # (the eager pass's seed, made once)
        plan.step_seed.flags.writeable = False
        if any(m >> bit & 1 for m in plan.leaf_cones):
            return ("its backward() reaches a tensor made inside it with requires_grad (whose "
                    ".grad a replay would not fill)")
        effects.append((kind, bit))
    plan.effects = effects
    plan.effect_keys = [_key(e) for e in effects]
    # which inputs may be nodes of an outer graph (a backward then walks on through it)
    plan.arg_inputs = [j for j, (arg, _) in enumerate(plan.input_nodes) if arg]
    plan.outer_inputs = any(t._inputs for arg, t in plan.input_nodes if not arg)
    # the common step (one loss, its gradients all for captured leaves, nothing written
    # between the forward and the backward) replays without a call node: see direct_step
    plan.direct = (len(plan.ports) == 1 and sum(k == "backward" for k, _ in effects) == 1
                   and bool(plan.inputs) and not plan.arg_inputs and not plan.outer_inputs
                   and not plan.keep_versions)
    return None


def _key(x):
    """A comparable form of an effect (the same calls on the same objects in two
    recordings): numbers and strings as they are, containers by their items, bound
    methods by function and object, anything else by identity."""
    t = type(x)
    if t is tuple or t is list:
        return (t, tuple(_key(y) for y in x))
    if x is None or t in (bool, int, float, str):
        return x
    self_ = getattr(x, "__self__", None)
    if self_ is not None:
        return ("method", getattr(x, "__func__", x), id(self_))
    return ("id", id(x))


def step_backward(state, bit, port) -> None:
    """``port.backward()`` inside a replayed step: the recorded backward run directly,
    each input's gradient handed to it, when the inputs are leaves and no hook
    watches; otherwise through the engine (which walks on into an outer graph)."""
    inputs = state.inputs
    if TAPS or state.plan.outer_inputs or any(inputs[j]._inputs for j in state.plan.arg_inputs):
        engine.backward(port)
        return
    seed = state.plan.step_seed  # (read-only: an op writing into its seed would raise)
    _hand_over(inputs, state.vjp(seed if state.single else [(bit, seed)], False, True))


def direct_step(plan, pool, fn_name):
    """The replay of the common whole step (``plan.direct``, no hook or checkpoint
    watching) as a function of a call's leaves, its parts bound once: the forward
    plan, then the effects in order, the backward among them run on this call's
    contexts directly, each captured parameter receiving its gradient as from the
    engine. The returned loss is a node whose graph has been freed (a second
    ``backward()`` raises, as eager's), so no call state is kept: the calls share
    one spent state, whose inputs are the captured parameters the guard checks."""
    forward, backward, results = plan.forward, plan.backward, plan.results
    take, give_back = pool.take, pool.give_back
    port = plan.ports[0]
    spent = CallState(plan, None, None, [t for _, t in plan.input_nodes], None)
    spent.released = spent.clean = True
    record, subgraph = JitRecord(fn_name, spent, 0), Subgraph(spent.inputs, spent.account)
    inputs, seeds = spent.inputs, [plan.step_seed]
    at = [kind for kind, _ in plan.effects].index("backward")
    before = [what for _, what in plan.effects[:at]]
    after = [what for _, what in plan.effects[at + 1:]]
    make = TensorOutput._make
    alone = plan.out_structure is None and [o[:2] for o in plan.outputs] == [("tensor", port)]

    def replay(leaves):
        ctxs = take()
        vals = forward(leaves, ctxs)
        loss = make(vals[port], True)
        loss._ctx, loss._inputs, loss._state = record, subgraph, spent
        out = loss if alone else results(vals, {port: loss}, leaves)  # (alone: fn returns it)
        for f, args in before:
            f(*args)
        grads, _ = backward(ctxs, vals, seeds, 1, True)
        give_back(ctxs)
        _hand_over(inputs, grads)
        for f, args in after:
            f(*args)
        return out

    return replay


def _hand_over(inputs, grads) -> None:
    """Each input (a leaf) its gradient, kept or accumulated into ``.grad`` as by the
    engine (``Tensor._receive``); an input that no gradient reached gets nothing."""
    if not all(map(is_not, grads, repeat(None))):
        keep = [k for k, g in enumerate(grads) if g is not None]
        inputs, grads = [inputs[k] for k in keep], [grads[k] for k in keep]
    deque(map(_RECEIVE, inputs, grads, repeat(False)), 0)


_RECEIVE = Tensor._receive
