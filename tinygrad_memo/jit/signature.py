"""The guard of a plan: what a call must share with the recorded one to be replayed.

A call's arguments are flattened into their leaves (lists, tuples and dicts are
walked; everything else is a leaf) and described by a hashable *signature*:

* a Tensor by its shape, dtype and ``requires_grad``; a Value by ``requires_grad``;
  a numpy array by its shape and dtype (these are the traced inputs: their data
  may change from call to call);
* a number, string, None or bool by its value (it is baked into the plan);
* any other object (a Module, a function) by its identity.

The structure (which containers, their lengths, the dict keys, the keyword names)
is part of the signature too, as is the grad mode (``no_grad``).

Parameters that the function reads from outside (through ``self``, its closure,
the globals it names, or an object passed as an argument: Modules, lists, tuples,
dicts and the attributes of those) are *captured*: their data are read at every
replay, and :class:`Links` checks before each replay that every one of them is
still the object that was recorded (``model.fc = nn.Linear(...)`` gives a new plan),
and that every Module found there is still in the mode it was (``train()``/``eval()``).
Other Python values the function reads (a dropout's ``p``, a flag) are baked in.
"""

from __future__ import annotations

import operator

import numpy as np

from ..tensor import Tensor
from ..value import Value

__all__ = ["Links", "flatten", "leaf_key", "signature", "unflatten"]

_STATIC = (bool, int, float, complex, str, bytes, type(None), np.generic)


def flatten(tree, leaves: list):
    """Append the leaves of ``tree`` to ``leaves``; return the tree's structure.

    >>> leaves = []
    >>> s = flatten([1.0, (2, {"a": 3})], leaves)
    >>> leaves, unflatten(s, iter("xyz"))
    ([1.0, 2, 3], ['x', ('y', {'a': 'z'})])
    """
    t = type(tree)
    if t is list or t is tuple:
        return (t, tuple(flatten(x, leaves) for x in tree))
    if t is dict:
        return (dict, tuple((k, flatten(v, leaves)) for k, v in tree.items()))
    leaves.append(tree)
    return None


def unflatten(structure, leaves):
    """The tree of ``structure`` with its leaves taken from the iterator ``leaves``."""
    if structure is None:
        return next(leaves)
    t, items = structure
    if t is dict:
        return {k: unflatten(v, leaves) for k, v in items}
    return t(unflatten(x, leaves) for x in items)


def leaf_key(x):
    """What the signature holds of one leaf (see :func:`signature`)."""
    t = type(x)
    if t is np.ndarray:  # (the common leaves first: a batch of data, a Tensor)
        return ("A", x.shape, x.dtype)
    if t is Tensor or isinstance(x, Tensor):
        d = x.data
        return ("T", d.shape, d.dtype, x._rg)
    if t is Value or isinstance(x, Value):
        return ("V", x._d0 is not False)
    if t is float or t is int or isinstance(x, _STATIC):
        return (t, x)
    return ("id", id(x))


def signature(leaves: list, structure, grad_enabled: bool) -> tuple:
    """The hashable guard key of a call (its flattened ``leaves`` and ``structure``).

    >>> import tinygrad_memo as tm
    >>> a = signature([tm.Tensor([1.0, 2.0]), 3], None, True)
    >>> b = signature([tm.Tensor([5.0, 6.0]), 3], None, True)
    >>> c = signature([tm.Tensor([5.0, 6.0]), 4], None, True)
    >>> a == b, a == c
    (True, False)
    """
    return (grad_enabled, structure, tuple(map(leaf_key, leaves)))


def _children(obj):
    """(key, child) pairs of a container the guard looks into, else ()."""
    t = type(obj)
    if t is list or t is tuple:
        return enumerate(obj)
    if t is dict:
        return obj.items()
    d = getattr(obj, "__dict__", None)
    if d is not None and _is_module(obj):
        return d.items()
    return ()


def _is_module(obj) -> bool:
    from ..nn.module import Module  # (nn builds on tensor and value: imported late)

    return isinstance(obj, Module)


_MISSING = object()
_MAX_OBJECTS = 100_000  # the search for captured parameters stops after this many objects


class Links:
    """The chains of references from a function's surroundings to the parameters a
    recording captured, checked before each replay (see the module docstring).

    ``roots``: (getter, object) pairs: ``getter()`` returns what the root is now.

    >>> import tinygrad_memo as tm
    >>> w = tm.Tensor([1.0], requires_grad=True)
    >>> box = {"w": w}
    >>> links = Links([(lambda: box, box)], [w])
    >>> links.hold(), links.found
    (True, 1)
    >>> box["w"] = tm.Tensor([2.0], requires_grad=True)
    >>> links.hold()
    False
    """

    def __init__(self, roots: list, captured: list):
        wanted = {id(c) for c in captured}
        parent: dict = {}  # id(obj) -> (id(parent obj) or None, key, obj): the first path to it
        roots_ok = []
        queue = []
        for getter, obj in roots:
            if id(obj) not in parent:
                parent[id(obj)] = (None, getter, obj)
                roots_ok.append((getter, obj))
                queue.append(obj)
        self.modules = []  # (module, its training flag)
        i = 0
        while i < len(queue) and i < _MAX_OBJECTS:
            obj = queue[i]
            i += 1
            if id(obj) in wanted:
                continue
            if _is_module(obj):
                self.modules.append((obj, obj.training))
            for key, child in _children(obj):
                if id(child) not in parent and (id(child) in wanted or _children(child) != ()):
                    parent[id(child)] = (id(obj), key, child)
                    queue.append(child)
        # the links on the paths to the captured parameters, parents first
        needed: dict = {}
        for c in captured:
            k = id(c)
            while k is not None and k in parent and k not in needed:
                p, key, obj = parent[k]
                needed[k] = (p, key, obj)
                k = p
        self.found = sum(1 for c in captured if id(c) in needed)
        objects = {k: v[2] for k, v in needed.items()}
        order = sorted(needed.items(), key=lambda kv: _depth(kv[0], needed))
        self.roots = [(v[1], v[2]) for k, v in order if v[0] is None]
        self.links = [(objects[v[0]], v[1], v[2]) for k, v in order if v[0] is not None]

        # the links, in the form hold() checks with C-level maps: dictionary entries
        # (a Module's attributes, a dict's items) and whole lists and tuples
        self._dicts, self._keys, self._children, self._seqs = [], [], [], []
        seqs = {}
        for parent, key, child in self.links:
            if type(parent) in (list, tuple):
                seqs[id(parent)] = parent
            else:
                self._dicts.append(parent if type(parent) is dict else parent.__dict__)
                self._keys.append(key)
                self._children.append(child)
        self._seqs = [(seq, tuple(seq)) for seq in seqs.values()]
        self._mods = [m for m, _ in self.modules]
        self._flags = [t for _, t in self.modules]

    def hold(self) -> bool:
        """Whether every recorded root and link still leads to the same object, and
        every module is in the same mode."""
        if list(map(_TRAINING, self._mods)) != self._flags:
            return False
        for getter, obj in self.roots:
            if getter() is not obj:
                return False
        if not all(map(operator.is_, map(dict.get, self._dicts, self._keys), self._children)):
            return False
        for seq, items in self._seqs:
            if len(seq) != len(items) or not all(map(operator.is_, seq, items)):
                return False
        return True


_TRAINING = operator.attrgetter("training")


def _depth(k, needed) -> int:
    d = 0
    while needed[k][0] is not None:
        k = needed[k][0]
        d += 1
    return d


def roots_of(fn) -> list:
    """(getter, object) pairs for what ``fn`` reaches: ``self`` of a bound method (or
    the callable object itself), its closure cells, its defaults and the globals its
    code names."""
    out = []
    self_ = getattr(fn, "__self__", None)
    if self_ is not None:
        out.append((lambda s=self_: s, self_))
        fn = getattr(fn, "__func__", fn)
    code = getattr(fn, "__code__", None)
    if code is None:  # a callable object (a Module): itself
        return [(lambda f=fn: f, fn)]
    for cell in fn.__closure__ or ():
        try:
            obj = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        out.append((lambda c=cell: c.cell_contents, obj))
    for obj in fn.__defaults__ or ():
        out.append((lambda o=obj: o, obj))
    g = fn.__globals__
    for name in _names(code):
        if name in g:
            obj = g[name]
            out.append((lambda n=name: g.get(n, _MISSING), obj))
    return [(get, obj) for get, obj in out if _children(obj) != () or _is_node(obj)]


def _names(code) -> set:
    names = set(code.co_names)
    for c in code.co_consts:  # nested functions and comprehensions
        if hasattr(c, "co_names"):
            names |= _names(c)
    return names


def _is_node(x) -> bool:
    return isinstance(x, Tensor | Value)
