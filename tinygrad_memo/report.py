"""What the memo holds: the arrays each node of a graph keeps for its backward.

The forward pass stores what each derivative rule will need (an op's inputs, its
output, masks it computed); that storage is the price of the memoized backward,
and on deep models it is what runs out first. :func:`saved_tensors_report` lists
it node by node: which input or output each saved array is, its shape, dtype
and bytes, and the total, counting each buffer once (a layer's output saved by
two consumers is one buffer). Saved arrays that are leaves' data (parameters,
inputs) are held anyway; the rest are the memo's own cost.

A Value node keeps its local derivatives (one float per input, computed beside
the forward); a Tensor node keeps ``grad_fn.saved_tensors`` and the arrays its
op put on ``grad_fn``. Nodes already released by a backward keep nothing, and
nodes inside a ``tm.checkpoint`` keep nothing until backward recomputes them.

>>> import tinygrad_memo as tm
>>> x = tm.Tensor([[1.0, 2.0]], requires_grad=True)
>>> r = tm.saved_tensors_report(x.tanh().sum())
>>> [(row.op, row.saved, row.nbytes) for row in r.rows]
[('tanh', 'output', 8)]
>>> r.total_bytes, r.leaf_bytes
(8, 0)
"""

from __future__ import annotations

import inspect
from typing import NamedTuple

import numpy as np

from .engine import topological_order

__all__ = ["OpSummary", "SavedArray", "SavedTensorsReport", "saved_tensors_report"]


class SavedArray(NamedTuple):
    """One array a node keeps for its backward.

    ``node``: the node's position in topological order (leaves count too);
    ``op``: its op's name; ``saved``: what the array is (``"output"``,
    ``"input 0 (x)"``, ``"view of input 0 (x)"``, ``"grad_fn.weight"``,
    ``"d/d input 0"`` for a Value's local derivative, ...); ``leaf``: whether it is
    a leaf's data (held anyway, not by the memo).

    >>> SavedArray(1, "tanh", "output", (2,), "float32", 8, False).nbytes
    8
    """

    node: int
    op: str
    saved: str
    shape: tuple
    dtype: str
    nbytes: int
    leaf: bool


class OpSummary(NamedTuple):
    """Per op: how many nodes, how many saved arrays, and their bytes (each buffer once).

    >>> OpSummary(nodes=2, arrays=3, nbytes=24).arrays
    3
    """

    nodes: int
    arrays: int
    nbytes: int


class SavedTensorsReport:
    """The result of :func:`saved_tensors_report`: ``rows`` (one :class:`SavedArray`
    each), ``nodes`` (interior nodes), ``released`` (those that keep nothing because
    a backward released them or a checkpoint will recompute them), ``total_bytes``
    (each buffer once) and ``leaf_bytes`` (the part that is leaves' data).
    ``str()`` is a table; :meth:`by_op` sums per op.

    >>> import tinygrad_memo as tm
    >>> x = tm.Tensor([1.0, 2.0], requires_grad=True)
    >>> print(tm.saved_tensors_report((x * x).sum()))  # doctest: +NORMALIZE_WHITESPACE
    saved for backward: 2 interior nodes, 2 arrays, 8 B (each buffer once; 8 B of it leaves' data)
     node  op   saved        shape  dtype    bytes
        1  mul  input 0 (a)  (2,)   float32      8  (leaf)
        1  mul  input 1 (b)  (2,)   float32      8  (leaf)
    """

    def __init__(self, rows: list, nodes: int, released: int, total_bytes: int,
                 leaf_bytes: int, buffers: dict):
        self.rows = rows
        self.nodes = nodes
        self.released = released
        self.total_bytes = total_bytes
        self.leaf_bytes = leaf_bytes
        self._buffers = buffers  # row index -> buffer key (for by_op's distinct bytes)

    @property
    def memo_bytes(self) -> int:
        """The bytes the memo itself holds: saved arrays that are not leaves' data.

        >>> import tinygrad_memo as tm
        >>> x = tm.Tensor([1.0, 2.0], requires_grad=True)
        >>> tm.saved_tensors_report(x.exp().sum()).memo_bytes
        8
        """
        return self.total_bytes - self.leaf_bytes

    def by_op(self) -> dict:
        """op name -> :class:`OpSummary`, the ops with the most bytes first.

        >>> import tinygrad_memo as tm
        >>> x = tm.Tensor([1.0, 2.0], requires_grad=True)
        >>> tm.saved_tensors_report((x.exp() * x.exp()).sum()).by_op()
        {'exp': OpSummary(nodes=2, arrays=2, nbytes=16), 'mul': OpSummary(nodes=1, arrays=2, nbytes=16)}
        """
        nodes: dict = {}
        arrays: dict = {}
        buffers: dict = {}
        for i, row in enumerate(self.rows):
            nodes.setdefault(row.op, set()).add(row.node)
            arrays[row.op] = arrays.get(row.op, 0) + 1
            key, nbytes = self._buffers[i]
            buffers.setdefault(row.op, {})[key] = nbytes
        out = {op: OpSummary(len(nodes[op]), arrays[op], sum(buffers[op].values())) for op in nodes}
        return dict(sorted(out.items(), key=lambda kv: -kv[1].nbytes))

    def table(self, limit: int | None = None) -> str:
        """The report as text: a summary line, then one row per saved array (the
        first ``limit`` rows when given).

        >>> import tinygrad_memo as tm
        >>> x = tm.Tensor([1.0, 2.0], requires_grad=True)
        >>> print(tm.saved_tensors_report(x.exp().sum()).table(limit=0))
        saved for backward: 2 interior nodes, 1 arrays, 8 B (each buffer once; 0 B of it leaves' data)
        """
        head = (f"saved for backward: {self.nodes} interior nodes, {len(self.rows)} arrays, "
                f"{format_bytes(self.total_bytes)} (each buffer once; "
                f"{format_bytes(self.leaf_bytes)} of it leaves' data)")
        if self.released:
            head += f"; {self.released} nodes keep nothing (released or checkpointed)"
        rows = self.rows if limit is None else self.rows[:limit]
        if not rows:
            return head
        cells = [("node", "op", "saved", "shape", "dtype", "bytes", "")]
        cells += [(str(r.node), r.op, r.saved, str(r.shape), r.dtype, f"{r.nbytes:,}",
                   "(leaf)" if r.leaf else "") for r in rows]
        widths = [max(len(c[i]) for c in cells) for i in range(7)]
        right = {0, 5}
        lines = [head]
        for c in cells:
            line = " " + "  ".join(c[i].rjust(widths[i]) if i in right else c[i].ljust(widths[i])
                                   for i in range(7))
            lines.append(line.rstrip())
        if limit is not None and len(self.rows) > limit:
            lines.append(f" ... {len(self.rows) - limit} more rows")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return (f"<SavedTensorsReport: {self.nodes} nodes, {len(self.rows)} arrays, "
                f"{format_bytes(self.total_bytes)}>")


def format_bytes(n: int) -> str:
    """``n`` bytes, readable.

    >>> format_bytes(512), format_bytes(3 * 1024 ** 2)
    ('512 B', '3.0 MiB')
    """
    for unit, size in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def saved_tensors_report(root) -> SavedTensorsReport:
    """What the graph of ``root`` (a node or a list) keeps for its backward, per node.

    >>> import tinygrad_memo as tm
    >>> from tinygrad_memo import nn
    >>> lin = nn.Linear(3, 2)
    >>> r = tm.saved_tensors_report(lin(tm.Tensor.ones(4, 3)).tanh().sum())
    >>> [(row.op, row.saved, row.leaf) for row in r.rows]
    [('linear', 'input 0 (x)', True), ('linear', 'input 1 (weight)', True), ('tanh', 'output', False)]
    """
    rows: list = []
    buffers: dict = {}  # buffer key -> bytes, each buffer once
    leaf_buffers: dict = {}
    row_buffers: dict = {}
    interior = released = 0
    for i, node in enumerate(topological_order(root)):
        if not node._inputs:
            continue
        interior += 1
        found = _saved(node)
        if found is None:
            released += 1
            continue
        op, items = found
        for what, arr, leaf in items:
            key, nbytes = _buffer(arr, i, what)
            row_buffers[len(rows)] = (key, nbytes)
            buffers[key] = nbytes
            if leaf:
                leaf_buffers[key] = nbytes
            rows.append(SavedArray(i, op, what, tuple(np.shape(arr)), str(_dtype(arr)),
                                   int(getattr(arr, "nbytes", 8)), leaf))
    return SavedTensorsReport(rows, interior, released, sum(buffers.values()),
                              sum(leaf_buffers.values()), row_buffers)


def _dtype(arr):
    return arr.dtype if isinstance(arr, np.ndarray | np.generic) else np.dtype(np.float64)


def _buffer(arr, i: int, what: str):
    """(identity of the memory an array lives in, that memory's size)."""
    if not isinstance(arr, np.ndarray):  # a Value's local derivative: its own float
        return ("float", i, what), 8
    base = _root(arr)
    return ("array", id(base)), base.nbytes


def _root(arr: np.ndarray) -> np.ndarray:
    """The array that owns the memory ``arr`` views."""
    while isinstance(arr.base, np.ndarray):
        arr = arr.base
    return arr


def _saved(node):
    """``(op name, [(what, array, is a leaf's data), ...])``, or None if nothing is kept."""
    if getattr(node, "released", False) is True:  # what a released graph keeps: no arrays
        return None
    ctx = getattr(node, "_ctx", None)
    if ctx is None:  # a Value: its local derivatives
        d0 = node._d0
        if d0 is None:
            return None
        ins = node._inputs
        ds = [d0] if node._d1 is None else [d0, node._d1]
        return node.grad_fn.name, [(f"d/d input {k}" if len(ins) > 1 or len(ds) > 1
                                    else "d/d input", d, False) for k, d in enumerate(ds)]
    if ctx.released:
        return None
    items = []
    names = _param_names(ctx.fn)
    for k, s in enumerate(ctx.saved_tensors):
        if isinstance(s, np.ndarray):
            items.append(_identify(node, ctx, s, names, k))
    for k, v in ctx.__dict__.items():
        if isinstance(v, np.ndarray) and v.ndim:
            items.append((f"grad_fn.{k}", v, False))
    return ctx.name, items


def _identify(node, ctx, s, names, k):
    """What saved array ``s`` (the ``k``-th saved) is: the output, an input (the
    ``k``-th first, so ``x * x`` shows both), a view of one, or something computed."""
    if s is node.data:
        return "output", s, False
    args = ctx.call_args
    order = ([k] if k < len(args) else []) + list(range(len(args)))
    root = _root(s)
    for j in order:
        a = args[j]
        d = getattr(a, "data", a)
        if d is s or (isinstance(d, np.ndarray) and _root(d) is root):
            label = f"input {j} ({names[j]})" if j < len(names) else f"input {j}"
            leaf = a is not d and not a._inputs
            return (label if d is s else "view of " + label), s, leaf
    return "computed in forward", s, False


_NAMES: dict = {}


def _param_names(fn) -> list:
    names = _NAMES.get(fn)
    if names is None:
        try:
            params = list(inspect.signature(fn.forward).parameters.values())[1:]
        except (TypeError, ValueError):  # pragma: no cover - a forward without a signature
            params = []
        names = _NAMES[fn] = [p.name for p in params if p.kind is not p.VAR_POSITIONAL]
    return names
