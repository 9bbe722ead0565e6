"""``draw_dot`` (the graph walk, then the styling) and ``save`` (draw and render to a file)."""

from __future__ import annotations

import os

import graphviz

from .dot import needs_dot
from .graph import layout
from .style import RANKDIRS, picture

_FORMATS = ("png", "svg", "pdf")


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
    if rankdir not in RANKDIRS:
        raise ValueError(f"draw_dot: rankdir must be one of {RANKDIRS}, got {rankdir!r}")
    lay = layout(root, max_nodes=max_nodes, names=names, module=module)
    return picture(lay, format=format, rankdir=rankdir, show_data=show_data,
                   show_grad=show_grad, max_nodes=max_nodes)


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
    with needs_dot():  # also for a plain graphviz.Digraph passed in
        data = g.pipe(format=ext, quiet=True)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path
