r"""Graphviz pictures of Value and Tensor graphs that show where memoization pays.

One implementation for both engines: it reads only the engine's node protocol
(``_inputs``, ``_op``, ``.data``, ``.grad``, and ``.label`` / ``._aux`` when a node
has them), and tells a tensor from a scalar by its data having a ``shape``.

Picture conventions (micrograd style, left to right):

* each value node is a small table: its name, its data (a tensor: shape, dtype
  and mean / std / min / max), and its gradient when one is there;
* each operation is its own small oval between its inputs and its output;
* the output is green with a bold border, leaves are blue, module parameters
  are purple;
* ``Σ×k`` on a node: ``k`` consumers each added a contribution into this node's
  memo slot (its fan-out); backward evaluates the node's own derivative rule
  once, after all ``k`` have been summed;
* the caption gives the backward statistics: nodes, edges, local derivatives
  evaluated by the memoized pass (one per edge) and the output-to-leaf paths
  the naive chain rule would walk. They are computed from the graph with the
  engine's :func:`~tinygrad_memo.engine.topological_order` and
  :func:`~tinygrad_memo.engine.count_paths`, without running backward;
* beyond ``max_nodes`` only the nodes nearest the output (breadth-first from it)
  are drawn, and the caption says how many were left out.

User text (labels, names, module names, op names) only ever appears inside
HTML-like labels, escaped (``& < > " '`` as entities, backslashes doubled so
Graphviz's ``\N``-style substitutions cannot fire, control characters made
visible), so no label can break or inject into the DOT source.
"""

from __future__ import annotations

import html
import inspect
import math
import os
import re
from collections import deque

import graphviz

from .engine import count_paths, topological_order

__all__ = ["EXAMPLES", "INSTALL_HINT", "GraphvizNotFoundError", "draw_dot", "draw_example",
           "examples_graph", "save"]

#: The names :func:`examples_graph` and :func:`draw_example` accept.
EXAMPLES = ("neuron", "mlp", "ladder")

#: How to install Graphviz's ``dot`` program (part of the missing-``dot`` error).
INSTALL_HINT = (
    "Graphviz's `dot` program was not found on PATH, so the graph cannot be rendered "
    "to an image. Install Graphviz and make sure `dot` is on PATH:\n"
    "  Debian/Ubuntu:  sudo apt-get install graphviz\n"
    "  macOS:          brew install graphviz\n"
    "  conda:          conda install -c conda-forge graphviz\n"
    "  Windows/other:  https://graphviz.org/download/\n"
    "(in this repository, `make dot` installs it). The DOT text itself does not need "
    "`dot`: draw_dot(...).source still works."
)

_RANKDIRS = ("LR", "RL", "TB", "BT")
_FORMATS = ("png", "svg", "pdf")

# colours
_OUTPUT = "#c7e9c0"
_LEAF = "#dbe9f6"
_PARAM = "#e4d7f5"
_INNER = "#ffffff"
_FANOUT = "#ffe08a"
_OPFILL = "#f2f2f2"
# stronger shades of the same colours for the caption's legend
_OUTPUT_KEY = "#41ab5d"
_LEAF_KEY = "#6baed6"
_PARAM_KEY = "#9e86c8"
_FANOUT_KEY = "#d99a00"

_LABEL_LIMIT = 60  # characters of a user label shown (then "…")


class GraphvizNotFoundError(graphviz.ExecutableNotFound):
    """Raised when rendering needs Graphviz's ``dot`` program and it is not installed.

    A ``RuntimeError`` (and a ``graphviz.ExecutableNotFound``) whose message says
    how to install Graphviz. The DOT text (``.source``) never needs ``dot``.

    >>> issubclass(GraphvizNotFoundError, RuntimeError)
    True
    """

    def __init__(self, detail: str = ""):
        RuntimeError.__init__(self, INSTALL_HINT + (f"\n({detail})" if detail else ""))


class _Digraph(graphviz.Digraph):
    """A ``graphviz.Digraph`` whose rendering turns a missing ``dot`` into
    :class:`GraphvizNotFoundError` (with install instructions). Jupyter's inline
    display goes through ``pipe`` too."""

    def pipe(self, *args, **kwargs):
        try:
            return super().pipe(*args, **kwargs)
        except GraphvizNotFoundError:
            raise
        except graphviz.ExecutableNotFound as e:
            raise GraphvizNotFoundError(str(e)) from e

    def render(self, *args, **kwargs):
        try:
            return super().render(*args, **kwargs)
        except GraphvizNotFoundError:
            raise
        except graphviz.ExecutableNotFound as e:
            raise GraphvizNotFoundError(str(e)) from e


# -- text ---------------------------------------------------------------------------------
# Characters XML 1.0 cannot carry (Graphviz would write them into the SVG raw), and
# other invisible control characters: shown as visible escapes instead.
_BAD_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _visible(m: re.Match) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def _esc(text, limit: int = _LABEL_LIMIT) -> str:
    """Any text as the content of an HTML-like label: escaped, newlines as <BR/>."""
    s = str(text)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    s = _BAD_CHARS.sub(_visible, s)
    # Graphviz expands \N, \G, ... in HTML-like text too; a doubled backslash is one.
    return "<BR/>".join(html.escape(line, quote=True).replace("\\", "\\\\")
                        for line in s.split("\n"))


def _fmt(x) -> str:
    """A number the way micrograd's pictures show it (4 decimals), or in e-notation."""
    try:
        x = float(x)
    except (TypeError, ValueError, OverflowError):
        return str(x)
    if not math.isfinite(x):
        return str(x)
    if x == 0 or 1e-3 <= abs(x) < 1e5:
        return f"{x:.4f}"
    return f"{x:.3e}"


def _fmt_const(c) -> str:
    """A constant operand compactly: 3 for 3.0, else up to 4 significant digits."""
    if isinstance(c, bool):
        return str(c)
    if isinstance(c, int):
        return str(c)
    if isinstance(c, float):
        if c.is_integer() and abs(c) < 1e15:
            return str(int(c))
        return f"{c:.4g}"
    return str(c)


def _fmt_count(n: int) -> str:
    """An exact count with thousands separators, or ≈ m × 10^e when it is huge
    (path counts grow exponentially; no str() of a 30,000-digit integer)."""
    if n < 10**15:
        return f"{n:,}"
    shift = max(n.bit_length() - 60, 0)
    log10 = math.log10(n >> shift) + shift * math.log10(2)
    e = math.floor(log10)
    return f"≈ {10 ** (log10 - e):.2f} × 10^{e}"


# -- reading nodes (duck typing over both engines) ----------------------------------------
def _array(x):
    """``x`` as something with a shape, or None: a Tensor's data or a grad array."""
    if hasattr(x, "_inputs"):  # a Tensor (a gradient built with create_graph=True)
        x = x.data
    return x if hasattr(x, "shape") and hasattr(x, "dtype") else None


def _is_tensor(node) -> bool:
    return _array(node.data) is not None


def _size(node) -> int:
    """Number of elements of a node's data (1 for a scalar Value)."""
    return int(getattr(node.data, "size", 1))


def _scalar(x):
    """A scalar gradient or value as a float (a Value gradient may itself be a Value)."""
    if hasattr(x, "_inputs") and hasattr(x, "data"):
        x = x.data
    return x


def _stats(arr) -> str:
    """Summary of an array for a tensor node: the value itself when it has one element."""
    import numpy as np

    a = np.asarray(arr)
    if a.dtype.kind not in "fiub":
        return f"{a.size} elements"
    if a.size == 0:
        return "empty"
    if a.size == 1:
        return _fmt(a.reshape(-1)[0])
    with np.errstate(all="ignore"):
        f = a.astype(np.float64, copy=False)
        return (f"mean {_fmt(f.mean())} std {_fmt(f.std())}<BR/>"
                f"min {_fmt(f.min())} max {_fmt(f.max())}")


def _op_text(node) -> str:
    """The op of ``node`` readably, from its record: ``* 3``, ``3 -``, ``tanh``,
    ``sum axis=1`` (arguments that differ from the op's defaults)."""
    rec = node.grad_fn
    if rec is None:
        return "?"
    fn, args = rec.fn, rec.args
    symbol = getattr(fn, "symbol", None) or rec.name
    if getattr(fn, "arity", 0) == 2:  # an elementwise binary op: infix, with its constant
        if "b" in args and args["b"] is not None:
            return f"{symbol} {_fmt_arg(args['b'])}"
        if "a" in args and args["a"] is not None:
            return f"{_fmt_arg(args['a'])} {symbol}"
        return symbol
    shown = [f"{k}={_fmt_arg(v)}" for k, v in _explicit(fn, args).items()]
    return " ".join([rec.name, *shown])


def _explicit(fn, args: dict) -> dict:
    """The arguments of a call that differ from the defaults of ``fn.forward``."""
    try:
        params = inspect.signature(fn.forward).parameters
    except (TypeError, ValueError):
        return args
    out = {}
    for k, v in args.items():
        p = params.get(k)
        if p is not None and p.default is not p.empty:
            try:
                if v is p.default or (type(v) is type(p.default) and v == p.default):
                    continue
            except Exception:  # an array argument: not comparable to a default
                pass
        out[k] = v
    return out


def _fmt_arg(v, depth: int = 0) -> str:
    """An argument compactly: numbers as constants, arrays by shape, tuples inline."""
    if isinstance(v, (bool, int, float)):
        return _fmt_const(v)
    if hasattr(v, "shape") and hasattr(v, "dtype"):
        if getattr(v, "size", 2) == 1:
            return _fmt_const(v.reshape(-1)[0].item())
        return f"array{tuple(v.shape)}"
    if isinstance(v, slice):
        parts = ["" if x is None else str(x) for x in (v.start, v.stop, v.step)]
        return ":".join(parts[:2] if v.step is None else parts)
    if isinstance(v, (tuple, list)) and depth < 2:
        inner = ",".join(_fmt_arg(x, depth + 1) for x in v[:6])
        return f"({inner}{',…' if len(v) > 6 else ''})"
    if v is Ellipsis:
        return "..."
    return str(v)[:20]


def _module_prefix(name: str) -> str:
    """The module part of a parameter's dotted name: ``layers.0`` for
    ``layers.0.weight``, ``layers.0.neurons.1`` for ``layers.0.neurons.1.w.2``
    (trailing list indices and the attribute name are dropped)."""
    parts = name.split(".")
    while parts and parts[-1].isdigit():
        parts.pop()
    return ".".join(parts[:-1])


# -- the picture --------------------------------------------------------------------------
def draw_dot(root, format: str = "svg", rankdir: str = "LR", show_data: bool = True,
             show_grad: bool = True, max_nodes: int | None = 500, names=None,
             module=None) -> graphviz.Digraph:
    """Draw the graph that computed ``root`` (a Value or a Tensor, or a list of roots).

    Returns a ``graphviz.Digraph``: Jupyter shows it inline, ``.source`` is the
    DOT text, ``.render(path, format=...)`` writes an image (see also :func:`save`).

    ``names``: a mapping ``{"w": w}`` naming nodes (it wins over ``Value.label``).
    ``module``: an object with ``named_parameters()`` (an ``nn.Module``): its
    parameters are labelled by their dotted names (``layers.0.weight``) and, with
    the ops that consume them, grouped into one cluster per submodule.
    ``max_nodes``: most value nodes drawn (each with its op); the ones nearest the
    output are kept and the caption says how many were left out (``None``: all).
    ``show_data`` / ``show_grad``: whether value nodes show data and gradients.

    >>> from tinygrad_memo import Value
    >>> a = Value(2.0, label="a"); b = a * a; b.label = "b"
    >>> dot = draw_dot(b)
    >>> "Σ×2" in dot.source and "2 local derivatives" in dot.source
    True
    """
    if rankdir not in _RANKDIRS:
        raise ValueError(f"draw_dot: rankdir must be one of {_RANKDIRS}, got {rankdir!r}")
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

    # The whole graph, once: statistics and fan-out, O(nodes + edges).
    order = topological_order(roots)
    total = len(order)
    consumers: dict[int, int] = {}
    edges = 0
    for node in order:
        edges += len(node._inputs)
        for p in node._inputs:
            consumers[id(p)] = consumers.get(id(p), 0) + 1
    paths = count_paths(order)

    # The part drawn: breadth-first from the output, at most max_nodes nodes.
    limit = total if max_nodes is None else max_nodes
    if total <= limit:
        drawn = order
    else:
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
        drawn = [n for n in order if id(n) in kept]

    # Names: names= wins over module parameter names, which win over .label.
    param_name: dict[int, str] = {}
    if module is not None:
        if not hasattr(module, "named_parameters"):
            raise TypeError("draw_dot: module must have named_parameters() (an nn.Module)")
        for pname, p in module.named_parameters():
            param_name.setdefault(id(p), str(pname))
    given: dict[int, str] = {}
    if names is not None:
        if not hasattr(names, "items"):
            raise TypeError('draw_dot: names must be a mapping such as {"w": w}')
        for key, node in names.items():
            given[id(node)] = str(key)

    ids = {id(n): i for i, n in enumerate(drawn)}
    root_ids = {id(r) for r in roots}

    # Clusters: a parameter belongs to its module prefix. An op joins that cluster
    # when it consumes a parameter of it or a view of one (a one-input op on a
    # parameter that keeps its size, like W.T), or when all of its two or more
    # distinct inputs are in the cluster (the sums inside a scalar neuron).
    cluster_of: dict[int, str] = {}
    if param_name:
        pure: set[int] = set()  # parameters and their views
        for node in drawn:
            k = id(node)
            if k in param_name:
                prefix = _module_prefix(param_name[k])
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

    g = _Digraph(name="tinygrad_memo", format=format)
    g.attr(rankdir=rankdir, fontname="Helvetica", fontsize="11", labelloc="b",
           nodesep="0.25", ranksep="0.35")
    g.attr("node", fontname="Helvetica", fontsize="11")
    g.attr("edge", arrowsize="0.6", color="#555555")

    bodies: dict[str, list] = {}  # cluster prefix -> [(name, attrs)]
    top: list = []
    any_param = any_leaf = any_fan = False
    boundary: list[str] = []  # op nodes some of whose inputs are not drawn
    edge_list: list[tuple[str, str]] = []

    for node in drawn:
        k = id(node)
        i = ids[k]
        ins = node._inputs
        if k in given:
            label = given[k]
        elif k in param_name:
            label = param_name[k]
        else:
            label = getattr(node, "label", "") or ""
        if k in root_ids:
            fill, border = _OUTPUT, "2"
        elif k in param_name:
            fill, border = _PARAM, "0"
            any_param = True
        elif not ins:
            fill, border = _LEAF, "0"
            any_leaf = True
        else:
            fill, border = _INNER, "0"
        fan = consumers.get(k, 0)
        any_fan |= fan > 1
        cells = []
        if label:
            cells.append(f"<TD><B>{_esc(label)}</B></TD>")
        tensor = _is_tensor(node)
        if tensor:
            arr = _array(node.data)
            shape = tuple(int(s) for s in arr.shape)
            cells.append(f"<TD>{_esc(shape)}<BR/>{_esc(arr.dtype)}</TD>")
        if show_data:
            text = _stats(_array(node.data)) if tensor else _esc(_fmt(node.data))
            cells.append(f"<TD>data {text}</TD>")
        grad = getattr(node, "grad", None)
        if show_grad and grad is not None:
            garr = _array(grad) if tensor else None
            text = _stats(garr) if garr is not None else _esc(_fmt(_scalar(grad)))
            cells.append(f"<TD>grad {text}</TD>")
        if fan > 1:
            cells.append(f'<TD BGCOLOR="{_FANOUT}">Σ×{fan}</TD>')
        if not cells:
            cells.append("<TD> </TD>")
        html_label = (f'<<TABLE BORDER="{border}" CELLBORDER="1" CELLSPACING="0" '
                      f'CELLPADDING="4" BGCOLOR="{fill}"><TR>{"".join(cells)}</TR></TABLE>>')
        where = bodies.setdefault(cluster_of[k], []) if k in cluster_of else top
        where.append((f"v{i}", {"label": html_label, "shape": "plain"}))
        if ins:
            where.append((f"o{i}", {"label": f"<{_esc(_op_text(node), 40)}>", "shape": "ellipse",
                                    "style": "filled", "fillcolor": _OPFILL, "fontsize": "10",
                                    "width": "0", "height": "0", "margin": "0.06,0.03"}))
            missing = False
            for p in ins:
                j = ids.get(id(p))
                if j is None:
                    missing = True
                else:
                    edge_list.append((f"v{j}", f"o{i}"))
            edge_list.append((f"o{i}", f"v{i}"))
            if missing:
                boundary.append(f"o{i}")

    for name, attrs in top:
        g.node(name, **attrs)
    _add_clusters(g, bodies)
    left_out = total - len(drawn)
    if left_out:
        g.node("more", label=f"<⋯ {_fmt_count(left_out)} more nodes<BR/>nearer the inputs>",
               shape="box", style="dashed,rounded", color="#888888", fontcolor="#555555",
               fontsize="10")
        for b in boundary:
            g.edge("more", b, style="dashed", color="#888888")
    for a, b in edge_list:
        g.edge(a, b)

    g.attr(label=_caption(total, edges, paths, left_out, len(drawn), max_nodes,
                          any_leaf, any_param, any_fan))
    return g


def _add_clusters(g, bodies: dict) -> None:
    """One cluster per module prefix, nested under the longest prefix that also has
    one; built deepest first so each is complete when added to its parent."""
    if not bodies:
        return
    prefixes = sorted(bodies)
    subs = {}
    for n, prefix in enumerate(prefixes):
        sub = graphviz.Digraph(name=f"cluster_{n}")
        sub.attr(label=f"<{_esc(prefix)}>", style="rounded,dashed", color="#9e86c8",
                 fontcolor="#5b4a80", fontsize="10", labeljust="l")
        for name, attrs in bodies[prefix]:
            sub.node(name, **attrs)
        subs[prefix] = sub

    def parent(prefix: str):
        parts = prefix.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            cand = ".".join(parts[:cut])
            if cand in subs:
                return cand
        return None

    for prefix in sorted(subs, key=lambda p: -p.count(".")):
        up = parent(prefix)
        (subs[up] if up is not None else g).subgraph(subs[prefix])


def _caption(total, edges, paths, left_out, drawn, max_nodes, any_leaf, any_param,
             any_fan) -> str:
    rows = [
        f"{_fmt_count(total)} nodes · {_fmt_count(edges)} edges · memoized backward: "
        f"{_fmt_count(edges)} local derivatives (one per edge) · naive chain rule: "
        f"{_fmt_count(paths)} paths"
    ]
    if left_out:
        rows.append(f"showing the {_fmt_count(drawn)} nodes nearest the output: "
                    f"{_fmt_count(left_out)} of {_fmt_count(total)} nodes left out "
                    f"(max_nodes={max_nodes})")
    legend = [f'<FONT COLOR="{_OUTPUT_KEY}">■</FONT> output']
    if any_leaf:
        legend.append(f'<FONT COLOR="{_LEAF_KEY}">■</FONT> leaf')
    if any_param:
        legend.append(f'<FONT COLOR="{_PARAM_KEY}">■</FONT> parameter')
    if any_fan:
        legend.append(f'<FONT COLOR="{_FANOUT_KEY}">Σ×k</FONT>: k gradients summed '
                      "into the node's memo slot")
    cells = "".join(f"<TR><TD>{html.escape(r)}</TD></TR>" for r in rows)
    return (f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0">{cells}'
            f'<TR><TD>{"   ".join(legend)}</TD></TR></TABLE>>')


def save(root, path, **kw) -> str:
    """Draw ``root`` (or render an already drawn ``Digraph``) into ``path``.

    The format comes from the extension: ``.png``, ``.svg`` or ``.pdf``. Keyword
    arguments go to :func:`draw_dot`. Returns the path written. Needs Graphviz's
    ``dot`` (:class:`GraphvizNotFoundError` says how to install it otherwise).

    >>> import os, tempfile
    >>> from tinygrad_memo import Value
    >>> x = Value(3.0, label="x"); y = (x * x).tanh()
    >>> with tempfile.TemporaryDirectory() as d:
    ...     os.path.basename(save(y, os.path.join(d, "graph.svg")))
    'graph.svg'
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in _FORMATS:
        raise ValueError(
            f"save: cannot tell the format from {path!r}: use a .png, .svg or .pdf file name"
        )
    if "format" in kw:
        raise TypeError("save: the format comes from the file extension; do not pass format=")
    if isinstance(root, graphviz.Digraph):
        if kw:
            raise TypeError("save: drawing options cannot be applied to an already drawn Digraph")
        g = root
    else:
        g = draw_dot(root, format=ext, **kw)
    try:
        data = g.pipe(format=ext, quiet=True)
    except GraphvizNotFoundError:
        raise
    except graphviz.ExecutableNotFound as e:  # a plain Digraph passed in
        raise GraphvizNotFoundError(str(e)) from e
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


# -- ready-made examples (the CLI's `viz --example`, the docs' pictures) -----------------
class _NamedParams:
    """A stand-in module: ``named_parameters()`` over a fixed list of (name, param)."""

    def __init__(self, pairs):
        self._pairs = list(pairs)

    def named_parameters(self):
        return iter(self._pairs)


def _neuron():
    from .value import Value

    x1 = Value(2.0, label="x1")
    x2 = Value(0.0, label="x2")
    w1 = Value(-3.0, label="w1")
    w2 = Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1 = x1 * w1
    x1w1.label = "x1*w1"
    x2w2 = x2 * w2
    x2w2.label = "x2*w2"
    x1w1x2w2 = x1w1 + x2w2
    x1w1x2w2.label = "x1*w1 + x2*w2"
    n = x1w1x2w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    o.backward()
    return o, {}


def _ladder(depth: int = 6):
    from .value import Value

    a = Value(1.05, label="a")
    for i in range(depth):
        a = a * a
        a.label = chr(ord("b") + i)
    a.backward()
    return a, {}


def _mlp():
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 2))
    y = rng.normal(size=(4, 1))
    w0, b0 = rng.normal(size=(3, 2)) * 0.7, rng.normal(size=3) * 0.1
    w1, b1 = rng.normal(size=(1, 3)) * 0.7, rng.normal(size=1) * 0.1
    try:
        from .tensor import Tensor

        T = lambda a: Tensor(a.astype(np.float32), requires_grad=True)  # noqa: E731
        W0, B0, W1, B1 = T(w0), T(b0), T(w1), T(b1)
        X, Y = Tensor(x.astype(np.float32)), Tensor(y.astype(np.float32))
        h = (X @ W0.T + B0).relu()
        out = h @ W1.T + B1
        loss = ((out - Y) ** 2).mean()
        loss.backward()
        module = _NamedParams([("layers.0.weight", W0), ("layers.0.bias", B0),
                               ("layers.2.weight", W1), ("layers.2.bias", B1)])
        return loss, {"module": module, "names": {"loss": loss}}
    except ImportError:
        pass
    # fallback: the same kind of network on Values (one input row, 2 -> 3 -> 1)
    from .value import Value

    xs = [Value(float(v), label=f"x{i}") for i, v in enumerate(x[0])]
    pairs = []
    hidden = []
    for j in range(3):
        ws = [Value(float(w0[j, i])) for i in range(2)]
        bj = Value(float(b0[j]))
        pairs += [(f"layers.0.neurons.{j}.w.{i}", w) for i, w in enumerate(ws)]
        pairs.append((f"layers.0.neurons.{j}.b", bj))
        act = bj
        for w, xi in zip(ws, xs):
            act = act + w * xi
        hidden.append(act.relu())
    ws = [Value(float(w1[0, i])) for i in range(3)]
    bo = Value(float(b1[0]))
    pairs += [(f"layers.1.neurons.0.w.{i}", w) for i, w in enumerate(ws)]
    pairs.append(("layers.1.neurons.0.b", bo))
    out = bo
    for w, hj in zip(ws, hidden):
        out = out + w * hj
    loss = (out - float(y[0, 0])) ** 2
    loss.label = "loss"
    loss.backward()
    return loss, {"module": _NamedParams(pairs)}


_BUILDERS = {"neuron": _neuron, "mlp": _mlp, "ladder": _ladder}


def _build(name: str):
    key = str(name).lower()
    if key not in _BUILDERS:
        raise ValueError(f"unknown example {name!r}: choose one of {', '.join(EXAMPLES)}")
    return _BUILDERS[key]()


def examples_graph(name: str):
    """The root of a ready-made example graph, after its backward pass.

    ``"neuron"``: micrograd's 2-input tanh neuron (x1=2, x2=0, w1=-3, w2=1,
    b=6.8813735870195432); ``"mlp"``: a small Tensor MLP (2 -> 3 -> 1, ReLU, mean
    squared error; a Value MLP if the Tensor engine is not available);
    ``"ladder"``: ``b = a * a``, ``c = b * b``, ... depth 6, where every level
    reuses the one before twice (64 paths, 12 edges).

    >>> o = examples_graph("neuron")
    >>> round(o.data, 4), o.label
    (0.7071, 'o')
    """
    return _build(name)[0]


def draw_example(name: str, **kw) -> graphviz.Digraph:
    """:func:`draw_dot` of :func:`examples_graph` ``(name)``, with that example's
    extras (the MLP's parameters named and clustered by layer).

    >>> "Σ×2" in draw_example("ladder").source
    True
    """
    root, extras = _build(name)
    for k, v in extras.items():
        kw.setdefault(k, v)
    return draw_dot(root, **kw)
