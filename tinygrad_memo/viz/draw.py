"""``draw_dot`` (the graph walk, then the styling) and ``save`` (draw and render to a file)."""

from __future__ import annotations

import os

import graphviz

from .dot import run_dot
from .graph import layout
from .style import RANKDIRS, picture

#: The image formats of :func:`draw_dot` (``format=``) and :func:`save` (by extension).
FORMATS = ("svg", "png", "jpg", "jpeg", "pdf")


def draw_dot(root, format: str = "svg", rankdir: str = "LR", show_data: bool = True,
             show_grad: bool = True, max_nodes: int | None = 500, names=None,
             module=None, *, max_depth: int | None = None, around=None,
             depth: int | None = None, groups=None) -> graphviz.Digraph:
    """Draw the graph that computed ``root`` (a Value or a Tensor, or a list of roots).

    Returns a ``graphviz.Digraph``: Jupyter shows it inline in its ``format`` (``svg``,
    ``png``, ``jpg``; a ``pdf`` graph shows as SVG), ``.source`` is the DOT text,
    ``.render(path, format=...)`` writes an image (see also :func:`save`). What
    Graphviz prints while rendering (e.g. that a huge PNG was scaled down) comes as a
    :class:`~tinygrad_memo.viz.dot.GraphvizWarning`.

    ``names``: a mapping ``{"w": w}`` naming nodes (it wins over ``Value.label``).
    ``module``: an object with ``named_parameters()`` (an ``nn.Module``): its
    parameters are labelled by their dotted names (``layers.0.weight``) and, with
    the ops that consume them, grouped into one cluster per submodule.
    ``groups``: a callable ``node -> group name`` (``None``: no group) or a mapping
    ``{node: group name}``: one cluster per group (e.g. per time step of an RNN),
    replacing the module clusters.

    Which nodes are drawn: all of them, or with ``around=node`` (or a list of nodes)
    the window of the nodes at most ``depth`` edges (default 2) upstream or downstream
    of it, or with ``max_depth=k`` the nodes at most ``k`` edges from the output; then
    at most ``max_nodes`` of those (default 500, ``None``: no limit), the nearest ones
    (breadth-first). Dashed boxes stand for what was left out, and the caption says how
    many nodes (its statistics are those of the whole graph).
    ``show_data`` / ``show_grad``: whether value nodes show data and gradients.

    >>> from tinygrad_memo import Value
    >>> a = Value(2.0, label="a"); b = a * a; b.label = "b"
    >>> dot = draw_dot(b)
    >>> "Σ×2" in dot.source and "2 local derivatives" in dot.source
    True
    """
    if rankdir not in RANKDIRS:
        raise ValueError(f"draw_dot: rankdir must be one of {RANKDIRS}, got {rankdir!r}")
    if format not in FORMATS:
        raise ValueError(f"draw_dot: format must be one of {FORMATS}, got {format!r}")
    lay = layout(root, max_nodes=max_nodes, names=names, module=module, max_depth=max_depth,
                 around=around, depth=depth, groups=groups)
    return picture(lay, format=format, rankdir=rankdir, show_data=show_data,
                   show_grad=show_grad, max_nodes=max_nodes)


def save(root, path, **kw) -> str:
    """Draw ``root`` (or render an already drawn ``Digraph``) into ``path``.

    The format comes from the extension: ``.svg``, ``.png``, ``.jpg`` (``.jpeg``) or
    ``.pdf``. What Graphviz prints comes as a ``GraphvizWarning``. Keyword
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
    if ext not in FORMATS:
        raise ValueError(f"save: cannot tell the format from {path!r}: use a .svg, .png, "
                         ".jpg or .pdf file name")
    if "format" in kw:
        raise TypeError("save: the format comes from the file extension; do not pass format=")
    if isinstance(root, graphviz.Digraph):
        if kw:
            raise TypeError("save: drawing options cannot be applied to an already drawn Digraph")
        g = root
    else:
        g = draw_dot(root, format=ext, **kw)
    data = run_dot(g.source, ext, getattr(g, "engine", "dot"))  # (also a plain Digraph)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path
