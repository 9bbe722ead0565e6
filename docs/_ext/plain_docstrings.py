"""A Griffe extension: render this project's plain docstrings well in mkdocstrings.

The docstrings of tinygrad_memo are plain text (no Google or NumPy sections)
with doctest examples (``>>>`` lines, each followed by its expected output).
Markdown would read a ``>>>`` line as a nested block quote, so this extension
wraps every run of doctest lines in a fenced ``pycon`` block, and turns the
Sphinx roles that some docstrings use (``:func:`~pkg.mod.name```) into inline
code. The doctests themselves stay untouched in the source, where pytest's
doctest runner and ``tests/test_docs.py`` read them.

Loaded from ``mkdocs.yml`` (``handlers.python.options.extensions``).
"""

from __future__ import annotations

import re

from griffe import Extension

_ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|obj|exc):`~?([^`]+)`")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _role(match: re.Match) -> str:
    target = match.group(1)
    whole = match.group(0)
    shown = target.rsplit(".", 1)[-1] if "`~" in whole else target
    return f"`{shown}`"


def convert(text: str) -> str:
    """Fence the doctest runs of ``text`` and replace Sphinx roles by inline code.

    A doctest run starts at a ``>>>`` line outside a code fence and goes on to
    the next blank line (or a line indented less than its first line); it is
    wrapped in a fenced ``pycon`` block at the left margin (its indentation
    removed), so it renders as a highlighted Python session.
    """
    out: list[str] = []
    in_fence = False
    in_doctest = False
    indent = ""
    for line in text.split("\n"):
        stripped = line.lstrip()
        if in_doctest:
            if stripped and line.startswith(indent):
                out.append(line[len(indent):])
                continue
            out.append("```")
            in_doctest = False
        if _FENCE.match(line):
            in_fence = not in_fence
            out.append(line)
            continue
        if not in_fence and stripped.startswith(">>>"):
            indent = line[: len(line) - len(stripped)]
            out.append("```pycon")
            out.append(stripped)
            in_doctest = True
            continue
        out.append(line if in_fence else _ROLE.sub(_role, line))
    if in_doctest:
        out.append("```")
    return "\n".join(out)


class PlainDocstrings(Extension):
    """Rewrite each docstring's text once, when Griffe creates the object."""

    def on_instance(self, *, obj, **kwargs) -> None:  # noqa: D102
        doc = getattr(obj, "docstring", None)
        if doc is not None and doc.value:
            doc.value = convert(doc.value)
