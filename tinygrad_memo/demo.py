"""The demo that ``make demo`` (``python -m tinygrad_memo demo --out DIR``) runs.

It is an application, not library code: it writes its results into ``out`` and
reports progress through ``log`` (``print`` by the CLI; nothing when ``quiet``).
Each part is a small function taking the same context, so later parts (training,
pictures) can be added to :data:`PARTS` without touching the others.

For now it has one part: the memoization table (memoized backward vs the naive
chain rule on ladder graphs of depth 1..20), written to ``memo_table.txt`` and
``memo_table.json``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

from .memo import format_table, memo_table

__all__ = ["DEMO_DEPTH", "PARTS", "run_demo"]

#: Ladder depths of the demo's memo table: 1..DEMO_DEPTH.
DEMO_DEPTH = 20
#: Seconds allowed to one naive (path-enumerating) run in the demo's table.
DEMO_BUDGET_S = 2.0


def _memo_part(ctx: dict) -> dict:
    """Memoized backward vs naive path enumeration on ladders of depth 1..20."""
    rows = memo_table(range(1, DEMO_DEPTH + 1), naive_budget_s=DEMO_BUDGET_S)
    table = format_table(rows, DEMO_BUDGET_S)
    out: Path = ctx["out"]
    txt, js = out / "memo_table.txt", out / "memo_table.json"
    txt.write_text(table + "\n", encoding="utf-8")
    js.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    ctx["log"]("Memoized backward vs the naive chain rule (ladder graphs, width 2):")
    ctx["log"](table)
    bad = [r["depth"] for r in rows if r["agree"] is False]
    if bad:
        raise RuntimeError(f"demo: memoized and naive gradients disagree at depths {bad}")
    return {"memo_rows": rows, "files": [txt, js]}


#: The demo's parts, run in order: (name, function(ctx) -> dict of results).
#: ``ctx`` holds ``out`` (a Path), ``seed``, ``quiet`` and ``log``.
PARTS: list[tuple[str, Callable[[dict], dict]]] = [("memo", _memo_part)]


def run_demo(out, seed: int = 0, quiet: bool = False,
             log: Callable[[str], object] | None = print) -> dict:
    """Run every part of the demo, writing its outputs under ``out`` (created).

    Seeds Python's and numpy's random generators with ``seed``. Progress goes to
    ``log`` (default ``print``) unless ``quiet``. Returns a dict merging the parts'
    results, with ``files``: every file written.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     result = run_demo(d, quiet=True)
    ...     sorted(p.name for p in result["files"])
    ['memo_table.json', 'memo_table.txt']
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    emit = (lambda _msg: None) if quiet or log is None else log
    ctx = {"out": out, "seed": seed, "quiet": quiet, "log": emit}
    emit(f"tinygrad_memo demo: writing outputs to {out.resolve()} (seed {seed})")
    result: dict = {"files": []}
    for _name, part in PARTS:
        r = part(ctx)
        result["files"].extend(r.pop("files", []))
        result.update(r)
    emit("Outputs:")
    for f in result["files"]:
        emit(f"  {f}")
    return result
