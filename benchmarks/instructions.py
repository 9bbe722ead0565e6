"""Instructions per training step, counted by Valgrind: the step's overhead in a number
that does not move with the machine's load.

On a shared 2-core machine the time of a 0.1 ms step varies by a third from one run
to the next, so a change of a few percent in the engine cannot be timed. The number
of instructions the step executes barely moves (with ``PYTHONHASHSEED=0`` and BLAS
on one thread: a BLAS worker's spinning would count): 0.01% between runs of a step
alone, up to 1.5% between full runs of this script, where two counted processes run
at a time. Compilers' and databases' performance suites measure their changes so.
Each figure is the count of a run of ``N2`` steps minus that of a run of ``N1``
steps (the same set-up and warm-up in both: imports, recording), divided by
``N2 - N1``, for the steps of ``benchmarks/tensor_mlp.py`` (same models, same data)
under ``valgrind --tool=cachegrind --cache-sim=no``.

A count is not a time: it does not see cache misses or BLAS threads, and the
interpreter's instructions are slower than numpy's inner loops, so two steps of equal
counts (one of numpy calls, one with Python glue) need not take equal times. Use it
to compare the same step before and after a change: ``--against PATH`` counts the
steps of the library in another checkout too (``git worktree add /tmp/before HEAD~1``)
and prints the change; an implementation that tree lacks (``tm.jit``) is n/a.

    python benchmarks/instructions.py [--sizes small,deep] [--impls eager,jit...]
                                      [--against PATH] [--quick]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: tensor_mlp.py's implementations, by a short name (``--impls``)
IMPLS = {"numpy": "numpy", "buffers": "numpy buffers", "eager": "tinygrad_memo",
         "jit": "tinygrad_memo jit", "step": "jit whole step"}
BASE = "buffers"
#: (N1, N2) steps per size (small's count per step is the same to 0.1% from 50 steps on)
STEPS = {"small": (10, 60), "deep": (3, 13), "large": (1, 3)}
_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def child(impl: str, size: str, steps: int, src: str) -> None:
    """The counted process: ``steps`` steps of one implementation, after its warm-up."""
    sys.path.insert(0, src)  # (the library of that checkout, before any installed one)
    sys.path.insert(1, str(HERE))
    import tensor_mlp as bench

    cfg = bench.SIZES[size]
    ws, bs, x, y = bench.make_problem(cfg["dims"], cfg["batch"])
    model = bench.IMPLS[IMPLS[impl]](ws, bs, cfg["act"])
    for _ in range(5 + steps):  # (the jitted ones record on their first two calls)
        model.step(x, y)


def count(impl: str, size: str, steps: int, src: Path) -> int | None:
    """Instructions of a whole child process (None if it failed: an old checkout)."""
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
           sys.executable, str(Path(__file__).resolve()), "--child", impl, size, str(steps),
           str(src)]
    env = dict(os.environ, PYTHONHASHSEED="0", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    found = _REFS.search(r.stderr)
    if r.returncode != 0 or found is None:
        return None
    return int(found.group(1).replace(",", ""))


def per_step(jobs: list, steps: dict, workers: int) -> dict:
    """{(src, size, impl): instructions per step or None} for every job, from runs of
    ``steps[size]`` = (N1, N2) steps."""
    runs = [(src, size, impl, n) for src, size, impl in jobs for n in steps[size]]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        by_run = dict(zip(runs, pool.map(lambda r: count(r[2], r[1], r[3], r[0]), runs)))
    out = {}
    for src, size, impl in jobs:
        n1, n2 = steps[size]
        a, b = by_run[(src, size, impl, n1)], by_run[(src, size, impl, n2)]
        out[(src, size, impl)] = None if a is None or b is None else (b - a) / (n2 - n1)
    return out


def table(results: dict, trees: list, sizes: list, impls: list) -> list:
    lines = [f"thousand instructions per step (ratio to {IMPLS[BASE]}); valgrind cachegrind, "
             "PYTHONHASHSEED=0, one BLAS thread"]
    lines.append(f"{'size':<8}{'library':<12}" + "".join(f"{IMPLS[i]:>24}" for i in impls))
    for size in sizes:
        for k, src in enumerate(trees):
            base = results.get((trees[0], size, BASE))
            cells = []
            for i in impls:
                v = results.get((src, size, i))
                if v is None:
                    cells.append("n/a")
                elif base:
                    cells.append(f"{v / 1e3:10.1f} ({v / base:5.2f}x)")
                else:
                    cells.append(f"{v / 1e3:10.1f}")
            label = "this" if k == 0 else "against"
            lines.append(f"{size:<8}{label:<12}" + "".join(f"{c:>24}" for c in cells))
    if len(trees) == 2:
        lines.append(f"change from {trees[1]} to this checkout:")
        for size in sizes:
            for i in impls:
                if i in ("numpy", "buffers"):
                    continue
                new, old = results.get((trees[0], size, i)), results.get((trees[1], size, i))
                if new is not None and old is not None:
                    lines.append(f"  {size} {IMPLS[i]}: {old / 1e3:.1f}k -> {new / 1e3:.1f}k "
                                 f"({(new - old) / old:+.1%})")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="small,deep", help="of tensor_mlp.py: small,deep,large")
    ap.add_argument("--impls", default=",".join(IMPLS), help=f"some of {','.join(IMPLS)}")
    ap.add_argument("--against", type=Path, help="another checkout whose library is counted too")
    ap.add_argument("--quick", action="store_true", help="small only, numpy buffers and eager")
    ap.add_argument("--child", nargs=4, metavar=("IMPL", "SIZE", "STEPS", "SRC"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        impl, size, steps, src = args.child
        child(impl, size, int(steps), src)
        return 0
    if shutil.which("valgrind") is None:
        print("instructions.py: needs Valgrind (apt-get install valgrind)", file=sys.stderr)
        return 2
    sizes, impls, steps = args.sizes.split(","), args.impls.split(","), STEPS
    if args.quick:
        sizes, impls, steps = ["small"], ["buffers", "eager"], dict(STEPS, small=(10, 30))
    bad = [s for s in sizes if s not in STEPS] + [i for i in impls if i not in IMPLS]
    if bad:
        ap.error(f"unknown size or implementation: {', '.join(bad)}")
    if BASE not in impls:
        impls = [BASE] + impls
    trees = [ROOT] + ([args.against.resolve()] if args.against else [])
    jobs = [(src, size, i) for src in trees for size in sizes for i in impls
            if src == ROOT or i not in ("numpy", "buffers")]  # (numpy is the same in both)
    results = per_step(jobs, steps, max(1, os.cpu_count() or 1))
    for size in sizes:  # the numpy rows of the other tree are this one's
        for i in ("numpy", "buffers"):
            if len(trees) == 2 and (ROOT, size, i) in results:
                results[(trees[1], size, i)] = results[(ROOT, size, i)]
    print("\n".join(table(results, trees, sizes, impls)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
