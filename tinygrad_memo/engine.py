"""The one algorithm: backpropagation as the chain rule evaluated with memoization.

The engine knows nothing of ``Value`` or ``Tensor``. It works on any *node* that
follows this small protocol:

``node._inputs``
    tuple of the nodes it was computed from (only those a gradient can flow to).
``node._vjp(g, create_graph) -> sequence``
    the vector-Jacobian product: for each input, ``g`` times the local derivative
    of this node with respect to that input (``None`` where nothing flows).
``node._release()``
    drop what the forward pass saved for ``_vjp`` (``retain_graph=False``); a later
    ``_vjp`` must raise ``RuntimeError(GRAPH_FREED)``.
``node._deliver(g, create_graph)``
    receive the node's complete gradient: a leaf accumulates it into ``.grad``,
    an interior node keeps it or not (the engine's caller decides the policy).

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

from dataclasses import dataclass

__all__ = ["BackwardStats", "GRAPH_FREED", "backward", "count_paths", "naive_grad",
           "topological_order"]

GRAPH_FREED = (
    "Trying to backward through the graph a second time (or to read saved values "
    "after they were freed). The saved intermediate values are freed by backward(); "
    "specify retain_graph=True the first time you call backward() if you need to "
    "backward through the graph again."
)


@dataclass(frozen=True)
class BackwardStats:
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


def topological_order(root) -> list:
    """All nodes reachable from ``root`` (or a list of roots), inputs before consumers.

    Iterative depth-first search, so a chain of a million nodes needs no recursion.
    A cycle (only possible in a graph edited by hand) raises ``RuntimeError``.

    >>> from tinygrad_memo import Value
    >>> a = Value(1.0, label="a"); b = a + a; c = b * a
    >>> [n.label or n._op for n in topological_order(c)]
    ['a', '+', '*']
    """
    roots = root if isinstance(root, (list, tuple)) else (root,)
    order: list = []
    state: dict[int, bool] = {}  # id -> False while on the stack, True when done
    for r in roots:
        if id(r) in state:
            continue
        state[id(r)] = False
        stack = [(r, iter(r._inputs))]
        while stack:
            node, it = stack[-1]
            for child in it:
                s = state.get(id(child))
                if s is None:
                    state[id(child)] = False
                    stack.append((child, iter(child._inputs)))
                    break
                if s is False:
                    raise RuntimeError(
                        f"topological_order: the graph has a cycle through {child!r}; "
                        "a computation graph must be acyclic"
                    )
            else:
                stack.pop()
                state[id(node)] = True
                order.append(node)
    return order


def count_paths(order: list) -> int:
    """Number of paths from the root(s) to the leaves of ``order`` (a topological
    order, root last), by dynamic programming over the edges.

    >>> from tinygrad_memo import Value
    >>> a = Value(1.0); b = a + a; c = b + b; d = c + c
    >>> count_paths(topological_order(d))
    8
    """
    reach: dict[int, int] = {}
    total = 0
    for node in reversed(order):
        n = reach.pop(id(node), 1)
        if not node._inputs:
            total += n
        for p in node._inputs:
            reach[id(p)] = reach.get(id(p), 0) + n
    return total


def backward(root, grad=None, retain_graph: bool = False, create_graph: bool = False,
             inputs=None):
    """Memoized reverse pass from ``root`` (a node, or a list of nodes with a list
    of seed gradients in ``grad``).

    With ``inputs=None`` each node's complete gradient is handed to
    ``node._deliver`` and a :class:`BackwardStats` is returned. With a list of
    ``inputs``, nothing is delivered and the list of their gradients (``None``
    where no path leads) is returned instead: this is ``tm.grad``.

    >>> from tinygrad_memo import Value
    >>> from tinygrad_memo.engine import backward
    >>> x = Value(3.0); y = x * x + x
    >>> backward(y, 1.0)
    BackwardStats(nodes=3, edges=3, local_grads=3, paths=3)
    >>> x.grad
    7.0
    """
    roots = list(root) if isinstance(root, (list, tuple)) else [root]
    seeds = list(grad) if isinstance(root, (list, tuple)) else [grad]
    order = topological_order(roots)
    memo: dict[int, object] = {}  # the memo slots: id(node) -> gradient so far
    # Slots holding an array the engine may add into in place: made fresh by a
    # derivative rule for this input alone, or by the engine's own sums. Any other
    # array may be shared (with the upstream gradient or a sibling input).
    owned: set[int] = set()
    reach: dict[int, int] = {}  # id(node) -> paths from the roots to it
    for r, g in zip(roots, seeds):
        k = id(r)
        memo[k] = g if k not in memo else memo[k] + g
        reach[k] = reach.get(k, 0) + 1
    wanted = None if inputs is None else {id(x): i for i, x in enumerate(inputs)}
    found: list = [None] * (0 if inputs is None else len(inputs))
    edges = local = paths = 0
    for node in reversed(order):
        k = id(node)
        g = memo.pop(k, None)
        ins = node._inputs
        n = reach.pop(k, 0)
        edges += len(ins)
        if not ins:
            paths += n
        for p in ins:
            reach[id(p)] = reach.get(id(p), 0) + n
        if g is None:
            continue
        if wanted is not None:
            if k in wanted:
                found[wanted[k]] = g
        else:
            if not ins and k not in owned and hasattr(g, "base"):
                g = g.copy()  # a leaf keeps its gradient: never share its array
            node._deliver(g, create_graph)
        owned.discard(k)
        if not ins:
            continue
        grads = node._vjp(g, create_graph)
        if not retain_graph:
            node._release()
        local += len(ins)
        for p, pg in zip(ins, grads):
            if pg is None:
                continue
            j = id(p)
            s = memo.get(j)
            if s is None:
                memo[j] = pg
                if (pg is not g and getattr(pg, "base", 0) is None
                        and sum(x is pg for x in grads) == 1):
                    owned.add(j)
            elif j in owned:
                s += pg  # in place into an array this slot owns
                memo[j] = s  # (numpy scalars rebind instead)
            else:
                memo[j] = s + pg
                if getattr(memo[j], "base", 0) is None:
                    owned.add(j)
    if inputs is not None:
        return found
    return BackwardStats(len(order), edges, local, paths)


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
