"""Memoization warm-up: Fibonacci computed naively, with a dict, and with functools.cache.

The naive recursion recomputes the same subproblems over and over: fib(n) makes
2 * F(n + 1) - 1 calls, which grows like 1.618 ** n. Remembering each result
the first time it is computed (memoization) leaves n + 1 distinct computations,
one per subproblem fib(0) .. fib(n). Backpropagation does the same to the chain
rule: one gradient per node, stored once, instead of one product per path.

    python examples/fibonacci.py             # n = 10, 15, ..., 35
    python examples/fibonacci.py --max-n 15  # quick

The counting functions are importable (the tests check their exact counts).
"""

from __future__ import annotations

import argparse
import functools
import sys
import time

MAX_N = 40  # naive fib(40) makes 331 million calls: minutes of pure Python


def fib_naive(n: int) -> tuple[int, int]:
    """Return (F(n), number of calls) for plain recursion: 2 * F(n + 1) - 1 calls."""
    calls = 0

    def fib(k: int) -> int:
        nonlocal calls
        calls += 1
        return k if k < 2 else fib(k - 1) + fib(k - 2)

    return fib(n), calls


def fib_memo(n: int) -> tuple[int, int, int]:
    """Return (F(n), calls, computations) for recursion memoized in a dict.

    A computation is a call that is not answered from the memo: one per
    subproblem fib(0) .. fib(n), so n + 1 of them (for n >= 2). The calls
    number 2n - 1 for n >= 1: each computation of fib(k), k >= 2, makes two
    calls, one of which is a memo hit.
    """
    memo: dict[int, int] = {}
    calls = 0
    computations = 0

    def fib(k: int) -> int:
        nonlocal calls, computations
        calls += 1
        if k in memo:
            return memo[k]
        computations += 1
        result = k if k < 2 else fib(k - 1) + fib(k - 2)
        memo[k] = result
        return result

    return fib(n), calls, computations


def fib_cache(n: int) -> tuple[int, int]:
    """Return (F(n), computations) using functools.cache (a fresh cache for each call).

    The function body only runs on a cache miss, so counting inside it counts
    the computations: n + 1 (for n >= 2), as with the dict.
    """
    computations = 0

    @functools.cache
    def fib(k: int) -> int:
        nonlocal computations
        computations += 1
        return k if k < 2 else fib(k - 1) + fib(k - 2)

    return fib(n), computations


def fib_iterative(n: int) -> int:
    """F(n) by a loop: the reference value."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def _timed(fn, n):
    t0 = time.perf_counter()
    out = fn(n)
    return out, time.perf_counter() - t0


def measure(n: int) -> dict:
    """Run the three methods for one n; return the counts and times (seconds)."""
    (v_naive, naive_calls), t_naive = _timed(fib_naive, n)
    (v_memo, memo_calls, memo_comps), t_memo = _timed(fib_memo, n)
    (v_cache, cache_comps), t_cache = _timed(fib_cache, n)
    expected = fib_iterative(n)
    if not v_naive == v_memo == v_cache == expected:
        raise AssertionError(f"fib({n}): the methods disagree: {v_naive} {v_memo} {v_cache}")
    return {
        "n": n,
        "fib": expected,
        "naive_calls": naive_calls,
        "naive_time": t_naive,
        "memo_calls": memo_calls,
        "memo_computations": memo_comps,
        "memo_time": t_memo,
        "cache_computations": cache_comps,
        "cache_time": t_cache,
    }


def _fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:8.1f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:8.2f} ms"
    return f"{seconds:8.2f} s "


def format_row(r: dict) -> str:
    """One table line for a result of measure()."""
    return (
        f"{r['n']:>4} {r['fib']:>10} | {r['naive_calls']:>12,} {_fmt_time(r['naive_time'])} | "
        f"{r['memo_calls']:>6} {r['memo_computations']:>6} {_fmt_time(r['memo_time'])} | "
        f"{r['cache_computations']:>6} {_fmt_time(r['cache_time'])}"
    )


HEADER = (
    f"{'n':>4} {'F(n)':>10} | {'naive calls':>12} {'time':>11} | "
    f"{'calls':>6} {'comps':>6} {'time':>11} | {'comps':>6} {'time':>11}\n"
    f"{'':>15} | {'naive recursion':^24} | {'memoized (dict)':^25} | {'functools.cache':^18}"
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--min-n", type=int, default=10, help="first n (default 10)")
    parser.add_argument("--max-n", type=int, default=35, help=f"last n (default 35, at most {MAX_N})")
    parser.add_argument("--step", type=int, default=5, help="step between n values (default 5)")
    args = parser.parse_args(argv)
    if not 0 <= args.min_n <= args.max_n:
        parser.error(f"need 0 <= --min-n <= --max-n, got {args.min_n} and {args.max_n}")
    if args.max_n > MAX_N:
        parser.error(f"--max-n {args.max_n} is too slow for naive recursion; at most {MAX_N}")
    if args.step < 1:
        parser.error(f"--step must be at least 1, got {args.step}")

    print("Fibonacci: calls and time, naive recursion vs memoization")
    for line in HEADER.splitlines():
        print(line.rstrip())
    for n in range(args.min_n, args.max_n + 1, args.step):
        print(format_row(measure(n)).rstrip(), flush=True)
    print(
        "\nnaive calls = 2 F(n+1) - 1 (exponential); memoized computations = n + 1 (linear).\n"
        "Backpropagation is the same trick applied to the chain rule."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
