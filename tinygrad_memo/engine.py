"""The one algorithm: backpropagation as the chain rule evaluated with memoization.

The engine knows nothing of ``Value`` or ``Tensor`` (it imports neither, nor
numpy). It works on any *node* that follows this small protocol:

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
``node._add_grads(total, g) -> total``
    how two gradients of this kind of node add up (and whether in place).
``node._seed(g, create_graph)``
    the root's seed gradient ``g`` checked against the root (``None``: 1 for a
    one-element root, else an error).
``node._leaves_early`` (a class attribute)
    true for nodes whose gradients are big (arrays): a pass then reaches each leaf
    right after its last consumer (:func:`leaves_early`), not at its very end.
``node._retain``, ``node._receive(g, create_graph)``
    the node's complete gradient is handed over once to every leaf and to every
    interior node whose ``_retain`` is true: a leaf accumulates it into ``.grad``,
    an interior node keeps it.

A node may stand for a whole recorded subgraph (a call replayed by ``tm.jit``):
its ``_inputs`` is then a :class:`Subgraph`, which also tells the walk how many
nodes, edges and paths the subgraph holds, so that :class:`BackwardStats` counts
what the eager graph would have held.

Each node's gradient lives in one memo :class:`Slot`. Every consumer adds its
contribution into that slot; because nodes are visited in reverse topological
order, the slot is complete before the node's own derivative rule runs. The rule
runs once, for all inputs together, and the slot is dropped right after: one
local-derivative evaluation per edge, O(nodes + edges) in all.

:func:`walk` is that loop, and the one place where a node's gradient is complete:
it yields each node with its slot, and whatever the consumer leaves in
``slot.grad`` is what flows on. :func:`backward` (delivery to ``.grad``),
``tm.grad`` (collection) and :func:`count_paths` are small consumers of it.
Instruments that must see every pass whoever runs it (tensor hooks, checkpoint
recomputation) install a *tap* in :data:`TAPS` while they have work to do: a
pass then runs through ``tap(walk, pairs)``, which yields the same pairs and may
act before each one is handed on. With no tap installed a pass costs nothing extra.

``naive_grad`` is the same chain rule *without* memoization: it walks every path
from the output to the inputs. It is exponential on graphs with reuse, and it is
the independent oracle of the tests and of the demo.
"""

from __future__ import annotations

import itertools
import operator
from typing import NamedTuple

from .grad_mode import STATE

__all__ = ["BackwardStats", "GRAPH_FREED", "Slot", "Subgraph", "TAPS", "Walk", "backward",
           "count_paths", "leaves_early",
           "naive_grad", "next_seq", "topological_order", "walk"]

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
    >>> [n.label or n.grad_fn.name for n in topological_order(c)]
    ['a', 'add', 'mul']
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


class Slot:
    """One node's memo slot: its gradient so far and the paths from the roots to it.

    Every consumer adds its contribution into ``grad`` (with the node kind's
    ``_add_grads``); ``paths`` adds up the consumers' own path counts, which is
    the dynamic program that counts the paths the naive chain rule would walk.

    >>> s = Slot(1.0, 2); s.grad, s.paths
    (1.0, 2)
    """

    __slots__ = ("grad", "paths")

    def __init__(self, grad, paths: int):
        self.grad = grad
        self.paths = paths

    def __repr__(self) -> str:
        return f"Slot(grad={self.grad!r}, paths={self.paths})"


_new = object.__new__

#: Installed taps: ``tap(walk, pairs) -> pairs``, each wrapping the ``(node, slot)``
#: iterator of every pass (see the module docstring); read once per pass.
TAPS: list = []


class Subgraph(tuple):
    """The inputs of a node that stands for several recorded nodes (a call replayed
    by ``tm.jit``), with what those nodes count for :class:`BackwardStats`.

    ``account(paths, sent)`` is called by the walk once the node's rule has run
    (``paths``: the paths from the roots to the node; ``sent``: whether a gradient
    reached it) and returns ``(nodes, edges, unsent, leaf_paths, through)``: what
    the recorded nodes add to the counts beyond this one node and its input edges
    (``leaf_paths``: paths ending at leaves inside the subgraph), and ``through``,
    the paths from the roots to each input (``None``: ``paths`` for every input).

    The walk looks for such nodes only once one has been made in the process: before
    that, a walk pays one test of a local flag per node.

    >>> s = Subgraph((), lambda paths, sent: (0, 0, 0, 0, None))
    >>> s.account(1, True)
    (0, 0, 0, 0, None)
    """

    made = False  # whether any was ever made (the walk looks for them from then on)

    def __new__(cls, inputs, account):
        Subgraph.made = True
        return super().__new__(cls, inputs)

    def __init__(self, inputs, account):
        self.account = account


class Walk:
    """The memoized reverse pass as an iterator of ``(node, slot)``, each node once,
    in reverse topological order, at the moment its gradient is complete.

    ``slot.grad`` is the node's complete gradient (``None`` if nothing reached
    it); a consumer may replace it, and the replacement is what the node's
    derivative rule then sends on to its inputs. After the iteration
    :attr:`stats` holds the :class:`BackwardStats` of the pass.

    >>> from tinygrad_memo import Value
    >>> x = Value(3.0); y = x * x
    >>> w = Walk([y], [1.0])
    >>> [(n is x, s.grad) for n, s in w]
    [(False, 1.0), (True, 6.0)]
    >>> w.stats
    BackwardStats(nodes=2, edges=2, local_grads=2, paths=2)
    """

    __slots__ = ("roots", "seeds", "retain_graph", "create_graph", "stats")

    def __init__(self, roots: list, seeds: list, retain_graph: bool = False,
                 create_graph: bool = False):
        self.roots, self.seeds = roots, seeds  # (one seed per root: see walk())
        self.retain_graph, self.create_graph = retain_graph, create_graph
        self.stats: BackwardStats | None = None

    def __iter__(self):
        if STATE.recorder is not None and not self.create_graph:  # tm.jit cannot replay this
            STATE.recorder.read(self.roots[0], "a backward pass (gradients as plain numbers)")
        pairs = self._pairs()
        for tap in TAPS:
            pairs = tap(self, pairs)
        return pairs

    def _pairs(self):
        order = topological_order(self.roots)
        if getattr(type(self.roots[0]), "_leaves_early", False):
            order = leaves_early(order)
        memo: dict = {}  # node -> Slot, keyed by identity
        i = 0
        for r in self.roots:
            g = self.seeds[i]
            i += 1
            s = memo.get(r)
            if s is None:
                s = memo[r] = _new(Slot)
                s.grad = g
                s.paths = 1
            else:  # the same root listed twice
                s.grad = r._add_grads(s.grad, g)
                s.paths += 1
        create_graph, release = self.create_graph, not self.retain_graph
        edges = unsent = paths = extra = 0
        pop, get = memo.pop, memo.get
        special = Subgraph.made  # nodes may stand for recorded subgraphs: look for them
        for node in reversed(order):
            slot = pop(node)  # every node below a root got its slot from a consumer
            yield node, slot
            n = slot.paths
            ins = node._inputs
            if not ins:
                paths += n
                continue
            edges += len(ins)
            g = slot.grad
            slot.grad = None  # the consumer may still hold the slot: it must not keep g alive
            if g is None:  # nothing reached this node: its inputs get nothing from it
                unsent += len(ins)
                grads = (None,) * len(ins)
            else:
                grads = node._vjp(g, create_graph, release)
            if special and type(ins) is Subgraph:  # it stands for recorded nodes: count those
                nodes, e, u, leaf_paths, through = ins.account(n, g is not None)
                extra += nodes
                edges += e
                unsent += u
                paths += leaf_paths
                if through is not None:  # paths to each input, as the recorded nodes lead
                    i = 0
                    for p in ins:
                        pg = grads[i]
                        m = through[i]
                        i += 1
                        s = get(p)
                        if s is None:
                            s = memo[p] = _new(Slot)
                            s.grad = pg
                            s.paths = m
                        else:
                            s.paths += m
                            if pg is not None:
                                t = s.grad
                                s.grad = pg if t is None else p._add_grads(t, pg)
                    continue
            i = 0
            for p in ins:  # (indexing is measurably faster than zip here)
                pg = grads[i]
                i += 1
                s = get(p)
                if s is None:
                    s = memo[p] = _new(Slot)
                    s.grad = pg
                    s.paths = n
                else:
                    s.paths += n
                    if pg is not None:
                        t = s.grad
                        s.grad = pg if t is None else p._add_grads(t, pg)
        self.stats = BackwardStats(len(order) + extra, edges, edges - unsent, paths)


def leaves_early(order: list) -> list:
    """``order`` (a topological order) with each leaf moved to just before its first
    consumer, so that a reverse pass reaches a leaf as soon as its gradient is
    complete instead of last (leaves, made first, have the smallest creation
    numbers). For nodes whose gradients are arrays (``_leaves_early`` is true) this
    keeps the memo from holding every parameter's gradient until the pass ends.

    >>> import tinygrad_memo as tm
    >>> w1 = tm.Tensor([1.0], requires_grad=True); w2 = tm.Tensor([2.0], requires_grad=True)
    >>> h = w1 * 3
    >>> y = h * w2
    >>> [n is w1 or n is w2 for n in leaves_early(topological_order(y))]
    [True, False, True, False]
    """
    out: list = []
    placed: set = set()  # the leaves placed so far
    append, place = out.append, placed.add
    for node in order:
        ins = node._inputs
        if ins:
            for c in ins:
                if not c._inputs and c not in placed:
                    place(c)
                    append(c)
            append(node)
    if len(out) != len(order):  # leaves no node consumes (a root that is a leaf)
        out.extend(n for n in order if not n._inputs and n not in placed)
    return out


def walk(root, grad=None, retain_graph: bool = False, create_graph: bool = False) -> Walk:
    """:class:`Walk` from ``root`` (a node or a list) with seeds checked by the root's kind.

    >>> from tinygrad_memo import Value
    >>> x = Value(2.0); y = x * x * x
    >>> [round(s.grad, 6) for n, s in walk(y) if n is x]
    [12.0]
    """
    if isinstance(root, (list, tuple)):
        roots = list(root)
        if grad is None:
            grad = [None] * len(roots)
        elif not isinstance(grad, (list, tuple)):
            raise TypeError(f"backward: {len(roots)} roots need a list of {len(roots)} seed "
                            f"gradients, got {type(grad).__name__}")
        if len(grad) != len(roots):
            raise ValueError(f"backward: {len(roots)} roots but {len(grad)} seed gradients")
        seeds = [_node(r)._seed(g, create_graph) for r, g in zip(roots, grad)]
        return Walk(roots, seeds, retain_graph, create_graph)
    return Walk([root], [_node(root)._seed(grad, create_graph)], retain_graph, create_graph)


def _node(x):
    if not hasattr(x, "_vjp"):
        raise TypeError(f"backward: expected Values or Tensors, got {type(x).__name__}")
    return x


def backward(root, grad=None, retain_graph: bool = False, create_graph: bool = False):
    """Memoized reverse pass from ``root`` (a node, or a list of nodes with a list
    of seed gradients in ``grad``); every node receives its complete gradient
    (leaves accumulate it into ``.grad``). Returns the :class:`BackwardStats`.

    A one-element root needs no seed (it is seeded with 1, as ``.backward()``).

    >>> from tinygrad_memo import Value
    >>> from tinygrad_memo.engine import backward
    >>> x = Value(3.0); y = x * x + x
    >>> backward(y)
    BackwardStats(nodes=3, edges=4, local_grads=4, paths=3)
    >>> x.grad
    7.0
    """
    if isinstance(root, (list, tuple)):
        w = walk(root, grad, retain_graph, create_graph)
    else:  # (one root: the common case, without walk()'s list handling)
        w = Walk([root], [_node(root)._seed(grad, create_graph)], retain_graph, create_graph)
    rec = STATE.recorder
    if rec is not None:  # inside tm.jit: a step's backward, which a replay may replay
        rec.backward(root, grad, retain_graph, create_graph, bool(TAPS))
        STATE.recorder = None  # (the pass itself is not part of the recording)
    try:
        for node, slot in w:  # (no local for the gradient: it would outlive the node's turn)
            if slot.grad is not None and (node._retain or not node._inputs):
                node._receive(slot.grad, create_graph)  # a leaf, or an interior node keeps it
    finally:
        STATE.recorder = rec
    return w.stats


def count_paths(order: list) -> int:
    """Number of paths from the root(s) to the leaves of ``order`` (a topological
    order, root last), by dynamic programming over the edges: the memoized pass's own
    count (``BackwardStats.paths``), from a walk that carries no gradient.

    >>> from tinygrad_memo import Value
    >>> a = Value(1.0); b = a + a; c = b + b; d = c + c
    >>> count_paths(topological_order(d))
    8
    """
    consumed = {p for node in order for p in node._inputs}
    roots = [node for node in order if node not in consumed]
    w = Walk(roots, [None] * len(roots))  # the pass itself, carrying no gradient
    for _ in w:
        pass
    return w.stats.paths


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
    stack = [(root, root._seed(None, False))]  # one entry per path prefix: (its end, its product)
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
