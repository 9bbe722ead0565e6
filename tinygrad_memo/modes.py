"""The two orders of the chain rule on one function: forward vs reverse Jacobians, measured.

For ``f: R^n -> R^m`` the Jacobian has ``n`` columns and ``m`` rows. Forward mode
(:func:`tinygrad_memo.jacfwd`) gets one column per sweep: ``n`` sweeps, each a full evaluation
of ``f`` with tangents. Reverse mode (:func:`tinygrad_memo.jacrev`) gets one row per sweep:
one forward pass, then ``m`` backward sweeps. So forward wins when ``n < m`` and reverse when
``n > m``; for a loss (``m = 1``) reverse needs one sweep whatever ``n`` is, which is why
training uses backpropagation. The chain rule without memoization
(:func:`tinygrad_memo.engine.naive_grad`, one run per output) evaluates one product per
root-to-leaf path instead.

:func:`modes_table` measures all three on :func:`mixing` over a grid of ``n`` and ``m`` and
returns rows of data: the sweep counts are the ones the Jacobian functions counted while they
ran, the path counts the naive runs' own. :func:`format_table` makes them text. Nothing here
prints: the CLI (``python -m tinygrad_memo modes``) does.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .engine import naive_grad
from .forward import jacfwd, jacrev
from .value import Value

__all__ = ["format_table", "mixing", "modes_table"]


def mixing(n: int, m: int, hidden: int = 4, seed: int = 0):
    """``f: R^n -> R^m`` on Values: two tanh layers of ``hidden`` units, then ``m`` linear
    outputs, with fixed random weights (plain numbers inside the nodes). Every output depends
    on every input through ``hidden ** 2`` paths per input.

    >>> f = mixing(3, 2)
    >>> [round(y.data, 6) for y in f([0.1, 0.2, 0.3])]
    [0.029815, -0.004664]
    """
    rng = np.random.default_rng(seed)
    w1 = (rng.standard_normal((hidden, n)) / math.sqrt(n)).tolist()
    w2 = (rng.standard_normal((hidden, hidden)) / math.sqrt(hidden)).tolist()
    w3 = (rng.standard_normal((m, hidden)) / math.sqrt(hidden)).tolist()

    def layer(w, xs):
        out = []
        for row in w:
            s = xs[0] * row[0]
            for x, c in zip(xs[1:], row[1:]):
                s = s + x * c
            out.append(s)
        return out

    def f(xs):
        xs = [x if isinstance(x, Value) else Value(x) for x in xs]
        h = [s.tanh() for s in layer(w1, xs)]
        h = [s.tanh() for s in layer(w2, h)]
        return layer(w3, h)

    return f


def _best(run, x, repeats: int):
    best, result = math.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = run(x)
        best = min(best, time.perf_counter() - t0)
    return best, result


def modes_table(ns=(1, 4, 16, 64), ms=(1, 4, 16, 64), hidden: int = 4,
                naive_budget_s: float = 1.0, repeats: int = 3, seed: int = 0) -> list[dict]:
    """jacfwd vs jacrev (vs naive path enumeration) on ``mixing(n, m)`` for each ``n``, ``m``.

    Each row: ``n``, ``m``, ``fwd_sweeps`` and ``rev_sweeps`` (counted by the Jacobian
    functions), ``fwd_s`` and ``rev_s`` (best of ``repeats``), ``winner`` (``"forward"`` or
    ``"reverse"``, by time), ``naive_paths`` (path products the naive runs evaluated, one run
    per output) and ``naive_s``, or ``None`` for both when the run was predicted to take more
    than ``naive_budget_s`` (from the paths and the time per path measured so far), and
    ``agree``: the three Jacobians agree to 1e-9.

    >>> rows = modes_table(ns=(1, 8), ms=(8,), repeats=1)
    >>> [(r["n"], r["m"], r["fwd_sweeps"], r["rev_sweeps"], r["agree"]) for r in rows]
    [(1, 8, 1, 8, True), (8, 8, 8, 8, True)]
    """
    rows = []
    per_path = None
    for n in ns:
        for m in ms:
            f = mixing(n, m, hidden, seed)
            x = np.random.default_rng(seed + 1).uniform(-1, 1, n).tolist()
            fwd, rev = jacfwd(f), jacrev(f)
            fwd_s, jf = _best(fwd, x, repeats)
            rev_s, jr = _best(rev, x, repeats)
            paths = m * n * hidden * hidden
            row = {"n": n, "m": m, "fwd_sweeps": fwd.sweeps, "rev_sweeps": rev.sweeps,
                   "fwd_s": fwd_s, "rev_s": rev_s,
                   "winner": "forward" if fwd_s < rev_s else "reverse",
                   "naive_paths": None, "naive_s": None,
                   "agree": bool(np.allclose(jf, jr, rtol=1e-9, atol=1e-12))}
            if per_path is None or paths * per_path <= naive_budget_s:
                xs = [Value(v) for v in x]
                outs = f(xs)
                t0 = time.perf_counter()
                counted, jn = 0, []
                for y in outs:
                    grads, evaluations = naive_grad(y, xs)
                    counted += evaluations
                    jn.append([0.0 if g is None else g for g in grads])
                row["naive_s"] = time.perf_counter() - t0
                row["naive_paths"] = counted
                per_path = row["naive_s"] / max(counted, 1)
                row["agree"] = row["agree"] and bool(np.allclose(jn, jr, rtol=1e-9, atol=1e-12))
            rows.append(row)
    return rows


def _ms(s) -> str:
    return "-" if s is None else f"{s * 1e3:.1f}"


def format_table(rows: list[dict]) -> str:
    """The rows of :func:`modes_table` as aligned text (times in milliseconds).

    >>> print(format_table(modes_table(ns=(2,), ms=(1,), repeats=1)).splitlines()[0])
    n  m  jacfwd sweeps   ms  jacrev sweeps   ms  naive paths   ms   faster  agree
    """
    head = ("n", "m", "jacfwd sweeps", "ms", "jacrev sweeps", "ms", "naive paths", "ms",
            "faster", "agree")
    body = [(str(r["n"]), str(r["m"]), str(r["fwd_sweeps"]), _ms(r["fwd_s"]), str(r["rev_sweeps"]),
             _ms(r["rev_s"]), "-" if r["naive_paths"] is None else f"{r['naive_paths']:,}",
             _ms(r["naive_s"]), r["winner"], "yes" if r["agree"] else "NO") for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h)
              for i, h in enumerate(head)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(line, widths)) for line in [head, *body]]
    return "\n".join(lines)
