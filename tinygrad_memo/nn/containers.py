"""Containers that hold submodules: :class:`ModuleList` and :class:`ModuleDict`.

(Modules kept in plain lists, tuples and dicts are found too; these add PyTorch's
list and dict methods and names.)

>>> from tinygrad_memo import nn
>>> blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
>>> heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 3)})
>>> len(blocks), list(heads), [k for k in heads.state_dict()][:2]
(3, ['a', 'b'], ['a.weight', 'a.bias'])
"""

from __future__ import annotations

from .module import Module, _found

__all__ = ["ModuleDict", "ModuleList"]


def _module(where: str, m):
    if not isinstance(m, Module):
        raise TypeError(f"{where}: expected a Module, got {type(m).__name__}")
    return m


class ModuleList(Module):
    """A list of modules, indexed like a list; children are named ``0``, ``1``, ... .

    >>> from tinygrad_memo import nn
    >>> layers = nn.ModuleList([nn.Linear(4, 4)])
    >>> _ = layers.append(nn.Linear(4, 2)).extend([nn.ReLU()])
    >>> len(layers), type(layers[-1]).__name__, [n for n, _ in layers.named_parameters()][-1]
    (3, 'ReLU', '1.bias')
    """

    def __init__(self, modules=()):
        super().__init__()
        self._list = [_module("ModuleList", m) for m in modules]

    def _members(self):
        for i, m in enumerate(self._list):
            yield from _found(str(i), m)

    def __len__(self) -> int:
        return len(self._list)

    def __iter__(self):
        return iter(self._list)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return ModuleList(self._list[i])
        return self._list[i]

    def __setitem__(self, i, m) -> None:
        self._list[i] = _module("ModuleList", m)

    def __delitem__(self, i) -> None:
        del self._list[i]

    def append(self, m) -> ModuleList:
        """Add a module at the end (returns the list, as PyTorch's).

        >>> from tinygrad_memo import nn
        >>> len(nn.ModuleList().append(nn.ReLU()))
        1
        """
        self._list.append(_module("ModuleList.append", m))
        return self

    def extend(self, modules) -> ModuleList:
        """Add modules at the end.

        >>> from tinygrad_memo import nn
        >>> len(nn.ModuleList().extend([nn.ReLU(), nn.Tanh()]))
        2
        """
        self._list.extend(_module("ModuleList.extend", m) for m in modules)
        return self

    def insert(self, index: int, m) -> None:
        """Insert a module before ``index``.

        >>> from tinygrad_memo import nn
        >>> ml = nn.ModuleList([nn.ReLU()]); ml.insert(0, nn.Tanh()); type(ml[0]).__name__
        'Tanh'
        """
        self._list.insert(index, _module("ModuleList.insert", m))

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward: iterate over it in yours")


class ModuleDict(Module):
    """Modules by name (insertion order), with dict methods; children are named by key.

    >>> from tinygrad_memo import nn
    >>> d = nn.ModuleDict({"enc": nn.Linear(3, 2)}); d["dec"] = nn.Linear(2, 3)
    >>> list(d.keys()), "enc" in d, [n for n, _ in d.named_parameters()][-1]
    (['enc', 'dec'], True, 'dec.bias')
    """

    def __init__(self, modules=None):
        super().__init__()
        self._dict: dict = {}
        if modules is not None:
            self.update(modules)

    def _members(self):
        for k, m in self._dict.items():
            yield from _found(k, m)

    def __getitem__(self, key: str):
        return self._dict[key]

    def __setitem__(self, key: str, m) -> None:
        if not isinstance(key, str) or not key or "." in key:
            raise KeyError(f"ModuleDict: keys must be non-empty strings without '.', got {key!r}")
        self._dict[key] = _module("ModuleDict", m)

    def __delitem__(self, key: str) -> None:
        del self._dict[key]

    def __contains__(self, key) -> bool:
        return key in self._dict

    def __len__(self) -> int:
        return len(self._dict)

    def __iter__(self):
        return iter(self._dict)

    def keys(self):
        """The names, in insertion order.

        >>> from tinygrad_memo import nn
        >>> list(nn.ModuleDict({"a": nn.ReLU()}).keys())
        ['a']
        """
        return self._dict.keys()

    def values(self):
        """The modules, in insertion order.

        >>> from tinygrad_memo import nn
        >>> len(list(nn.ModuleDict({"a": nn.ReLU()}).values()))
        1
        """
        return self._dict.values()

    def items(self):
        """(name, module) pairs, in insertion order.

        >>> from tinygrad_memo import nn
        >>> [k for k, _ in nn.ModuleDict({"a": nn.ReLU()}).items()]
        ['a']
        """
        return self._dict.items()

    def update(self, modules) -> None:
        """Add (or replace) modules from a mapping or from (name, module) pairs.

        >>> from tinygrad_memo import nn
        >>> d = nn.ModuleDict(); d.update([("x", nn.ReLU())]); list(d)
        ['x']
        """
        pairs = modules.items() if hasattr(modules, "items") else modules
        for k, m in pairs:
            self[k] = m

    def pop(self, key: str):
        """Remove and return the module named ``key``.

        >>> from tinygrad_memo import nn
        >>> d = nn.ModuleDict({"a": nn.ReLU()}); type(d.pop("a")).__name__, len(d)
        ('ReLU', 0)
        """
        return self._dict.pop(key)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward: pick modules by name in yours")
