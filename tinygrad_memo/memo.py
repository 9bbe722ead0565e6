"""The memoization lesson on a graph: memoized backward vs the naive chain rule.

A *ladder* is a graph in which every level uses the level below it ``width``
times. The number of root-to-leaf paths is then ``width ** depth``, and that is
the number of path products the chain rule without memoization
(:func:`tinygrad_memo.engine.naive_grad`) evaluates, while the memoized
:func:`tinygrad_memo.engine.backward` evaluates one local derivative per edge,
a number that grows only linearly with depth.

:func:`memo_table` measures both on ladders of increasing depth and returns the
rows as data; :func:`format_table` turns them into aligned text. Nothing here
prints: the CLI (``python -m tinygrad_memo memo``) does.
"""

from __future__ import annotations

import math
import time

from .engine import naive_grad
from .value import Value

__all__ = ["LEAF_VALUE", "format_table", "ladder", "ladder_counts", "memo_table"]

#: The data of a ladder's leaf. Any moderate value works; values stay in (-1, 1).
LEAF_VALUE = 0.5
_BACKWARD_REPEATS = 3
#: The sum of the coefficients of one level (its linear gain before the tanh).
_GAIN = 1.25


def _coefficients(width: int) -> list[float]:
    """Distinct coefficients ``c_1 < ... < c_w`` summing to 1.25, one per use.

    Distinct coefficients make every path carry a different product, so a wrong
    gradient cannot hide behind symmetric paths.
    """
    norm = width * (width + 1) / 2
    return [_GAIN * (k + 1) / norm for k in range(width)]


def _check(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}: {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def ladder(depth: int, width: int = 2) -> tuple[Value, Value]:
    """Build a ladder graph; return ``(root, leaf)``.

    Level 0 is the leaf ``a = Value(0.5)``. Level ``i`` uses level ``i - 1``
    (called ``a``) ``width`` times, each use scaled by its own constant::

        b = (c_1 * a + c_2 * a + ... + c_w * a).tanh()

    with ``c_k = 1.25 * k / (w (w + 1) / 2)`` (distinct, summing to 1.25). The
    constants live inside the nodes (they are not nodes), and ``tanh`` keeps
    every value in (-1, 1), so the graph can be as deep as you like. Each level
    adds ``w`` products, ``w - 1`` sums and one ``tanh``: ``2 w`` nodes and
    ``3 w - 1`` edges, and multiplies the number of paths by ``w``. See
    :func:`ladder_counts` for the closed forms.

    >>> root, leaf = ladder(3)
    >>> root.backward()
    BackwardStats(nodes=13, edges=15, local_grads=15, paths=8)
    >>> round(leaf.grad, 6)
    0.516242
    """
    _check("ladder: depth", depth, 0)
    _check("ladder: width", width, 1)
    coeffs = _coefficients(width)
    leaf = Value(LEAF_VALUE, label="x")
    a = leaf
    for _ in range(depth):
        s = a * coeffs[0]
        for c in coeffs[1:]:
            s = s + a * c
        a = s.tanh()
    return a, leaf


def ladder_counts(depth: int, width: int = 2) -> dict:
    """The exact graph counts of ``ladder(depth, width)``, from the closed forms.

    ``nodes = 1 + 2 w d``, ``edges = local_grads = (3 w - 1) d``, ``paths = w ** d``.

    >>> ladder_counts(10)
    {'nodes': 41, 'edges': 50, 'local_grads': 50, 'paths': 1024}
    """
    _check("ladder_counts: depth", depth, 0)
    _check("ladder_counts: width", width, 1)
    edges = (3 * width - 1) * depth
    return {"nodes": 1 + 2 * width * depth, "edges": edges, "local_grads": edges,
            "paths": width ** depth}


def _time_naive(root, leaf) -> tuple[float, float, int]:
    """Run the naive oracle once: (gradient, seconds, evaluations)."""
    t0 = time.perf_counter()
    grads, evaluations = naive_grad(root, [leaf])
    return grads[0], time.perf_counter() - t0, evaluations


def _calibrate(width: int) -> float:
    """Seconds per path of ``naive_grad`` on a ladder with about a thousand paths."""
    depth = 64 if width == 1 else max(1, math.ceil(math.log(1000) / math.log(width)))
    root, leaf = ladder(depth, width)
    best = math.inf
    for _ in range(3):
        _, seconds, evaluations = _time_naive(root, leaf)
        best = min(best, seconds / evaluations)
    return best


def memo_table(depths, naive_budget_s: float = 2.0, width: int = 2) -> list[dict]:
    """Memoized backward vs the naive chain rule on ladders of the given depths.

    For each depth a fresh :func:`ladder` is built and
    ``root.backward(retain_graph=True)`` is timed (best of three passes; the
    gradient is the first pass's); its stats give the number of
    paths, which is the number of evaluations the naive oracle would make. The
    oracle (:func:`~tinygrad_memo.engine.naive_grad`) is then run on the same
    graph unless ``paths * seconds_per_path`` exceeds ``naive_budget_s``, where
    ``seconds_per_path`` is measured on a small ladder first and updated from
    every naive run since. The two gradients are compared with
    ``math.isclose(rel_tol=1e-9)``.

    Each row is a dict with ``depth``, ``width``, ``nodes``, ``edges``,
    ``local_grads``, ``paths``, ``backward_s``, ``grad`` (the memoized
    gradient of the root with respect to the leaf), ``naive_s``,
    ``naive_evaluations``, ``naive_grad`` and ``agree`` (all four ``None`` when the
    naive run was skipped), ``skipped`` (bool) and ``predicted_naive_s``.

    >>> rows = memo_table([1, 2, 3])
    >>> [(r["depth"], r["local_grads"], r["paths"], r["naive_evaluations"], r["agree"])
    ...  for r in rows]
    [(1, 5, 2, 2, True), (2, 10, 4, 4, True), (3, 15, 8, 8, True)]
    >>> memo_table([30], naive_budget_s=0.01)[0]["skipped"]
    True
    """
    _check("memo_table: width", width, 1)
    if not (isinstance(naive_budget_s, (int, float)) and naive_budget_s >= 0):
        raise ValueError(f"memo_table: naive_budget_s must be a number >= 0, "
                         f"got {naive_budget_s!r}")
    depths = [_check("memo_table: depth", d, 0) for d in depths]
    per_path = _calibrate(width) if depths else 0.0
    rows = []
    for depth in depths:
        root, leaf = ladder(depth, width)
        t0 = time.perf_counter()
        stats = root.backward(retain_graph=True)
        backward_s = time.perf_counter() - t0
        grad = leaf.grad
        for _ in range(_BACKWARD_REPEATS - 1):  # best of a few: less timer noise
            t0 = time.perf_counter()
            root.backward(retain_graph=True)
            backward_s = min(backward_s, time.perf_counter() - t0)
        try:
            predicted = stats.paths * per_path
        except OverflowError:  # more paths than a float holds: the naive run is out of reach
            predicted = math.inf
        row = {
            "depth": depth, "width": width, "nodes": stats.nodes, "edges": stats.edges,
            "local_grads": stats.local_grads, "paths": stats.paths,
            "backward_s": backward_s, "grad": grad, "predicted_naive_s": predicted,
            "skipped": predicted > naive_budget_s, "naive_s": None,
            "naive_evaluations": None, "naive_grad": None, "agree": None,
        }
        if not row["skipped"]:
            naive, naive_s, evaluations = _time_naive(root, leaf)
            if naive is None:  # depth 0: the root is the leaf itself
                naive = 1.0
            row.update(naive_s=naive_s, naive_evaluations=evaluations, naive_grad=naive,
                       agree=math.isclose(grad, naive, rel_tol=1e-9))
            if evaluations >= 1000:  # large enough to time reliably
                per_path = naive_s / evaluations
        rows.append(row)
    return rows


def _fmt_seconds(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def _fmt_count(n: int) -> str:
    """An exact count with separators, or ``≈ m × 10^e`` once it is huge."""
    if n < 10**15:
        return f"{n:,}"
    shift = max(n.bit_length() - 60, 0)  # (no str() of an integer with thousands of digits)
    log10 = math.log10(n >> shift) + shift * math.log10(2)
    e = math.floor(log10)
    return f"≈ {10 ** (log10 - e):.2f} × 10^{e}"


_COLUMNS = ("depth", "nodes", "edges", "local derivs", "paths (= naive evals)",
            "backward", "naive", "agree")


def format_table(rows: list[dict], budget_s: float | None = None) -> str:
    """The rows of :func:`memo_table` as an aligned text table (no trailing newline).

    Skipped naive runs read ``skipped (> budget)``, or ``skipped (> 2 s)`` when
    ``budget_s`` is given.

    >>> print(format_table(memo_table([1, 2])).splitlines()[0])  # doctest: +NORMALIZE_WHITESPACE
    depth  nodes  edges  local derivs  paths (= naive evals)  backward  naive  agree
    """
    skipped = "skipped (> budget)" if budget_s is None else f"skipped (> {budget_s:g} s)"
    body = []
    for r in rows:
        if r["skipped"]:
            naive, agree = skipped, "-"
        else:
            naive = _fmt_seconds(r["naive_s"])
            agree = "yes" if r["agree"] else "NO"
        body.append((str(r["depth"]), f"{r['nodes']:,}", f"{r['edges']:,}",
                     f"{r['local_grads']:,}", _fmt_count(r["paths"]),
                     _fmt_seconds(r["backward_s"]), naive, agree))
    widths = [max(len(c), *(len(b[i]) for b in body)) if body else len(c)
              for i, c in enumerate(_COLUMNS)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(_COLUMNS, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for b in body:
        lines.append("  ".join(c.rjust(w) for c, w in zip(b, widths, strict=True)))
    return "\n".join(line.rstrip() for line in lines)
