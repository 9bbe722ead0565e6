"""Part 1 of the demo: memoized backward vs the naive chain rule on ladder graphs."""

from __future__ import annotations

import json
from pathlib import Path

from ..memo import format_table, memo_table
from .progress import postfix, progress


def part(ctx: dict) -> dict:
    """Ladders of depth 1..``ctx["settings"]["memo_depth"]``: ``memo_table.txt`` and
    ``.json``; the table is also kept in ``ctx["memo_table"]`` for the final summary."""
    depth, budget = ctx["settings"]["memo_depth"], ctx["settings"]["naive_budget_s"]
    ctx["log"](f"[1/5] Memoization: backward on ladder graphs of depth 1..{depth} vs the naive "
               "chain rule, which walks every path")
    rows = []
    bar = progress(ctx, range(1, depth + 1), "memo table", total=depth, unit="depth")
    for d in bar:
        rows.extend(memo_table([d], naive_budget_s=budget))
        postfix(bar, f"depth {d}: {rows[-1]['paths']:,} paths")
    table = format_table(rows, budget)
    out: Path = ctx["out"]
    txt, js = out / "memo_table.txt", out / "memo_table.json"
    txt.write_text(table + "\n", encoding="utf-8")
    js.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    ctx["descriptions"].update({
        txt.name: "memoized backward vs the naive chain rule, as a table",
        js.name: "the same rows as JSON",
    })
    bad = [r["depth"] for r in rows if r["agree"] is False]
    if bad:
        raise RuntimeError(f"demo: memoized and naive gradients disagree at depths {bad}")
    ctx["memo_table"] = table
    return {"memo_rows": rows, "files": [txt, js]}
