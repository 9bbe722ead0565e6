"""What a picture shows, before any styling: which nodes, edges and clusters are
drawn, what was left out, and the backward statistics of the whole graph.

It reads only the engine's node protocol (``_inputs``, ``.data``, and ``.label``
when a node has one) and, for the statistics, the engine's own
:func:`~tinygrad_memo.engine.topological_order` and
:func:`~tinygrad_memo.engine.count_paths`; no backward pass is run. Everything is
iterative and linear in the size of the graph.
"""

from __future__ import annotations

import itertools
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
    cluster_of: dict = field(default_factory=dict)  # id -> module prefix or user group
    cut_out: list = field(default_factory=list)  # drawn nodes some of whose consumers are not
    flat: bool = False  # clusters are user groups (not nested by dotted prefix)
    how: str = "nearest the output"  # which nodes were chosen, for the caption

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


def layout(root, max_nodes: int | None = 500, names=None, module=None, *,
           max_depth: int | None = None, around=None, depth: int | None = None,
           groups=None) -> Layout:
    """Walk the graph of ``root`` (a node or a list of them): statistics of the whole
    graph, and the nodes to draw: all of them, or the window of ``depth`` edges
    ``around`` a node, or the nodes at most ``max_depth`` edges from the output; then at
    most ``max_nodes`` of those, the nearest (breadth-first). ``names`` and ``module``
    name nodes, ``module`` or ``groups`` cluster them. The arguments are those of
    :func:`~tinygrad_memo.viz.draw_dot`."""
    _check_count("max_nodes", max_nodes, 1)
    _check_count("max_depth", max_depth, 0)
    _check_count("depth", depth, 0)
    roots = list(root) if isinstance(root, (list, tuple)) else [root]
    if not roots:
        raise ValueError("draw_dot: no root to draw")
    for r in roots:
        _check_node(r, "a root")
    if module is not None and not hasattr(module, "named_parameters"):
        raise TypeError("draw_dot: module must have named_parameters() (an nn.Module)")
    if names is not None and not hasattr(names, "items"):
        raise TypeError('draw_dot: names must be a mapping such as {"w": w}')
    if groups is not None and not (callable(groups) or hasattr(groups, "items")):
        raise TypeError("draw_dot: groups must be a callable node -> group name (or None), "
                        f"or a mapping {{node: group name}}, got {type(groups).__name__}")
    if depth is not None and around is None:
        raise TypeError("draw_dot: depth= is the size of the window around= a node; "
                        "pass around=node (or use max_depth= to cut from the output)")
    centres = [] if around is None else (list(around) if isinstance(around, (list, tuple))
                                          else [around])
    for c in centres:
        _check_node(c, "around=")
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

    if centres:
        ids = {id(n) for n in order}
        for c in centres:
            if id(c) not in ids:
                raise ValueError(f"draw_dot: the around= node {_describe(c, given)} is not in "
                                 "the graph of the root (not an input of it, however indirect)")
        near = window(order, centres, 2 if depth is None else depth)
    else:
        near = nearest(roots, max_depth)
    if max_nodes is not None and len(near) > max_nodes:
        near = dict(itertools.islice(near.items(), max_nodes))
    drawn = [n for n in order if id(n) in near] if len(near) < len(order) else order
    number = {id(n): i for i, n in enumerate(drawn)}
    inputs, cut, cut_out = [], [], []
    uses = [0] * len(drawn)  # per drawn node: its drawn consuming edges
    for i, node in enumerate(drawn):
        ins = [number.get(id(p)) for p in node._inputs]
        inputs.append([j for j in ins if j is not None])
        for j in inputs[-1]:
            uses[j] += 1
        if None in ins:
            cut.append(i)
    root_ids = {id(r) for r in roots}
    if centres:  # a window also leaves out consumers: those are drawn as a box too
        cut_out = [i for i, n in enumerate(drawn) if uses[i] < consumers.get(id(n), 0)]
    cluster_of = (_groups(drawn, groups) if groups is not None
                  else _clusters(drawn, param_name))
    return Layout(drawn, inputs, cut, len(order), edges, count_paths(order),
                  root_ids, consumers, given, param_name, cluster_of,
                  cut_out=cut_out, flat=groups is not None,
                  how=_how(centres, depth, max_depth, max_nodes, given))


def _check_count(name: str, value, minimum: int) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < minimum):
        kind = "positive" if minimum else "non-negative"
        raise ValueError(f"draw_dot: {name} must be a {kind} int or None, got {value!r}")


def _check_node(x, what: str) -> None:
    if not hasattr(x, "_inputs") or not hasattr(x, "data"):
        raise TypeError(
            f"draw_dot: {what} must be a Value or Tensor (a graph node), got {type(x).__name__}"
        )


def _describe(node, given: dict) -> str:
    name = given.get(id(node)) or getattr(node, "label", "")
    return repr(name) if name else f"<{type(node).__name__} {tuple(getattr(node, 'shape', ()))}>"


def _how(centres, depth, max_depth, max_nodes, given) -> str:
    """What the caption says about the nodes chosen (when some are left out)."""
    if centres:
        what = ", ".join(_describe(c, given) for c in centres[:3])
        return f"within {2 if depth is None else depth} edges of {what} (either direction)"
    if max_depth is not None:
        return f"at most {max_depth} edges from the output"
    return "nearest the output"


def nearest(roots: list, max_depth: int | None = None) -> dict:
    """id -> node for the nodes at most ``max_depth`` edges upstream of the roots (all
    when ``None``), in breadth-first order from them (nearest first).

    >>> from tinygrad_memo import Value
    >>> a = Value(1.0, label="a"); b = a * 2; b.label = "b"; c = b + 1; c.label = "c"
    >>> [n.label for n in nearest([c], 1).values()]
    ['c', 'b']
    """
    return _breadth_first(roots, lambda n: n._inputs, max_depth)


def window(order: list, centres: list, depth: int) -> dict:
    """id -> node for the nodes at most ``depth`` edges upstream (inputs, their inputs,
    ...) or downstream (consumers, theirs, ...) of the ``centres``, within ``order`` (a
    topological order of the whole graph); nearest first (both directions interleaved by
    distance).

    >>> from tinygrad_memo import Value
    >>> from tinygrad_memo.engine import topological_order
    >>> a = Value(1.0, label="a"); b = a * 2; b.label = "b"; c = b + 1; c.label = "c"
    >>> sorted(n.label for n in window(topological_order(c), [b], 1).values())
    ['a', 'b', 'c']
    """
    users: dict[int, list] = {}
    for node in order:
        for p in node._inputs:
            lst = users.setdefault(id(p), [])
            if not lst or lst[-1] is not node:
                lst.append(node)
    up = _breadth_first(centres, lambda n: n._inputs, depth, with_distance=True)
    down = _breadth_first(centres, lambda n: users.get(id(n), ()), depth, with_distance=True)
    both = {**down, **up}
    for k, (n, d) in down.items():
        if d < both[k][1]:
            both[k] = (n, d)
    ranked = sorted(both.items(), key=lambda kv: kv[1][1])  # (stable within a distance)
    return {k: n for k, (n, _) in ranked}


def _breadth_first(starts: list, step, limit: int | None, with_distance: bool = False) -> dict:
    """id -> node (or (node, distance)) reached from ``starts`` through ``step(node)`` in at
    most ``limit`` steps (no limit: ``None``), in the order reached."""
    seen: dict[int, tuple] = {}
    for s in starts:
        seen.setdefault(id(s), (s, 0))
    queue = deque(n for n, _ in seen.values())
    while queue:
        node = queue.popleft()
        d = seen[id(node)][1]
        if limit is not None and d >= limit:
            continue
        for p in step(node):
            if id(p) not in seen:
                seen[id(p)] = (p, d + 1)
                queue.append(p)
    if with_distance:
        return seen
    return {k: n for k, (n, _) in seen.items()}


def _groups(drawn: list, groups) -> dict:
    """id -> user group name, from a callable or a mapping (``None``: in no group)."""
    if callable(groups) and not hasattr(groups, "items"):
        out = {}
        for node in drawn:
            g = groups(node)
            if g is not None:
                out[id(node)] = str(g)
        return out
    by_id = {id(node): name for node, name in groups.items()}
    return {id(n): str(by_id[id(n)]) for n in drawn if by_id.get(id(n)) is not None}


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
