"""Tensor: a numpy-backed node of the computation graph.

Every operation is a :class:`~tinygrad_memo.function.Function` in ``ops/``; this
module holds the user-facing methods, and the engine protocol (``_inputs``,
``_vjp``, ``_deliver``, ``_retain``) through which the one backward algorithm of
``engine.py`` runs.
"""

from __future__ import annotations

import numpy as np

from . import engine
from .grad_mode import enable_grad

__all__ = ["Tensor"]

_new = object.__new__
_next_seq = engine.next_seq


def _default_dtype(data) -> np.dtype | None:
    """float32 for Python floats and lists of them, like PyTorch; arrays keep theirs."""
    if isinstance(data, np.ndarray | np.generic):
        return None
    return np.float32 if np.asarray(data).dtype.kind == "f" else None


class Tensor:
    """An n-dimensional array that records how it was computed.

    ``dtype`` defaults to float32 for Python numbers and lists (numpy arrays keep
    their dtype); only floating-point tensors can require gradients.

    >>> import tinygrad_memo as tm
    >>> x = tm.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> _ = y.backward()
    >>> x.grad
    array([[2., 4.],
           [6., 8.]], dtype=float32)
    """

    __slots__ = ("data", "grad", "_rg", "_inputs", "_fn", "_ctx", "_retain", "_seq", "__weakref__")
    __array_priority__ = 1000

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        try:
            arr = np.array(data, dtype=dtype if dtype is not None else _default_dtype(data))
        except (TypeError, ValueError) as e:
            raise TypeError(
                f"Tensor(): cannot make a numeric array from {type(data).__name__}: {e}"
            ) from None
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"Tensor(): unsupported dtype {arr.dtype} (numbers and booleans only)")
        self.data = arr
        self.grad = None
        self._rg = False
        self._inputs = ()
        self._fn = None
        self._ctx = None
        self._retain = False
        self._seq = _next_seq()
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _make(cls, data: np.ndarray, rg: bool) -> Tensor:
        t = _new(cls)
        t.data = data
        t.grad = None
        t._rg = rg
        t._inputs = ()
        t._fn = None
        t._ctx = None
        t._retain = False
        t._seq = _next_seq()
        return t

    # -- attributes ------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        """Whether gradients flow to this tensor. Settable on leaves (float dtypes only).

        >>> x = Tensor([1.0, 2.0])
        >>> x.requires_grad = True
        >>> (x * 2).requires_grad
        True
        """
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and self.data.dtype.kind != "f":
            raise RuntimeError(
                f"Tensor: only floating-point tensors can require gradients, got dtype {self.dtype}"
            )
        if not value and self._inputs:
            raise RuntimeError("Tensor: requires_grad can only be turned off on a leaf; use detach()")
        self._rg = bool(value)

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user (or in no_grad), False for op results.

        >>> x = Tensor([1.0], requires_grad=True)
        >>> x.is_leaf, (x * 2).is_leaf
        (True, False)
        """
        return not self._inputs

    @property
    def _op(self) -> str:
        return "" if self._fn is None else self._fn.__name__.lower()

    def numpy(self) -> np.ndarray:
        """The data as a numpy array (shared, not copied).

        >>> Tensor([1.0, 2.0]).numpy()
        array([1., 2.], dtype=float32)
        """
        return self.data

    def item(self) -> float:
        """The single element as a Python number.

        >>> Tensor([[2.5]]).item()
        2.5
        """
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted, got shape {self.shape}")
        return self.data.item()

    def detach(self) -> Tensor:
        """A new leaf sharing this data, cut off from the graph.

        >>> x = Tensor([1.0], requires_grad=True)
        >>> (x * 2).detach().requires_grad
        False
        """
        return Tensor._make(self.data, False)

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this interior tensor after backward (leaves always keep it).

        >>> x = Tensor([1.0, 2.0], requires_grad=True)
        >>> h = x * 3
        >>> h.retain_grad()
        >>> _ = (h * h).sum().backward()
        >>> h.grad
        array([ 6., 12.], dtype=float32)
        """
        self._retain = True

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extra = ""
        if self.data.dtype != np.float32:
            extra += f", dtype={self.data.dtype}"
        if self._rg:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"

    # -- creation ----------------------------------------------------------------------
    @staticmethod
    def zeros(*shape, dtype=np.float32, requires_grad=False) -> Tensor:
        """Tensor.zeros(2, 3): a tensor of zeros.

        >>> Tensor.zeros(2).numpy()
        array([0., 0.], dtype=float32)
        """
        return Tensor(np.zeros(_shape(shape), dtype=dtype), requires_grad=requires_grad)

    @staticmethod
    def ones(*shape, dtype=np.float32, requires_grad=False) -> Tensor:
        """Tensor.ones(2, 3): a tensor of ones.

        >>> Tensor.ones(2).numpy()
        array([1., 1.], dtype=float32)
        """
        return Tensor(np.ones(_shape(shape), dtype=dtype), requires_grad=requires_grad)

    @staticmethod
    def randn(*shape, dtype=np.float32, requires_grad=False) -> Tensor:
        """Standard normal samples from the generator seeded by ``tm.manual_seed``.

        >>> import tinygrad_memo as tm
        >>> _ = tm.manual_seed(0); a = Tensor.randn(3)
        >>> _ = tm.manual_seed(0); bool((Tensor.randn(3).numpy() == a.numpy()).all())
        True
        """
        from .random import rng

        data = rng().standard_normal(_shape(shape)).astype(dtype)
        return Tensor(data, requires_grad=requires_grad)

    @staticmethod
    def rand(*shape, dtype=np.float32, requires_grad=False) -> Tensor:
        """Uniform samples in [0, 1).

        >>> Tensor.rand(2, 2).shape
        (2, 2)
        """
        return Tensor.uniform(*shape, low=0.0, high=1.0, dtype=dtype, requires_grad=requires_grad)

    @staticmethod
    def uniform(*shape, low=-1.0, high=1.0, dtype=np.float32, requires_grad=False) -> Tensor:
        """Uniform samples in [low, high).

        >>> bool((Tensor.uniform(100, low=2, high=3).numpy() >= 2).all())
        True
        """
        from .random import rng

        data = rng().uniform(low, high, _shape(shape)).astype(dtype)
        return Tensor(data, requires_grad=requires_grad)

    @staticmethod
    def arange(*args, dtype=None, requires_grad=False) -> Tensor:
        """Like ``numpy.arange``.

        >>> Tensor.arange(3).numpy()
        array([0, 1, 2])
        """
        return Tensor(np.arange(*args, dtype=dtype), requires_grad=requires_grad)

    @staticmethod
    def eye(n, m=None, dtype=np.float32, requires_grad=False) -> Tensor:
        """Identity matrix.

        >>> Tensor.eye(2).numpy()
        array([[1., 0.],
               [0., 1.]], dtype=float32)
        """
        return Tensor(np.eye(n, m, dtype=dtype), requires_grad=requires_grad)

    # -- arithmetic (numpy broadcasting; plain numbers on either side) ------------------
    def __add__(self, other):
        return _ops.Add.apply(self, other)

    def __radd__(self, other):
        return _ops.Add.apply(other, self)

    def __sub__(self, other):
        return _ops.Sub.apply(self, other)

    def __rsub__(self, other):
        return _ops.Sub.apply(other, self)

    def __mul__(self, other):
        return _ops.Mul.apply(self, other)

    def __rmul__(self, other):
        return _ops.Mul.apply(other, self)

    def __truediv__(self, other):
        return _ops.Div.apply(self, other)

    def __rtruediv__(self, other):
        return _ops.Div.apply(other, self)

    def __pow__(self, other):
        return _ops.Pow.apply(self, other)

    def __rpow__(self, other):
        return _ops.Pow.apply(other, self)

    def __matmul__(self, other):
        return _ops.MatMul.apply(self, other)

    def __rmatmul__(self, other):
        return _ops.MatMul.apply(other, self)

    def __neg__(self):
        return _ops.Neg.apply(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.Abs.apply(self)

    # comparisons give boolean tensors (no gradient), as in numpy
    def __lt__(self, other):
        return Tensor._make(self.data < _data(other), False)

    def __le__(self, other):
        return Tensor._make(self.data <= _data(other), False)

    def __gt__(self, other):
        return Tensor._make(self.data > _data(other), False)

    def __ge__(self, other):
        return Tensor._make(self.data >= _data(other), False)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """numpy ufuncs on Tensors: differentiable ones become Tensor ops (so a
        derivative rule written with ``np.exp`` etc. also records a graph), the
        others (comparisons, ``np.sign``...) give plain arrays."""
        if method != "__call__" or "out" in kwargs:
            return NotImplemented
        fn = _UFUNCS.get(ufunc)
        if fn is None:
            return ufunc(*(_data(x) for x in inputs), **kwargs)
        if kwargs:
            return NotImplemented
        return getattr(_ops, fn).apply(*inputs)

    def __array_function__(self, func, types, args, kwargs):
        """Other numpy functions see plain arrays. Inside a ``create_graph`` backward
        that would silently cut the graph, so there a Tensor that requires grad is
        refused with a clear error instead."""
        if _IN_GRAPH_BACKWARD[0] and _any_requires_grad((args, kwargs)):
            raise TypeError(
                f"numpy.{func.__name__} was given a Tensor that requires grad inside a "
                "create_graph backward; it would cut the graph (a wrong higher derivative). "
                "Write the derivative rule with operators, Tensor methods and numpy ufuncs "
                "(np.exp, np.log, ...), or multiply by a constant mask instead of np.where"
            )
        return func(*_unwrap(args), **_unwrap(kwargs))

    # -- elementwise functions -----------------------------------------------------------
    def abs(self):
        """|x|; its derivative at 0 is 0.

        >>> Tensor([-2.0, 0.0, 3.0]).abs().numpy()
        array([2., 0., 3.], dtype=float32)
        """
        return _ops.Abs.apply(self)

    def exp(self):
        """e ** x.

        >>> Tensor([0.0]).exp().numpy()
        array([1.], dtype=float32)
        """
        return _ops.Exp.apply(self)

    def log(self):
        """Natural logarithm (nan/-inf outside its domain, as numpy).

        >>> Tensor([1.0]).log().numpy()
        array([0.], dtype=float32)
        """
        return _ops.Log.apply(self)

    def sqrt(self):
        """Square root.

        >>> Tensor([4.0]).sqrt().numpy()
        array([2.], dtype=float32)
        """
        return _ops.Sqrt.apply(self)

    def tanh(self):
        """Hyperbolic tangent.

        >>> Tensor([0.0]).tanh().numpy()
        array([0.], dtype=float32)
        """
        return _ops.Tanh.apply(self)

    def sigmoid(self):
        """Logistic sigmoid, stable for large magnitudes.

        >>> Tensor([0.0]).sigmoid().numpy()
        array([0.5], dtype=float32)
        """
        return _ops.Sigmoid.apply(self)

    def relu(self):
        """max(x, 0); its derivative at 0 is 0.

        >>> Tensor([-1.0, 2.0]).relu().numpy()
        array([0., 2.], dtype=float32)
        """
        return _ops.Relu.apply(self)

    # -- reductions -------------------------------------------------------------------------
    def sum(self, axis=None, keepdims=False):
        """Sum over ``axis`` (int, tuple or None).

        >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).sum(axis=0).numpy()
        array([4., 6.], dtype=float32)
        """
        return _ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        """Mean over ``axis``.

        >>> Tensor([1.0, 3.0]).mean().item()
        2.0
        """
        return _ops.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        """Maximum over ``axis``; tied maxima share the gradient equally.

        >>> Tensor([1.0, 3.0]).max().item()
        3.0
        """
        return _ops.Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        """Minimum over ``axis``; tied minima share the gradient equally.

        >>> Tensor([1.0, 3.0]).min().item()
        1.0
        """
        return _ops.Min.apply(self, axis=axis, keepdims=keepdims)

    def softmax(self, axis=-1):
        """Softmax along ``axis`` (stable for large logits).

        >>> Tensor([0.0, 0.0]).softmax().numpy()
        array([0.5, 0.5], dtype=float32)
        """
        return _ops.Softmax.apply(self, axis=axis)

    def log_softmax(self, axis=-1):
        """log(softmax(x)) along ``axis``, computed stably.

        >>> Tensor([0.0, 0.0]).log_softmax().exp().numpy()
        array([0.5, 0.5], dtype=float32)
        """
        return _ops.LogSoftmax.apply(self, axis=axis)

    # -- shape ------------------------------------------------------------------------------
    def reshape(self, *shape):
        """A tensor with the same data in a new shape (``-1`` infers one size).

        >>> Tensor([1.0, 2.0, 3.0, 4.0]).reshape(2, 2).shape
        (2, 2)
        """
        return _ops.Reshape.apply(self, shape=_shape(shape))

    def transpose(self, *axes):
        """Permute the axes (reverse them when none are given).

        >>> Tensor.zeros(2, 3, 4).transpose(2, 0, 1).shape
        (4, 2, 3)
        """
        return _ops.Transpose.apply(self, axes=_shape(axes) or None)

    def swapaxes(self, a: int, b: int):
        """Exchange two axes.

        >>> Tensor.zeros(2, 3).swapaxes(0, 1).shape
        (3, 2)
        """
        axes = list(range(self.ndim))
        axes[a], axes[b] = axes[b], axes[a]
        return _ops.Transpose.apply(self, axes=tuple(axes))

    @property
    def T(self):
        """The transpose (all axes reversed).

        >>> Tensor.zeros(2, 3).T.shape
        (3, 2)
        """
        return _ops.Transpose.apply(self, axes=None)

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        """Merge the axes ``start_dim..end_dim`` into one.

        >>> Tensor.zeros(2, 3, 4).flatten(1).shape
        (2, 12)
        """
        s = self.shape
        if not s:
            return self.reshape(1)
        n = len(s)
        for d in (start_dim, end_dim):
            if not -n <= d < n:
                raise IndexError(f"flatten: dim {d} is out of range for a tensor of shape {s}")
        a, b = start_dim % n, end_dim % n
        if a > b:
            raise IndexError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} (shape {s})")
        return self.reshape(*s[:a], -1, *s[b + 1:])

    def expand(self, *shape):
        """Broadcast to ``shape`` (numpy's broadcast_to); the gradient is summed back.

        >>> Tensor([1.0, 2.0]).expand(3, 2).shape
        (3, 2)
        """
        return _ops.Expand.apply(self, shape=_shape(shape))

    def __getitem__(self, index):
        """Indexing as in numpy: basic slices, integer arrays (repeated indices
        accumulate their gradients) and boolean masks.

        >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> _ = x[[0, 0, 2]].sum().backward()
        >>> x.grad
        array([2., 0., 1.], dtype=float32)
        """
        return _ops.GetItem.apply(self, index=_index(index))

    # -- autograd ------------------------------------------------------------------------------
    def backward(self, grad=None, retain_graph: bool = False, create_graph: bool = False):
        """Accumulate the gradient of this tensor into every leaf's ``.grad``.

        ``grad`` is required unless the tensor has a single element. Returns the
        :class:`~tinygrad_memo.engine.BackwardStats` of the pass.

        >>> x = Tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).backward(Tensor([1.0, 0.5])).local_grads
        2
        >>> x.grad
        array([2., 2.], dtype=float32)
        """
        if not self._rg:
            raise RuntimeError(
                "backward: this tensor does not require grad and has no graph "
                "(its inputs have requires_grad=False, or it was made in no_grad)"
            )
        seed = Tensor._seed_grad(self, grad, create_graph)
        if create_graph:
            with enable_grad():
                return engine.backward(self, seed, True, True)
        return engine.backward(self, seed, retain_graph, False)

    @staticmethod
    def _seed_grad(out, g, create_graph, op="backward", arg="grad"):
        if g is None:
            if out.data.size != 1:
                raise RuntimeError(
                    f"{op}: {arg} can be implicitly created only for scalar outputs; this "
                    f"output has shape {out.shape}, so pass {arg}= of that shape"
                )
            g = np.ones(out.shape, dtype=out.dtype)
        elif create_graph and isinstance(g, Tensor):  # keep its graph: it may be differentiated
            if g.shape != out.shape:
                raise RuntimeError(
                    f"{op}: {arg} of shape {g.shape} does not match the output's shape {out.shape}"
                )
            return g
        else:
            g = np.asarray(_data(g), dtype=out.dtype)
            if g.shape != out.shape:
                raise RuntimeError(
                    f"{op}: {arg} of shape {g.shape} does not match the output's shape {out.shape}"
                )
        return Tensor._make(g, False) if create_graph else g

    @staticmethod
    def _fill_grad(x, g, create_graph):
        if g is None:
            g = np.zeros(x.shape, dtype=x.dtype)
        elif not isinstance(g, Tensor) and hasattr(g, "base"):
            g = g.copy()  # never hand out an array shared with another gradient
        if create_graph and not isinstance(g, Tensor):
            return Tensor._make(np.asarray(g), False)
        return g

    # engine protocol ---------------------------------------------------------------------------
    def _vjp(self, g, create_graph, release=False):
        ctx = self._ctx
        if ctx is None:
            raise RuntimeError(f"{self._fn.__name__}: {engine.GRAPH_FREED}")
        if release:
            self._ctx = None
        fn = self._fn
        if create_graph:
            saved = ctx.saved_tensors
            ctx.saved_tensors = tuple(self._resolve(s, ctx) for s in saved)
            _IN_GRAPH_BACKWARD[0] += 1
            try:
                grads = fn.backward(ctx, g)
            finally:
                _IN_GRAPH_BACKWARD[0] -= 1
                ctx.saved_tensors = saved
        else:
            grads = fn.backward(ctx, g)
        if type(grads) is not tuple:
            grads = tuple(grads) if isinstance(grads, list) else (grads,)
        need = ctx.needs_input_grad
        if len(grads) != len(need):
            raise RuntimeError(
                f"{fn.__name__}.backward returned {len(grads)} gradients, "
                f"but forward took {len(need)} inputs"
            )
        out = []
        for gi, n, a in zip(grads, need, ctx._args):
            if not n:
                continue
            if gi is not None:
                d = a.data
                if type(gi) is not np.ndarray and not isinstance(gi, Tensor):
                    gi = np.asarray(gi, dtype=d.dtype)  # a number, or a numpy scalar from a 0-d op
                if gi.shape != d.shape:
                    gi = _ops.sum_to(gi, d.shape, fn.__name__)
                if not create_graph and gi.dtype is not d.dtype and gi.dtype != d.dtype:
                    gi = gi.astype(d.dtype)
            out.append(gi)
        return out

    def _resolve(self, s, ctx):
        """A saved array as a graph node (create_graph): an input, the output, or a constant."""
        if isinstance(s, np.ndarray):
            if s is self.data:
                return self
            for a in ctx._args:
                if isinstance(a, Tensor) and a.data is s:
                    return a
            return Tensor._make(s, False)
        return s

    def _deliver(self, g, create_graph):
        if self.grad is None:
            self.grad = g
        elif create_graph or isinstance(self.grad, Tensor) or isinstance(g, Tensor):
            self.grad = self.grad + g
        else:
            self.grad += g


_UFUNCS = {
    np.add: "Add", np.subtract: "Sub", np.multiply: "Mul", np.true_divide: "Div",
    np.power: "Pow", np.negative: "Neg", np.absolute: "Abs", np.exp: "Exp", np.log: "Log",
    np.sqrt: "Sqrt", np.tanh: "Tanh", np.maximum: "Maximum", np.minimum: "Minimum",
    np.matmul: "MatMul",
}


def _data(x):
    return x.data if isinstance(x, Tensor) else x


_IN_GRAPH_BACKWARD = [0]  # > 0 while a derivative rule runs under create_graph


def _unwrap(x):
    """Tensors (also inside lists, tuples and dicts) replaced by their arrays."""
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, list | tuple):
        return type(x)(_unwrap(i) for i in x)
    if isinstance(x, dict):
        return {k: _unwrap(v) for k, v in x.items()}
    return x


def _any_requires_grad(x) -> bool:
    if isinstance(x, Tensor):
        return x._rg
    if isinstance(x, list | tuple):
        return any(_any_requires_grad(i) for i in x)
    if isinstance(x, dict):
        return any(_any_requires_grad(v) for v in x.values())
    return False


def _shape(shape: tuple) -> tuple:
    """Accept f(2, 3) and f((2, 3)) alike."""
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        return tuple(shape[0])
    return tuple(shape)


def _index(index):
    """Tensors inside an index become their arrays (integer or boolean)."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


from . import ops as _ops  # noqa: E402  (the ops build on Tensor; imported last)
