"""Graphviz's ``dot`` program: the error that says how to install it, and the one
place where graphviz's missing-``dot`` error is turned into that error."""

from __future__ import annotations

import contextlib
import subprocess
import warnings

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


class GraphvizWarning(UserWarning):
    """What Graphviz printed on stderr while rendering (it still wrote an image), as a
    Python warning: e.g. that a PNG too large for its renderer was scaled down.

    >>> issubclass(GraphvizWarning, UserWarning)
    True
    """


#: What to do about Graphviz's silent downscale of big bitmaps (added to its warning).
_TOO_LARGE_HINT = ("the image was scaled down to fit the renderer's limit of 32767 pixels a "
                   "side: draw fewer nodes (max_nodes=, max_depth=, around=) or save as .svg")

#: The ``format=`` values Jupyter can show, and their MIME types (others show as SVG).
MIME_TYPES = {"svg": "image/svg+xml", "png": "image/png", "jpg": "image/jpeg",
              "jpeg": "image/jpeg"}


def run_dot(source: str, format: str, engine: str = "dot") -> bytes:
    """Render DOT ``source`` with Graphviz to ``format``; what Graphviz prints on stderr
    becomes a :class:`GraphvizWarning` (an error still raises). Needs ``dot``.

    >>> import shutil
    >>> shutil.which("dot") is None or run_dot("digraph { a -> b }", "svg").startswith(b"<?xml")
    True
    """
    cmd = [engine, f"-T{format}"]
    try:
        proc = subprocess.run(cmd, input=source.encode("utf-8"), capture_output=True)
    except FileNotFoundError as e:
        raise GraphvizNotFoundError(f"{engine!r} not found") from e
    text = proc.stderr.decode("utf-8", errors="replace").strip()
    if proc.returncode:
        raise graphviz.CalledProcessError(proc.returncode, cmd, output=proc.stdout,
                                          stderr=proc.stderr)
    for line in filter(None, (x.strip() for x in text.splitlines())):
        hint = f" ({_TOO_LARGE_HINT})" if "too large" in line else ""
        warnings.warn(f"Graphviz ({' '.join(cmd)}): {line}{hint}", GraphvizWarning, stacklevel=3)
    return proc.stdout


class Digraph(graphviz.Digraph):
    """A ``graphviz.Digraph`` whose rendering raises :class:`GraphvizNotFoundError`
    (with install instructions) when ``dot`` is missing and turns what Graphviz prints
    into :class:`GraphvizWarning` warnings. Jupyter shows it in its ``format`` (svg, png
    or jpg; svg for the others); its inline display goes through ``pipe`` too."""

    def _repr_mimebundle_(self, include=None, exclude=None, **_):
        mime = MIME_TYPES.get(self.format, "image/svg+xml")
        if (include is not None and mime not in include) or (exclude and mime in exclude):
            return super()._repr_mimebundle_(include, exclude)
        data = self.pipe(format=mime.split("/")[1].replace("svg+xml", "svg"))
        return {mime: data.decode("utf-8") if mime == "image/svg+xml" else data}

    def pipe(self, format=None, renderer=None, formatter=None, neato_no_op=None,
             quiet: bool = False, *, engine=None, encoding=None):
        if renderer is not None or formatter is not None or neato_no_op is not None:
            with needs_dot():
                return super().pipe(format, renderer, formatter, neato_no_op, quiet,
                                    engine=engine, encoding=encoding)
        with warnings.catch_warnings():
            if quiet:
                warnings.simplefilter("ignore", GraphvizWarning)
            data = run_dot(self.source, format or self.format, engine or self.engine)
        return data if encoding is None else data.decode(encoding)

    def render(self, *args, **kwargs):
        with needs_dot():
            return super().render(*args, **kwargs)
