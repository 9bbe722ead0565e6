"""Anomaly detection: raise at the op that made the first NaN (or inf), forward or backward.

>>> import numpy as np
>>> import tinygrad_memo as tm
>>> x = tm.Tensor([0.0, 1.0], requires_grad=True)
>>> with tm.detect_anomaly():
...     y = x.log()
Traceback (most recent call last):
...
tinygrad_memo.anomaly.AnomalyError: detect_anomaly: the forward of 'log' produced -inf ...

How it works, and what it costs:

* Around the block numpy's error state is set once to raise on invalid
  operations and divisions by zero (and overflow, with ``check_inf``):
  numpy then raises at the very operation that turns finite numbers into a NaN
  or an inf, inside matmuls and reductions too, and not at operations that
  only pass a NaN on. The block turns that into an :class:`AnomalyError`
  naming the op, the phase, the input shapes and dtypes and where the op was
  created in your code. An op whose result is finite even though something
  inside it was invalid (a masked branch) is not blamed.
* The scalar Value engine computes with Python floats, which raise nothing:
  inside the block each Value op and each local derivative is checked.
* Inside the block, each node records where in your code it was created (the
  first frame outside the library): a backward failure names that place.
* Outside the block nothing of this runs: entering it installs checking
  versions of the op entry points of both engines (``Function.apply``, the
  Value operators, the backward protocol's ``_vjp``, ``_add_grads`` and
  ``_receive``) and leaving it puts the originals back, so ordinary code runs
  exactly as without it. The checks are process-wide while a block is open
  (like PyTorch's anomaly mode); numpy's error state is per thread.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sys
import weakref

import numpy as np

from . import value as _value
from .function import Function
from .tensor import Tensor
from .value import Value

__all__ = ["AnomalyError", "detect_anomaly"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


class AnomalyError(RuntimeError):
    """Raised inside :class:`detect_anomaly` at the op that made the first NaN (or inf).

    ``op`` is the op's name, ``phase`` ``"forward"`` or ``"backward"``, ``site``
    ``(file, line, function)`` where the op was created (``None`` if it was made
    outside the block).

    >>> import tinygrad_memo as tm
    >>> try:
    ...     with tm.detect_anomaly():
    ...         _ = tm.Tensor([0.0]) / tm.Tensor([0.0])
    ... except AnomalyError as e:
    ...     print(e.op, e.phase)
    div forward
    """

    def __init__(self, message: str, op: str, phase: str, site):
        super().__init__(message)
        self.op, self.phase, self.site = op, phase, site


class detect_anomaly(contextlib.ContextDecorator):
    """``with tm.detect_anomaly(check_inf=False):`` raises :class:`AnomalyError` at the op
    that created the first NaN (or, with ``check_inf``, the first inf from an overflow;
    an inf from a division by zero, such as ``log(0)``, is always an anomaly), in the
    forward or in the backward. Also a decorator. See the module docstring.

    >>> import tinygrad_memo as tm
    >>> x = tm.Tensor([0.0, 4.0], requires_grad=True)
    >>> with tm.detect_anomaly():
    ...     y = x.sqrt()                # sqrt(0) = 0: fine
    ...     (y * 0.0).sum().backward()  # 0 * (d sqrt/dx at 0 = inf): blamed
    Traceback (most recent call last):
    ...
    tinygrad_memo.anomaly.AnomalyError: detect_anomaly: the backward of 'sqrt' produced nan ...
    """

    def __init__(self, check_inf: bool = False):
        self.check_inf = bool(check_inf)
        self._errstate = None

    def __enter__(self):
        over = "raise" if self.check_inf else np.geterr()["over"]
        self._errstate = np.errstate(invalid="raise", divide="raise", over=over)
        self._errstate.__enter__()
        if not _STACK:
            _install()
        _STACK.append(self.check_inf)
        return self

    def _recreate_cm(self):  # a decorated function gets a fresh block per call
        return type(self)(self.check_inf)

    def __exit__(self, *exc):
        _STACK.pop()
        if not _STACK:
            _uninstall()
            _SITES.clear()
        self._errstate.__exit__(*exc)
        return False


_STACK: list = []  # check_inf of each open block, innermost last
_SITES: dict = {}  # id(node) -> (weakref with a callback that drops the entry, site)
_ORIGINALS: dict = {}  # (class, attribute) -> what the class had before the block


# -- where in the user's code ------------------------------------------------------------------
def _user_site():
    """(file, line, function) of the innermost frame outside the library."""
    f = sys._getframe(2)
    while f is not None and f.f_code.co_filename.startswith(_PACKAGE):
        f = f.f_back
    return None if f is None else (f.f_code.co_filename, f.f_lineno, f.f_code.co_name)


def _remember(node) -> None:
    key = id(node)
    _SITES[key] = (weakref.ref(node, functools.partial(_forget, key)), _user_site())


def _forget(key, ref, sites=_SITES) -> None:
    entry = sites.get(key)
    if entry is not None and entry[0] is ref:
        del sites[key]


def copy_site(old, new) -> None:
    """``new`` was made to stand for ``old`` (a checkpoint): it has ``old``'s creation site.

    >>> import tinygrad_memo as tm
    >>> with tm.detect_anomaly():
    ...     a = tm.Tensor([1.0], requires_grad=True) * 2
    ...     b = a * 1
    ...     copy_site(a, b)
    """
    site = _site_of(old)
    if site is not None:
        key = id(new)
        _SITES[key] = (weakref.ref(new, functools.partial(_forget, key)), site)


def _site_of(node):
    entry = _SITES.get(id(node))
    return entry[1] if entry is not None and entry[0]() is node else None


def _where(site) -> str:
    if site is None:
        return "outside detect_anomaly (no creation site recorded)"
    file, line, fn = site
    return f"{os.path.basename(file)}:{line} in {fn} ({file})"


# -- what is wrong -------------------------------------------------------------------------------------
def _data(x):
    return x.data if isinstance(x, Tensor | Value) else x


def _arrays(xs):
    return [np.asarray(_data(x)) for x in xs
            if isinstance(_data(x), np.ndarray | np.generic | float | int)]


def _has(x, what: str) -> bool:
    x = np.asarray(_data(x))
    if x.dtype.kind not in "fc":
        return False
    return bool(np.isnan(x).any()) if what == "nan" else bool(np.isinf(x).any())


def _made(outs, ins, infs: bool):
    """'nan' / 'inf' / '-inf' if some output has it and no input had it, else None."""
    for what in ("nan", "inf") if infs else ("nan",):
        if any(_has(o, what) for o in outs) and not any(_has(i, what) for i in ins):
            if what == "inf":
                o = next(np.asarray(_data(o)) for o in outs if _has(o, "inf"))
                return "-inf" if (o[np.isinf(o)] < 0).all() else "inf"
            return what
    return None


def _describe(xs) -> str:
    parts = []
    for x in xs:
        d = _data(x)
        if isinstance(d, np.ndarray | np.generic):
            parts.append(f"{d.shape} {d.dtype}")
        elif isinstance(d, float | int):
            parts.append(f"{type(d).__name__} {d!r}")
    return ", ".join(parts) or "none"


def _numpy_says(e) -> str:
    return f" (numpy: {e})" if e is not None else ""


def _kind(e) -> str:
    text = str(e)
    return "divide" if "divide by zero" in text else "overflow" if "overflow" in text else "invalid"


def _check_inf() -> bool:
    return bool(_STACK) and _STACK[-1]


def _fail_forward(op, made, inputs, e, site):
    raise AnomalyError(
        f"detect_anomaly: the forward of {op!r} produced {made}{_numpy_says(e)}; "
        f"inputs: {_describe(inputs)}; created at {_where(site)}", op, "forward", site) from e


def _fail_backward(node, op, made, which, g, e, detail=""):
    site = _site_of(node)
    where = f" in the gradient of input {which}" if which is not None else ""
    raise AnomalyError(
        f"detect_anomaly: the backward of {op!r} produced {made}{where}{detail}{_numpy_says(e)}; "
        f"inputs: {_describe(_inputs_of(node))}; upstream gradient: {_describe([g])}; "
        f"the forward op was created at {_where(site)}", op, "backward", site) from e


def _inputs_of(node):
    ctx = getattr(node, "_ctx", None)
    return list(ctx.inputs) if ctx is not None else list(node._inputs)


def _op_of(node) -> str:
    rec = node.grad_fn
    return rec.name if rec is not None else "leaf"


# -- the Tensor engine ---------------------------------------------------------------------------------
def _tensor_apply(cls, *args, **kwargs):
    apply = _ORIGINALS[(Function, "apply")].__func__
    try:
        out = apply(cls, *args, **kwargs)
    except FloatingPointError as e:
        with np.errstate(all="ignore"):
            out = apply(cls, *args, **kwargs)
        made = _made([out], _arrays(args), _check_inf() or _kind(e) == "divide")
        if made:
            _fail_forward(out._op or getattr(cls, "name", None) or cls.__name__, made, args, e,
                          _user_site())
    if out._inputs:
        _remember(out)
    return out


def _tensor_vjp(self, g, create_graph, release=False):
    vjp = _ORIGINALS[(Tensor, "_vjp")]
    try:
        return vjp(self, g, create_graph, release)
    except FloatingPointError as e:
        if self._ctx.released:  # it failed after releasing: the gradient reduction made it
            _fail_backward(self, self._op, "a non-finite value", None, g, e)
        with np.errstate(all="ignore"):
            grads = vjp(self, g, create_graph, release)
        divide = _kind(e) == "divide"  # a division by zero is made here, whatever came in
        ins = [g] if divide else [g, self, *_inputs_of(self)]
        for k, gi in enumerate(grads):
            made = _made([gi], ins, _check_inf() or divide)
            if made:
                _fail_backward(self, self._op, made, k, g, e)
        return grads
    except AnomalyError as e:
        if e.phase != "forward" or not create_graph:
            raise
        _fail_backward(self, self._op, "a non-finite value", None, g, e,
                       f" (its derivative rule's {e.op!r}, under create_graph)")


def _tensor_add_grads(self, total, g):
    try:
        return _ORIGINALS[(Tensor, "_add_grads")].__func__(total, g)
    except FloatingPointError as e:
        _fail_accumulation(self, e)


def _tensor_receive(self, g, create_graph):
    try:
        return _ORIGINALS[(Tensor, "_receive")](self, g, create_graph)
    except FloatingPointError as e:
        _fail_accumulation(self, e, "into .grad ")


def _fail_accumulation(node, e, into=""):
    site = _site_of(node)
    op = _op_of(node)
    raise AnomalyError(
        f"detect_anomaly: adding up the gradient {into}of {op!r}'s output "
        f"({_describe([node])}) produced a non-finite value{_numpy_says(e)}; the node was "
        f"created at {_where(site)}", op, "backward", site) from e


# -- the Value engine -----------------------------------------------------------------------------------
def _bad_float(x, infs: bool) -> str | None:
    x = _data(x)
    if type(x) is not float:
        return None
    if x != x:
        return "nan"
    if infs and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return None


def _value_method(method):
    @functools.wraps(method)
    def checked(self, *other):
        out = method(self, *other)
        infs = _check_inf()
        made = _bad_float(out.data, infs)
        if made is None and out._d0 is not None and out._d0 is not False:
            made = _bad_float(out._d0, infs) or _bad_float(out._d1, infs)
            made = made and f"a {made} local derivative"
        if made and not any(_bad_float(x, infs) for x in (self, *other)):
            _fail_forward(out.grad_fn.name, made, (self, *other), None, _user_site())
        if out._a is not None:
            _remember(out)
        return out
    return checked


def _value_vjp(self, g, create_graph, release=False):
    try:
        grads = _ORIGINALS[(Value, "_vjp")](self, g, create_graph, release)
    except AnomalyError as e:
        if e.phase != "forward" or not create_graph:
            raise
        _fail_backward(self, self.grad_fn.name, "a non-finite value", None, g, e,
                       f" (its derivative rule's {e.op!r}, under create_graph)")
    infs = _check_inf()
    if not _bad_float(g, infs):
        for k, gi in enumerate(grads):
            made = _bad_float(gi, infs)
            if made:
                _fail_backward(self, self.grad_fn.name, made, k, g, None)
    return grads


def _value_add_grads(self, total, g):
    out = total + g
    infs = _check_inf()
    if _bad_float(out, infs) and not (_bad_float(total, infs) or _bad_float(g, infs)):
        _fail_accumulation(self, None)
    return out


def _value_receive(self, g, create_graph):
    before = self.grad
    _ORIGINALS[(Value, "_receive")](self, g, create_graph)
    infs = _check_inf()
    if _bad_float(self.grad, infs) and not (_bad_float(before, infs) or _bad_float(g, infs)):
        _fail_accumulation(self, None, "into .grad ")


# -- installing and removing the checking versions ---------------------------------------------------------
def _replacements() -> dict:
    out = {
        (Function, "apply"): classmethod(_tensor_apply),
        (Tensor, "_vjp"): _tensor_vjp,
        (Tensor, "_add_grads"): _tensor_add_grads,
        (Tensor, "_receive"): _tensor_receive,
        (Value, "_vjp"): _value_vjp,
        (Value, "_add_grads"): _value_add_grads,
        (Value, "_receive"): _value_receive,
    }
    ops = {id(m) for m in (*_value._METHODS.values(), *_value._REFLECTED.values())}
    for name, attr in vars(Value).items():
        if id(attr) in ops:
            out[(Value, name)] = _value_method(attr)
    return out


def _install() -> None:
    for (cls, name), new in _replacements().items():
        _ORIGINALS[(cls, name)] = cls.__dict__[name]
        setattr(cls, name, new)


def _uninstall() -> None:
    for (cls, name), old in _ORIGINALS.items():
        setattr(cls, name, old)
    _ORIGINALS.clear()
