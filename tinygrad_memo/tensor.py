"""Tensor: a numpy-backed node of the computation graph.

Every operation is a registry op (a :class:`~tinygrad_memo.function.Function` in
``ops/``); this module holds the user-facing methods, node construction
(:meth:`Tensor._apply`, which :meth:`Function.apply` calls), and the engine
protocol (``_inputs``, ``_vjp``, ``_seed``, ``_add_grads``, ``_receive``) through
which the one backward algorithm of ``engine.py`` runs. The unary elementwise
methods (``exp``, ``tanh``, ``sin``, ...) are made from the registry, one per op.
"""

from __future__ import annotations

import weakref

import numpy as np

from . import engine, function
from . import hooks as _hooks
from . import random as _random
from .function import Context
from .grad_mode import FORWARD, STATE, enable_grad
from .inplace import CLOCK, InPlace, check_saved_versions, share_counter
from .numpy_interop import NumpyInterop
from .ops import ELEMENTWISE, Unary
from .ops import elementwise as _ew
from .ops import linalg as _linalg
from .ops import reduce as _reduce
from .ops import shape as _shape_ops
from .ops.elementary import ARRAYS
from .ops.shape import sum_to
from .spelling import add_torch_hints
from .tensor_methods import TensorMethods

__all__ = ["Tensor"]

_new = object.__new__
_next_seq = engine.next_seq


def _default_dtype(data) -> np.dtype | None:
    """float32 for Python floats and lists of them, like PyTorch; arrays keep theirs."""
    if isinstance(data, np.ndarray | np.generic):
        return None
    return np.float32 if np.asarray(data).dtype.kind == "f" else None


class Tensor(InPlace, NumpyInterop, TensorMethods):
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

    __slots__ = ("data", "_grad", "_rg", "_inputs", "_ctx", "_retain", "_seq", "_vc", "_hooks",
                 "_tangent", "__weakref__")  # (set only by register_hook, and by forward mode)

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if STATE.recorder is not None:  # tm.jit: where a leaf made inside a jitted call comes from
            STATE.recorder.leaf(self, data)
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
        self._grad = None
        self._rg = False
        self._inputs = ()
        self._ctx = None
        self._retain = False
        self._seq = _next_seq()
        self._vc = None
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _make(cls, data: np.ndarray, rg: bool) -> Tensor:
        t = _new(cls)
        t.data = data
        t._grad = None
        t._rg = rg
        t._inputs = ()
        t._ctx = None
        t._retain = False
        t._seq = _next_seq()
        t._vc = None
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
    def grad(self):
        """The accumulated gradient (an array; a Tensor after ``create_graph``), or None.

        Assigning checks the shape: a gradient of another shape is refused, never
        broadcast.

        >>> x = Tensor([1.0, 2.0], requires_grad=True)
        >>> x.grad = [0.5, 0.5]; x.grad
        array([0.5, 0.5], dtype=float32)
        """
        if STATE.recorder is not None:  # tm.jit: a replay would not see what it reads
            STATE.recorder.read(self, ".grad")
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if STATE.recorder is not None:  # tm.jit: a replay would not write it
            STATE.recorder.read(self, "setting .grad")
        if value is not None:
            if not isinstance(value, Tensor):
                value = np.asarray(value)
                if value.dtype.kind != "f":
                    raise TypeError(f"grad: assigned a gradient of dtype {value.dtype}; it must "
                                    "be floating point")
                if value.dtype != self.data.dtype:
                    value = value.astype(self.data.dtype)
            if value.shape != self.data.shape:
                raise RuntimeError(
                    f"grad: assigned a gradient of shape {tuple(value.shape)} to a tensor of "
                    f"shape {self.data.shape}"
                )
        self._grad = value

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
    def grad_fn(self) -> Context | None:
        """``None`` for a leaf; else the record of the call that made this tensor:
        ``.name``, ``.inputs`` (the tensor arguments) and ``.args`` (the others).

        >>> x = Tensor([[1.0, 2.0]], requires_grad=True)
        >>> x.sum(axis=1).grad_fn
        <sum axis=1, keepdims=False>
        """
        return self._ctx

    @property
    def _op(self) -> str:
        ctx = self._ctx
        return "" if ctx is None else ctx.name

    def numpy(self) -> np.ndarray:
        """The data as a numpy array (shared, not copied).

        >>> Tensor([1.0, 2.0]).numpy()
        array([1., 2.], dtype=float32)
        """
        if STATE.recorder is not None:  # tm.jit: a traced value read into Python
            STATE.recorder.read(self, "numpy()")
        return self.data

    def item(self) -> float:
        """The single element as a Python number.

        >>> Tensor([[2.5]]).item()
        2.5
        """
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted, got shape {self.shape}")
        if STATE.recorder is not None:  # tm.jit: a traced value read into Python
            STATE.recorder.read(self, "item()")
        return self.data.item()

    def detach(self) -> Tensor:
        """A new leaf sharing this data, cut off from the graph.

        >>> x = Tensor([1.0], requires_grad=True)
        >>> (x * 2).detach().requires_grad
        False
        """
        t = Tensor._make(self.data, False)
        share_counter(t, self)  # the same memory: one version counter
        if STATE.recorder is not None:  # tm.jit: the detached tensor holds this one's data
            STATE.recorder.alias(t, self)
        return t

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this interior tensor after backward (leaves always keep it).

        >>> x = Tensor([1.0, 2.0], requires_grad=True)
        >>> h = x * 3
        >>> h.retain_grad()
        >>> _ = (h * h).sum().backward()
        >>> h.grad
        array([ 6., 12.], dtype=float32)
        """
        if not self._rg:
            raise RuntimeError("retain_grad: this tensor does not require grad (it has no "
                               "gradient to keep)")
        self._retain = True

    def register_hook(self, hook):
        """Call ``hook(grad)`` in every backward pass when this tensor's gradient is
        complete; an array it returns replaces the gradient from there on. Returns a
        handle whose ``remove()`` unregisters it (see :mod:`tinygrad_memo.hooks`).

        >>> x = Tensor([1.0, 2.0], requires_grad=True)
        >>> h = x.register_hook(lambda g: g * 2)
        >>> _ = (x * x).sum().backward()
        >>> x.grad
        array([4., 8.], dtype=float32)
        >>> h.remove()
        """
        return _hooks.register_hook(self, hook)

    def __array__(self, dtype=None, copy=None):
        if STATE.recorder is not None:  # tm.jit: a traced value read into Python
            STATE.recorder.read(self, "numpy.asarray()")
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    # -- copy and pickle: the data, never the graph (no recursion through deep graphs) ------
    def __deepcopy__(self, memo):
        if self._ctx is not None:
            raise RuntimeError(
                "deepcopy: only Tensors created explicitly by the user (graph leaves) can be "
                f"deep-copied; this one was computed by {self._ctx.name}: copy t.detach()"
            )
        t = _rebuild_tensor(type(self), self.data.copy(), self._rg,
                            None if self._grad is None else _copy_grad(self._grad, memo))
        memo[id(self)] = t
        return t

    def __reduce_ex__(self, protocol):
        g = self._grad
        return _rebuild_tensor, (type(self), self.data, self._rg,
                                 g.data if isinstance(g, Tensor) else g)

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
        data = _random.rng().standard_normal(_shape(shape)).astype(dtype)
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
        data = _random.rng().uniform(low, high, _shape(shape)).astype(dtype)
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
        return _Add.apply(self, other)

    def __radd__(self, other):
        return _Add.apply(other, self)

    def __sub__(self, other):
        return _Sub.apply(self, other)

    def __rsub__(self, other):
        return _Sub.apply(other, self)

    def __mul__(self, other):
        return _Mul.apply(self, other)

    def __rmul__(self, other):
        return _Mul.apply(other, self)

    def __truediv__(self, other):
        return _Div.apply(self, other)

    def __rtruediv__(self, other):
        return _Div.apply(other, self)

    def __pow__(self, other):
        return _Pow.apply(self, other)

    def __rpow__(self, other):
        return _Pow.apply(other, self)

    def __matmul__(self, other):
        return _linalg.MatMul.apply(self, other)

    def __rmatmul__(self, other):
        return _linalg.MatMul.apply(other, self)

    def __pos__(self):
        return self

    # comparisons give boolean tensors (no gradient), as in numpy; a Tensor still hashes
    # by identity, so graphs and dicts keyed by node work (find nodes with `is`, never ==)
    def __eq__(self, other):
        return _compare(np.equal, self, other, "==")

    def __ne__(self, other):
        return _compare(np.not_equal, self, other, "!=")

    def __lt__(self, other):
        return _compare(np.less, self, other, "<")

    def __le__(self, other):
        return _compare(np.less_equal, self, other, "<=")

    def __gt__(self, other):
        return _compare(np.greater, self, other, ">")

    def __ge__(self, other):
        return _compare(np.greater_equal, self, other, ">=")

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        return bool(self._one("bool"))

    def __float__(self) -> float:
        return float(self._one("float"))

    def __int__(self) -> int:
        return int(self._one("int"))

    def _one(self, what: str):
        if STATE.recorder is not None:  # tm.jit: a traced value read into Python
            STATE.recorder.read(self, f"{what}()")
        d = self.data
        if d.size != 1:
            raise ValueError(
                f"{what}(): the truth value or number of a Tensor with {d.size} elements (shape "
                f"{d.shape}) is ambiguous; use .any(), .all() or .item() on one element"
            )
        return d.reshape(-1)[0]

    def any(self, axis=None, keepdims=False) -> Tensor:
        """Whether any element is true (non-zero), as a boolean tensor (no gradient).

        >>> bool(Tensor([0.0, 2.0]).any())
        True
        """
        return Tensor._make(np.asarray(np.any(self.data, axis=axis, keepdims=keepdims)), False)

    def all(self, axis=None, keepdims=False) -> Tensor:
        """Whether every element is true (non-zero), as a boolean tensor (no gradient).

        >>> bool(Tensor([0.0, 2.0]).all())
        False
        """
        return Tensor._make(np.asarray(np.all(self.data, axis=axis, keepdims=keepdims)), False)

    # -- reductions -------------------------------------------------------------------------
    def sum(self, axis=None, keepdims=False):
        """Sum over ``axis`` (int, tuple or None).

        >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).sum(axis=0).numpy()
        array([4., 6.], dtype=float32)
        """
        return _reduce.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        """Mean over ``axis``.

        >>> Tensor([1.0, 3.0]).mean().item()
        2.0
        """
        return _reduce.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        """Maximum over ``axis``; tied maxima share the gradient equally.

        >>> Tensor([1.0, 3.0]).max().item()
        3.0
        """
        return _reduce.Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        """Minimum over ``axis``; tied minima share the gradient equally.

        >>> Tensor([1.0, 3.0]).min().item()
        1.0
        """
        return _reduce.Min.apply(self, axis=axis, keepdims=keepdims)

    def softmax(self, axis=-1):
        """Softmax along ``axis`` (stable for large logits).

        >>> Tensor([0.0, 0.0]).softmax().numpy()
        array([0.5, 0.5], dtype=float32)
        """
        return _reduce.Softmax.apply(self, axis=axis)

    def log_softmax(self, axis=-1):
        """log(softmax(x)) along ``axis``, computed stably.

        >>> Tensor([0.0, 0.0]).log_softmax().exp().numpy()
        array([0.5, 0.5], dtype=float32)
        """
        return _reduce.LogSoftmax.apply(self, axis=axis)

    # -- shape ------------------------------------------------------------------------------
    def reshape(self, *shape):
        """A tensor with the same data in a new shape (``-1`` infers one size).

        >>> Tensor([1.0, 2.0, 3.0, 4.0]).reshape(2, 2).shape
        (2, 2)
        """
        return _shape_ops.Reshape.apply(self, shape=_shape(shape))

    def transpose(self, *axes):
        """Permute the axes (reverse them when none are given).

        >>> Tensor.zeros(2, 3, 4).transpose(2, 0, 1).shape
        (4, 2, 3)
        """
        return _shape_ops.Transpose.apply(self, axes=_shape(axes) or None)

    def swapaxes(self, a: int, b: int):
        """Exchange two axes.

        >>> Tensor.zeros(2, 3).swapaxes(0, 1).shape
        (3, 2)
        """
        axes = list(range(self.ndim))
        axes[a], axes[b] = axes[b], axes[a]
        return _shape_ops.Transpose.apply(self, axes=tuple(axes))

    @property
    def T(self):
        """The transpose (all axes reversed).

        >>> Tensor.zeros(2, 3).T.shape
        (3, 2)
        """
        return _shape_ops.Transpose.apply(self, axes=None)

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
        return _shape_ops.Expand.apply(self, shape=_shape(shape))

    def __getitem__(self, index):
        """Indexing as in numpy: basic slices, integer arrays (repeated indices
        accumulate their gradients) and boolean masks.

        >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> _ = x[[0, 0, 2]].sum().backward()
        >>> x.grad
        array([2., 0., 1.], dtype=float32)
        """
        return _shape_ops.GetItem.apply(self, index=_index(index))

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
        if create_graph:
            with enable_grad():
                return engine.backward(self, grad, True, True)
        return engine.backward(self, grad, retain_graph, False)

    # node construction -------------------------------------------------------------------------
    @staticmethod
    def _apply(fn, *args, **kwargs) -> Tensor:
        """``fn.apply(*args, **kwargs)``: run ``fn.forward`` on the arrays of ``args`` and
        record the call (unless in no_grad); the result is a new Tensor."""
        if FORWARD[0] and STATE.forward is not None:  # tm.jvp: tangents ride along (forward/mode.py)
            return STATE.forward.apply(fn, args, kwargs)
        ctx = _new(Context)
        ctx.saved_tensors = ()
        datas = []
        need = []
        inputs = []
        vers = None
        i = 0
        for a in args:
            if type(a) is Tensor or isinstance(a, Tensor):
                datas.append(a.data)
                r = a._rg
                need.append(r)
                if r:
                    inputs.append(a)
                vc = a._vc
                if vc is not None:  # written in place before: remember at which version
                    if vers is None:
                        vers = []
                    vers.append((i, vc[0]))
            else:
                t = type(a)
                if t is not float and t is not int and a is not None:
                    a = _constant(fn, a)  # numpy scalars become Python numbers; bad kinds refused
                datas.append(a)
                need.append(False)
            i += 1
        for v in kwargs.values():
            if isinstance(v, Tensor):
                raise TypeError(f"{function._name(fn)}.apply: pass tensors positionally (a "
                                "Tensor given as a keyword argument is not an input of the op)")
        if inputs and STATE.enabled:
            ctx.needs_input_grad = tuple(need)
            ctx.versions = vers
            ctx.clock = CLOCK[0]
            ctx.out_version = 0
            ctx.standin = None
            raw = fn.forward(ctx, *datas, **kwargs)
            out = _as_array(raw, fn)
            if out is not raw:  # a saved output must be the node's own array (create_graph)
                ctx.saved_tensors = tuple(out if s is raw else s for s in ctx.saved_tensors)
            if not fn.builtin and out.dtype.kind != "f":
                raise TypeError(
                    f"{function._name(fn)}.forward returned an array of dtype {out.dtype}; "
                    "a result that requires grad must be floating point"
                )
            ctx.fn = fn
            ctx.call_args = args
            ctx.call_kwargs = kwargs
            ctx.released = False
            node = _new(Tensor)
            node.data = out
            node._grad = None
            node._rg = True
            node._inputs = tuple(inputs)
            node._ctx = ctx
            node._retain = False
            node._seq = _next_seq()
            node._vc = None
            if out.base is not None:  # a view of an input: one version counter
                _share_with_base(node, args)
                ctx.out_version = node._version
            return node
        ctx.needs_input_grad = (False,) * len(args)
        node = Tensor._make(_as_array(fn.forward(ctx, *datas, **kwargs), fn), False)
        if node.data.base is not None:
            _share_with_base(node, args)
        if STATE.recorder is not None:  # tm.jit records calls that make no graph node
            STATE.recorder.op(node, fn, args, kwargs)
        return node

    # engine protocol ---------------------------------------------------------------------------
    _leaves_early = True  # parameters' gradients are arrays: deliver each once it is complete

    def _seed(self, g, create_graph, op="backward", arg="grad"):
        if not self._rg:
            raise RuntimeError(
                f"{op}: this tensor does not require grad and has no graph "
                "(its inputs have requires_grad=False, or it was made in no_grad)"
            )
        if g is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"{op}: {arg} can be implicitly created only for scalar outputs; this "
                    f"output has shape {self.shape}, so pass {arg}= of that shape"
                )
            g = np.ones(self.data.shape, dtype=self.data.dtype)  # made here: the engine may own it
        elif create_graph and isinstance(g, Tensor):  # keep its graph: it may be differentiated
            _check_seed(self, g, op, arg)
            return g
        else:
            g = np.asarray(_data(g), dtype=self.dtype)
            _check_seed(self, g, op, arg)
            g = g.view()  # the caller's array: never added into, copied where it is kept
        return Tensor._make(g, False) if create_graph else g

    def _vjp(self, g, create_graph, release=False):
        ctx = self._ctx
        if ctx.released:
            raise RuntimeError(f"{ctx.name}: {engine.GRAPH_FREED}")
        if ctx.clock != CLOCK[0]:  # something was written in place since the op ran
            check_saved_versions(self, ctx)
        fn = ctx.fn
        if create_graph:
            saved = ctx.saved_tensors
            ctx.saved_tensors = tuple(self._resolve(s, ctx) for s in saved)
            STATE.graph_backward += 1
            try:
                grads = fn.backward(ctx, g)
            finally:
                STATE.graph_backward -= 1
                ctx.saved_tensors = saved
        else:
            grads = fn.backward(ctx, g)
        if release:  # what Context.release does, inline (it runs once per node)
            ctx.saved_tensors = ()
            ctx.released = True
            scratch = ctx.__dict__
            if scratch:
                scratch.clear()
        if type(grads) is not tuple:
            grads = tuple(grads) if isinstance(grads, list) else (grads,)
        need = ctx.needs_input_grad
        if len(grads) != len(need):
            raise RuntimeError(
                f"{ctx.name}.backward returned {len(grads)} gradients, "
                f"but forward took {len(need)} inputs"
            )
        out = []
        trusted = fn.builtin
        args = ctx.call_args
        i = -1
        for n in need:
            i += 1
            if not n:
                continue
            gi = grads[i]
            if gi is not None:
                d = args[i].data
                if type(gi) is not np.ndarray and not isinstance(gi, Tensor):
                    gi = np.asarray(gi, dtype=d.dtype)  # a number, or a numpy scalar from a 0-d op
                if gi.shape != d.shape:
                    gi = sum_to(gi, d.shape, ctx.name)
                if not create_graph and gi.dtype is not d.dtype and gi.dtype != d.dtype:
                    gi = gi.astype(d.dtype)
                if type(gi) is np.ndarray and gi.base is None:
                    # not made for this input alone: a view, so it is never added into in place
                    if not trusted or gi is g:
                        gi = gi.view()
                    else:
                        for o in out:
                            if o is gi:
                                gi = gi.view()
                                break
            out.append(gi)
        if release:
            _let_go(self, ctx)
        return out

    def _resolve(self, s, ctx):
        """A saved array as a graph node (create_graph): an input, the output, or a constant."""
        if isinstance(s, np.ndarray):
            if s is self.data:
                return self
            for a in ctx.call_args:
                if isinstance(a, Tensor) and a.data is s:
                    return a
            return Tensor._make(s, False)
        return s

    @staticmethod
    def _add_grads(total, g):
        """Two gradients of a tensor, added: in place into an array the engine made
        (an ndarray that is no view), else into a fresh array (or a graph node)."""
        if type(total) is np.ndarray and total.base is None and type(g) is np.ndarray:
            total += g
            return total
        return total + g

    def _receive(self, g, create_graph):
        if self._inputs:  # interior: kept only after retain_grad()
            self._grad = _own(g, create_graph)
            return
        old = self._grad
        if old is None:
            self._grad = _own(g, create_graph)
        elif create_graph or isinstance(old, Tensor) or isinstance(g, Tensor):
            self._grad = old + g
        else:
            old += g  # the leaf's own gradient array (its shape was checked when assigned)

    def _gradient(self, g, create_graph, repeated):
        """``tm.grad``'s result for this input: zeros where no path led, never an array
        shared with another gradient, a node under create_graph."""
        if g is None:
            g = np.zeros(self.shape, dtype=self.dtype)
        elif repeated and type(g) is np.ndarray:
            g = g.copy()
        g = _own(g, create_graph)
        return Tensor._make(g, False) if create_graph and not isinstance(g, Tensor) else g

    # the data namespace of derivative rules, and constants/selection under create_graph
    _fns = ARRAYS

    @staticmethod
    def _constant(value):
        return Tensor._make(np.asarray(value), False)

    @staticmethod
    def _where(cond, a, b):
        return _ew.Where.apply(_data(cond), a, b)


class Released:
    """What a released graph keeps of a tensor that is not a parameter: its shape, dtype
    and record (``grad_fn``), never its data. After ``backward()`` without
    ``retain_graph`` the graph refers to these instead of the tensors, so a kept output
    (``losses.append(loss)``) no longer keeps the activations alive, while the
    structure can still be drawn. The tensors themselves are untouched: one the user
    holds keeps its data and ``.grad``.

    >>> import tinygrad_memo as tm
    >>> w = tm.Tensor([1.0, 2.0], requires_grad=True)
    >>> loss = (w * 3).tanh().sum()
    >>> _ = loss.backward()
    >>> h = loss.grad_fn.call_args[0]
    >>> type(h).__name__, h.shape, h.grad_fn.name, h.grad_fn.call_args[0].grad_fn.call_args[0] is w
    ('Released', (2,), 'tanh', True)
    """

    __slots__ = ("shape", "dtype", "grad_fn", "_seq", "_rg", "_of", "__weakref__")
    label = ""
    released = True

    @property
    def tensor(self):
        """The tensor this stands for, while something else keeps it alive (else None)."""
        return self._of()

    @property
    def data(self):
        """The tensor's data while it is alive, else None."""
        t = self._of()
        return None if t is None else t.data

    @property
    def grad(self):
        """The tensor's ``.grad`` (after ``retain_grad()``) while it is alive, else None."""
        t = self._of()
        return None if t is None else t.grad

    @property
    def _inputs(self) -> tuple:
        rec = self.grad_fn
        if rec is None:
            return ()
        args = rec.call_args if isinstance(rec, Context) else rec.inputs
        return tuple(a for a in args if getattr(a, "_rg", False))

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def requires_grad(self) -> bool:
        return self._rg

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        what = f"by {self.grad_fn.name}" if self.grad_fn is not None else "leaf"
        return f"Released(shape={self.shape}, dtype={self.dtype}, {what})"


def _stand_in(t, ctx):
    """``t``'s Released stand-in (one per tensor record, so shared inputs stay shared);
    ``ctx`` is ``t._ctx``."""
    cached = getattr(ctx, "standin", None)  # (a record of another kind may have no cache)
    if cached is not None:
        r = cached()  # a weak reference: the record must not keep its stand-in (a cycle)
        if r is not None:
            return r
    r = _new(Released)
    d = t.data
    r.shape, r.dtype, r.grad_fn, r._seq, r._rg = d.shape, d.dtype, ctx, t._seq, t._rg
    r._of = weakref.ref(t)
    if type(ctx) is Context:
        ctx.standin = weakref.ref(r)
    return r


def _let_go(node, ctx) -> None:
    """After releasing ``node``: its record and inputs refer to stand-ins for every tensor
    that is not a parameter (a leaf that requires grad), so their data can be freed."""
    new = []
    inputs = []
    changed = False
    for a in ctx.call_args:
        if type(a) is Tensor or isinstance(a, Tensor):
            c = a._ctx
            if c is not None or not a._rg:
                a = _stand_in(a, c)
                changed = True
            if a._rg:
                inputs.append(a)
        new.append(a)
    if changed:
        ctx.call_args = tuple(new)
        node._inputs = tuple(inputs)


def _rebuild_tensor(cls, data, requires_grad, grad):
    """A leaf Tensor of class ``cls`` (pickling and deepcopy come back as leaves)."""
    t = Tensor._make(data, False)
    t.__class__ = cls
    t._rg = bool(requires_grad)
    t._grad = grad
    return t


def _copy_grad(g, memo):
    return Tensor._make(g.data.copy(), False) if isinstance(g, Tensor) else g.copy()


def _share_with_base(node, args) -> None:
    """``node``'s data is a view: if it is a view of an input's data, share its counter."""
    base = node.data.base
    for a in args:
        if isinstance(a, Tensor):
            d = a.data
            if base is d or base is d.base and base is not None:
                share_counter(node, a)
                return


def _constant(fn, a):
    """A non-tensor argument of an op, checked: a numpy scalar becomes the Python number
    (which never changes a tensor's dtype, as in PyTorch); complex numbers, non-numeric
    arrays and nodes of another kind (a Value) are refused, naming the op."""
    if isinstance(a, np.generic):
        if a.dtype.kind in "biuf":
            return a.item()
        raise TypeError(f"{function._name(fn)}: unsupported operand {a!r} of dtype {a.dtype}")
    if isinstance(a, np.ndarray):
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{function._name(fn)}: unsupported operand: an array of dtype "
                            f"{a.dtype} (tensors hold numbers and booleans)")
        return a
    if isinstance(a, complex) or hasattr(a, "_vjp"):
        raise TypeError(f"{function._name(fn)}: unsupported operand of type {type(a).__name__}"
                        f" with a Tensor: {a!r}")
    return a


def _compare(ufunc, t, other, op: str) -> Tensor:
    if isinstance(other, Tensor):
        other = other.data
    elif not isinstance(other, np.ndarray | np.generic | int | float | bool | list | tuple):
        if not hasattr(other, "_vjp"):
            return NotImplemented
        raise TypeError(f"Tensor {op}: cannot compare a Tensor with a {type(other).__name__}")
    try:
        node = Tensor._make(np.asarray(ufunc(t.data, other)), False)
    except ValueError:
        raise ValueError(f"Tensor {op}: shapes {t.shape} and {np.shape(other)} cannot be "
                         "broadcast together") from None
    if STATE.recorder is not None:  # tm.jit replays a comparison as this ufunc call
        STATE.recorder.op(node, ufunc, (t, other), {})
    return node


def _check_seed(out, g, op, arg):
    if g.shape != out.shape:
        raise RuntimeError(
            f"{op}: {arg} of shape {g.shape} does not match the output's shape {out.shape}"
        )


def _own(g, create_graph):
    """A gradient that is safe to keep: a fresh array (never a view of another), or
    under create_graph a node of its own (two leaves never hold the same Tensor)."""
    if type(g) is np.ndarray:
        return g if g.base is None else g.copy()
    if isinstance(g, Tensor):
        return _shape_ops.Clone.apply(g) if create_graph else g
    return g


def _as_array(out, fn) -> np.ndarray:
    if type(out) is np.ndarray:
        return out
    if isinstance(out, Tensor):
        raise TypeError(f"{function._name(fn)}.forward must return a numpy array, not a Tensor")
    return np.asarray(out)


def _data(x):
    return x.data if isinstance(x, Tensor) else x


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
        arr = np.asarray(index)
        return arr.astype(np.intp) if arr.size == 0 else arr  # x[[]]: empty, as numpy
    return index



def _unary_method(op, name: str):
    if op.params:  # an op with parameters (clip(lo, hi)): passed by name
        bind, names = op.bind, tuple(op.params)

        def method(self, *args, **kwargs):
            return op.apply(self, **dict(zip(names, bind(args, kwargs))))
    else:
        def method(self):
            return op.apply(self)
    method.__name__ = name
    method.__qualname__ = f"Tensor.{name}"
    method.__doc__ = op.__doc__
    return method


_Add, _Sub, _Mul, _Div, _Pow = (ELEMENTWISE[n] for n in ("add", "sub", "mul", "div", "pow"))

def _binary_method(op, name: str):
    def method(self, other):
        return op.apply(self, other)
    method.__name__ = name
    method.__qualname__ = f"Tensor.{name}"
    method.__doc__ = op.__doc__
    return method


# every elementwise op of the registry is a Tensor method: unary ones (neg and abs are
# operators too), and binary ones that are not operators (x.maximum(y))
for _op in ELEMENTWISE.values():
    if issubclass(_op, Unary):
        setattr(Tensor, _op.name, _unary_method(_op, _op.name))
    elif _op.symbol not in ("+", "-", "*", "/", "**"):
        setattr(Tensor, _op.name, _binary_method(_op, _op.name))
Tensor.__neg__ = _unary_method(ELEMENTWISE["neg"], "__neg__")
Tensor.__abs__ = _unary_method(ELEMENTWISE["abs"], "__abs__")
del _op
add_torch_hints(Tensor)  # sum(dim=1) names axis=; the methods of TensorMethods have theirs

function.set_node_type(Tensor, Tensor._apply)
