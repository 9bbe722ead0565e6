"""Function: the op protocol of the Tensor engine, and the public custom-op API.

An op is a subclass of :class:`Function` with two static methods written side by
side: ``forward(ctx, *inputs, **args)`` computes the result from numpy arrays, and
``backward(ctx, g)`` returns the gradient for each positional input of
``forward`` (``None`` for inputs that need none). Gradients for broadcast inputs
may have the broadcast shape: they are summed back to each input's shape in one
place (the Tensor node), not in each op.

``backward`` is written once and serves both modes. In the ordinary first-order
pass, ``g`` and ``ctx.saved_tensors`` are numpy arrays, so the pass is plain numpy.
With ``create_graph=True`` they are Tensors (the saved inputs and output become
the graph's own nodes), so the same rule records a differentiable graph. A rule
that sticks to operators (``+ - * / ** @``), Tensor methods and numpy ufuncs
(``np.exp``, ``np.log``, ...) works in both modes.

A third static method, ``jvp(ctx, *tangents)``, is the op's forward-mode rule (used by
``tm.jvp``, ``tm.jacfwd``, ``tm.hessian``, ...): one tangent per positional input of
``forward`` (``None`` for a zero tangent), returning the output's tangent (or ``None``), read
from the same ``ctx`` right after ``forward``. Written with the same kind of operations it
works on arrays and on graph nodes alike. A Function without one works everywhere else and
raises ``NotImplementedError`` naming it when forward mode reaches it with a tangent.

The library's own ops are Functions too, each registered under its name
(``class Tanh(Unary, name="tanh")``): :data:`REGISTRY` is the one list of ops
that the Tensor and Value methods, the numpy-ufunc table, the pictures and the
hypothesis strategies read.

The :class:`Context` of a call is also its record: ``t.grad_fn`` is the context
of the call that made ``t``, with the op's ``name``, its tensor ``inputs`` and
its other ``args``, so a graph can be drawn with its arguments and re-executed.

This module builds no nodes itself: the node class (``Tensor``) registers itself
with :func:`set_node_type`, so the op protocol imports nothing from it.
"""

from __future__ import annotations

import inspect
from typing import NamedTuple

__all__ = ["Call", "Context", "Function", "REGISTRY", "set_node_type", "set_scalar_call"]

#: name -> op: every built-in op, registered by its class definition.
REGISTRY: dict = {}

_NODE = None  # the node class that Function.apply builds (Tensor), set by set_node_type


def set_node_type(cls, apply) -> None:
    """Make ``cls`` the class that :meth:`Function.apply` builds nodes of, with
    ``apply(fn, *args, **kwargs)`` as its implementation (``Tensor`` calls this).

    >>> import tinygrad_memo as tm
    >>> set_node_type(tm.Tensor, tm.Tensor._apply)
    """
    global _NODE
    _NODE = cls
    doc = Function.__dict__["apply"].__func__.__doc__
    impl = classmethod(apply)
    impl.__func__.__doc__ = apply.__doc__ or doc
    Function.apply = impl


class Context:
    """Per-call record of a :class:`Function`: the call itself (``name``, ``inputs``,
    ``args``) and what ``forward`` saves for ``backward``.

    ``t.grad_fn`` is this object for every non-leaf Tensor. What the pass saved
    (``saved_tensors`` and any attribute a ``forward`` set) is released by a
    backward without ``retain_graph``; the record of the call stays.

    >>> import tinygrad_memo as tm
    >>> x = tm.Tensor([[1.0, 2.0]], requires_grad=True)
    >>> r = x.sum(axis=1).grad_fn
    >>> r.name, r.args, r.inputs[0] is x
    ('sum', {'axis': 1, 'keepdims': False}, True)
    """

    __slots__ = ("fn", "call_args", "call_kwargs", "saved_tensors", "needs_input_grad",
                 "released", "versions", "clock", "out_version", "standin", "__dict__", "__weakref__")

    def __init__(self, fn=None, args: tuple = (), kwargs: dict | None = None):
        self.fn = fn
        self.call_args = args
        self.call_kwargs = kwargs or {}
        self.saved_tensors: tuple = ()
        self.needs_input_grad: tuple = ()
        self.released = False
        self.versions = None  # (arg index, version) of the tensor args that had been written
        self.clock = 0  # the in-place write count when the op ran
        self.out_version = 0
        self.standin = None  # what the released graph keeps of the output (tensor.Released)

    def save_for_backward(self, *arrays) -> None:
        """Keep these arrays (inputs, the output, or others) for ``backward``."""
        self.saved_tensors = arrays

    # -- the record of the call ------------------------------------------------------------
    @property
    def name(self) -> str:
        """The op's name (``"sum"``, ``"matmul"``; a custom Function's class name)."""
        return _name(self.fn)

    @property
    def inputs(self) -> tuple:
        """The node arguments of the call, in order (all of them, not only those
        that require grad)."""
        node = _NODE
        return tuple(a for a in self.call_args if _is_input(a, node))

    @property
    def args(self) -> dict:
        """The non-tensor arguments of the call by parameter name, defaults included."""
        return call_args(self.fn, self.call_args, self.call_kwargs, _NODE)

    def rerun(self, inputs):
        """The same call on new node ``inputs`` (one per entry of :attr:`inputs`).

        >>> import tinygrad_memo as tm
        >>> y = tm.Tensor([1.0, 2.0], requires_grad=True).sum()
        >>> y.grad_fn.rerun([tm.Tensor([3.0, 4.0])]).item()
        7.0
        """
        inputs = iter(inputs)
        node = _NODE
        args = [next(inputs) if _is_input(a, node) else a for a in self.call_args]
        return self.fn.apply(*args, **self.call_kwargs)

    def release(self) -> None:
        """Drop what the forward pass saved (the record of the call stays)."""
        self.saved_tensors = ()
        self.released = True
        d = self.__dict__
        if d:
            d.clear()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.args.items())
        return f"<{self.name}{' ' + args if args else ''}>"


class Call(NamedTuple):
    """The record of a scalar op's call (``Value.grad_fn``): the op, its Value
    inputs and its constant arguments by parameter name.

    >>> import tinygrad_memo as tm
    >>> v = tm.Value(2.0)
    >>> r = (3 - v).grad_fn
    >>> r.name, r.inputs[0] is v, r.args
    ('sub', True, {'a': 3.0})
    """

    fn: type
    inputs: tuple
    args: dict

    @property
    def name(self) -> str:
        """The op's name."""
        return _name(self.fn)

    def rerun(self, inputs):
        """The same call on new Value ``inputs`` (one per entry of :attr:`inputs`).

        >>> import tinygrad_memo as tm
        >>> (tm.Value(2.0) * 3).grad_fn.rerun([tm.Value(5.0)]).data
        15.0
        """
        return _SCALAR_CALL(self.fn, list(inputs), self.args)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.args.items())
        return f"<{self.name}{' ' + args if args else ''}>"


_SCALAR_CALL = None  # how a scalar op is called on Values: set by the Value class


def set_scalar_call(call) -> None:
    """Tell :meth:`Call.rerun` how to call a scalar op (``Value`` calls this)."""
    global _SCALAR_CALL
    _SCALAR_CALL = call


def _name(fn) -> str:
    return getattr(fn, "name", None) or fn.__name__


_SIGNATURES: dict = {}


def _is_input(a, node_type) -> bool:
    """A node argument of a call: a node, or what a released graph keeps of one."""
    return isinstance(a, node_type) or getattr(a, "released", False) is True


def call_args(fn, args: tuple, kwargs: dict, node_type) -> dict:
    """The non-node arguments of ``fn.forward(ctx, *args, **kwargs)`` by parameter name.

    >>> import tinygrad_memo as tm
    >>> from tinygrad_memo.function import REGISTRY
    >>> call_args(REGISTRY["sum"], (tm.Tensor([1.0]),), {"axis": 0}, tm.Tensor)
    {'axis': 0, 'keepdims': False}
    """
    sig = _SIGNATURES.get(fn)
    if sig is None:
        sig = _SIGNATURES[fn] = inspect.signature(fn.forward)
    params = list(sig.parameters.values())[1:]  # after ctx
    out: dict = {}
    i = 0
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            rest = args[i:]
            consts = [a for a in rest if not _is_input(a, node_type)]
            if consts:
                out[p.name] = tuple(None if _is_input(a, node_type) else a for a in rest)
            i = len(args)
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and i < len(args):
            if not _is_input(args[i], node_type):
                out[p.name] = args[i]
            i += 1
        elif p.kind is p.VAR_KEYWORD:
            out.update({k: v for k, v in kwargs.items() if k not in out})
        elif p.name in kwargs:
            out[p.name] = kwargs[p.name]
        elif p.default is not p.empty:
            out[p.name] = p.default
    return out


class Function:
    """Base class of every Tensor op, built-in or user-defined (PyTorch style).

    >>> import numpy as np
    >>> import tinygrad_memo as tm
    >>> class Cube(tm.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return g * 3 * x ** 2
    >>> x = tm.Tensor([1.0, 2.0], requires_grad=True)
    >>> y = Cube.apply(x)
    >>> y.grad_fn.name
    'Cube'
    >>> _ = y.sum().backward()
    >>> x.grad
    array([ 3., 12.], dtype=float32)
    """

    #: the registry name of a built-in op (``None`` for a custom Function)
    name: str | None = None
    #: whether the op is one of the library's own (its gradients are trusted not to
    #: alias arrays it holds); custom Functions' gradients are copied when needed
    builtin: bool = False
    #: whether ``forward`` takes ``out=``, an array of the result's shape and dtype to
    #: write the result into (``tm.jit``'s replay passes the array of its previous
    #: replay, so a replayed step allocates nothing; eager calls never pass it)
    writes_out: bool = False

    def __init_subclass__(cls, name: str | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if name is not None:
            if name in REGISTRY:
                raise ValueError(f"Function: an op named {name!r} is already registered")
            cls.name = name
            cls.builtin = True
            REGISTRY[name] = cls
        elif "name" not in cls.__dict__:
            cls.name = None
            cls.builtin = False

    @staticmethod
    def forward(ctx, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError("Function subclasses must implement forward(ctx, ...)")

    @staticmethod
    def backward(ctx, g):  # pragma: no cover - abstract
        raise NotImplementedError("Function subclasses must implement backward(ctx, g)")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` on the arrays of ``args`` and record the node (unless in no_grad).

        The node class installs its own implementation (:func:`set_node_type`)."""
        raise RuntimeError("Function.apply: no node class is registered (import tinygrad_memo)")
