"""Graphviz's ``dot`` program: the error that says how to install it, and the one
place where graphviz's missing-``dot`` error is turned into that error."""

from __future__ import annotations

import contextlib

import graphviz

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


class GraphvizNotFoundError(graphviz.ExecutableNotFound):
    """Raised when rendering needs Graphviz's ``dot`` program and it is not installed.

    A ``RuntimeError`` (and a ``graphviz.ExecutableNotFound``) whose message says
    how to install Graphviz. The DOT text (``.source``) never needs ``dot``.

    >>> issubclass(GraphvizNotFoundError, RuntimeError)
    True
    """

    def __init__(self, detail: str = ""):
        RuntimeError.__init__(self, INSTALL_HINT + (f"\n({detail})" if detail else ""))


@contextlib.contextmanager
def needs_dot():
    """Inside this block, graphviz's missing-``dot`` error becomes :class:`GraphvizNotFoundError`.

    >>> try:
    ...     with needs_dot():
    ...         raise graphviz.ExecutableNotFound(["dot"])
    ... except GraphvizNotFoundError as e:
    ...     print(str(e).splitlines()[1].strip())
    Debian/Ubuntu:  sudo apt-get install graphviz
    """
    try:
        yield
    except GraphvizNotFoundError:
        raise
    except graphviz.ExecutableNotFound as e:
        raise GraphvizNotFoundError(str(e)) from e


class Digraph(graphviz.Digraph):
    """A ``graphviz.Digraph`` whose rendering raises :class:`GraphvizNotFoundError`
    (with install instructions) when ``dot`` is missing. Jupyter's inline display
    goes through ``pipe`` too."""

    def pipe(self, *args, **kwargs):
        with needs_dot():
            return super().pipe(*args, **kwargs)

    def render(self, *args, **kwargs):
        with needs_dot():
            return super().render(*args, **kwargs)
