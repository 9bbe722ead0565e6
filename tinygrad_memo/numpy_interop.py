"""numpy functions on Tensors: recorded as the registry op, or refused, never a cut graph.

A numpy ufunc (``np.sin``, ``np.exp``, ``np.maximum``, ...) or function
(``np.sum``, ``np.mean``, ``np.concatenate``, ``np.where``, ...) that has a registry
op is recorded as that op, so ``np.sin(x)`` on a Tensor is ``x.sin()``. Any other,
given a Tensor that requires grad while grad mode is on, raises a TypeError naming
the function and what to use instead, if its result is floating point: returning
a plain array there would silently cut the graph (the gradient would be missing).
Results that carry no gradient anyway (comparisons, ``np.isnan``, ``np.argmax``,
``np.allclose``, shapes) come back as numpy gives them; so does everything when no
Tensor requires grad or grad mode is off.

>>> import numpy as np
>>> import tinygrad_memo as tm
>>> x = tm.Tensor([0.0, 1.0], requires_grad=True)
>>> np.sin(x).grad_fn.name, np.mean(x).grad_fn.name
('sin', 'mean')
>>> np.linalg.norm(x)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
TypeError: numpy.norm was given a Tensor that requires grad and has no recorded op: ...
"""

from __future__ import annotations

import numpy as np

from .grad_mode import STATE
from .ops import REGISTRY, UFUNCS

__all__ = ["FUNCTIONS", "NumpyInterop"]


def _is_tensor(x) -> bool:
    return hasattr(x, "_vc")


def _unwrap(x):
    """Tensors (also inside lists, tuples and dicts) replaced by their arrays."""
    if _is_tensor(x):
        return x.data
    if isinstance(x, list | tuple):
        return type(x)(_unwrap(i) for i in x)
    if isinstance(x, dict):
        return {k: _unwrap(v) for k, v in x.items()}
    return x


def _requires_grad(x) -> bool:
    if _is_tensor(x):
        return x._rg
    if isinstance(x, list | tuple):
        return any(_requires_grad(i) for i in x)
    if isinstance(x, dict):
        return any(_requires_grad(v) for v in x.values())
    return False


def _floating(r) -> bool:
    if isinstance(r, np.ndarray | np.generic):
        return r.dtype.kind in "fc"
    if isinstance(r, float):
        return True
    if isinstance(r, list | tuple):
        return any(_floating(i) for i in r)
    return False


def _refuse(name: str, hint: str = ""):
    raise TypeError(
        f"numpy.{name} was given a Tensor that requires grad and has no recorded op: its "
        "floating-point result would cut the graph (a missing gradient). "
        + (hint or "Use Tensor methods and tinygrad_memo functions instead")
        + " (or .detach() if no gradient should flow)"
    )


def _plain(func, name, args, kwargs, hint=""):
    """``func`` on the arrays, unless that would silently cut a graph."""
    result = func(*_unwrap(args), **_unwrap(kwargs))
    if STATE.enabled and _floating(result) and _requires_grad((args, kwargs)):
        _refuse(name, hint)
    return result


def _no_extras(name, kwargs, allowed):
    """numpy's keyword arguments that have no Tensor counterpart must keep their defaults."""
    for k, v in kwargs.items():
        if k not in allowed and v is not None and not (k == "where" and v is True):
            raise TypeError(f"numpy.{name} on a Tensor: the argument {k}={v!r} is not supported")


def _as_node(node_type, x):
    return x if _is_tensor(x) else node_type(x)


def _method(name, allowed=("axis", "keepdims")):
    """A numpy function whose first argument is the array: the Tensor method of that name."""
    def call(node_type, a, *args, **kwargs):
        _no_extras(name, kwargs, allowed)
        kw = {k: v for k, v in kwargs.items() if k in allowed}
        return getattr(_as_node(node_type, a), name)(*args, **kw)
    return call


def _joined(op):
    def call(node_type, arrays, axis=0, **kwargs):
        _no_extras(op, kwargs, ())
        return REGISTRY[op].apply(*[_as_node(node_type, a) for a in arrays], axis=axis)
    return call


def _where(node_type, cond, *xy):
    if not xy:  # np.where(cond): indices, no gradient
        return np.where(_unwrap(cond))
    c = cond.data if _is_tensor(cond) else cond
    return REGISTRY["where"].apply(c, *xy)


def _reshape(node_type, a, shape=None, order="C", **kwargs):
    shape = kwargs.pop("newshape", shape)
    if order != "C" or kwargs:
        raise TypeError("numpy.reshape on a Tensor: only order='C' is supported")
    return _as_node(node_type, a).reshape(shape)


def _transpose(node_type, a, axes=None):
    t = _as_node(node_type, a)
    return t.transpose() if axes is None else t.transpose(*axes)


#: numpy function -> how it is called on Tensors (first argument: the Tensor class);
#: extend it beside the op when adding one that numpy also has
FUNCTIONS = {
    np.sum: _method("sum"), np.mean: _method("mean"), np.max: _method("max"),
    np.amax: _method("max"), np.min: _method("min"), np.amin: _method("min"),
    np.reshape: _reshape, np.transpose: _transpose,
    np.swapaxes: lambda node_type, a, x, y: _as_node(node_type, a).swapaxes(x, y),
    np.concatenate: _joined("concatenate"), np.stack: _joined("stack"), np.where: _where,
}


# -- issue 12's ops that numpy also has ------------------------------------------------------------
def _products(name):
    def call(node_type, *args, **kwargs):
        from . import functions  # (it imports the Tensor class)

        kwargs.pop("optimize", None)  # einsum's path choice: the op chooses its own
        return getattr(functions, name)(*args, **kwargs)
    return call


def _clip(node_type, a, a_min=None, a_max=None, **kwargs):
    lo, hi = kwargs.pop("min", a_min), kwargs.pop("max", a_max)
    _no_extras("clip", kwargs, ())
    return _as_node(node_type, a).clip(lo, hi)


FUNCTIONS.update({
    np.var: _method("var", ("axis", "keepdims", "ddof")),
    np.std: _method("std", ("axis", "keepdims", "ddof")),
    np.prod: _method("prod"), np.cumsum: _method("cumsum", ("axis",)),
    np.flip: _method("flip", ("axis",)), np.squeeze: _method("squeeze", ("axis",)),
    np.expand_dims: lambda node_type, a, axis: _as_node(node_type, a).unsqueeze(axis),
    np.repeat: lambda node_type, a, repeats, axis=None: _as_node(node_type, a).repeat(
        repeats, axis=axis),
    np.tile: _method("tile", ()), np.roll: _method("roll", ("axis",)),
    np.tril: _method("tril", ("k",)), np.triu: _method("triu", ("k",)),
    np.diagonal: _method("diagonal", ("offset", "axis1", "axis2")),
    np.trace: _method("trace", ("offset", "axis1", "axis2")), np.clip: _clip,
    np.einsum: _products("einsum"), np.tensordot: _products("tensordot"),
    np.outer: _products("outer"),
})


class NumpyInterop:
    """``__array_ufunc__`` and ``__array_function__`` of Tensor (a mixin)."""

    __slots__ = ()
    __array_priority__ = 1000

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if "out" in kwargs:
            raise TypeError(
                f"numpy.{ufunc.__name__}(..., out=...) with a Tensor: write in place with the "
                "operators (t += u) or t.copy_(...)"
            )
        if method == "__call__" and not kwargs:
            op = UFUNCS.get(ufunc)
            if op is not None:
                return op.apply(*inputs)
        call = getattr(ufunc, method)
        name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
        hint = f"Use Tensor.{ufunc.__name__}" if hasattr(type(self), ufunc.__name__) else ""
        return _plain(call, name, inputs, kwargs, hint)

    def __array_function__(self, func, types, args, kwargs):
        adapter = FUNCTIONS.get(func)
        if adapter is not None:
            return adapter(type(self), *args, **kwargs)
        name = func.__name__
        hint = f"Use Tensor.{name}" if hasattr(type(self), name) else ""
        return _plain(func, name, args, kwargs, hint)
