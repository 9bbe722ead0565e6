"""The command line: ``python -m tinygrad_memo`` (or ``tinygrad-memo``) ``demo|memo|viz|bench|saved|modes``.

Every subcommand has ``--help``; flags mean the same everywhere (``--out`` is
where outputs go, ``--seed`` seeds the random generators, ``--quiet`` prints
less). Bad arguments exit with status 2 and a one-line message; a failure while
running prints a one-line ``error:`` message and exits non-zero.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from .viz import EXAMPLES, examples_graph, save

__all__ = ["BENCHMARKS", "build_parser", "main"]

PROG = "tinygrad-memo"
#: The benchmark scripts ``bench`` runs, by name, relative to benchmarks/.
BENCHMARKS = {"scalar": "scalar_mlp.py", "tensor": "tensor_mlp.py", "conv": "conv.py",
              "memory": "memory.py", "anomaly": "anomaly.py"}
#: The models ``saved`` reports on: the benchmarks' (scalar_mlp.py; tensor_mlp.py's sizes).
SAVED_MODELS = ("scalar", "small", "large", "deep")


def _int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    parse.__name__ = "int"
    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument gives one line (no usage dump) and exit 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the CLI (its subcommands: demo, memo, viz, bench, saved, modes).

    >>> args = build_parser().parse_args(["memo", "--depth", "6"])
    >>> args.command, args.depth, args.width
    ('memo', 6, 2)
    """
    from . import __version__

    p = _Parser(prog=PROG, description="tinygrad_memo: backprop = chain rule + memoization.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", metavar="{demo,memo,viz,bench,saved,modes}",
                           parser_class=_Parser)
    sub.required = True

    d = sub.add_parser("demo", help="run the demo, writing its outputs to --out",
                       description="Run the demo: the memoization table, micrograd's scalar MLP "
                                   "on two moons, a Tensor MLP on the digits, and pictures of "
                                   "graphs, with its outputs written to --out.")
    d.add_argument("--out", default="demo_out", metavar="DIR",
                   help="directory for the outputs (created; default: demo_out)")
    d.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    d.add_argument("--quiet", action="store_true", help="print nothing but errors")
    d.add_argument("--quick", action="store_true", help="small settings: a few seconds")
    d.set_defaults(func=_cmd_demo)

    m = sub.add_parser("memo", help="memoized backward vs naive path enumeration, by depth",
                       description="Build ladder graphs of depth 1..N (each level uses the "
                                   "previous one W times), run the memoized backward and the "
                                   "naive path-enumerating chain rule, and print a table.")
    m.add_argument("--depth", type=_int_at_least(1), required=True, metavar="N",
                   help="largest depth (rows for 1..N)")
    m.add_argument("--width", type=_int_at_least(1), default=2, metavar="W",
                   help="uses of the previous level per level (default: 2)")
    m.add_argument("--budget", type=_seconds, default=2.0, metavar="S",
                   help="skip a naive run predicted to take more than S seconds (default: 2)")
    m.add_argument("--quiet", action="store_true", help="print the table only")
    m.set_defaults(func=_cmd_memo)

    v = sub.add_parser("viz", help="draw your graph (module:function) or an example to a file",
                       description="Draw a graph with Graphviz: the one returned by your "
                                   "function (MODULE:FUNCTION is imported from the current "
                                   "directory or sys.path and called without arguments; it "
                                   "returns a Value or Tensor, a list of them, or a drawn "
                                   "graphviz.Digraph), or one of the example graphs.")
    v.add_argument("target", nargs="?", metavar="MODULE:FUNCTION",
                   help="e.g. mymodel:build_loss (a dotted module, a colon, a function)")
    v.add_argument("--example", choices=EXAMPLES, help="draw an example graph instead")
    v.add_argument("--out", required=True, metavar="FILE",
                   help="output file; its extension picks the format (.svg, .png, .jpg, .pdf)")
    v.add_argument("--max-nodes", type=_int_at_least(1), default=500, metavar="N",
                   help="most value nodes drawn, the nearest the output (default: 500)")
    v.add_argument("--max-depth", type=_int_at_least(0), default=None, metavar="K",
                   help="draw only the nodes at most K edges from the output")
    v.add_argument("--quiet", action="store_true", help="print nothing but errors")
    v.set_defaults(func=_cmd_viz)

    b = sub.add_parser("bench", help="run the benchmarks in benchmarks/ and print their tables",
                       description="Run the benchmark scripts (benchmarks/scalar_mlp.py, "
                                   "tensor_mlp.py, conv.py, memory.py, anomaly.py) with this "
                                   "Python.")
    b.add_argument("--which", choices=(*BENCHMARKS, "all"), default="all",
                   help="which benchmark to run (default: all)")
    b.add_argument("--quick", action="store_true", help="a short run (a smoke test)")
    b.add_argument("--seed", type=int, default=None,
                   help="random seed, passed to the scripts that take --seed")
    b.add_argument("--quiet", action="store_true", help="print the benchmarks' output only")
    b.set_defaults(func=_cmd_bench)

    s = sub.add_parser("saved", help="what the memo holds: arrays saved for backward, per op",
                       description="Build one forward pass of a benchmark model and print "
                                   "tm.saved_tensors_report of its loss: the arrays each op "
                                   "keeps for backward, summed per op, then node by node.")
    s.add_argument("--model", choices=SAVED_MODELS, default="small",
                   help="scalar: benchmarks/scalar_mlp.py; small, large, deep: the sizes of "
                        "benchmarks/tensor_mlp.py (default: small)")
    s.add_argument("--rows", type=_int_at_least(0), default=12, metavar="N",
                   help="saved arrays to list one by one (default: 12)")
    s.add_argument("--seed", type=int, default=0, help="seed of the weights and data (default: 0)")
    s.add_argument("--quiet", action="store_true", help="print the report only")
    s.set_defaults(func=_cmd_saved)

    o = sub.add_parser("modes", help="Jacobians in forward vs reverse order, by inputs and outputs",
                       description="For f: R^n -> R^m (two tanh layers on Values) over a grid "
                                   "of n and m, compute the Jacobian with tm.jacfwd (one forward "
                                   "sweep per input), tm.jacrev (one backward sweep per output) "
                                   "and the naive path-enumerating chain rule, and print the "
                                   "sweeps they counted and their times.")
    o.add_argument("--n", type=_sizes, default=(1, 4, 16, 64), metavar="N,N,...",
                   help="input sizes (default: 1,4,16,64)")
    o.add_argument("--m", type=_sizes, default=(1, 4, 16, 64), metavar="M,M,...",
                   help="output sizes (default: 1,4,16,64)")
    o.add_argument("--hidden", type=_int_at_least(1), default=4, metavar="H",
                   help="units per hidden layer (default: 4)")
    o.add_argument("--budget", type=_seconds, default=1.0, metavar="S",
                   help="skip a naive run predicted to take more than S seconds (default: 1)")
    o.add_argument("--repeats", type=_int_at_least(1), default=3, metavar="R",
                   help="timed runs per Jacobian, the best is shown (default: 3)")
    o.add_argument("--seed", type=int, default=0, help="seed of the weights and inputs (default: 0)")
    o.add_argument("--quiet", action="store_true", help="print the table only")
    o.set_defaults(func=_cmd_modes)
    return p


def _sizes(text: str) -> tuple:
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 1,4,16, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be >= 1, got {text!r}")
    return sizes


def _cmd_modes(args) -> int:
    from .modes import format_table, modes_table

    _say(args, "f: R^n -> R^m. jacfwd: one forward sweep (tm.jvp) per input, n sweeps; jacrev: "
               "one forward pass, then one backward sweep per output, m sweeps; naive: one "
               "product per root-to-leaf path. Sweeps and paths as counted while they ran; "
               "times in ms, best of --repeats.")
    rows = modes_table(args.n, args.m, hidden=args.hidden, naive_budget_s=args.budget,
                       repeats=args.repeats, seed=args.seed)
    print(format_table(rows))
    if not all(r["agree"] for r in rows):
        print("error: the Jacobians disagree", file=sys.stderr)
        return 1
    return 0


# -- commands ---------------------------------------------------------------------------
def _say(args, msg: str) -> None:
    if not getattr(args, "quiet", False):
        print(msg)


def _cmd_memo(args) -> int:
    from .memo import format_table, memo_table

    _say(args, f"Ladder graphs of width {args.width}: level i = tanh(sum of {args.width} "
               "scaled uses of level i-1). Memoized backward: one local derivative per edge; "
               "naive chain rule: one product per path.")
    rows = memo_table(range(1, args.depth + 1), naive_budget_s=args.budget, width=args.width)
    print(format_table(rows, args.budget))
    if any(r["agree"] is False for r in rows):
        print("error: memoized and naive gradients disagree", file=sys.stderr)
        return 1
    return 0


def _cmd_demo(args) -> int:
    from .demo import run_demo

    run_demo(args.out, seed=args.seed, quiet=args.quiet, quick=args.quick or None)
    return 0


def _user_graph(target: str):
    """What ``module:function`` returns when called (the module imported with the current
    directory on ``sys.path``, as ``python -m`` has it)."""
    import importlib

    mod_name, sep, attr = target.partition(":")
    if not sep or not mod_name or not attr:
        raise ValueError(f"viz: expected MODULE:FUNCTION (e.g. mymodel:build_loss), "
                         f"got {target!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj = importlib.import_module(mod_name)
    except ImportError as e:
        raise ValueError(f"viz: cannot import module {mod_name!r}: {e}") from e
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"viz: module {mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"viz: {target} is not callable (it is a {type(obj).__name__})")
    return obj()


def _cmd_viz(args) -> int:
    import graphviz

    graph = examples_graph(args.example) if args.example else _user_graph(args.target)
    if isinstance(graph, graphviz.Digraph):
        written = save(graph, args.out)
    else:
        try:
            written = save(graph, args.out, max_nodes=args.max_nodes, max_depth=args.max_depth)
        except TypeError as e:
            raise ValueError(f"viz: {args.target or args.example} returned something that is "
                             f"not a graph to draw: {e}") from e
    _say(args, f"wrote {written}")
    return 0


def _benchmarks_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "benchmarks"


def _cmd_bench(args) -> int:
    names = list(BENCHMARKS) if args.which == "all" else [args.which]
    bdir = _benchmarks_dir()
    status = 0
    for name in names:
        script = bdir / BENCHMARKS[name]
        if not script.is_file():
            print(f"{PROG} bench: skipping {name}: {script} not found")
            continue
        cmd = [sys.executable, str(script)]
        if args.quick:
            cmd.append("--quick")
        if args.seed is not None:
            if "--seed" in script.read_text(encoding="utf-8", errors="replace"):
                cmd += ["--seed", str(args.seed)]
            else:
                _say(args, f"note: {script.name} takes no --seed; running it without")
        _say(args, f"== {name}: {' '.join(cmd)}")
        sys.stdout.flush()
        rc = subprocess.call(cmd)
        if rc != 0:
            print(f"{PROG} bench: error: {script.name} exited with status {rc}",
                  file=sys.stderr)
            status = 1
    return status


def _load_benchmark(name: str):
    """A script of benchmarks/ imported as a module (its models are what ``saved`` reports)."""
    import importlib.util

    path = _benchmarks_dir() / name
    if not path.is_file():
        raise RuntimeError(f"{path} not found (saved needs a checkout with benchmarks/)")
    spec = importlib.util.spec_from_file_location(f"_bench_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _saved_model_loss(name: str, seed: int):
    """(description, loss of one forward pass) of a benchmark model."""
    if name == "scalar":
        bench = _load_benchmark("scalar_mlp.py")
        X, y = bench.moons(bench.N_POINTS, seed=seed)
        model = bench.TmMLP(bench.init_weights(seed))
        return (f"scalar MLP{list(bench.SIZES)} on {len(X)} points (benchmarks/scalar_mlp.py)",
                bench.tm_loss(model, X, y))
    import tinygrad_memo as tm
    from tinygrad_memo.nn import functional as F

    bench = _load_benchmark("tensor_mlp.py")
    size = bench.SIZES[name]
    ws, bs, x, y = bench.make_problem(size["dims"], size["batch"], seed)
    model = bench.MemoMLP(ws, bs, size["act"])
    dims = size["dims"]
    shape = f"{dims[0]}-{dims[1]}x{len(dims) - 2}-{dims[-1]}" if len(dims) > 4 else "-".join(
        map(str, dims))
    return (f"{name}: Tensor MLP {shape}, {size['act']}, batch {size['batch']}, cross-entropy "
            "(benchmarks/tensor_mlp.py)", F.cross_entropy(model.model(tm.Tensor(x)), y))


def _cmd_saved(args) -> int:
    from .report import format_bytes, saved_tensors_report

    title, loss = _saved_model_loss(args.model, args.seed)
    report = saved_tensors_report(loss)
    _say(args, f"What the memo holds after one forward pass of the {title}:")
    print(report.table(limit=0))
    width = max([len(op) for op in report.by_op()] + [2])
    print(f" {'op'.ljust(width)}  nodes  arrays  bytes (each buffer once)")
    for op, s in report.by_op().items():
        print(f" {op.ljust(width)}  {s.nodes:5d}  {s.arrays:6d}  {format_bytes(s.nbytes)}")
    if args.rows:
        print("\n".join(report.table(limit=args.rows).splitlines()[1:]))
    return 0


def main(argv=None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    >>> main(["memo", "--depth", "2", "--quiet"])  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
    depth  nodes  edges  local derivs  paths (= naive evals)  backward  naive  agree
    ...
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "viz" and (args.target is None) == (args.example is None):
            parser.error("viz: give either MODULE:FUNCTION or --example NAME (one of them)")
    except SystemExit as e:  # --help, --version, bad arguments
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into `head`
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the final flush
        except OSError:
            pass
        return 0
    except (OSError, ValueError, RuntimeError) as e:
        print(f"{PROG} {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
