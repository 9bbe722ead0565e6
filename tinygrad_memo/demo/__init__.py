"""The demo that ``make demo`` (``python -m tinygrad_memo demo --out DIR``) runs.

It is an application, not library code (the library never imports it; the CLI
does, when ``demo`` runs): it writes its results into ``out`` and reports
progress through ``log`` (``print`` by the CLI; nothing when ``quiet``) and tqdm
progress bars on stderr (none when ``quiet``). Each part is a small function
taking the same context, in its own module, listed in :data:`PARTS` and run in
order:

1. ``memo`` (``memo_table.py``): memoized backward vs the naive chain rule on
   ladder graphs of depth 1..20 (``memo_table.txt``, ``memo_table.json``);
2. ``moons`` (``moons.py``): micrograd's classic, a scalar
   ``nn.scalar.MLP(2, [16, 16, 1])`` of Values trained on 100 two-moons points
   with the SVM hinge loss, L2 regularisation and SGD (lr 1.0 -> 0.1)
   (``moons_loss.png``: loss and accuracy per step; ``moons_boundary.png``: the
   decision boundary);
3. ``digits`` (``digits.py``): a Tensor ``nn.MLP(64, [128, 64, 10])`` trained with
   Adam and cross-entropy on minibatches of the 8x8 handwritten digits
   (``digits_curves.png``, ``digits_samples.png``), or on three spirals when
   scikit-learn (which ships the digits) is missing (``spirals_curves.png``,
   ``spirals_boundary.png``);
4. ``cnn`` (``cnn.py``): a small CNN (two conv-relu-maxpool blocks, then a linear
   layer) on the digits as 1x8x8 images, with Adam (``cnn_curves.png``; and
   ``cnn_graph.png``: its graph, clustered by layer); skipped without scikit-learn;
5. ``graphs`` (``graphs.py``): Graphviz pictures of micrograd's neuron with its
   gradients (``neuron.png``) and of a small Tensor MLP (``mlp.png``), and the
   memoized backward animated on the neuron and on a ladder graph
   (``neuron_backward.gif``, ``ladder_backward.gif``: one frame per node, needs
   Pillow); skipped with a one-line install hint when Graphviz's ``dot`` is missing.

The plots (``plots.py``) need matplotlib (the ``demo`` extra); without it the
training still runs and the plots are skipped with a message. ``quick=True``
runs every part with small settings (a few seconds; the tests use it).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..random import manual_seed
from . import cnn, digits, graphs, memo_table, moons
from .digits import train_classifier
from .moons import train_moons

__all__ = ["DEMO_DEPTH", "PARTS", "QUICK", "SETTINGS", "run_demo", "train_classifier",
           "train_moons"]

#: Ladder depths of the demo's memo table: 1..DEMO_DEPTH.
DEMO_DEPTH = 20
#: Seconds allowed to one naive (path-enumerating) run in the demo's table.
DEMO_BUDGET_S = 2.0
#: The default of ``run_demo(quick=None)``: a test can set it to make the CLI's demo quick.
QUICK = False

#: The settings of the full and the quick demo.
SETTINGS = {
    "full": {"memo_depth": DEMO_DEPTH, "moons_n": 100, "moons_steps": 100,
             "digits_epochs": 20, "spirals_epochs": 60, "cnn_epochs": 15},
    "quick": {"memo_depth": 8, "moons_n": 40, "moons_steps": 12,
              "digits_epochs": 4, "spirals_epochs": 20, "cnn_epochs": 2},
}


#: The demo's parts, run in order: (name, function(ctx) -> dict of results).
#: ``ctx`` holds ``out`` (a Path), ``seed``, ``quiet``, ``quick``, ``log`` and
#: ``settings`` (the row of :data:`SETTINGS`, with the memo table's depth and budget).
PARTS: list[tuple[str, Callable[[dict], dict]]] = [
    ("memo", memo_table.part), ("moons", moons.part), ("digits", digits.part),
    ("cnn", cnn.part), ("graphs", graphs.part),
]


def run_demo(out, seed: int = 0, quiet: bool = False,
             log: Callable[[str], object] | None = print, quick: bool | None = None,
             parts=None) -> dict:
    """Run the parts of the demo, writing their outputs under ``out`` (created).

    Seeds Python's, numpy's and the library's random generators with ``seed``.
    Progress goes to ``log`` (default ``print``) and to tqdm bars on stderr,
    unless ``quiet``. ``quick=True`` uses small settings (seconds instead of a
    minute; ``None`` means the module's :data:`QUICK`); ``parts`` picks some of
    the parts by name (default: all of :data:`PARTS`, in order). Returns a dict
    merging the parts' results (``memo_rows``, ``moons``, ``classifier``, ``cnn``,
    ``graphs``), with ``files``: every file written, and ``seconds``.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     result = run_demo(d, quiet=True, quick=True, parts=["memo"])
    ...     sorted(p.name for p in result["files"])
    ['memo_table.json', 'memo_table.txt']
    """
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    quick = QUICK if quick is None else bool(quick)
    names = [name for name, _ in PARTS]
    if parts is None:
        chosen = list(PARTS)
    else:
        unknown = [p for p in parts if p not in names]
        if unknown:
            raise ValueError(f"run_demo: unknown part(s) {unknown}; the parts are {names}")
        chosen = [(name, fn) for name, fn in PARTS if name in parts]
    random.seed(seed)
    np.random.seed(seed)
    manual_seed(seed)
    quiet = bool(quiet) or log is None
    emit = (lambda _msg: None) if quiet else log
    settings = dict(SETTINGS["quick" if quick else "full"], naive_budget_s=DEMO_BUDGET_S)
    settings["memo_depth"] = min(DEMO_DEPTH, settings["memo_depth"]) if quick else DEMO_DEPTH
    ctx = {"out": out, "seed": seed, "quiet": quiet, "quick": quick, "log": emit,
           "settings": settings, "descriptions": {}, "accuracies": []}
    emit(f"tinygrad_memo demo: writing outputs to {out.resolve()} (seed {seed}"
         f"{', quick settings' if quick else ''})")
    result: dict = {"files": []}
    for _name, part in chosen:
        r = part(ctx)
        result["files"].extend(r.pop("files", []))
        result.update(r)
    result["seconds"] = time.perf_counter() - t0

    emit("")
    if "memo_table" in ctx:
        emit("Memoized backward vs the naive chain rule (ladder graphs, width 2): the local "
             "derivatives grow linearly with depth, the paths exponentially")
        emit(ctx["memo_table"])
        emit("")
    if ctx["accuracies"]:
        emit("Final accuracies:")
        for line in ctx["accuracies"]:
            emit(f"  {line}")
        emit("")
    emit(f"Outputs in {out.resolve()}:")
    width = max((len(f.name) for f in result["files"]), default=0)
    for f in result["files"]:
        emit(f"  {f.name.ljust(width)}  {ctx['descriptions'].get(f.name, '')}".rstrip())
    emit(f"Done in {result['seconds']:.1f} s.")
    return result
