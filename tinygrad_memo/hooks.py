"""Hooks: look at a gradient, or change it, at the moment its memo slot is complete.

``t.register_hook(fn)`` (Tensors and Values alike) asks the engine to call
``fn(grad)`` once per backward pass, when every consumer of ``t`` has added its
contribution to ``t``'s memo slot and before anything reads it: a returned
value replaces the gradient for everything downstream (``t``'s own ``.grad``
if it keeps one, and the derivative rule that sends the gradient on to ``t``'s
inputs). Several hooks on one node run in registration order, each seeing the
previous one's result; ``handle.remove()`` unregisters one. This is PyTorch's
order: tensor hooks, then the retained ``.grad``, then the node's rule.

The gradient a hook sees is what ``.grad`` would hold: a numpy array (read-only:
return a new one to change it) for a Tensor, a float for a Value, a graph node
under ``create_graph``. A replacement must keep the gradient's shape and dtype.

A node's hooks live in a slot of the node that is only set when a hook is
registered (nodes are made without touching it); a side table of the live
nodes that have hooks says whether any exist: while it is empty no tap is
installed in the engine, so a pass without hooks costs nothing extra.

:class:`ModuleHooks` runs a module's forward pre-hooks and forward hooks
(``Module.register_forward_pre_hook`` / ``register_forward_hook``).

>>> import tinygrad_memo as tm
>>> x = tm.Value(3.0)
>>> y = x * x
>>> h = y.register_hook(lambda g: g * 10)
>>> _ = (y + 1).backward()
>>> x.grad
60.0
>>> h.remove()
"""

from __future__ import annotations

import functools
import itertools
import weakref
from collections import OrderedDict

import numpy as np

from . import engine

__all__ = ["ModuleHooks", "RemovableHandle", "has_hooks", "register_hook"]

_ids = itertools.count()


class RemovableHandle:
    """What registering a hook returns: ``remove()`` unregisters it (again is a no-op).

    Also a context manager that removes the hook on exit.

    >>> import tinygrad_memo as tm
    >>> x = tm.Value(2.0)
    >>> with x.register_hook(lambda g: 0.0):
    ...     _ = (x * x).backward()
    >>> x.grad
    0.0
    >>> _ = (x * x).backward(); x.grad
    4.0
    """

    __slots__ = ("id", "_hooks", "_on_remove")

    def __init__(self, hooks: dict, on_remove=None):
        self.id = next(_ids)
        self._hooks = hooks
        self._on_remove = on_remove

    def remove(self) -> None:
        """Unregister the hook (nothing happens if it is already removed)."""
        hooks, self._hooks = self._hooks, None
        if hooks is not None and hooks.pop(self.id, None) is not None and self._on_remove:
            self._on_remove()

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> bool:
        self.remove()
        return False


# -- tensor (and Value) hooks ---------------------------------------------------------------
# A node's hooks live on the node itself (its ``_hooks`` slot, set only when a hook is
# registered), so a hook that refers to its own node makes a cycle the garbage
# collector frees with the graph. _LIVE says which live nodes have hooks: id(node) ->
# a weak reference whose callback drops the entry when the node dies; while it is
# empty no tap is installed.
_LIVE: dict = {}


def register_hook(node, hook) -> RemovableHandle:
    """Call ``hook(grad)`` when ``node``'s gradient is complete (see the module docstring).

    This is ``Tensor.register_hook`` and ``Value.register_hook``.

    >>> import tinygrad_memo as tm
    >>> x = tm.Tensor([1.0, 2.0], requires_grad=True)
    >>> seen = []
    >>> h = register_hook(x, seen.append)
    >>> _ = (x * x).sum().backward()
    >>> seen[0]
    array([2., 4.], dtype=float32)
    """
    if not callable(hook):
        raise TypeError(f"register_hook: the hook must be callable, got {type(hook).__name__}")
    if not node.requires_grad:
        raise RuntimeError(
            "register_hook: cannot register a hook on a tensor that does not require grad"
        )
    key = id(node)
    ref = _LIVE.get(key)
    if ref is None:
        node._hooks = {}
        ref = _LIVE[key] = weakref.ref(node, functools.partial(_node_gone, key))
        if _tap not in engine.TAPS:
            engine.TAPS.append(_tap)
    table = node._hooks
    handle = RemovableHandle(table, functools.partial(_removed, key, ref, table))
    table[handle.id] = hook
    return handle


def has_hooks(node) -> bool:
    """Whether ``node`` has hooks registered.

    >>> import tinygrad_memo as tm
    >>> x = tm.Value(1.0)
    >>> h = x.register_hook(print); has_hooks(x)
    True
    >>> h.remove(); has_hooks(x)
    False
    """
    ref = _LIVE.get(id(node))
    return ref is not None and ref() is node


# (the tables are bound as defaults: weakref callbacks may run while the interpreter
# shuts down, when module globals are already gone)
def _drop(key, ref, live=_LIVE, taps=engine.TAPS) -> None:
    if live.get(key) is ref:
        del live[key]
        if not live and _tap in taps:
            taps.remove(_tap)


def _node_gone(key, ref, drop=_drop) -> None:
    drop(key, ref)


def _removed(key, ref, table, drop=_drop) -> None:
    if not table:
        node = ref()
        if node is not None:
            del node._hooks
        drop(key, ref)


def _tap(walk, pairs):
    """The engine tap: run a node's hooks on its complete gradient, before it is used."""
    live = _LIVE
    create_graph = walk.create_graph
    for node, slot in pairs:
        if live and id(node) in live and slot.grad is not None:
            slot.grad = _run(node, slot.grad, create_graph)
        yield node, slot


def _run(node, g, create_graph):
    for hook in tuple(node._hooks.values()):
        r = hook(_read_only(g))
        if r is not None:
            g = _replacement(node, hook, g, r, create_graph)
    if type(g) is np.ndarray and g.base is None:
        g = g.view()  # a hook may keep what it saw: the engine must never add into it
    return g


def _read_only(g):
    if type(g) is np.ndarray:
        g = g.view()
        g.flags.writeable = False
    return g


def _replacement(node, hook, g, r, create_graph):
    """A hook's return value as the node's gradient: same shape and dtype, or an error."""
    shape = getattr(g, "shape", None)
    if shape is not None:
        name = getattr(hook, "__name__", type(hook).__name__)
        r_shape = np.shape(r)
        if r_shape != shape:
            raise RuntimeError(
                f"hook {name!r} has changed the size of the gradient: it returned shape "
                f"{r_shape}, the gradient has shape {shape}"
            )
        r_dtype = getattr(r, "dtype", None)
        if r_dtype is not None and r_dtype != g.dtype:
            raise RuntimeError(
                f"hook {name!r} has changed the type of the gradient: it returned dtype "
                f"{r_dtype}, the gradient has dtype {g.dtype}"
            )
    return node._seed(r, create_graph, "hook", "the returned gradient")


# -- module forward hooks -------------------------------------------------------------------------
class ModuleHooks:
    """A module's forward pre-hooks and forward hooks, with PyTorch's signatures and
    return rules; ``Module.__call__`` hands over to :meth:`call` once a module has any.

    >>> from tinygrad_memo import nn, Tensor
    >>> lin = nn.Linear(2, 2)
    >>> h = lin.register_forward_hook(lambda m, args, out: out * 0 + 1)
    >>> lin(Tensor([[1.0, 2.0]])).numpy()
    array([[1., 1.]], dtype=float32)
    """

    __slots__ = ("pre", "post", "with_kwargs", "always_call")

    def __init__(self):
        self.pre: OrderedDict = OrderedDict()
        self.post: OrderedDict = OrderedDict()
        self.with_kwargs: set = set()
        self.always_call: set = set()

    def add(self, hooks: OrderedDict, hook, prepend: bool, with_kwargs: bool,
            always_call: bool = False) -> RemovableHandle:
        """Register ``hook`` in ``hooks`` (``self.pre`` or ``self.post``)."""
        if not callable(hook):
            raise TypeError(f"module hook must be callable, got {type(hook).__name__}")
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        if with_kwargs:
            self.with_kwargs.add(handle.id)
        if always_call:
            self.always_call.add(handle.id)
        return handle

    def call(self, module, args: tuple, kwargs: dict):
        """Pre-hooks, ``module.forward``, then forward hooks."""
        kw = self.with_kwargs
        for key, hook in tuple(self.pre.items()):
            if key in kw:
                r = hook(module, args, kwargs)
                if r is not None:
                    if not (isinstance(r, tuple) and len(r) == 2):
                        raise RuntimeError(
                            "forward pre-hook must return None or a tuple of (new_args, "
                            f"new_kwargs), but got {r!r}"
                        )
                    args, kwargs = r
            else:
                r = hook(module, args)
                if r is not None:
                    args = r if isinstance(r, tuple) else (r,)
        try:
            out = module.forward(*args, **kwargs)
        except Exception as e:
            for key, hook in tuple(self.post.items()):
                if key in self.always_call:
                    try:
                        hook(module, args, kwargs, None) if key in kw else hook(module, args, None)
                    except Exception as hook_error:  # the forward's error is the one to see
                        if hasattr(e, "add_note"):
                            e.add_note(f"an always_call forward hook raised too: {hook_error!r}")
            raise
        for key, hook in tuple(self.post.items()):
            r = hook(module, args, kwargs, out) if key in kw else hook(module, args, out)
            if r is not None:
                out = r
        return out
