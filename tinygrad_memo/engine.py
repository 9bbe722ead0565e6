"""The one algorithm: backpropagation as the chain rule evaluated with memoization.

The engine knows nothing of ``Value`` or ``Tensor``. It works on any *node* that
follows this small protocol:

``node._inputs``
    tuple of the nodes it was computed from (only those a gradient can flow to).
``node._seq``
    its creation number from :func:`next_seq`: every input is older than its
    consumer, so sorting by ``_seq`` is a topological order.
``node._vjp(g, create_graph, release=False) -> sequence``
    the vector-Jacobian product: for each input, ``g`` times the local derivative
    of this node with respect to that input (``None`` where nothing flows). With
    ``release`` (``retain_graph=False``) it also drops what the forward pass saved
    for it; a later ``_vjp`` must then raise ``RuntimeError(GRAPH_FREED)``.
``node._deliver(g, create_graph)``
    a leaf receives its complete gradient (and accumulates it into ``.grad``).
``node._retain``
    whether an interior node keeps its gradient in ``.grad`` (Values always do,
    Tensors after ``retain_grad()``).

Each node's gradient lives in one memo slot. Every consumer adds its contribution
into that slot; because nodes are visited in reverse topological order, the slot
is complete before the node's own derivative rule runs. The rule runs once, for
all inputs together, and the slot is popped (freed) right after: one
local-derivative evaluation per edge, O(nodes + edges) in all.

``naive_grad`` is the same chain rule *without* memoization: it walks every path
from the output to the inputs. It is exponential on graphs with reuse, and it is
the independent oracle of the tests and of the demo.
"""

from __future__ import annotations

import itertools
import operator
from typing import NamedTuple

from numpy import ndarray

__all__ = ["BackwardStats", "GRAPH_FREED", "backward", "count_paths", "naive_grad",
           "next_seq", "topological_order"]

GRAPH_FREED = (
    "Trying to backward through the graph a second time (or to read saved values "
    "after they were freed). The saved intermediate values are freed by backward(); "
    "specify retain_graph=True the first time you call backward() if you need to "
    "backward through the graph again."
)


class BackwardStats(NamedTuple):
    """What one backward pass did, and what the naive chain rule would have done.

    ``nodes``: nodes in the graph; ``edges``: input edges among them;
    ``local_grads``: local-derivative evaluations (one per edge that carried a
    gradient); ``paths``: output-to-leaf paths, counted by dynamic programming:
    the number of path products the unmemoized chain rule evaluates.

    >>> from tinygrad_memo import Value
    >>> a = Value(2.0); b = a * a; c = b * b
    >>> c.backward()
    BackwardStats(nodes=3, edges=4, local_grads=4, paths=4)
    """

    nodes: int
    edges: int
    local_grads: int
    paths: int


next_seq = itertools.count().__next__  # creation numbers for nodes of every kind


def topological_order(root) -> list:
    """All nodes reachable from ``root`` (or a list of roots), inputs before consumers.

    One iterative sweep collects the nodes (so a chain of a million nodes needs no
    recursion), then they are sorted by creation number: an input is always
    created before its consumers. A graph edited by hand so that an input is not
    older than its consumer (a cycle is the extreme case) raises ``RuntimeError``.

    >>> from tinygrad_memo import Value
    >>> a = Value(1.0, label="a"); b = a + a; c = b * a
    >>> [n.label or n._op for n in topological_order(c)]
    ['a', '+', '*']
    """
    roots = root if isinstance(root, (list, tuple)) else (root,)
    seen = set(roots)  # nodes hash by identity
    stack = list(seen)
    add, push, pop = seen.add, stack.append, stack.pop
    while stack:
        node = pop()
        seq = node._seq
        for child in node._inputs:
            if child._seq >= seq:
                _cycle(node, child)
            if child not in seen:
                add(child)
                push(child)
    return sorted(seen, key=_by_seq)


_by_seq = operator.attrgetter("_seq")


def _cycle(node, child):
    raise RuntimeError(
        f"topological_order: {child!r} is an input of {node!r} but was not created before it; "
        "the graph was edited by hand into a cycle (a computation graph must be acyclic)"
    )


def count_paths(order: list) -> int:
    """Number of paths from the root(s) to the leaves of ``order`` (a topological
    order, root last), by dynamic programming over the edges.

    >>> from tinygrad_memo import Value
    >>> a = Value(1.0); b = a + a; c = b + b; d = c + c
    >>> count_paths(topological_order(d))
    8
    """
    reach: dict = {}  # node -> paths from the root(s) to it
    total = 0
    for node in reversed(order):
        n = reach.pop(node, 1)
        ins = node._inputs
        if not ins:
            total += n
        for p in ins:
            reach[p] = reach.get(p, 0) + n
    return total


def backward(root, grad=None, retain_graph: bool = False, create_graph: bool = False,
             inputs=None):
    """Memoized reverse pass from ``root`` (a node, or a list of nodes with a list
    of seed gradients in ``grad``).

    With ``inputs=None`` each leaf's complete gradient is handed to
    ``node._deliver`` (interior nodes with ``_retain`` keep theirs in ``.grad``)
    and a :class:`BackwardStats` is returned. With a list of
    ``inputs``, nothing is delivered and the list of their gradients (``None``
    where no path leads) is returned instead: this is ``tm.grad``.

    >>> from tinygrad_memo import Value
    >>> from tinygrad_memo.engine import backward
    >>> x = Value(3.0); y = x * x + x
    >>> backward(y, 1.0)
    BackwardStats(nodes=3, edges=4, local_grads=4, paths=3)
    >>> x.grad
    7.0
    """
    roots = list(root) if isinstance(root, (list, tuple)) else [root]
    seeds = list(grad) if isinstance(root, (list, tuple)) else [grad]
    order = topological_order(roots)
    # The memo slots: node -> [gradient so far, paths from the roots to it, owned].
    # "owned": the slot may add into its value with +=, because the value is a
    # number or graph node (+= rebinds) or an array made fresh for this input alone
    # (by its consumer's derivative rule, or by the engine's own sum). Any other
    # array may be shared with the upstream gradient or a sibling input, and is
    # never written into.
    memo: dict = {}  # keyed by node (nodes hash by identity)
    for r, g in zip(roots, seeds):
        e = memo.get(r)
        if e is None:
            memo[r] = [g, 1, False]
        else:  # the same root listed twice
            e[0], e[1], e[2] = e[0] + g, e[1] + 1, True
    wanted = None
    if inputs is not None:
        wanted = {}
        for i, x in enumerate(inputs):  # an input may be listed more than once
            wanted.setdefault(x, []).append(i)
    found: list = [None] * (0 if inputs is None else len(inputs))
    edges = local = paths = 0
    pop, get = memo.pop, memo.get
    for node in reversed(order):
        g, n, own = pop(node)  # every node below a root got its slot from a consumer
        ins = node._inputs
        if not ins:
            paths += n
            if g is not None:
                if wanted is None:
                    if not own and type(g) is ndarray:
                        g = g.copy()  # a leaf keeps its gradient: never share its array
                    node._deliver(g, create_graph)
                elif node in wanted:
                    for i in wanted[node]:
                        found[i] = g
            continue
        k = len(ins)
        edges += k
        if g is None:
            grads = (None,) * k
        else:
            if wanted is None:
                if node._retain:  # an interior node that keeps its gradient
                    node.grad = g.copy() if type(g) is ndarray else g
            elif node in wanted:
                for i in wanted[node]:
                    found[i] = g
            grads = node._vjp(g, create_graph, not retain_graph)
            local += k
        for p, pg in zip(ins, grads):
            e = get(p)
            if e is None:
                memo[p] = [pg, n, type(pg) is not ndarray or _fresh(pg, g, grads)]
            else:
                e[1] += n
                if pg is None:
                    continue
                s = e[0]
                if s is None:
                    e[0] = pg
                    e[2] = type(pg) is not ndarray or _fresh(pg, g, grads)
                elif e[2]:
                    s += pg  # in place into an array the slot owns (numbers just rebind)
                    e[0] = s
                else:
                    e[0] = s + pg  # a fresh sum: the slot owns it from now on
                    e[2] = True
    if inputs is not None:
        return found
    return BackwardStats(len(order), edges, local, paths)


def _fresh(pg, g, grads) -> bool:
    """Whether a derivative rule made ``pg`` for this one input: not the upstream
    gradient, not a view of another array, not handed to a sibling input too."""
    if pg is g or pg.base is not None:
        return False
    n = 0
    for x in grads:
        if x is pg:
            n += 1
    return n == 1


def naive_grad(root, wrt: list):
    """The chain rule without memoization: enumerate every path from ``root``.

    Each path from the output down to a leaf carries its own product of local
    derivatives (for tensors, its own vector-Jacobian chain); where a path passes
    a ``wrt`` node, its product is added to that node's gradient. Nothing is
    shared between paths, so the work grows with the number of paths:
    exponential once nodes are reused.

    Returns ``(grads, evaluations)``: ``evaluations`` is the number of root-to-leaf
    path products evaluated, equal to ``BackwardStats.paths``. The root must be a
    scalar. It only reads the graph (never frees or changes it) and is iterative.

    >>> from tinygrad_memo import Value
    >>> a = Value(2.0); b = a * a; c = b * b
    >>> naive_grad(c, [a])
    ([32.0], 4)
    """
    index = {id(x): i for i, x in enumerate(wrt)}
    grads: list = [None] * len(wrt)
    evaluations = 0
    stack = [(root, _unit(root))]  # one entry per path prefix: (its end, its product)
    while stack:
        node, prod = stack.pop()
        i = index.get(id(node))
        if i is not None:
            grads[i] = prod + 0 if grads[i] is None else grads[i] + prod
        ins = node._inputs
        if not ins:
            evaluations += 1
            continue
        for p, d in zip(ins, node._vjp(prod, False)):
            if d is not None:
                stack.append((p, d))
    return grads, evaluations


def _unit(root):
    """The seed gradient 1 for ``root``'s kind of data (a float or a 0-d array)."""
    data = root.data
    shape = getattr(data, "shape", None)
    if shape is None:
        return 1.0
    if shape != ():
        raise RuntimeError(f"naive_grad: the root must be a scalar, got shape {tuple(shape)}")
    return data * 0 + 1
