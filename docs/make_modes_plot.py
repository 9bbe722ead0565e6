"""Draw docs/tutorial/img/modes.png: the two orders' Jacobian times against n, for several m.

Run from the repository root after ``make venv`` (needs matplotlib):

    .venv/bin/python docs/make_modes_plot.py

The data are :func:`tinygrad_memo.modes.modes_table`'s measurements (what
``python -m tinygrad_memo modes`` prints), so the picture shows this machine's times.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from tinygrad_memo.modes import modes_table  # noqa: E402

OUT = Path(__file__).resolve().parent / "tutorial" / "img" / "modes.png"
NS = (1, 2, 4, 8, 16, 32, 64)
MS = (1, 8, 64)


def main() -> int:
    rows = modes_table(ns=NS, ms=MS, naive_budget_s=0.0, repeats=5)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for m, colour in zip(MS, ("tab:blue", "tab:orange", "tab:green")):
        mine = [r for r in rows if r["m"] == m]
        ns = [r["n"] for r in mine]
        if m == MS[0]:
            axes[0].plot(ns, [r["fwd_sweeps"] for r in mine], "-o", color="black",
                         label="jacfwd, every m")
        axes[0].plot(ns, [r["rev_sweeps"] for r in mine], "--s", color=colour,
                     label=f"jacrev, m = {m}")
        axes[1].plot(ns, [r["fwd_s"] * 1e3 for r in mine], "-o", color=colour,
                     label=f"jacfwd, m = {m}")
        axes[1].plot(ns, [r["rev_s"] * 1e3 for r in mine], "--s", color=colour,
                     label=f"jacrev, m = {m}")
    for ax, what in zip(axes, ("sweeps (counted)", "time (ms, best of 5)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("n, the number of inputs")
        ax.set_ylabel(what)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_title("jacfwd: n sweeps; jacrev: m sweeps")
    axes[1].set_title("f: R^n -> R^m, two tanh layers on Values")
    axes[0].legend(fontsize=8, loc="upper left")
    axes[1].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=110)
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
