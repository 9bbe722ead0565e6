"""The memory side of memoization: a deep stack's backward storing everything against
tm.checkpoint_sequential, peak memory (tracemalloc) and time, over segment counts.

The model is n blocks of Linear(width, width) + tanh (default n = 100, width 256,
batch 64, float32) and a loss ``(out * w).sum()`` with a fixed random ``w``. One
step is forward + backward; the parameters' ``.grad`` arrays are kept between
steps (they accumulate in place), so after a first step what a step allocates is
what the memo costs: the *extra* peak is tracemalloc's peak during a step minus
the memory held before it (parameters, their gradients, the input).

"store all" is the plain forward; "k segments" is ``checkpoint_sequential(blocks,
k, x)``, which keeps the k segments' outputs and recomputes one segment at a time
inside backward (k - 1 of them: the last segment runs plainly, as in PyTorch).
With k = sqrt(n) the memo keeps about 2 sqrt(n) blocks' activations instead of
2n, for one more forward of all but the last segment. Gradients are checked to
be equal (exactly) to store-all's before anything is measured.

    python benchmarks/memory.py [--blocks N] [--width W] [--batch B] [--segments 5,10,...]
                                [--repeats R] [--clock wall|cpu] [--plot memory.png] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

try:
    import tinygrad_memo as tm
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import tinygrad_memo as tm

from tinygrad_memo import nn


def make_stack(blocks: int, width: int, batch: int, seed: int = 0):
    """(list of blocks, input, loss weight): the deep stack of the benchmark."""
    tm.manual_seed(seed)
    layers = [nn.Sequential(nn.Linear(width, width), nn.Tanh()) for _ in range(blocks)]
    rng = np.random.default_rng(seed)
    x = tm.Tensor(rng.standard_normal((batch, width)).astype(np.float32))
    w = rng.standard_normal((batch, width)).astype(np.float32)
    return layers, x, w


def step(layers, x, w, segments):
    """One forward + backward; ``segments=None`` stores everything."""
    if segments is None:
        h = x
        for layer in layers:
            h = layer(h)
    else:
        h = tm.checkpoint_sequential(layers, segments, x)
    (h * w).sum().backward()


def grads(layers):
    return [p.grad.copy() for layer in layers for p in layer.parameters()]


def check_equal(layers, x, w, segments_list) -> None:
    """Every segment count gives store-all's gradients, exactly."""
    def fresh():
        for layer in layers:
            layer.zero_grad()
    fresh()
    step(layers, x, w, None)
    want = grads(layers)
    for k in segments_list:
        fresh()
        step(layers, x, w, k)
        got = grads(layers)
        if not all(np.array_equal(a, b) for a, b in zip(want, got)):
            raise SystemExit(f"memory.py: gradients with {k} segments differ from store-all's")


def extra_peak(layers, x, w, segments) -> int:
    """Peak bytes a step allocates beyond what is held before it (after a first step)."""
    step(layers, x, w, segments)  # the .grad arrays exist from here on
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        step(layers, x, w, segments)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - before


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def step_time(layers, x, w, segments, repeats: int, clock=time.perf_counter) -> float:
    step(layers, x, w, segments)
    times = []
    for _ in range(repeats):
        t0 = clock()
        step(layers, x, w, segments)
        times.append(clock() - t0)
    return statistics.median(times)


def measure(blocks: int, width: int, batch: int, segments_list, repeats: int,
            clock=time.perf_counter) -> list:
    """One row per configuration: dict(name, segments, extra_bytes, seconds)."""
    layers, x, w = make_stack(blocks, width, batch)
    check_equal(layers, x, w, segments_list)
    configs = [None] + list(segments_list)
    rows = {k: {"name": "store all" if k is None else f"{k} segments", "segments": k,
                "extra_bytes": extra_peak(layers, x, w, k), "times": []} for k in configs}
    for _ in range(repeats):  # interleaved rounds: a shared machine's drift hits all alike
        for k in configs:
            rows[k]["times"].append(step_time(layers, x, w, k, 3, clock))
    out = []
    for k in configs:
        r = rows[k]
        r["seconds"] = min(r.pop("times"))
        out.append(r)
    return out


def table(rows, blocks: int) -> str:
    base = rows[0]
    target = 2.5 * math.sqrt(blocks) / blocks
    lines = [f"{'':14s} {'extra peak':>11s} {'memory':>8s} {'step':>9s} {'time':>6s}",
             f"{'':14s} {'(MiB)':>11s} {'ratio':>8s} {'(ms)':>9s} {'ratio':>6s}"]
    for r in rows:
        lines.append(f"{r['name']:14s} {r['extra_bytes'] / 2 ** 20:11.2f} "
                     f"{r['extra_bytes'] / base['extra_bytes']:8.3f} {1e3 * r['seconds']:9.1f} "
                     f"{r['seconds'] / base['seconds']:6.2f}")
    lines.append(f"goal with sqrt(n) = {round(math.sqrt(blocks))} segments: memory ratio <= "
                 f"2.5 sqrt(n)/n = {target:.3f}, time ratio <= 1.40")
    return "\n".join(lines)


def plot(rows, path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    base = rows[0]
    xs = [r["seconds"] / base["seconds"] for r in rows]
    ys = [r["extra_bytes"] / 2 ** 20 for r in rows]
    ax.plot(xs[1:], ys[1:], "o-", color="tab:blue", label="checkpoint_sequential")
    ax.plot(xs[:1], ys[:1], "s", color="tab:red", markersize=8, label="store all")
    for r, x, y in zip(rows, xs, ys):
        ax.annotate(r["name"].replace(" segments", ""), (x, y), textcoords="offset points",
                    xytext=(6, 4), fontsize=8)
    ax.set_xlabel("time of forward + backward (relative to store all)")
    ax.set_ylabel("extra peak memory (MiB)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=100, help="Linear+tanh blocks (default: 100)")
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--segments", default=None,
                    help="comma-separated segment counts (default: 2,4,5,10,20,25,50,n)")
    ap.add_argument("--repeats", type=int, default=5, help="interleaved timing rounds")
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                    help="wall time, or this process's CPU time (steadier on a shared "
                         "machine; use with OPENBLAS_NUM_THREADS=1)")
    ap.add_argument("--plot", default=None, metavar="PNG", help="write memory vs time here")
    ap.add_argument("--quick", action="store_true", help="a smoke test: 16 blocks of 32")
    args = ap.parse_args(argv)
    if args.quick:
        args.blocks, args.width, args.batch, args.repeats = 16, 32, 8, 1
    n = args.blocks
    if args.segments:
        segments = [int(s) for s in args.segments.split(",")]
    else:
        segments = sorted({k for k in (2, 4, 5, 10, 20, 25, 50, round(math.sqrt(n)), n)
                           if 1 < k <= n})
    rows = measure(n, args.width, args.batch, segments, args.repeats, CLOCKS[args.clock])
    title = (f"{n} blocks of Linear({args.width}, {args.width}) + tanh, batch {args.batch}, "
             "float32")
    print(title + "; gradients equal to store-all's (exactly) for every segment count")
    print(table(rows, n))
    if args.plot:
        plot(rows, args.plot, title)
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
