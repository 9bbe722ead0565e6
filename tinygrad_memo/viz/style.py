"""How a :class:`~tinygrad_memo.viz.graph.Layout` looks: value nodes as small
HTML-like tables, op ovals, colours, module clusters and the caption."""

from __future__ import annotations

import html

import graphviz

from . import graph
from .dot import Digraph
from .text import count, esc, number, op_text, summary

RANKDIRS = ("LR", "RL", "TB", "BT")
#: Drawn consumers beyond which a node's uses are drawn as dashed references to it.
HUB_FANOUT = 8

# fill colours of value nodes, and (stronger shades) of their keys in the caption's legend
_FILL = {graph.OUTPUT: "#c7e9c0", graph.LEAF: "#dbe9f6", graph.PARAMETER: "#e4d7f5",
         graph.INNER: "#ffffff"}
_KEY = {graph.OUTPUT: "#41ab5d", graph.LEAF: "#6baed6", graph.PARAMETER: "#9e86c8"}
_FANOUT = "#ffe08a"
_FANOUT_KEY = "#d99a00"
_OPFILL = "#f2f2f2"
_MORE_ATTRS = {"shape": "box", "style": "dashed,rounded", "color": "#888888",
               "fontcolor": "#555555", "fontsize": "10"}
_REF_ATTRS = {"shape": "box", "style": "dashed,rounded", "color": "#9e86c8",
              "fontcolor": "#5b4a80", "fontsize": "9", "width": "0", "height": "0",
              "margin": "0.04,0.02"}
_OP_ATTRS = {"shape": "ellipse", "style": "filled", "fillcolor": _OPFILL, "fontsize": "10",
             "width": "0", "height": "0", "margin": "0.06,0.03"}


def picture(lay: graph.Layout, format: str = "svg", rankdir: str = "LR",
            show_data: bool = True, show_grad: bool = True,
            max_nodes: int | None = 500, frame=None) -> Digraph:
    """The ``Digraph`` of a layout: value node ``v{i}`` and op node ``o{i}`` for drawn
    node ``i``, one dashed box for what was left out, the statistics as caption.

    ``frame`` (a frame of :func:`~tinygrad_memo.viz.animate.animate_backward`) restyles
    without changing the layout: ``frame.fill(node)``, ``frame.grad_text(node)`` and
    ``frame.fan_text(node)`` (the text of those cells), ``frame.op_fill(node)``,
    ``frame.edge(node)`` (attributes of the edges into the op of ``node``) and
    ``frame.caption()``."""
    g = Digraph(name="tinygrad_memo", format=format)
    g.attr(rankdir=rankdir, fontname="Helvetica", fontsize="11", labelloc="b",
           nodesep="0.25", ranksep="0.35")
    g.attr("node", fontname="Helvetica", fontsize="11")
    g.attr("edge", arrowsize="0.6", color="#555555")

    bodies: dict[str, list] = {}  # cluster prefix -> [(name, attrs)]
    top: list = []
    edge_list: list[tuple[str, str, dict]] = []
    uses = [0] * len(lay.nodes)  # drawn consuming edges per drawn node
    for ins in lay.inputs:
        for j in ins:
            uses[j] += 1
    # A node feeding many ops (an RNN's weights, used at every step) would pull all of
    # them together, and Graphviz's layout would take minutes: it is drawn once, and
    # each op it feeds gets a small dashed copy of its name instead of a long edge.
    hub = {j: _hub_text(lay, lay.nodes[j], n) for j, n in enumerate(uses) if n > HUB_FANOUT}
    for i, node in enumerate(lay.nodes):
        k = id(node)
        where = bodies.setdefault(lay.cluster_of[k], []) if k in lay.cluster_of else top
        where.append((f"v{i}", {"label": _value_label(lay, node, show_data, show_grad, frame),
                                "shape": "plain"}))
        if node._inputs:
            op = dict(_OP_ATTRS, fillcolor=frame.op_fill(node)) if frame else _OP_ATTRS
            where.append((f"o{i}", {"label": f"<{esc(op_text(node), 40)}>", **op}))
            into = frame.edge(node) if frame else {}
            for k, j in enumerate(lay.inputs[i]):
                if j in hub:
                    where.append((f"r{j}_{i}_{k}", {"label": hub[j], **_REF_ATTRS}))
                    edge_list.append((where[-1][0], f"o{i}", {"style": "dashed", **into}))
                else:
                    edge_list.append((f"v{j}", f"o{i}", into))
            edge_list.append((f"o{i}", f"v{i}", {}))

    for name, attrs in top:
        g.node(name, **attrs)
    _add_clusters(g, bodies, lay.flat)
    if lay.left_out and (lay.cut or not lay.cut_out):
        g.node("more", label=f"<⋯ {count(lay.left_out)} more nodes<BR/>nearer the inputs>",
               **_MORE_ATTRS)
        for i in lay.cut:
            g.edge("more", f"o{i}", style="dashed", color="#888888")
    if lay.cut_out:
        g.node("more_out", label="<⋯ more nodes<BR/>nearer the output>", **_MORE_ATTRS)
        for i in lay.cut_out:
            g.edge(f"v{i}", "more_out", style="dashed", color="#888888")
    for a, b, attrs in edge_list:
        g.edge(a, b, **attrs)
    g.attr(label=frame.caption() if frame else _caption(lay, max_nodes, bool(hub)))
    return g


def _hub_text(lay: graph.Layout, node, uses: int) -> str:
    """The label of a dashed reference to a node with many drawn uses."""
    name = lay.name(node) or (op_text(node) if node._inputs else "leaf")
    return f"<↗ {esc(name, 24)} (used {uses}×)>"


def _value_label(lay: graph.Layout, node, show_data: bool, show_grad: bool,
                 frame=None) -> str:
    """A value node as a one-row table: name, shape and dtype, data, grad, fan-out mark
    (restyled by an animation's ``frame``: see :func:`picture`)."""
    kind = lay.kind(node)
    fan = lay.fan_in(node)
    cells = []
    label = lay.name(node)
    if label:
        cells.append(f"<TD><B>{esc(label)}</B></TD>")
    arr = _array(node.data)
    released = arr is None and getattr(node, "released", False) is True
    if arr is not None or released:  # (a released tensor: its shape and dtype only)
        shape = tuple(int(s) for s in (arr if arr is not None else node).shape)
        dtype = (arr if arr is not None else node).dtype
        cells.append(f"<TD>{esc(shape)}<BR/>{esc(dtype)}</TD>")
    if show_data:
        if released:
            text = "released"
        else:
            text = summary(arr) if arr is not None else esc(number(node.data))
        cells.append(f"<TD>data {text}</TD>")
    if frame is not None:  # an animation's frame: the memo slot's gradient, when complete
        if show_grad:
            cells.append(f"<TD>{frame.grad_text(node)}</TD>")
        if fan > 1:
            cells.append(f'<TD BGCOLOR="{_FANOUT}">{frame.fan_text(node)}</TD>')
        return (f'<<TABLE BORDER="2" COLOR="{frame.border(node)}" CELLBORDER="1" '
                f'CELLSPACING="0" CELLPADDING="4" BGCOLOR="{frame.fill(node)}">'
                f'<TR>{"".join(cells)}</TR></TABLE>>')
    grad = getattr(node, "grad", None)
    if show_grad and grad is not None:
        cells.append(f"<TD>grad {grad_summary(node, grad)}</TD>")
    if fan > 1:
        cells.append(f'<TD BGCOLOR="{_FANOUT}">Σ×{fan}</TD>')
    if not cells:
        cells.append("<TD> </TD>")
    border = "2" if kind == graph.OUTPUT else "0"
    return (f'<<TABLE BORDER="{border}" CELLBORDER="1" CELLSPACING="0" '
            f'CELLPADDING="4" BGCOLOR="{_FILL[kind]}"><TR>{"".join(cells)}</TR></TABLE>>')


def grad_summary(node, grad) -> str:
    """A gradient of ``node`` as label text: the number, or a tensor's summary."""
    garr = _array(grad) if _array(node.data) is not None else None
    return summary(garr) if garr is not None else esc(number(_scalar(grad)))


def _array(x):
    """``x`` as something with a shape, or None: a Tensor's data or a grad array."""
    if hasattr(x, "_inputs"):  # a Tensor (a gradient built with create_graph=True)
        x = x.data
    return x if hasattr(x, "shape") and hasattr(x, "dtype") else None


def _scalar(x):
    """A scalar gradient or value as a float (a Value gradient may itself be a Value)."""
    if hasattr(x, "_inputs") and hasattr(x, "data"):
        x = x.data
    return x


def _add_clusters(g, bodies: dict, flat: bool = False) -> None:
    """One cluster per module prefix, nested under the longest prefix that also has
    one; built deepest first so each is complete when added to its parent. ``flat``
    (user groups): one cluster per group, in the order first drawn, none nested."""
    if not bodies:
        return
    prefixes = list(bodies) if flat else sorted(bodies)
    subs = {}
    for n, prefix in enumerate(prefixes):
        sub = graphviz.Digraph(name=f"cluster_{n}")
        sub.attr(label=f"<{esc(prefix)}>", style="rounded,dashed", color="#9e86c8",
                 fontcolor="#5b4a80", fontsize="10", labeljust="l")
        for name, attrs in bodies[prefix]:
            sub.node(name, **attrs)
        subs[prefix] = sub

    def parent(prefix: str):
        if flat:
            return None
        parts = prefix.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            cand = ".".join(parts[:cut])
            if cand in subs:
                return cand
        return None

    for prefix in sorted(subs, key=lambda p: -p.count(".")):
        up = parent(prefix)
        (subs[up] if up is not None else g).subgraph(subs[prefix])


def _caption(lay: graph.Layout, max_nodes, refs: bool = False) -> str:
    """The statistics of the whole graph, what was left out, and a legend of the
    styles that occur among the drawn nodes."""
    rows = [
        f"{count(lay.total)} nodes · {count(lay.edges)} edges · memoized backward: "
        f"{count(lay.edges)} local derivatives (one per edge) · naive chain rule: "
        f"{count(lay.paths)} paths"
    ]
    if lay.left_out:
        limit = f" (max_nodes={max_nodes})" if max_nodes is not None else ""
        rows.append(f"showing the {count(len(lay.nodes))} nodes {lay.how}: "
                    f"{count(lay.left_out)} of {count(lay.total)} nodes left out{limit}")
    kinds = {lay.kind(n) for n in lay.nodes}
    legend = [f'<FONT COLOR="{_KEY[graph.OUTPUT]}">■</FONT> output']
    for kind in (graph.LEAF, graph.PARAMETER):
        if kind in kinds:
            legend.append(f'<FONT COLOR="{_KEY[kind]}">■</FONT> {kind}')
    if any(lay.fan_in(n) > 1 for n in lay.nodes):
        legend.append(f'<FONT COLOR="{_FANOUT_KEY}">Σ×k</FONT>: k gradients summed '
                      "into the node's memo slot")
    if refs:
        legend.append(f"↗ name (used k×): a node feeding more than {HUB_FANOUT} ops, drawn "
                      "once")
    cells = "".join(f"<TR><TD>{html.escape(r)}</TD></TR>" for r in rows)
    return (f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0">{cells}'
            f'<TR><TD>{"   ".join(legend)}</TD></TR></TABLE>>')
