"""Module: the base class of models, for Tensor and Value parameters alike.

A module finds its parameters and submodules by looking at its own attributes,
in the order they were assigned, so nothing needs registering:

- a :class:`Module` attribute is a submodule (``self.fc = Linear(2, 3)``);
- a Tensor with ``requires_grad=True`` (or a :class:`Parameter`) is a parameter;
- a :class:`~tinygrad_memo.Value` is a parameter (scalar, micrograd-style modules);
- a list or tuple of any of these contributes its items under ``name.index``
  (``self.layers = [Linear(2, 3), Linear(3, 1)]`` gives ``layers.0.weight``).

Names are dotted paths, as in PyTorch: ``layers.0.weight``,
``layers.0.neurons.3.w.1``. A parameter reached twice (shared weights) is listed
once, under the first name found.

>>> import numpy as np
>>> from tinygrad_memo import Tensor
>>> from tinygrad_memo.nn import Module, Parameter
>>> class Affine(Module):
...     def __init__(self):
...         super().__init__()
...         self.scale = Parameter(np.ones(2))
...         self.shift = Tensor(np.zeros(2), requires_grad=True)
...     def forward(self, x):
...         return x * self.scale + self.shift
>>> m = Affine()
>>> [name for name, _ in m.named_parameters()]
['scale', 'shift']
>>> m(Tensor(np.array([1.0, 2.0]))).numpy()
array([1., 2.])
"""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from ..grad_mode import STATE
from ..hooks import ModuleHooks
from ..inplace import bump
from ..tensor import Tensor
from ..value import Value

__all__ = ["IncompatibleKeys", "Module", "Parameter"]


class Parameter(Tensor):
    """A Tensor meant to be learned: ``requires_grad=True`` unless told otherwise.

    Any Tensor with ``requires_grad=True`` assigned to a module attribute is a
    parameter; ``Parameter`` also marks a frozen one (``requires_grad=False``)
    as part of the module's parameters and state dict, as in PyTorch.

    >>> import numpy as np
    >>> p = Parameter(np.zeros(3))
    >>> p.requires_grad, p.shape
    (True, (3,))
    """

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True, dtype=None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)

    def __repr__(self) -> str:
        return "Parameter" + super().__repr__()[len("Tensor"):]


class IncompatibleKeys(NamedTuple):
    """What :meth:`Module.load_state_dict` returns: the keys it could not match.

    >>> IncompatibleKeys(missing_keys=[], unexpected_keys=["extra"]).unexpected_keys
    ['extra']
    """

    missing_keys: list
    unexpected_keys: list


def _is_param(x) -> bool:
    """A parameter: a Parameter, a leaf Tensor that requires grad, or a Value."""
    if isinstance(x, Tensor):
        return isinstance(x, Parameter) or (x.requires_grad and x.is_leaf)
    return isinstance(x, Value)


def _found(name: str, value):
    """(dotted name, object) for the modules and parameters in ``value``, looking inside
    lists, tuples and dicts (nested), iteratively."""
    stack = [(name, value)]
    while stack:
        name, value = stack.pop()
        if isinstance(value, Module) or _is_param(value):
            yield name, value
        elif isinstance(value, (list, tuple)):
            stack.extend((f"{name}.{i}", v) for i, v in reversed(list(enumerate(value))))
        elif isinstance(value, dict):
            stack.extend((f"{name}.{k}", v) for k, v in reversed(list(value.items())))


def _register(value) -> None:
    """A leaf Tensor that requires grad, assigned to a module, becomes a Parameter, so it
    stays a parameter (in ``parameters()`` and ``state_dict()``) when it is frozen later."""
    stack = [value]
    while stack:
        v = stack.pop()
        if type(v) is Tensor and v.requires_grad and v.is_leaf:
            v.__class__ = Parameter
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.values())


def _check_buffer(name: str, t) -> None:
    if t is not None and t.requires_grad:
        raise ValueError(f"register_buffer: buffer {name!r} requires grad; a buffer holds state "
                         "without gradients (pass t.detach(), or make it a Parameter)")


class Module:
    """Base class of every model: subclass it, set attributes in ``__init__``, define ``forward``.

    Call ``super().__init__()`` first in a subclass's ``__init__`` (it sets the
    ``training`` flag). Calling the module calls ``forward``.

    >>> from tinygrad_memo import nn
    >>> model = nn.MLP(2, [3, 1])
    >>> [name for name, _ in model.named_parameters()]
    ['layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias']
    >>> model.eval().training
    False
    """

    training: bool = True

    def __init__(self):
        self.training = True

    def forward(self, *args, **kwargs):
        """The computation; subclasses define it, and calling the module calls it.

        >>> Module().forward()
        Traceback (most recent call last):
        ...
        NotImplementedError: Module does not define forward()
        """
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    _module_hooks = None  # a ModuleHooks, made by the first forward (pre-)hook

    def __call__(self, *args, **kwargs):
        hooks = self._module_hooks
        if hooks is None:
            return self.forward(*args, **kwargs)
        return hooks.call(self, args, kwargs)

    def register_forward_pre_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False):
        """Call ``hook(module, args)`` before each ``forward``, as PyTorch does: it may
        return the new positional arguments (a tuple, or one value that gets wrapped).
        With ``with_kwargs=True`` it is ``hook(module, args, kwargs)`` and may return
        ``(new_args, new_kwargs)``. ``prepend`` runs it before the hooks already there.
        Returns a handle with ``remove()``.

        >>> from tinygrad_memo import nn, Tensor
        >>> relu = nn.ReLU()
        >>> h = relu.register_forward_pre_hook(lambda m, args: -args[0])
        >>> relu(Tensor([1.0, -2.0])).numpy()
        array([0., 2.], dtype=float32)
        >>> h.remove()
        """
        hooks = self._hooks()
        return hooks.add(hooks.pre, hook, prepend, with_kwargs)

    def register_forward_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False):
        """Call ``hook(module, args, output)`` after each ``forward``, as PyTorch does: a
        value it returns replaces the output. With ``with_kwargs=True`` it is
        ``hook(module, args, kwargs, output)``; ``always_call=True`` calls it (with
        ``output=None``) even when ``forward`` raises. Returns a handle with ``remove()``.

        >>> from tinygrad_memo import nn, Tensor
        >>> shapes = []
        >>> mlp = nn.MLP(2, [3, 1])
        >>> hs = [m.register_forward_hook(lambda m, a, out: shapes.append(out.shape))
        ...       for m in mlp.layers]
        >>> _ = mlp(Tensor([[1.0, 2.0]])); shapes
        [(1, 3), (1, 1)]
        """
        hooks = self._hooks()
        return hooks.add(hooks.post, hook, prepend, with_kwargs, always_call)

    def _hooks(self) -> ModuleHooks:
        hooks = self._module_hooks
        if hooks is None:
            hooks = self._module_hooks = ModuleHooks()
        return hooks

    def __setattr__(self, name, value):
        buffers = self.__dict__.get("_buffers")
        if buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__!r} as buffer {name!r} "
                                "(a Tensor or None expected)")
            _check_buffer(name, value)
        else:
            _register(value)
        object.__setattr__(self, name, value)

    # -- buffers ---------------------------------------------------------------------------
    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Add a buffer: module state that is not a parameter (no gradient, not in
        ``parameters()``, not seen by optimizers), such as BatchNorm's running
        statistics. ``tensor`` is a Tensor, an array-like (made a Tensor) or None.
        A persistent buffer is in ``state_dict()`` and restored by ``load_state_dict()``.
        The buffer is the attribute ``name``; assigning a Tensor to it replaces it.

        >>> import numpy as np
        >>> from tinygrad_memo import nn
        >>> m = nn.Module()
        >>> m.register_buffer("count", np.zeros(2))
        >>> [n for n, _ in m.named_buffers()], list(m.state_dict()), m.parameters()
        (['count'], ['count'], [])
        """
        if not isinstance(name, str):
            raise TypeError(f"register_buffer: buffer name should be a string, got "
                            f"{type(name).__name__}")
        if not name:
            raise KeyError('register_buffer: buffer name can\'t be empty string ""')
        if "." in name:
            raise KeyError(f'register_buffer: buffer name can\'t contain ".", got {name!r}')
        buffers = self.__dict__.get("_buffers")
        if buffers is None:
            buffers = {}
            object.__setattr__(self, "_buffers", buffers)
        if name not in buffers and (name in self.__dict__ or hasattr(type(self), name)):
            raise KeyError(f"register_buffer: attribute {name!r} already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(np.asarray(tensor))
        _check_buffer(name, tensor)
        buffers[name] = bool(persistent)
        object.__setattr__(self, name, tensor)

    def _own_buffers(self):
        """(name, tensor, persistent) for this module's own buffers that are not None."""
        for name, persistent in (self.__dict__.get("_buffers") or {}).items():
            t = self.__dict__.get(name)
            if t is not None:
                yield name, t, persistent

    def named_buffers(self, prefix: str = ""):
        """(dotted name, buffer) for every buffer of this module and below, each object once.

        >>> from tinygrad_memo import nn
        >>> [n for n, _ in nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)).named_buffers()]
        ['1.running_mean', '1.running_var', '1.num_batches_tracked']
        """
        seen = set()
        for mod_name, module in self.named_modules(prefix):
            for name, t, _ in module._own_buffers():
                if id(t) not in seen:
                    seen.add(id(t))
                    yield (f"{mod_name}.{name}" if mod_name else name), t

    def buffers(self) -> list:
        """All buffers, as a list.

        >>> from tinygrad_memo import nn
        >>> [b.shape for b in nn.BatchNorm1d(3).buffers()]
        [(3,), (3,), ()]
        """
        return [t for _, t in self.named_buffers()]

    # -- discovery -------------------------------------------------------------------
    def _members(self):
        """(name, object) for every direct submodule and parameter, in attribute order
        (also inside list, tuple and dict attributes, nested)."""
        for name, value in vars(self).items():
            if name != "training":
                yield from _found(name, value)

    def named_children(self):
        """(name, module) for each direct submodule.

        >>> from tinygrad_memo import nn
        >>> [n for n, _ in nn.Sequential(nn.Linear(2, 2), nn.ReLU()).named_children()]
        ['0', '1']
        """
        seen = set()
        for name, obj in self._members():
            if isinstance(obj, Module) and id(obj) not in seen:
                seen.add(id(obj))
                yield name, obj

    def children(self):
        """The direct submodules.

        >>> from tinygrad_memo import nn
        >>> len(list(nn.MLP(2, [4, 4, 1]).children()))
        3
        """
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = ""):
        """(dotted name, module) for this module (name ``prefix``, ``""`` by default) and
        every module below it, parents before children, each module once.

        >>> from tinygrad_memo import nn
        >>> [n for n, _ in nn.MLP(2, [4, 1]).named_modules()]
        ['', 'layers.0', 'layers.1']
        """
        seen = {id(self)}
        stack = [(prefix, self)]
        while stack:  # iterative depth-first, in attribute order
            name, module = stack.pop()
            yield name, module
            kids = []
            for child_name, child in module.named_children():
                if id(child) not in seen:
                    seen.add(id(child))
                    kids.append((f"{name}.{child_name}" if name else child_name, child))
            stack.extend(reversed(kids))

    def modules(self):
        """This module and every module below it.

        >>> from tinygrad_memo import nn
        >>> len(list(nn.MLP(2, [4, 1]).modules()))
        3
        """
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix: str = ""):
        """(dotted name, parameter) for every parameter, each object once.

        Parameters are Tensors (with ``requires_grad=True``, or :class:`Parameter`)
        or Values. The order is a depth-first walk of the attributes in the order
        they were assigned (a submodule's parameters come where the submodule was
        assigned), so it is the same on every run.

        >>> from tinygrad_memo import nn
        >>> [(n, p.shape) for n, p in nn.Linear(3, 2).named_parameters()]
        [('weight', (2, 3)), ('bias', (2,))]
        """
        yield from self._walk(prefix, buffers=False)

    def _walk(self, prefix: str, buffers: bool):
        """(dotted name, object) for every parameter, each object once, in a
        depth-first walk of the attributes; with ``buffers``, each module's persistent
        buffers follow its members (BatchNorm: weight, bias, running_mean, ...)."""
        seen_params, seen_modules = set(), {id(self)}
        stack = [(prefix, iter(self._members()), self)]
        while stack:  # iterative depth-first walk
            mod_name, members, module = stack[-1]
            for name, obj in members:
                full = f"{mod_name}.{name}" if mod_name else name
                if isinstance(obj, Module):
                    if id(obj) not in seen_modules:
                        seen_modules.add(id(obj))
                        stack.append((full, iter(obj._members()), obj))
                        break
                elif id(obj) not in seen_params:
                    seen_params.add(id(obj))
                    yield full, obj
            else:
                stack.pop()
                if buffers:
                    for name, t, persistent in module._own_buffers():
                        if persistent and id(t) not in seen_params:
                            seen_params.add(id(t))
                            yield (f"{mod_name}.{name}" if mod_name else name), t

    def parameters(self) -> list:
        """All parameters, as a list (ready for an optimizer).

        >>> from tinygrad_memo import nn
        >>> sum(p.size for p in nn.MLP(2, [16, 16, 1]).parameters())
        337
        """
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Reset gradients: ``None`` for Tensor parameters, ``0.0`` for Value parameters.

        >>> from tinygrad_memo import nn, Tensor
        >>> lin = nn.Linear(2, 1)
        >>> _ = lin(Tensor([[1.0, 2.0]])).sum().backward()
        >>> lin.zero_grad(); lin.weight.grad is None
        True
        """
        if STATE.recorder is not None:  # inside tm.jit: every replay resets them again
            return STATE.recorder.effect(self.zero_grad)
        for p in self.parameters():
            if isinstance(p, Value):
                p.grad = 0.0
            else:
                p._grad = None

    # -- modes ---------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (``training=True``) here and in every submodule; returns self.

        >>> from tinygrad_memo import nn
        >>> nn.Dropout(0.5).train().training
        True
        """
        for module in self.modules():
            module.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode (``training=False``) everywhere; returns self.

        >>> from tinygrad_memo import nn
        >>> nn.Dropout(0.5).eval().training
        False
        """
        return self.train(False)

    # -- state -----------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict:
        """Name -> numpy array of every parameter and persistent buffer (copies: later
        training leaves them alone), with PyTorch's names (``running_mean``, ...).

        Value parameters give 0-d float64 arrays. The result can be written with
        ``tm.save`` and read back with ``tm.load``.

        >>> from tinygrad_memo import nn
        >>> {k: v.shape for k, v in nn.Linear(3, 2).state_dict().items()}
        {'weight': (2, 3), 'bias': (2,)}
        >>> list(nn.BatchNorm1d(2).state_dict())
        ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
        """
        out = OrderedDict()
        for name, p in self._walk("", buffers=True):
            if isinstance(p, Value):
                out[name] = np.array(p.data, dtype=np.float64)
            else:
                out[name] = p.data.copy()
        return out

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy the arrays of ``state_dict`` into the parameters and persistent buffers
        (in place, keeping each dtype).

        With ``strict=True`` (the default) a missing or unexpected key raises a
        KeyError listing them; with ``strict=False`` those keys are skipped and
        reported in the returned ``(missing_keys, unexpected_keys)``. A shape
        mismatch always raises a ValueError naming the key and both shapes.
        Nothing is changed unless every check passes. Values may be numpy
        arrays, Tensors or numbers.

        >>> from tinygrad_memo import nn
        >>> a, b = nn.Linear(2, 2), nn.Linear(2, 2)
        >>> b.load_state_dict(a.state_dict())
        IncompatibleKeys(missing_keys=[], unexpected_keys=[])
        >>> bool((a.weight.numpy() == b.weight.numpy()).all())
        True
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(
                f"load_state_dict: expected a mapping of names to arrays, "
                f"got {type(state_dict).__name__}"
            )
        params = OrderedDict(self._walk("", buffers=True))
        missing = [k for k in params if k not in state_dict]
        unexpected = [k for k in state_dict.keys() if k not in params]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append("missing keys: " + ", ".join(repr(k) for k in missing))
            if unexpected:
                parts.append("unexpected keys: " + ", ".join(repr(k) for k in unexpected))
            raise KeyError(
                f"load_state_dict: {type(self).__name__} state dict does not match ("
                + "; ".join(parts) + "); pass strict=False to load the matching keys only"
            )
        updates = []
        for name, p in params.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            arr = np.asarray(value.data if isinstance(value, (Tensor, Value)) else value)
            expected = () if isinstance(p, Value) else p.shape
            if arr.shape != expected:
                what = "parameter" if _is_param(p) else "buffer"
                raise ValueError(
                    f"load_state_dict: shape mismatch for {name!r}: the state dict has "
                    f"shape {arr.shape}, the {what} in the model has shape {expected}"
                )
            if arr.dtype.kind not in "fiub":
                raise ValueError(
                    f"load_state_dict: {name!r} has non-numeric dtype {arr.dtype}"
                )
            updates.append((p, arr))
        for p, arr in updates:
            if isinstance(p, Value):
                p.data = float(arr)
            else:
                p.data[...] = arr
                bump(p)
        return IncompatibleKeys(missing, unexpected)

    # -- printing ---------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (subclasses override).

        >>> from tinygrad_memo import nn
        >>> nn.Linear(2, 3).extra_repr()
        'in_features=2, out_features=3, bias=True'
        """
        return ""

    def __repr__(self) -> str:
        out: list = []
        stack: list = [(self, "", "")]  # (module, indent, "(name): ") or a closing line
        while stack:  # iterative: any nesting depth
            item = stack.pop()
            if isinstance(item, str):
                out.append(item)
                continue
            m, indent, prefix = item
            if type(m).__repr__ is not Module.__repr__:  # a module with its own repr
                out.append(indent + prefix + repr(m).replace("\n", "\n" + indent))
                continue
            kids = list(m.named_children())
            name = type(m).__name__
            if not kids:
                out.append(f"{indent}{prefix}{name}({m.extra_repr()})")
                continue
            out.append(f"{indent}{prefix}{name}(")
            if m.extra_repr():
                out.append(f"{indent}  {m.extra_repr()}")
            stack.append(indent + ")")
            stack.extend((child, indent + "  ", f"({n}): ") for n, child in reversed(kids))
        return "\n".join(out)

    # -- copy and pickle: the module tree flattened, so no depth of nesting recurses --------
    def __reduce_ex__(self, protocol):
        modules, index = [], {}
        stack = [self]
        while stack:
            m = stack.pop()
            if id(m) in index:
                continue
            index[id(m)] = len(modules)
            modules.append(m)
            stack.extend(_submodules(vars(m)))
        states = [(type(m), _swap(vars(m), lambda x: _Ref(index[id(x)]))) for m in modules]
        return _rebuild, (states,)


class _Ref(NamedTuple):
    """A module of a flattened tree, by its position (see Module.__reduce_ex__)."""

    index: int


def _submodules(value):
    """The modules directly held by an attribute dict (inside containers too), iteratively."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, Module):
            yield v
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.values())


def _swap(value, to):
    """``value`` with every Module (or _Ref) in it, inside containers, replaced by ``to(x)``."""
    if isinstance(value, (Module, _Ref)):
        return to(value)
    if isinstance(value, dict):
        return {k: _swap(v, to) for k, v in value.items()}
    if isinstance(value, list):
        return [_swap(v, to) for v in value]
    if isinstance(value, tuple) and type(value) is tuple:
        return tuple(_swap(v, to) for v in value)
    return value


def _rebuild(states):
    """The module tree of Module.__reduce_ex__, rebuilt (the first module is the root)."""
    modules = [object.__new__(cls) for cls, _ in states]
    for m, (_, state) in zip(modules, states):
        vars(m).update(_swap(state, lambda r: modules[r.index]))
    return modules[0]
