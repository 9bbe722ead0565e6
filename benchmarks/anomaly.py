"""What tm.detect_anomaly costs: training steps outside the block (before one was ever
entered, and after one was left) and inside it, in the same run.

Outside the block nothing of it runs (leaving the block puts the library's
ordinary entry points back), so "after" / "before" should be 1 up to noise;
inside it every op is checked and records where it was created. The steps are
the benchmarks' own: benchmarks/scalar_mlp.py (Value engine) and the small and
deep sizes of benchmarks/tensor_mlp.py (Tensor engine).

Each phase runs in fresh processes, alternating, so that "before" really never
saw a block.

    python benchmarks/anomaly.py [--repeats N] [--rounds R] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scalar_mlp  # noqa: E402
import tensor_mlp  # noqa: E402

import tinygrad_memo as tm  # noqa: E402


def steps():
    """name -> a function running one training step (fresh models, the benchmarks' data)."""
    X, y = scalar_mlp.moons(scalar_mlp.N_POINTS, seed=0)
    model = scalar_mlp.TmMLP(scalar_mlp.init_weights(0))
    out = {"scalar MLP (Value)": lambda: scalar_mlp.tm_step(model, X, y)}
    for size in ("small", "deep"):
        s = tensor_mlp.SIZES[size]
        ws, bs, x, yy = tensor_mlp.make_problem(s["dims"], s["batch"])
        m = tensor_mlp.MemoMLP(ws, bs, s["act"])
        out[f"{size} MLP (Tensor)"] = lambda m=m, x=x, yy=yy: m.step(x, yy)
    return out


def median_time(step, repeats: int) -> float:
    step()  # warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(phase: str, repeats: int) -> dict:
    """Median step times in this process: ``before`` never enters a block; ``after``
    enters one (timing the steps inside it too) and then times them after leaving."""
    cases = steps()
    out = {}
    if phase == "after":
        with tm.detect_anomaly():
            out["inside"] = {n: median_time(s, max(1, repeats // 4)) for n, s in cases.items()}
    out[phase] = {n: median_time(s, repeats) for n, s in cases.items()}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20, help="timed steps per measurement")
    ap.add_argument("--rounds", type=int, default=3,
                    help="fresh processes per phase, alternating before/after (default: 3)")
    ap.add_argument("--quick", action="store_true", help="a smoke test: 1 round of 2 steps")
    ap.add_argument("--phase", choices=("before", "after"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    repeats, rounds = (2, 1) if args.quick else (args.repeats, args.rounds)
    if args.phase:  # one measurement, in a process of its own
        print(json.dumps(measure(args.phase, repeats)))
        return 0
    runs: dict = {"before": [], "after": [], "inside": []}
    for _ in range(rounds):
        for phase in ("before", "after"):
            cmd = [sys.executable, __file__, "--phase", phase, "--repeats", str(repeats)]
            result = json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                               text=True).stdout)
            for k, v in result.items():
                runs[k].append(v)
    best = {k: {n: min(r[n] for r in v) for n in v[0]} for k, v in runs.items()}
    print(f"median time per training step (ms), best of {rounds} fresh processes per phase;")
    print("before: no block ever entered; after: a block was entered and left; inside: in it")
    print(f"{'step':22s} {'before':>9s} {'after':>9s} {'inside':>9s} {'after/before':>13s}"
          f" {'inside/before':>14s}")
    for name in best["before"]:
        b, a, i = best["before"][name], best["after"][name], best["inside"][name]
        print(f"{name:22s} {1e3 * b:9.3f} {1e3 * a:9.3f} {1e3 * i:9.3f} {a / b:13.2f}"
              f" {i / b:14.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
