"""Numeric gradient checking: ``gradcheck`` and ``gradgradcheck``, PyTorch's semantics.

``gradcheck(fn, inputs)`` compares the *analytical* Jacobian of ``fn`` (what the
library's backward computes, obtained row by row with :func:`tinygrad_memo.grad`
and one-hot ``grad_outputs``) with the *numerical* Jacobian obtained by central
finite differences, ``(f(x + eps) - f(x - eps)) / (2 eps)``, one input element at
a time. An entry passes when ``|analytical - numerical| <= atol + rtol * |numerical|``
(``numpy.allclose``'s rule, as in PyTorch).

``fast_mode=True`` compares one random projection instead of the whole matrix:
``v^T J u`` with random ``u`` (one per input) and ``v`` (one per output). The
numerical side is one directional finite difference along ``u`` (two calls of
``fn`` per input), the analytical side one vector-Jacobian product per output,
so the cost no longer grows with the number of input elements. ``atol`` is
scaled by ``sum(u) * sum(v)``, as PyTorch does. When the projection disagrees,
the full check is run for that input and output to name the element.

What is checked: every :class:`~tinygrad_memo.Value` among the inputs, and every
:class:`~tinygrad_memo.Tensor` with ``requires_grad=True``; other inputs are
passed to ``fn`` unchanged. ``fn`` returns a Value, a Tensor or a tuple/list of
them (integer and boolean outputs are not differentiable and are skipped).

Choices, documented:

* float32 (or float16) inputs are accepted with a ``UserWarning``, as PyTorch
  does: with ``eps = 1e-6`` single precision finite differences are mostly
  rounding noise, so the check will likely fail. Use float64 (Values are always
  double precision). :func:`tinygrad_memo.testing.assert_grads_close` converts
  to float64 for you.
* Inputs are never changed: a checked Tensor's ``.data`` is swapped for a private
  copy while it is perturbed and the original array object is put back afterwards
  (untouched, so views of it never see a perturbation); a Value's ``.data`` is
  restored exactly. ``.grad`` is never written (``tm.grad`` is used, not
  ``backward``), and is restored anyway if ``fn`` itself touches it.
* The random vectors of ``fast_mode`` and the random ``grad_outputs`` of
  ``gradgradcheck`` come from a fixed-seed generator: a check is reproducible
  and does not consume the library's global random state.
* Like PyTorch, the backward pass is run twice per Jacobian row (or projection)
  and must give identical results ("reentrant"); a backward that changes what it
  saved fails with a message saying so.

>>> import numpy as np
>>> import tinygrad_memo as tm
>>> from tinygrad_memo.gradcheck import gradcheck
>>> x = tm.Tensor(np.array([0.5, -1.0]), requires_grad=True)
>>> gradcheck(lambda t: (t * t).tanh(), [x])
True
"""

from __future__ import annotations

import warnings

import numpy as np

from .autograd import grad as _tm_grad
from .tensor import Tensor
from .value import Value

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]

_SEED = 0  # fast_mode's u, v and gradgradcheck's random grad_outputs


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` and :func:`gradgradcheck` when the analytical and
    numerical derivatives disagree. It is an ``AssertionError``, so a failed check
    inside a test reads as a failed assertion.

    >>> import tinygrad_memo as tm
    >>> class Wrong(tm.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         return x * x
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         return g  # should be 2 * x * g
    >>> x = tm.Tensor([3.0], dtype="float64", requires_grad=True)
    >>> try:
    ...     gradcheck(Wrong.apply, [x])
    ... except GradcheckError as e:
    ...     print(str(e).splitlines()[0])
    gradcheck: Jacobian mismatch for output 0 with respect to input 0 at input index (0,), output index (0,)
    """


# -- inputs and outputs ------------------------------------------------------------------

def _is_checked(x) -> bool:
    return isinstance(x, Value) or (isinstance(x, Tensor) and x.requires_grad)


def _as_tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (list, tuple)) else (x,)


def _outputs(result, who: str) -> list:
    """The differentiable outputs of ``fn``: Values and floating-point Tensors."""
    outs = []
    for i, o in enumerate(_as_tuple(result)):
        if isinstance(o, Value):
            outs.append(o)
        elif isinstance(o, Tensor):
            if o.dtype.kind == "f":
                outs.append(o)
        else:
            raise TypeError(
                f"{who}: fn must return a Value, a Tensor or a tuple of them; "
                f"output {i} is a {type(o).__name__}"
            )
    return outs


def _flat(o) -> np.ndarray:
    """A float64 copy of a Value's or Tensor's data, flattened (C order)."""
    if isinstance(o, Value):
        return np.array([o.data], dtype=np.float64)
    return np.array(o.data, dtype=np.float64).reshape(-1)


def _shape(o) -> tuple:
    return () if isinstance(o, Value) else tuple(o.shape)


def _grad_flat(g, n: int) -> np.ndarray:
    if g is None:
        return np.zeros(n)
    if isinstance(g, Tensor):
        g = g.data
    return np.array(g, dtype=np.float64).reshape(-1)


class _Perturber:
    """Perturbs one checked input and puts it back exactly.

    A Tensor works on a private copy of its data (``.data`` is swapped, and the
    original array object is restored by ``restore``); a Value's float is reset.
    """

    def __init__(self, x):
        self.x = x
        if isinstance(x, Value):
            self.orig = x.data
            self.base = np.array([x.data], dtype=np.float64)
        else:
            self.orig = x.data
            self.base = np.array(x.data, copy=True, order="C")  # C order: flat views below
            self.work = self.base.copy(order="C")
            x.data = self.work
        self.n = self.base.size

    def set_element(self, k: int, delta: float) -> float:
        """Set element ``k`` to its original value + delta; returns the value actually stored."""
        if isinstance(self.x, Value):
            self.x.data = float(self.orig) + delta
            return self.x.data
        flat = self.work.reshape(-1)
        flat[:] = self.base.reshape(-1)
        flat[k] = self.base.reshape(-1)[k] + delta
        return float(flat[k])

    def set_direction(self, u: np.ndarray, scale: float) -> np.ndarray:
        """Set the input to original + scale * u; returns the actual change (float64, flat)."""
        if isinstance(self.x, Value):
            self.x.data = float(self.orig) + scale * float(u[0])
            return np.array([self.x.data - self.orig])
        flat = self.work.reshape(-1)
        flat[:] = self.base.reshape(-1) + scale * u
        return flat.astype(np.float64) - self.base.reshape(-1).astype(np.float64)

    def reset(self) -> None:
        if isinstance(self.x, Value):
            self.x.data = self.orig
        else:
            self.work.reshape(-1)[:] = self.base.reshape(-1)

    def restore(self) -> None:
        self.x.data = self.orig


def _snapshot_grads(xs):
    snap = []
    for x in xs:
        g = getattr(x, "grad", None)
        snap.append((g, g.copy() if isinstance(g, np.ndarray) else None))
    return snap


def _restore_grads(xs, snap) -> None:
    for x, (g, copy) in zip(xs, snap):
        if copy is not None and not np.array_equal(g, copy, equal_nan=True):
            g[...] = copy
        try:
            x.grad = g
        except AttributeError:  # pragma: no cover - a read-only grad
            pass


def _warn_precision(inputs, outs, who: str, eps: float) -> None:
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.requires_grad and x.dtype != np.float64:
            warnings.warn(
                f"{who}: input {i} requires grad and has dtype {x.dtype}, not float64: "
                f"finite differences with eps={eps:g} are mostly rounding noise in this precision "
                "and the check will likely fail. Use float64 inputs (or "
                "tinygrad_memo.testing.assert_grads_close, which converts).",
                UserWarning,
                stacklevel=5,
            )
    for j, o in enumerate(outs):
        if isinstance(o, Tensor) and o.dtype != np.float64:
            warnings.warn(
                f"{who}: output {j} has dtype {o.dtype}, not float64: its finite differences "
                "are inaccurate and the check will likely fail",
                UserWarning,
                stacklevel=5,
            )


# -- the check ------------------------------------------------------------------------------

def _index(shape: tuple, k: int) -> tuple:
    return tuple(int(i) for i in np.unravel_index(k, shape)) if shape else ()


def _mismatch(a: np.ndarray, n: np.ndarray, atol, rtol) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        ok = np.abs(a - n) <= atol + rtol * np.abs(n)
    return ~ok


def _seed(out, flat_seed: np.ndarray):
    if isinstance(out, Value):
        return float(flat_seed[0])
    return flat_seed.reshape(out.shape).astype(out.dtype)


def _unit_random(rng, n: int) -> np.ndarray:
    u = rng.random(n)
    return u / np.linalg.norm(u)


class _Check:
    """One gradcheck run: the function, its inputs, tolerances and how to name things."""

    def __init__(self, fn, inputs, eps, atol, rtol, who, in_name=None, out_name=None):
        self.fn, self.inputs = fn, inputs
        self.eps, self.atol, self.rtol, self.who = eps, atol, rtol, who
        self.checked = [i for i, x in enumerate(inputs) if _is_checked(x)]
        self.xs = [inputs[i] for i in self.checked]
        # tm.grad is asked about each object once (the same input may be passed twice)
        first = {}
        self.unique = [first.setdefault(id(x), x) for x in self.xs if id(x) not in first]
        pos = {id(u): k for k, u in enumerate(self.unique)}  # by identity (Tensor == is elementwise)
        self.where = [pos[id(x)] for x in self.xs]
        self.in_name = in_name or (lambda i: f"input {i}")
        self.out_name = out_name or (lambda j: f"output {j}")

    def start(self):
        self.outs = _outputs(self.fn(*self.inputs), self.who)
        self.shapes = [_shape(o) for o in self.outs]
        _warn_precision(self.inputs, self.outs, self.who, self.eps)

    # -- evaluation -------------------------------------------------------------------------
    def evaluate(self) -> list:
        outs = _outputs(self.fn(*self.inputs), self.who)
        shapes = [_shape(o) for o in outs]
        if shapes != self.shapes:
            raise RuntimeError(
                f"{self.who}: fn returned outputs of shapes {shapes} for perturbed inputs "
                f"but {self.shapes} for the original inputs"
            )
        return [_flat(o) for o in outs]

    def numerical(self, i: int) -> list:
        """d outputs / d input i by central differences: one (n_out_j, n_in) array per output."""
        pert = _Perturber(self.inputs[i])
        cols = [np.zeros((int(np.prod(s, dtype=int)), pert.n)) for s in self.shapes]
        try:
            for k in range(pert.n):
                hi = pert.set_element(k, self.eps)
                plus = self.evaluate()
                lo = pert.set_element(k, -self.eps)
                minus = self.evaluate()
                pert.reset()
                for c, p, m in zip(cols, plus, minus):
                    c[:, k] = (p - m) / (hi - lo)  # the step actually taken
        finally:
            pert.reset()
            pert.restore()
        return cols

    def vjp(self, j: int, flat_seed: np.ndarray) -> list:
        """Gradients of output j seeded with ``flat_seed``, w.r.t. the checked inputs (flat),
        computed twice: the backward pass must be reentrant (same result both times)."""
        out = self.outs[j]
        if isinstance(out, Tensor) and not out.requires_grad:  # a constant: no gradient flows
            return [np.zeros(_flat(x).size) for x in self.xs]
        results = []
        for _ in range(2):
            grads = _tm_grad(out, self.unique, grad_outputs=_seed(out, flat_seed),
                             retain_graph=True)
            results.append([_grad_flat(grads[k], _flat(x).size)
                            for k, x in zip(self.where, self.xs)])
        for pos, (a, b) in enumerate(zip(*results)):
            if not np.array_equal(a, b, equal_nan=True):
                raise GradcheckError(
                    f"{self.who}: backward is not reentrant: two backward passes through "
                    f"{self.out_name(j)} with the same grad_output gave different gradients for "
                    f"{self.in_name(self.checked[pos])} (does a backward change what it saved?)"
                )
        return results[0]

    def analytical(self, j: int) -> list:
        """Rows of d output j / d each checked input: one (n_out, n_in) array per input."""
        n_out = _flat(self.outs[j]).size
        blocks = [np.zeros((n_out, _flat(x).size)) for x in self.xs]
        for r in range(n_out):
            onehot = np.zeros(n_out)
            onehot[r] = 1.0
            for b, g in zip(blocks, self.vjp(j, onehot)):
                b[r] = g
        return blocks

    # -- the two modes -------------------------------------------------------------------------
    def slow(self, only=None):
        """Full Jacobian comparison; returns the failure message or None."""
        js = range(len(self.outs)) if only is None else [only[1]]
        analytical = {j: self.analytical(j) for j in js}
        for pos, i in enumerate(self.checked):
            if only is not None and i != only[0]:
                continue
            numerical = self.numerical(i)
            for j in js:
                a, n = analytical[j][pos], numerical[j]
                if _mismatch(a, n, self.atol, self.rtol).any():
                    return self.block_message(i, j, a, n)
        return None

    def fast(self):
        """Compare v^T J u per (input, output) pair; on a mismatch, name the element."""
        rng = np.random.default_rng(_SEED)
        us = [_unit_random(rng, _flat(x).size) for x in self.xs]
        vs = [_unit_random(rng, _flat(o).size) for o in self.outs]
        analytical = [[float(g @ u) for g, u in zip(self.vjp(j, v), us)]
                      for j, v in enumerate(vs)]  # [j][pos]
        for pos, i in enumerate(self.checked):
            pert = _Perturber(self.inputs[i])
            try:
                hi = pert.set_direction(us[pos], self.eps)
                plus = self.evaluate()
                lo = pert.set_direction(us[pos], -self.eps)
                minus = self.evaluate()
            finally:
                pert.reset()
                pert.restore()
            # the step actually taken (differs from eps * u by rounding in low precision)
            h = float(np.linalg.norm(hi - lo)) / 2
            for j, v in enumerate(vs):
                n = float(v @ (plus[j] - minus[j])) / (2 * h)
                a = analytical[j][pos]
                tol_a = self.atol * float(us[pos].sum()) * float(v.sum())
                if not abs(a - n) <= tol_a + self.rtol * abs(n):
                    return self.fast_message(i, j, a, n, tol_a)
        return None

    # -- messages -------------------------------------------------------------------------------
    def block_message(self, i, j, a, n) -> str:
        bad = _mismatch(a, n, self.atol, self.rtol)
        r, k = (int(v) for v in np.argwhere(bad)[0])
        av, nv = float(a[r, k]), float(n[r, k])
        tol = self.atol + self.rtol * abs(nv)
        x = self.inputs[i]
        kind = " (a Value)" if isinstance(x, Value) else ""
        xi, oj = self.in_name(i), self.out_name(j)
        msg = (
            f"{self.who}: Jacobian mismatch for {oj} with respect to {xi} at input index "
            f"{_index(_shape(x), k)}, output index {_index(self.shapes[j], r)}\n"
            f"  analytical {av!r}, numerical {nv!r}: |difference| {abs(av - nv):.6g} > "
            f"tolerance {tol:.6g} (atol {self.atol:g} + rtol {self.rtol:g} * |numerical|)\n"
            f"  {int(bad.sum())} of {bad.size} entries of this Jacobian block differ "
            f"({xi}{kind} has shape {_shape(x)}, {oj} has shape {self.shapes[j]})"
        )
        if a.size <= 64:
            with np.printoptions(precision=6, suppress=True):
                msg += (f"\n  Jacobian block, rows = output elements, columns = input elements"
                        f"\n  numerical:\n{n}\n  analytical:\n{a}")
        return msg

    def fast_message(self, i, j, a, n, tol_a) -> str:
        msg = (
            f"{self.who} (fast mode): Jacobian mismatch for {self.out_name(j)} with respect to "
            f"{self.in_name(i)}: the random projection v^T J u is analytical {a!r}, numerical "
            f"{n!r} (|difference| {abs(a - n):.6g} > tolerance {tol_a + self.rtol * abs(n):.6g}"
            f" = atol {self.atol:g} * sum(u) * sum(v) + rtol {self.rtol:g} * |numerical|)."
        )
        detail = self.slow(only=(i, j))
        if detail is None:
            return msg + ("\nRecomputed in full mode, every entry of this Jacobian block is "
                          "within tolerance: the difference is spread over many small entries.")
        return msg + "\nRecomputed in full mode for this input and output:\n" + detail


# -- gradcheck ------------------------------------------------------------------------------

def gradcheck(fn, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, fast_mode: bool = False,
              check_forward_ad: bool = False) -> bool:
    """Check the gradients of ``fn`` at ``inputs`` against central finite differences.

    ``inputs`` is a Value/Tensor or a sequence of them (other objects are passed
    through); the Values and the Tensors with ``requires_grad=True`` are checked.
    Returns True when every Jacobian entry satisfies
    ``|analytical - numerical| <= atol + rtol * |numerical|``. Otherwise raises
    :class:`GradcheckError` naming the input, output and element indices with
    both values and the tolerance, or returns False when ``raise_exception=False``.
    ``fast_mode=True`` compares a random projection ``v^T J u`` instead.
    ``check_forward_ad=True`` also checks forward mode: the adjoint identity
    ``<u, J v> == <J^T u, v>`` between ``tm.jvp`` and the (just checked) backward, for random
    ``u`` and ``v``, to 1e-10 relative (:func:`tinygrad_memo.adjoint_check`).

    >>> import numpy as np
    >>> import tinygrad_memo as tm
    >>> a = tm.Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    >>> b = tm.Tensor(np.array([0.5, -0.5]), requires_grad=True)
    >>> gradcheck(lambda a, b: (a @ b).exp(), [a, b])
    True
    >>> x, y = tm.Value(0.3), tm.Value(-1.2)
    >>> gradcheck(lambda x, y: (x * y + x).tanh(), [x, y], fast_mode=True, check_forward_ad=True)
    True
    """
    inputs = _as_tuple(inputs)
    if not _run(_Check(fn, inputs, eps, atol, rtol, "gradcheck"), raise_exception, fast_mode):
        return False
    if check_forward_ad:
        from .forward.adjoint import adjoint_failure

        snap = _snapshot_grads([x for x in inputs if _is_checked(x)])
        try:
            failure = adjoint_failure(fn, inputs, seed=_SEED, who="gradcheck (check_forward_ad)")
        finally:
            _restore_grads([x for x in inputs if _is_checked(x)], snap)
        if failure is not None:
            if raise_exception:
                raise GradcheckError(failure)
            return False
    return True


def _run(ck: _Check, raise_exception: bool, fast_mode: bool) -> bool:
    if not ck.checked:
        raise ValueError(
            f"{ck.who}: no input to check: pass Values, or Tensors with requires_grad=True"
        )
    snap = _snapshot_grads(ck.xs)
    try:
        ck.start()
        failure = ck.fast() if fast_mode else ck.slow()
    finally:
        _restore_grads(ck.xs, snap)
    if failure is None:
        return True
    if raise_exception:
        raise GradcheckError(failure)
    return False


# -- gradgradcheck --------------------------------------------------------------------------

def gradgradcheck(fn, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, raise_exception: bool = True, fast_mode: bool = False) -> bool:
    """Check second derivatives: gradcheck of the vector-Jacobian product of ``fn``.

    The gradient of ``fn``'s outputs, seeded with ``grad_outputs`` and computed with
    ``create_graph=True``, is itself a function of the inputs and of
    ``grad_outputs``; it is checked with :func:`gradcheck` with respect to both (the
    checked inputs, and the ``grad_outputs`` that are Values or Tensors requiring
    grad). Without ``grad_outputs``, random ones in [-1, 1) are drawn (fixed seed),
    requiring grad, one per differentiable output. The error message calls the
    checked function's outputs "the gradient w.r.t. input i".

    >>> import numpy as np
    >>> import tinygrad_memo as tm
    >>> w = tm.Tensor(np.array([[0.2, -0.4], [0.7, 0.1]]), requires_grad=True)
    >>> x = tm.Tensor(np.array([1.0, -2.0]), requires_grad=True)
    >>> gradgradcheck(lambda w, x: (w @ x).tanh(), [w, x])
    True
    >>> gradgradcheck(lambda v: (v * v).exp(), [tm.Value(0.4)])
    True
    """
    inputs = _as_tuple(inputs)
    checked = [i for i, x in enumerate(inputs) if _is_checked(x)]
    if not checked:
        raise ValueError(
            "gradgradcheck: no input to check: pass Values, or Tensors with requires_grad=True"
        )
    if grad_outputs is None:
        rng = np.random.default_rng(_SEED)
        gos = []
        for o in _outputs(fn(*inputs), "gradgradcheck"):
            if isinstance(o, Value):
                gos.append(Value(float(rng.uniform(-1.0, 1.0))))
            else:
                gos.append(Tensor(rng.uniform(-1.0, 1.0, o.shape).astype(o.dtype),
                                  requires_grad=True))
        gos = tuple(gos)
    else:
        gos = _as_tuple(grad_outputs)
    n, m = len(gos), len(inputs)

    def vjp_fn(*args):
        xs, g = args[:m], args[m:]
        outs = _outputs(fn(*xs), "gradgradcheck")
        if len(outs) != n:
            raise ValueError(
                f"gradgradcheck: fn has {len(outs)} differentiable outputs but "
                f"{n} grad_outputs were given"
            )
        return tuple(_tm_grad(list(outs), [xs[i] for i in checked], grad_outputs=list(g),
                              create_graph=True))

    def in_name(i):
        return f"input {i}" if i < m else f"grad_outputs[{i - m}]"

    def out_name(j):
        return f"the gradient w.r.t. input {checked[j]}"

    ck = _Check(vjp_fn, inputs + gos, eps, atol, rtol, "gradgradcheck", in_name, out_name)
    return _run(ck, raise_exception, fast_mode)

