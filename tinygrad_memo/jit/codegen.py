"""A Tensor plan's replay as straight-line Python, generated once per plan.

Interpreting a plan step by step costs about a microsecond per op (fetching the
step, its kind, its argument slots, the context, storing the result). The plan
never changes, so that interpretation is memoized too: :func:`compile_forward`
and :func:`compile_backward` write the plan out as one Python function (one line
per op call, each slot a local variable) and compile it, as ``torch.fx`` and
tinygrad's JIT do. The generated code calls the same ``forward`` and
``backward`` of each op as an eager call, in the recorded order, so the results
are eager's. The backward is interpreted (``TensorPlan.backward``) until one pass
has shown that the generated form applies.

>>> import tinygrad_memo as tm
>>> w = tm.Tensor([1.0, 2.0], requires_grad=True)
>>> f = tm.jit(lambda x: (x * w).sum())
>>> _ = [f(tm.Tensor([3.0, 4.0])) for _ in range(3)]
>>> "def replay_forward" in f._entries[next(iter(f._entries))].plan.forward_source
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["compile_backward", "compile_forward"]


def _as_array(ctx, raw):
    """An op's result as an array (a numpy scalar becomes 0-d), its saved copy too."""
    out = np.asarray(raw)
    ctx.saved_tensors = tuple(out if x is raw else x for x in ctx.saved_tensors)
    return out


def _tuple(grads):
    return tuple(grads) if isinstance(grads, list) else (grads,)


def _build(code: list, env: dict, name: str):
    src = "\n".join(code) + "\n"
    exec(compile(src, f"<tm.jit {name}>", "exec"), env)  # noqa: S102 - our own generated code
    return env[name], src


def compile_forward(plan) -> None:
    """``plan.run_forward(arg_leaves, ctxs) -> vals``, generated."""
    from . import tensor_plan as tp  # (which imports this module)

    env = {"_as_array": _as_array, "_ndarray": np.ndarray, "_np_array": np.array,
           "_copyto": np.copyto,
           "_asarray": np.asarray, "_fill": tp._fill}
    code = ["def replay_forward(A, C):"]
    body = code.append
    if plan.buffered:
        body("    B = C.bufs")
    for s, ((kind, _, _), value) in enumerate(zip(plan.slots, plan.template)):
        if kind == tp.CONST:
            env[f"k{s}"] = value
            body(f"    v{s} = k{s}")
    for s, i in plan.arg_slots:
        body(f"    v{s} = A[{i}].data")
    for s, i in plan.array_slots:
        body(f"    v{s} = A[{i}]")
    for s, t in plan.captured:
        env[f"t{s}"] = t
        body(f"    v{s} = t{s}.data")
    for i, step in enumerate(plan.steps):
        out = f"v{step.out}"
        if step.kind == tp.OP:
            env[f"f{i}"] = step.fn.forward
            args = ["c"] + [f"v{s}" for s in step.index]
            for k, v in step.kw.items():
                if type(v) is tp._Ref:
                    args.append(f"{k}=v{v.slot}")
                else:
                    env[f"w{i}_{k}"] = v
                    args.append(f"{k}=w{i}_{k}")
            body(f"    c = C[{i}]")  # (a clean context: see jit._Pool.take)
            if step.out in plan.buffered:  # into the array of the previous call
                args.append(f"out=B[{step.out}]")
            body(f"    {out} = f{i}({', '.join(args)})")
            body(f"    if type({out}) is not _ndarray: {out} = _as_array(c, {out})")
            if step.out in plan.buffered:
                body(f"    B[{step.out}] = {out}")
        elif step.kind == tp.CONVERT:
            env[f"dt{i}"] = step.dtype
            src = f"v{step.index[0]}"
            if step.out in plan.buffered:  # the copy goes into the array of the previous call
                body(f"    {out} = B[{step.out}]")
                body(f"    if {out} is None: {out} = B[{step.out}] = _np_array({src}, dtype=dt{i})")
                body(f"    else: _copyto({out}, {src}, casting='unsafe')")
            else:
                body(f"    {out} = _np_array({src}, dtype=dt{i})")
        elif step.kind == tp.CALL:
            env[f"f{i}"] = step.fn
            body(f"    {out} = _asarray(f{i}({', '.join(f'v{s}' for s in step.index)}))")
        else:  # an argument holding traced arrays: its template filled in
            env[f"tpl{i}"] = step.template
            refs = sorted(_refs(step.template, tp._Ref))
            body(f"    {out} = _fill(tpl{i}, {{{', '.join(f'{r}: v{r}' for r in refs)}}})")
    body(f"    return [{', '.join(f'v{s}' for s in range(plan.nslots))}]")
    plan.run_forward, plan.forward_source = _build(code, env, "replay_forward")


def _refs(template, ref) -> set:
    """The slots a BUILD step's template reads (``ref``: the slot-reference class)."""
    t = type(template)
    if t is ref:
        return {template.slot}
    if t is tuple or t is list or t is dict:
        items = template.values() if t is dict else template
        return set().union(*(_refs(x, ref) for x in items))
    return set()


def compile_backward(plan) -> None:
    """``plan.run_backward(ctxs, seed, reached) -> (grads of plan.inputs, unsent)`` for
    one port, generated once every step's gradients have come as they should (see
    ``TensorPlan.backward``: arrays of the input's shape and dtype, from built-in
    ops). Each slot's gradient is a local; a slot's first contribution is taken as
    it comes, later ones are added (a fresh sum: the first may be an op's own
    array or an input's, never to be written into)."""
    env = {"_tuple": _tuple, "_ndarray": np.ndarray}
    code = ["def replay_backward(C, g, R):"]
    body = code.append
    body(f"    u = 0; g{plan.ports[0]} = g")
    filled: set = {plan.ports[0]}
    for j, step in enumerate(reversed(plan.grad_steps)):
        env[f"b{j}"] = step.fn.backward
        body(f"    if g{step.out} is None:")
        body(f"        u += {step.edges} if {step.cone} & R else 0")
        body("    else:")
        body(f"        r = b{j}(C[{step.at}], g{step.out})")
        body("        if type(r) is not tuple: r = (r,) if type(r) is _ndarray else _tuple(r)")
        for p, s, _, _ in step.routes:
            if s in filled:
                body(f"        x = r[{p}]")
                body(f"        if x is not None: g{s} = x if g{s} is None else g{s} + x")
            else:
                body(f"        g{s} = r[{p}]")
                filled.add(s)
    # a slot no step reached (nothing flows to it in this plan) holds no gradient
    for s in plan.inputs:
        if s not in filled:
            body(f"    g{s} = None")
    body(f"    return [{', '.join(f'g{s}' for s in plan.inputs)}], u")
    # the locals of skipped steps must exist: every slot a route writes starts as None
    starts = sorted(filled - {plan.ports[0]})
    if starts:
        code.insert(1, f"    {' = '.join(f'g{s}' for s in starts)} = None")
    plan.run_backward, plan.backward_source = _build(code, env, "replay_backward")
