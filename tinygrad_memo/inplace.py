"""In-place writes into Tensors, and the version counters that keep them honest.

PyTorch's rules, for both the operators (``+= -= *= /=``, ``t[idx] = v``) and the
methods ``zero_()``, ``fill_()``, ``copy_()``:

* they write into the same tensor (the same object, so a parameter stays a
  parameter) when grad mode is off (``tm.no_grad()``) or the tensor does not
  require grad;
* on a leaf that requires grad, with grad mode on, they raise PyTorch's "a leaf
  Variable that requires grad is being used in an in-place operation";
* on a tensor computed by an op that requires grad, with grad mode on, they raise
  (an in-place write there is not recorded: write the out-of-place form);
* a value that requires grad is never written in silently (the write would not be
  recorded).

Every in-place write the library makes (these, the optimizers' ``step``,
``load_state_dict``, the ``nn.init`` functions) bumps the tensor's ``_version``.
An op that saved a tensor for backward records its version; when backward runs
and the version moved, it raises PyTorch's "one of the variables needed for
gradient computation has been modified by an inplace operation", naming the op.
Tensors that share memory (``detach()``, the results of view ops such as
``reshape`` or basic indexing) share one counter. Writing straight into
``.data`` (``t.data[...] = ...``) is the escape hatch, as in PyTorch: nothing is
checked or counted.

>>> import tinygrad_memo as tm
>>> w = tm.Tensor([1.0, 2.0], requires_grad=True)
>>> with tm.no_grad():
...     w -= 0.5
>>> w, w._version
(Tensor([0.5, 1.5], requires_grad=True), 1)
"""

from __future__ import annotations

import numpy as np

from .grad_mode import STATE

__all__ = ["InPlace", "bump", "bump_all", "check_saved_versions"]

#: in-place writes so far, on any tensor; an op records it, so backward can skip the
#: version check when nothing at all was written since the op ran
CLOCK = [0]


def bump(t) -> None:
    """Count one in-place write into Tensor ``t`` (and the tensors sharing its memory).

    >>> import tinygrad_memo as tm
    >>> t = tm.Tensor([1.0]); bump(t); t._version
    1
    """
    bump_all((t,))
    if STATE.recorder is not None:  # tm.jit cannot replay a write that no op records
        STATE.recorder.read(t, "an in-place write")


def bump_all(ts) -> None:
    """:func:`bump` for each tensor of ``ts`` (an optimizer's step: one call for all of
    its parameters; the caller answers for tm.jit).

    >>> import tinygrad_memo as tm
    >>> a, b = tm.Tensor([1.0]), tm.Tensor([2.0]); bump_all([a, b, a]); a._version, b._version
    (2, 1)
    """
    n = 0
    for t in ts:
        vc = t._vc
        if vc is None:
            t._vc = [1]
        else:
            vc[0] += 1
        n += 1
    CLOCK[0] += n


def share_counter(view, base) -> None:
    """Make ``view`` (a tensor whose data is a view of ``base``'s) count with ``base``."""
    vc = base._vc
    if vc is None:
        vc = base._vc = [0]
    view._vc = vc


def check_saved_versions(node, ctx) -> None:
    """Raise if a tensor whose array ``ctx`` saved was written in place since the op ran."""
    saved = ctx.saved_tensors
    if not saved:
        return
    recorded = dict(ctx.versions or ())
    candidates = [(i, a) for i, a in enumerate(ctx.call_args) if hasattr(a, "_vc")]
    candidates.append((None, node))
    for i, t in candidates:
        data = t.data
        if not any(s is data for s in saved):
            continue
        now = t._version
        then = ctx.out_version if i is None else recorded.get(i, 0)
        if now != then:
            what = "its output" if i is None else f"its input {i}"
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by "
                f"an inplace operation: {what} (a tensor of shape {tuple(t.shape)}, "
                f"{t.dtype}) saved by {ctx.name} is at version {now}; expected version "
                f"{then} instead. Write the update out of place, or run backward before "
                "the in-place update (e.g. before opt.step())."
            )


def _operand(op: str, value, target):
    """The array of an in-place operand (never one that requires grad, under grad mode)."""
    if hasattr(value, "_vc"):  # a Tensor
        if STATE.forward is not None:
            STATE.forward.refuse_in_place(op, value)
        if value._rg and STATE.enabled:
            raise RuntimeError(
                f"{op}: the value requires grad, and an in-place write into a tensor is not "
                "recorded in the graph; write the out-of-place form (t = t + u), or pass "
                "u.detach() if no gradient should flow"
            )
        return value.data
    if isinstance(value, np.ndarray | np.generic | int | float | list | tuple) and not isinstance(
            value, str):
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{op}: unsupported operand of dtype {arr.dtype} for a {target.dtype} tensor")
        return arr
    raise TypeError(f"{op}: unsupported operand of type {type(value).__name__} for a tensor")


class InPlace:
    """The in-place methods of Tensor (a mixin; see the module docstring)."""

    __slots__ = ()

    @property
    def _version(self) -> int:
        """How many in-place writes this tensor's memory has had (PyTorch's version counter).

        >>> import tinygrad_memo as tm
        >>> t = tm.Tensor([1.0, 2.0]); t += 1; t._version
        1
        """
        vc = self._vc
        return 0 if vc is None else vc[0]

    def _writable(self, op: str) -> None:
        if STATE.forward is not None:  # tm.jvp: a write would not reach the tangent
            STATE.forward.refuse_in_place(op, self)
        if self._rg and STATE.enabled:
            if not self._inputs:
                raise RuntimeError(
                    f"{op}: a leaf Variable that requires grad is being used in an in-place "
                    "operation. (Update parameters by hand inside tm.no_grad().)"
                )
            raise RuntimeError(
                f"{op}: in-place operations are not supported on a tensor that requires grad "
                f"and was computed by an op (here {self._ctx.name}): the write would not be "
                "recorded. Write the out-of-place form (t = t + u), or use tm.no_grad()."
            )

    def _ufunc_(self, ufunc, other, op: str):
        self._writable(op)
        o = _operand(op, other, self)
        try:
            ufunc(self.data, o, out=self.data, casting="same_kind")
        except TypeError:  # numpy's UFuncTypeError: the result does not fit the dtype
            raise TypeError(
                f"{op}: the result of dtype {np.result_type(self.data, o)} cannot be written "
                f"into a tensor of dtype {self.dtype}"
            ) from None
        except ValueError as e:
            if not self.data.flags.writeable:
                raise ValueError(f"{op}: this tensor's data is read-only") from None
            raise ValueError(
                f"{op}: an operand of shape {np.shape(o)} cannot be broadcast to the tensor's "
                f"shape {self.shape} ({e})"
            ) from None
        bump(self)
        return self

    def __iadd__(self, other):
        return self._ufunc_(np.add, other, "+=")

    def __isub__(self, other):
        return self._ufunc_(np.subtract, other, "-=")

    def __imul__(self, other):
        return self._ufunc_(np.multiply, other, "*=")

    def __itruediv__(self, other):
        return self._ufunc_(np.true_divide, other, "/=")

    def __setitem__(self, index, value):
        """``t[index] = value`` in place (numpy's indexing), under the rules above.

        >>> import tinygrad_memo as tm
        >>> t = tm.Tensor([1.0, 2.0, 3.0]); t[1:] = 0.0; t
        Tensor([1., 0., 0.])
        """
        self._writable("setitem")
        v = _operand("setitem", value, self)
        if hasattr(index, "_vc"):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if hasattr(i, "_vc") else i for i in index)
        try:
            self.data[index] = v
        except (IndexError, ValueError) as e:
            raise type(e)(f"setitem: {e} (tensor shape {self.shape}, value shape "
                          f"{np.shape(v)})") from None
        bump(self)

    def zero_(self):
        """Fill with zeros in place; returns the tensor.

        >>> import tinygrad_memo as tm
        >>> tm.Tensor([1.0, 2.0]).zero_()
        Tensor([0., 0.])
        """
        return self.fill_(0)

    def fill_(self, value):
        """Fill with ``value`` in place; returns the tensor.

        >>> import tinygrad_memo as tm
        >>> tm.Tensor([1.0, 2.0]).fill_(7)
        Tensor([7., 7.])
        """
        self._writable("fill_")
        v = _operand("fill_", value, self)
        if np.ndim(v):
            raise ValueError(f"fill_: the value must be a number, got shape {np.shape(v)}")
        self.data[...] = v
        bump(self)
        return self

    def copy_(self, src):
        """Copy ``src`` (broadcast to this shape) into this tensor in place; returns it.

        >>> import tinygrad_memo as tm
        >>> tm.Tensor([1.0, 2.0]).copy_([5.0, 6.0])
        Tensor([5., 6.])
        """
        self._writable("copy_")
        v = _operand("copy_", src, self)
        try:
            np.copyto(self.data, v, casting="same_kind")
        except TypeError:
            raise TypeError(f"copy_: a source of dtype {np.asarray(v).dtype} cannot be copied "
                            f"into a tensor of dtype {self.dtype}") from None
        except ValueError:
            raise ValueError(f"copy_: a source of shape {np.shape(v)} cannot be broadcast to "
                             f"the tensor's shape {self.shape}") from None
        bump(self)
        return self
