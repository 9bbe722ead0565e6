"""Jacobians in either order, Hessians and Hessian-vector products.

For ``f: R^n -> R^m``, :func:`jacfwd` builds the Jacobian one *column* per forward sweep
(``tm.jvp`` along each input element: ``n`` sweeps) and :func:`jacrev` one *row* per reverse
sweep (one forward pass, then a backward pass seeded with each output element: ``m`` sweeps).
The functions they return count the sweeps they perform (:attr:`JacobianFunction.sweeps`), so
the choice between the orders can be measured, not only argued: forward wins when ``n < m``.

:func:`hessian` is ``jacfwd(jacrev(f))`` and :func:`hvp` the forward-mode derivative of the
gradient: forward over reverse. The reverse sweeps run with ``create_graph=True``, so the
backward rules are ops on graph nodes, and forward mode carries tangents through them.
"""

from __future__ import annotations

import numpy as np

from ..autograd import grad as _grad
from ..grad_mode import STATE
from ..tensor import Tensor
from ..value import Value
from .jvp import jvp
from .mode import set_tangent, tangent

__all__ = ["JacobianFunction", "hessian", "hvp", "jacfwd", "jacrev"]


class JacobianFunction:
    """The Jacobian of ``f`` as a function (what :func:`jacfwd` and :func:`jacrev` return).

    Calling it with ``f``'s arguments returns the Jacobian of ``f``'s output with respect to
    the argument ``argnums`` (a tuple of Jacobians for a tuple ``argnums``; a tuple per output
    for a tuple of outputs). A Tensor argument of shape ``S`` and an output of shape ``T`` give a
    Tensor of shape ``T + S``. A list of Values (or numbers) as the argument, with a Value or a
    list of Values as the output, gives a float64 array of shape ``(m, n)``. After each call,
    :attr:`sweeps` is the number of sweeps that call performed (forward passes with tangents
    for ``mode == "forward"``, backward passes for ``"reverse"``); :attr:`total_sweeps` adds up
    all calls. :func:`hessian`'s also has ``reverse``, the inner reverse-mode Jacobian function
    (with its own counts).

    >>> import numpy as np
    >>> import tinygrad_memo as tm
    >>> J = tm.jacrev(lambda x: (x * x).sum())
    >>> J(np.array([1.0, 2.0, 3.0])).numpy(), J.sweeps
    (array([2., 4., 6.]), 1)
    """

    def __init__(self, f, argnums, mode: str):
        self.f, self.argnums, self.mode = f, argnums, mode
        self.sweeps = 0
        self.total_sweeps = 0

    def __repr__(self) -> str:
        return f"<JacobianFunction mode={self.mode} sweeps={self.sweeps}>"

    def _sweep(self) -> None:
        self.sweeps += 1
        self.total_sweeps += 1

    def __call__(self, *args):
        self.sweeps = 0
        nums = (self.argnums,) if isinstance(self.argnums, int) else tuple(self.argnums)
        for i in nums:
            if not -len(args) <= i < len(args):
                raise ValueError(f"jac{self.mode[:3]}: argnums {self.argnums!r} is out of range "
                                 f"for {len(args)} arguments")
        if len(nums) == 1 and isinstance(args[nums[0]], list | tuple):
            return (_scalar_fwd if self.mode == "forward" else _scalar_rev)(self, args, nums[0])
        run = _tensor_fwd if self.mode == "forward" else _tensor_rev
        per_arg = run(self, args, nums)  # [input][output] -> Jacobian
        outs = len(per_arg[0])
        single_out = getattr(self, "_single_out", True)
        blocks = [tuple(p[j] for p in per_arg) for j in range(outs)]  # [output][input]
        blocks = [b[0] if isinstance(self.argnums, int) else b for b in blocks]
        return blocks[0] if single_out else tuple(blocks)


def jacfwd(f, argnums=0) -> JacobianFunction:
    """The Jacobian of ``f`` by forward mode: one ``tm.jvp`` sweep per input element.

    >>> import numpy as np
    >>> import tinygrad_memo as tm
    >>> J = tm.jacfwd(lambda x: x.sin())
    >>> J(np.array([0.0, np.pi])).numpy().round(6) + 0.0, J.sweeps
    (array([[ 1.,  0.],
           [ 0., -1.]]), 2)
    """
    return JacobianFunction(f, argnums, "forward")


def jacrev(f, argnums=0) -> JacobianFunction:
    """The Jacobian of ``f`` by reverse mode: one forward pass, then one backward sweep per
    output element (inside forward mode the sweeps build graphs, so :func:`hessian` can carry
    tangents through them).

    >>> import tinygrad_memo as tm
    >>> J = tm.jacrev(lambda xs: [xs[0] * xs[1], xs[0] + xs[1]])
    >>> J([2.0, 3.0]), J.sweeps
    (array([[3., 2.],
           [1., 1.]]), 2)
    """
    return JacobianFunction(f, argnums, "reverse")


def hessian(f, argnums=0) -> JacobianFunction:
    """The Hessian of a scalar ``f``: ``jacfwd(jacrev(f))``, forward over reverse. Its
    ``sweeps`` are the forward sweeps (one per input element); each runs one reverse sweep
    inside, counted by the inner Jacobian function, ``.reverse``.

    >>> import numpy as np
    >>> import tinygrad_memo as tm
    >>> H = tm.hessian(lambda x: (x * x * x).sum())
    >>> H(np.array([1.0, 2.0])).numpy()
    array([[ 6.,  0.],
           [ 0., 12.]])
    >>> H.sweeps, H.reverse.total_sweeps
    (2, 2)
    """
    inner = jacrev(f, argnums)
    outer = jacfwd(inner, argnums)
    outer.reverse = inner
    return outer


def hvp(f, primals, v):
    """``(f(*primals), H v)``: the Hessian of the scalar ``f`` times ``v`` without forming
    ``H``, as the forward-mode derivative of the gradient along ``v`` (forward over reverse:
    one forward sweep through one reverse sweep). PyTorch's ``torch.autograd.functional.hvp``
    return convention; a single primal gives a single product.

    >>> import numpy as np
    >>> import tinygrad_memo as tm
    >>> y, hv = tm.hvp(lambda x: (x * x * x).sum(), np.array([1.0, 2.0]), np.array([1.0, 1.0]))
    >>> y.item(), hv.numpy()
    (9.0, array([ 6., 12.]))
    """
    single = not isinstance(primals, tuple | list)
    primals = (primals,) if single else tuple(primals)
    v = (v,) if not isinstance(v, tuple | list) else tuple(v)
    if any(isinstance(p, Value) for p in primals):
        raise TypeError("hvp: pass Tensors (or arrays): a Value function runs inside no_grad in "
                        "forward mode, so its gradient cannot be recorded to carry tangents")

    def gradient(*xs):
        leaves = [_grad_leaf(x) for x in xs]
        y = f(*leaves)
        _check_scalar(y, "hvp")
        return (y, *_grad(y, leaves, create_graph=True))

    (y, *_), (_, *hv) = jvp(gradient, primals, v)
    hv = [h.detach() for h in hv]
    return y.detach(), (hv[0] if single else tuple(hv))


# -- the Tensor engine -------------------------------------------------------------------------
def _replace(args, nums, xs) -> list:
    a = list(args)
    for i, x in zip(nums, xs):
        a[i] = x
    return a


def _outputs(self, result) -> tuple:
    self._single_out = not isinstance(result, tuple | list)
    outs = (result,) if self._single_out else tuple(result)
    for j, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(f"jac{self.mode[:3]}: f must return a Tensor or a tuple of Tensors; "
                            f"output {j} is a {type(o).__name__}")
    return outs


def _tensor_fwd(self, args, nums) -> list:
    prims = [args[i] if isinstance(args[i], Tensor) else Tensor(args[i]) for i in nums]
    per_arg = []
    for pos, x in enumerate(prims):
        cols = None
        for k in range(x.data.size):
            e = np.zeros(x.data.size, dtype=x.dtype)
            e[k] = 1.0
            ts = [None] * len(prims)
            ts[pos] = e.reshape(x.shape)
            result, touts = jvp(lambda *xs: self.f(*_replace(args, nums, xs)), tuple(prims),
                                tuple(ts))
            self._sweep()
            _outputs(self, result)
            touts = tuple(touts) if isinstance(touts, tuple | list) else (touts,)
            if cols is None:
                cols = [np.zeros(o.shape + (x.data.size,), dtype=o.dtype) for o in touts]
            for c, t in zip(cols, touts):
                c[..., k] = t.data
        if cols is None:  # an empty input: f's outputs tell the shapes
            result = self.f(*args)
            cols = [np.zeros(o.shape + (0,), dtype=o.dtype) for o in _outputs(self, result)]
        per_arg.append([Tensor._make(c.reshape(c.shape[:-1] + x.shape), False) for c in cols])
    return per_arg


def _grad_leaf(x):
    """A fresh leaf that requires grad, with ``x``'s data and its tangent (if forward mode is on)."""
    leaf = Tensor._make((x if isinstance(x, Tensor) else Tensor(x)).data, True)
    level = STATE.forward
    t = tangent(x, level) if level is not None else None
    if t is not None:
        set_tangent(leaf, level, t)
    return leaf


def _tensor_rev(self, args, nums) -> list:
    leaves = [_grad_leaf(args[i]) for i in nums]
    outs = _outputs(self, self.f(*_replace(args, nums, leaves)))
    forward = STATE.forward is not None  # under forward mode: the sweeps must be graphs
    per_arg = [[None] * len(outs) for _ in leaves]
    for j, o in enumerate(outs):
        rows = [[] for _ in leaves]
        for r in range(o.data.size):
            seed = np.zeros(o.data.size, dtype=o.dtype)
            seed[r] = 1.0
            if o.requires_grad:
                gs = _grad(o, leaves, grad_outputs=seed.reshape(o.shape), retain_graph=True,
                           create_graph=forward)
                self._sweep()
            else:  # a constant output: no sweep, zero rows
                gs = [np.zeros(x.shape, dtype=x.dtype) for x in leaves]
            for row, g in zip(rows, gs):
                row.append(g)
        for pos, x in enumerate(leaves):
            per_arg[pos][j] = _stack_rows(rows[pos], o.shape + x.shape, x)
    return per_arg


def _stack_rows(rows, shape, like):
    """The Jacobian from its rows, with their tangents stacked alongside in forward mode."""
    data = np.stack([_data(r) for r in rows]) if rows else np.zeros((0,) + like.shape, like.dtype)
    out = Tensor._make(data.reshape(shape), False)
    level = STATE.forward
    if level is not None:
        ts = [tangent(r, level) if isinstance(r, Tensor) else None for r in rows]
        if any(t is not None for t in ts):  # (the values of tangents that are graph nodes)
            t = np.stack([np.zeros(like.shape, like.dtype) if t is None else _data(t) for t in ts])
            set_tangent(out, level, t.reshape(shape))
    return out


def _data(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _check_scalar(y, who):
    size = y.data.size if isinstance(y, Tensor) else 1
    if not isinstance(y, Tensor | Value) or size != 1:
        raise ValueError(f"{who}: f must return a scalar (one element), got "
                         f"{getattr(y, 'shape', type(y).__name__)}")


# -- the Value engine: f takes a list of Values, returns a Value or a list of them -------------
def _scalar_outputs(result) -> list:
    outs = list(result) if isinstance(result, list | tuple) else [result]
    for j, o in enumerate(outs):
        if not isinstance(o, Value):
            raise TypeError(f"jacobian: f must return a Value or a list of Values; output {j} "
                            f"is a {type(o).__name__}")
    return outs


def _scalar_call(self, args, i, xs):
    a = list(args)
    a[i] = list(xs)
    return self.f(*a)


def _scalar_fwd(self, args, i):
    xs = [Value(x.data if isinstance(x, Value) else float(x)) for x in args[i]]
    cols = []
    for k in range(len(xs)):
        e = [None] * len(xs)  # (zero tangents: none to carry)
        e[k] = 1.0
        result, touts = jvp(lambda *vs: _scalar_call(self, args, i, vs), tuple(xs), tuple(e))
        self._sweep()
        _scalar_outputs(result)
        cols.append(list(touts) if isinstance(touts, list | tuple) else [touts])
    if not xs:
        return np.zeros((len(_scalar_outputs(self.f(*args))), 0))
    return np.array(cols, dtype=np.float64).T


def _scalar_rev(self, args, i):
    leaves = [Value(x.data if isinstance(x, Value) else float(x)) for x in args[i]]
    outs = _scalar_outputs(_scalar_call(self, args, i, leaves))
    rows = []
    for o in outs:
        if o._a is None:  # an input or a constant: no graph to sweep
            rows.append([1.0 if o is x else 0.0 for x in leaves])
            continue
        rows.append([float(g) for g in _grad(o, leaves, retain_graph=True)])
        self._sweep()
    return np.array(rows, dtype=np.float64).reshape(len(outs), len(leaves))
