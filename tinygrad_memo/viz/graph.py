"""What a picture shows, before any styling: which nodes, edges and clusters are
drawn, what was left out, and the backward statistics of the whole graph.

It reads only the engine's node protocol (``_inputs``, ``.data``, and ``.label``
when a node has one) and, for the statistics, the engine's own
:func:`~tinygrad_memo.engine.topological_order` and
:func:`~tinygrad_memo.engine.count_paths`; no backward pass is run. Everything is
iterative and linear in the size of the graph.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from ..engine import count_paths, topological_order

OUTPUT, PARAMETER, LEAF, INNER = "output", "parameter", "leaf", "inner"


@dataclass
class Layout:
    """The graph walk's result: the drawn nodes (inputs before consumers; a node's
    position is its number in the picture) and everything styling needs to know.

    >>> from tinygrad_memo import Value
    >>> a = Value(2.0, label="a"); b = a * a
    >>> lay = layout(b)
    >>> lay.total, lay.edges, lay.paths, lay.fan_in(a), lay.kind(b)
    (2, 2, 2, 2, 'output')
    """

    nodes: list  # the drawn nodes
    inputs: list  # per drawn node: the numbers of its drawn inputs, once per use
    cut: list  # numbers of drawn nodes some of whose inputs are not drawn
    total: int  # nodes of the whole graph
    edges: int  # edges of the whole graph
    paths: int  # root-to-leaf paths of the whole graph
    roots: set = field(default_factory=set)  # ids of the roots
    consumers: dict = field(default_factory=dict)  # id -> consuming edges (fan-out)
    given: dict = field(default_factory=dict)  # id -> name from names=
    param_name: dict = field(default_factory=dict)  # id -> dotted name from module=
    cluster_of: dict = field(default_factory=dict)  # id -> module prefix

    @property
    def left_out(self) -> int:
        return self.total - len(self.nodes)

    def fan_in(self, node) -> int:
        """How many gradient contributions are summed into ``node``'s memo slot."""
        return self.consumers.get(id(node), 0)

    def name(self, node) -> str:
        """``names=`` wins over the module's parameter name, which wins over ``.label``."""
        k = id(node)
        if k in self.given:
            return self.given[k]
        if k in self.param_name:
            return self.param_name[k]
        return getattr(node, "label", "") or ""

    def kind(self, node) -> str:
        k = id(node)
        if k in self.roots:
            return OUTPUT
        if k in self.param_name:
            return PARAMETER
        return INNER if node._inputs else LEAF


def layout(root, max_nodes: int | None = 500, names=None, module=None) -> Layout:
    """Walk the graph of ``root`` (a node or a list of them): statistics of the whole
    graph, and at most ``max_nodes`` nodes to draw, the ones nearest the output
    (breadth-first from it); ``names`` and ``module`` name nodes and group parameters.
    The arguments are those of :func:`~tinygrad_memo.viz.draw_dot`."""
    if max_nodes is not None and (isinstance(max_nodes, bool) or not isinstance(max_nodes, int)
                                  or max_nodes < 1):
        raise ValueError(f"draw_dot: max_nodes must be a positive int or None, got {max_nodes!r}")
    roots = list(root) if isinstance(root, (list, tuple)) else [root]
    if not roots:
        raise ValueError("draw_dot: no root to draw")
    for r in roots:
        if not hasattr(r, "_inputs") or not hasattr(r, "data"):
            raise TypeError(
                f"draw_dot: expected a Value or Tensor (a graph node), got {type(r).__name__}"
            )
    if module is not None and not hasattr(module, "named_parameters"):
        raise TypeError("draw_dot: module must have named_parameters() (an nn.Module)")
    if names is not None and not hasattr(names, "items"):
        raise TypeError('draw_dot: names must be a mapping such as {"w": w}')
    param_name: dict[int, str] = {}  # the first name of a parameter listed twice
    for pname, p in module.named_parameters() if module is not None else ():
        param_name.setdefault(id(p), str(pname))
    given = {id(node): str(key) for key, node in (names.items() if names is not None else ())}

    # The whole graph, once: statistics and fan-out, O(nodes + edges).
    order = topological_order(roots)
    for node in order:  # a released tensor's stand-in takes the name given to the tensor
        of = getattr(node, "tensor", None)
        if of is not None and id(of) in given:
            given.setdefault(id(node), given[id(of)])
    consumers: dict[int, int] = {}
    edges = 0
    for node in order:
        edges += len(node._inputs)
        for p in node._inputs:
            consumers[id(p)] = consumers.get(id(p), 0) + 1

    drawn = _nearest(order, roots, len(order) if max_nodes is None else max_nodes)
    number = {id(n): i for i, n in enumerate(drawn)}
    inputs, cut = [], []
    for i, node in enumerate(drawn):
        ins = [number.get(id(p)) for p in node._inputs]
        inputs.append([j for j in ins if j is not None])
        if None in ins:
            cut.append(i)
    return Layout(drawn, inputs, cut, len(order), edges, count_paths(order),
                  {id(r) for r in roots}, consumers, given, param_name,
                  _clusters(drawn, param_name))


def _nearest(order: list, roots: list, limit: int) -> list:
    """At most ``limit`` nodes, breadth-first from the roots, in topological order."""
    if len(order) <= limit:
        return order
    kept: dict[int, object] = {}
    for r in roots:
        kept.setdefault(id(r), r)
    queue = deque(kept.values())
    while queue and len(kept) < limit:
        node = queue.popleft()
        for p in node._inputs:
            if id(p) not in kept:
                kept[id(p)] = p
                queue.append(p)
                if len(kept) >= limit:
                    break
    return [n for n in order if id(n) in kept]


def module_prefix(name: str) -> str:
    """The module part of a parameter's dotted name (trailing list indices and the
    attribute name dropped).

    >>> module_prefix("layers.0.weight"), module_prefix("layers.0.neurons.1.w.2")
    ('layers.0', 'layers.0.neurons.1')
    """
    parts = name.split(".")
    while parts and parts[-1].isdigit():
        parts.pop()
    return ".".join(parts[:-1])


def _size(node) -> int:
    """Number of elements of a node's data (1 for a scalar Value)."""
    return int(getattr(node.data, "size", 1))


def _clusters(drawn: list, param_name: dict) -> dict:
    """id -> module prefix. A parameter belongs to its module prefix. An op joins that
    cluster when it consumes a parameter of it or a view of one (a one-input op on a
    parameter that keeps its size, like W.T), or when all of its two or more distinct
    inputs are in the cluster (the sums inside a scalar neuron)."""
    cluster_of: dict[int, str] = {}
    if not param_name:
        return cluster_of
    pure: set[int] = set()  # parameters and their views
    for node in drawn:
        k = id(node)
        if k in param_name:
            prefix = module_prefix(param_name[k])
            if prefix:
                cluster_of[k] = prefix
                pure.add(k)
            continue
        ins = node._inputs
        if not ins:
            continue
        chosen = None
        for p in ins:
            if id(p) in pure:
                chosen = cluster_of[id(p)]
                break
        if chosen is None and len({id(p) for p in ins}) >= 2:
            first = cluster_of.get(id(ins[0]))
            if first is not None and all(cluster_of.get(id(p)) == first for p in ins):
                chosen = first
        if chosen is not None:
            cluster_of[k] = chosen
            if len(ins) == 1 and id(ins[0]) in pure and _size(node) == _size(ins[0]):
                pure.add(k)
    return cluster_of
