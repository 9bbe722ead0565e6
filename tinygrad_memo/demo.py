"""The demo that ``make demo`` (``python -m tinygrad_memo demo --out DIR``) runs.

It is an application, not library code: it writes its results into ``out`` and
reports progress through ``log`` (``print`` by the CLI; nothing when ``quiet``)
and tqdm progress bars on stderr (none when ``quiet``). Each part is a small
function taking the same context, listed in :data:`PARTS` and run in order:

1. ``memo``: memoized backward vs the naive chain rule on ladder graphs of depth
   1..20 (``memo_table.txt``, ``memo_table.json``);
2. ``moons``: micrograd's classic, a scalar ``nn.scalar.MLP(2, [16, 16, 1])`` of
   Values trained on 100 two-moons points with the SVM hinge loss, L2
   regularisation and SGD (lr 1.0 -> 0.1) (``moons_loss.png``: loss and
   accuracy per step; ``moons_boundary.png``: the decision boundary);
3. ``digits``: a Tensor ``nn.MLP(64, [128, 64, 10])`` trained with Adam and
   cross-entropy on minibatches of the 8x8 handwritten digits
   (``digits_curves.png``, ``digits_samples.png``), or on three spirals when
   scikit-learn (which ships the digits) is missing (``spirals_curves.png``,
   ``spirals_boundary.png``);
4. ``graphs``: Graphviz pictures of micrograd's neuron with its gradients
   (``neuron.png``) and of a small Tensor MLP (``mlp.png``); skipped with a
   one-line install hint when Graphviz's ``dot`` is missing.

The pictures need matplotlib (the ``demo`` extra); without it the training
still runs and the plots are skipped with a message. ``quick=True`` runs every
part with small settings (a few seconds; the tests use it).
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import data, nn, optim
from .grad_mode import no_grad
from .memo import format_table, memo_table
from .nn import functional as F
from .random import manual_seed
from .tensor import Tensor

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
             "digits_epochs": 20, "spirals_epochs": 60},
    "quick": {"memo_depth": 8, "moons_n": 40, "moons_steps": 12,
              "digits_epochs": 4, "spirals_epochs": 20},
}

_PNG_DPI = 110


# -- helpers: progress bars, pictures ---------------------------------------------------
def _progress(ctx: dict, iterable, desc: str, total: int | None = None, unit: str = "step"):
    """A tqdm bar over ``iterable`` on stderr (plain iteration when quiet or without tqdm)."""
    if ctx["quiet"]:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is in the demo extra; the demo works without it
        return iterable
    return tqdm(iterable, desc=desc, total=total, leave=False, file=sys.stderr,
                dynamic_ncols=True, unit=unit)


def _postfix(bar, text: str) -> None:
    if hasattr(bar, "set_postfix_str"):
        bar.set_postfix_str(text, refresh=False)


def _figure(ctx: dict, *, figsize, ncols: int = 1, nrows: int = 1):
    """A matplotlib Figure with its axes, drawn off screen (no pyplot, no global backend),
    or None (logged once) when matplotlib is not installed."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        if not ctx.get("warned_matplotlib"):
            ctx["warned_matplotlib"] = True
            ctx["log"]("matplotlib is not installed, so the demo writes no plots "
                       "(pip install matplotlib, or the demo extra: pip install -e '.[demo]')")
        return None, None
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _savefig(ctx: dict, fig, name: str, description: str) -> Path:
    path = ctx["out"] / name
    fig.savefig(path, dpi=_PNG_DPI)
    ctx["descriptions"][name] = description
    return path


# -- part 1: the memo table ---------------------------------------------------------------
def _memo_part(ctx: dict) -> dict:
    """Memoized backward vs naive path enumeration on ladders of depth 1..DEMO_DEPTH."""
    depth = DEMO_DEPTH if not ctx["quick"] else min(DEMO_DEPTH, SETTINGS["quick"]["memo_depth"])
    ctx["log"](f"[1/4] Memoization: backward on ladder graphs of depth 1..{depth} vs the naive "
               "chain rule, which walks every path")
    rows = []
    bar = _progress(ctx, range(1, depth + 1), "memo table", total=depth, unit="depth")
    for d in bar:
        rows.extend(memo_table([d], naive_budget_s=DEMO_BUDGET_S))
        _postfix(bar, f"depth {d}: {rows[-1]['paths']:,} paths")
    table = format_table(rows, DEMO_BUDGET_S)
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


# -- part 2: micrograd's scalar MLP on two moons ----------------------------------------------
def train_moons(n: int = 100, steps: int = 100, seed: int = 0, alpha: float = 1e-4,
                callback: Callable[[int, float, float], object] | None = None) -> dict:
    """micrograd's demo: a scalar ``MLP(2, [16, 16, 1])`` of Values on ``n`` two-moons points.

    The loss is the SVM hinge loss ``mean(relu(1 - y_i score_i))`` (labels
    ``y = -1, +1``) plus ``alpha * sum(p ** 2)`` over the 337 parameters; plain
    SGD with a learning rate decaying linearly from 1.0 to 0.1. Returns a dict:
    ``model``, ``X``, ``y`` (0/1), ``losses`` and ``accuracies`` (one per step,
    measured on the forward pass of that step), ``accuracy`` and ``loss`` (of
    the trained model), ``seconds``. ``callback(step, loss, accuracy)`` is
    called after every step.

    >>> r = train_moons(n=20, steps=3, seed=0)
    >>> len(r["losses"]), len(r["model"].parameters())
    (3, 337)
    >>> 0.0 <= r["accuracy"] <= 1.0
    True
    """

    manual_seed(seed)
    X, y = data.make_moons(n, noise=0.1, seed=seed)
    xs = [[float(a), float(b)] for a, b in X]
    ys = [2.0 * float(t) - 1.0 for t in y]  # labels -1 / +1 for the hinge loss
    model = nn.scalar.MLP(2, [16, 16, 1])
    params = model.parameters()
    opt = optim.SGD(params, lr=1.0)

    def loss_of(scores):
        data_loss = F.hinge_loss(scores, ys)
        reg = alpha * sum((p * p for p in params), 0.0)
        return data_loss + reg

    def accuracy_of(scores):
        return sum((s.data > 0) == (t > 0) for s, t in zip(scores, ys)) / len(ys)

    losses, accuracies = [], []
    t0 = time.perf_counter()
    for k in range(steps):
        scores = [model(x) for x in xs]
        loss = loss_of(scores)
        model.zero_grad()
        loss.backward()
        opt.lr = 1.0 - 0.9 * k / max(1, steps - 1)
        opt.step()
        losses.append(loss.data)
        accuracies.append(accuracy_of(scores))
        del scores, loss  # free this step's graph before the next one is built
        if callback is not None:
            callback(k, losses[-1], accuracies[-1])
    with no_grad():
        scores = [model(x) for x in xs]
        final_loss, final_acc = loss_of(scores).data, accuracy_of(scores)
    return {"model": model, "X": X, "y": y, "losses": losses, "accuracies": accuracies,
            "loss": float(final_loss), "accuracy": float(final_acc),
            "seconds": time.perf_counter() - t0}


def _scalar_mlp_numpy(model, X: np.ndarray) -> np.ndarray:
    """The scores of a scalar ``nn.scalar.MLP`` on the rows of ``X``, computed with numpy
    from the model's weights (the same arithmetic, fast enough for a fine grid)."""
    h = np.asarray(X, dtype=np.float64)
    for layer in model.layers:
        W = np.array([[w.data for w in neuron.w] for neuron in layer.neurons])
        b = np.array([neuron.b.data for neuron in layer.neurons])
        h = h @ W.T + b
        if layer.neurons[0].nonlin:
            h = np.maximum(h, 0.0)
    return h[:, 0]


def _plot_moons_curves(ctx: dict, r: dict, title: str):
    fig, axes = _figure(ctx, figsize=(11, 4.2), ncols=2)
    if fig is None:
        return None
    steps = np.arange(1, len(r["losses"]) + 1)
    ax = axes[0, 0]
    ax.plot(steps, r["losses"], color="#d6604d", lw=2, label="hinge loss + L2")
    ax.set_yscale("log")
    ax.set_xlabel("SGD step")
    ax.set_ylabel("loss (log scale)")
    ax.set_title("Training loss")
    ax.grid(True, which="both", alpha=0.3)
    lr_ax = ax.twinx()
    lrs = [1.0 - 0.9 * k / max(1, len(steps) - 1) for k in range(len(steps))]
    lr_ax.plot(steps, lrs, color="0.5", ls="--", lw=1.2, label="learning rate")
    lr_ax.set_ylabel("learning rate", color="0.4")
    lr_ax.set_ylim(0, 1.05)
    lines = ax.get_lines() + lr_ax.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="upper right")
    ax = axes[0, 1]
    ax.plot(steps, 100 * np.asarray(r["accuracies"]), color="#2166ac", lw=2,
            label="training accuracy")
    ax.axhline(100 * r["accuracy"], color="#2166ac", ls=":", lw=1,
               label=f"final: {100 * r['accuracy']:.1f}%")
    ax.set_ylim(min(45, 100 * min(r["accuracies"]) - 5), 101)
    ax.set_xlabel("SGD step")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Training accuracy")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    fig.suptitle(title, fontsize=13)
    return _savefig(ctx, fig, "moons_loss.png", "moons: loss and accuracy per SGD step")


def _plot_moons_boundary(ctx: dict, r: dict, title: str):
    fig, axes = _figure(ctx, figsize=(7.5, 6))
    if fig is None:
        return None
    ax = axes[0, 0]
    X, y = r["X"], r["y"]
    pad = 0.5
    xs = np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, 300)
    ys = np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, 240)
    xx, yy = np.meshgrid(xs, ys)
    scores = _scalar_mlp_numpy(r["model"], np.c_[xx.ravel(), yy.ravel()]).reshape(xx.shape)
    colors = ("#4393c3", "#d6604d")  # class 0 (y = -1): blue, class 1 (y = +1): red
    ax.contourf(xx, yy, scores, levels=[-np.inf, 0.0, np.inf], colors=("#d1e5f0", "#fddbc7"))
    ax.contour(xx, yy, scores, levels=[0.0], colors="k", linewidths=2)
    ax.contour(xx, yy, scores, levels=[-1.0, 1.0], colors="k", linewidths=1,
               linestyles="dashed", alpha=0.6)
    for cls, marker in ((0, "o"), (1, "s")):
        m = y == cls
        ax.scatter(X[m, 0], X[m, 1], c=colors[cls], marker=marker, s=40, edgecolors="k",
                   linewidths=0.7, zorder=3, label=f"class {cls} (y = {2 * cls - 1:+d})")
    from matplotlib.lines import Line2D

    handles, labels = ax.get_legend_handles_labels()
    handles += [Line2D([], [], color="k", lw=2), Line2D([], [], color="k", lw=1, ls="--")]
    labels += ["decision boundary (score = 0)", "margin (score = ±1)"]
    ax.legend(handles, labels, loc="lower left", fontsize=9, framealpha=0.9)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title, fontsize=12)
    return _savefig(ctx, fig, "moons_boundary.png",
                    "moons: the decision boundary of the scalar MLP, with the points")


def _moons_part(ctx: dict) -> dict:
    s = SETTINGS["quick" if ctx["quick"] else "full"]
    n, steps = s["moons_n"], s["moons_steps"]
    ctx["log"](f"[2/4] micrograd's classic: a scalar MLP(2, [16, 16, 1]) of Values (337 "
               f"parameters) on {n} two-moons points, {steps} SGD steps")
    bar = _progress(ctx, None, "moons (scalar MLP)", total=steps)

    def callback(k, loss, acc):
        if hasattr(bar, "update"):
            bar.update(1)
            _postfix(bar, f"loss {loss:.4f}, accuracy {100 * acc:.0f}%")

    try:
        r = train_moons(n=n, steps=steps, seed=ctx["seed"], callback=callback)
    finally:
        if hasattr(bar, "close"):
            bar.close()
    # the numpy forward that draws the boundary must be the model's own function
    check = _scalar_mlp_numpy(r["model"], r["X"][:10])
    own = [r["model"]([float(a), float(b)]).data for a, b in r["X"][:10]]
    if not np.allclose(check, own, rtol=1e-9, atol=1e-9):
        raise RuntimeError("demo: the numpy forward of the scalar MLP disagrees with the model")
    ctx["log"](f"      {steps} steps in {r['seconds']:.1f} s: loss {r['loss']:.4f}, "
               f"training accuracy {100 * r['accuracy']:.1f}%")
    files = []
    subtitle = (f"scalar MLP(2, [16, 16, 1]) on {n} two-moons points: "
                f"SVM hinge loss + L2, SGD, {steps} steps")
    f = _plot_moons_curves(ctx, r, "micrograd's demo: " + subtitle)
    if f is not None:
        files.append(f)
    f = _plot_moons_boundary(ctx, r, "Decision boundary of the scalar MLP(2, [16, 16, 1])\n"
                                     f"{n} two-moons points, training accuracy "
                                     f"{100 * r['accuracy']:.0f}%")
    if f is not None:
        files.append(f)
    summary = {"n": n, "steps": steps, "loss": r["loss"], "accuracy": r["accuracy"],
               "seconds": r["seconds"]}
    ctx["accuracies"].append(
        f"two moons, scalar MLP(2, [16, 16, 1]), {steps} SGD steps: training accuracy "
        f"{100 * r['accuracy']:.1f}% (loss {r['loss']:.4f})")
    return {"moons": summary, "files": files}


# -- part 3: a Tensor MLP on the digits (or spirals) ---------------------------------------
def _accuracy(model, X: np.ndarray, y: np.ndarray) -> float:

    with no_grad():
        return float((model(Tensor(X)).numpy().argmax(axis=1) == y).mean())


def train_classifier(X_train, y_train, X_test, y_test, hidden=(128, 64), epochs: int = 20,
                     lr: float = 3e-3, batch_size: int = 32, seed: int = 0,
                     callback: Callable[[int, dict], object] | None = None) -> dict:
    """Train a Tensor ``nn.MLP(d, [*hidden, classes])`` with Adam and cross-entropy on minibatches.

    The learning rate follows a cosine schedule from ``lr`` down to ``lr / 20``
    over the epochs. Returns a dict: ``model``, ``history`` (per epoch:
    ``loss``, the mean training minibatch loss, ``train_accuracy``,
    ``test_accuracy``), ``train_accuracy``, ``test_accuracy``, ``seconds``.
    ``callback(epoch, history_row)`` is called after every epoch.

    >>> from tinygrad_memo import data
    >>> X, y = data.make_blobs(200, centers=[[0, 0], [6, 0], [0, 6]], std=1.0, seed=0)
    >>> r = train_classifier(X[:150], y[:150], X[150:], y[150:], hidden=(16,), epochs=5,
    ...                      lr=0.03)
    >>> r["test_accuracy"] > 0.9
    True
    """

    manual_seed(seed)
    classes = int(max(y_train.max(), y_test.max())) + 1
    model = nn.MLP(X_train.shape[1], [*hidden, classes])
    opt = optim.Adam(model.parameters(), lr=lr)
    sched = optim.CosineAnnealingLR(opt, T_max=max(1, epochs), eta_min=lr / 20)
    history = []
    t0 = time.perf_counter()
    for epoch in range(epochs):
        total, count = 0.0, 0
        for xb, yb in data.minibatches(X_train, y_train, batch_size, seed=seed * 100_003 + epoch):
            loss = F.cross_entropy(model(Tensor(xb)), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
            count += len(yb)
        sched.step()
        row = {"epoch": epoch + 1, "loss": total / count,
               "train_accuracy": _accuracy(model, X_train, y_train),
               "test_accuracy": _accuracy(model, X_test, y_test)}
        history.append(row)
        if callback is not None:
            callback(epoch, row)
    return {"model": model, "history": history,
            "train_accuracy": _accuracy(model, X_train, y_train),
            "test_accuracy": _accuracy(model, X_test, y_test),
            "seconds": time.perf_counter() - t0}


def _plot_classifier_curves(ctx: dict, r: dict, name: str, title: str):
    fig, axes = _figure(ctx, figsize=(11, 4.2), ncols=2)
    if fig is None:
        return None
    h = r["history"]
    epochs = [row["epoch"] for row in h]
    ms = 4 if len(h) <= 40 else 0  # markers only while they do not crowd
    ax = axes[0, 0]
    ax.plot(epochs, [row["loss"] for row in h], "o-", color="#d6604d", lw=2, ms=ms,
            label="training loss (mean over minibatches)")
    ax.set_yscale("log")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy (log scale)")
    ax.set_title("Training loss")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper right")
    ax = axes[0, 1]
    ax.plot(epochs, [100 * row["train_accuracy"] for row in h], "o-", color="#4393c3", lw=2,
            ms=ms, label="train")
    ax.plot(epochs, [100 * row["test_accuracy"] for row in h], "s-", color="#1b7837", lw=2,
            ms=ms, label=f"test (final {100 * r['test_accuracy']:.1f}%)")
    low = min(100 * min(row["test_accuracy"] for row in h), 100 * min(row["train_accuracy"] for row in h))
    ax.set_ylim(max(0, min(low, 90) - 2), 100.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Accuracy")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    fig.suptitle(title, fontsize=13)
    return _savefig(ctx, fig, name, f"{name.split('_')[0]}: training loss and "
                                    "train/test accuracy per epoch")


def _plot_digit_samples(ctx: dict, r: dict, X_test, y_test, title: str):
    fig, axes = _figure(ctx, figsize=(10, 5.6), nrows=4, ncols=8)
    if fig is None:
        return None

    with no_grad():
        pred = r["model"](Tensor(X_test)).numpy().argmax(axis=1)
    wrong = np.flatnonzero(pred != y_test)
    right = np.flatnonzero(pred == y_test)
    g = np.random.default_rng(ctx["seed"])
    k = axes.size
    shown_wrong = list(wrong[:4])  # a few mistakes, not more than their share suggests
    pick = shown_wrong + list(g.choice(right, size=min(len(right), k - len(shown_wrong)),
                                       replace=False))
    pick = sorted(pick)
    for ax, i in zip(axes.flat, pick):
        ok = pred[i] == y_test[i]
        ax.imshow(X_test[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        label = f"pred {pred[i]}" if ok else f"pred {pred[i]} (true {y_test[i]})"
        ax.set_title(label, fontsize=10, color="#1b7837" if ok else "#b2182b",
                     fontweight="normal" if ok else "bold")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[len(pick):]:
        ax.axis("off")
    fig.suptitle(f"{title}\n{len(right)} of {len(y_test)} test images right; "
                 f"{len(shown_wrong)} of the {len(wrong)} mistakes shown, in red", fontsize=13)
    return _savefig(ctx, fig, "digits_samples.png",
                    "digits: test images with the model's predictions (mistakes in red)")


def _plot_spirals_boundary(ctx: dict, r: dict, X, y, title: str):
    fig, axes = _figure(ctx, figsize=(7, 6))
    if fig is None:
        return None

    ax = axes[0, 0]
    xs = np.linspace(X[:, 0].min() - 0.2, X[:, 0].max() + 0.2, 250)
    ys = np.linspace(X[:, 1].min() - 0.2, X[:, 1].max() + 0.2, 250)
    xx, yy = np.meshgrid(xs, ys)
    grid = np.c_[xx.ravel(), yy.ravel()].astype(np.float32)
    with no_grad():
        zz = r["model"](Tensor(grid)).numpy().argmax(axis=1).reshape(xx.shape)
    from matplotlib.colors import ListedColormap

    light = ListedColormap(["#d1e5f0", "#fddbc7", "#d9f0d3"])
    ax.contourf(xx, yy, zz, levels=[-0.5, 0.5, 1.5, 2.5], cmap=light)
    for cls, (color, marker) in enumerate((("#2166ac", "o"), ("#b2182b", "s"), ("#1b7837", "^"))):
        m = y == cls
        ax.scatter(X[m, 0], X[m, 1], c=color, marker=marker, s=18, edgecolors="k",
                   linewidths=0.4, label=f"class {cls}")
    ax.legend(loc="lower left", fontsize=9)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title, fontsize=12)
    return _savefig(ctx, fig, "spirals_boundary.png",
                    "spirals: the decision regions of the Tensor MLP, with the points")


def _digits_part(ctx: dict) -> dict:

    s = SETTINGS["quick" if ctx["quick"] else "full"]
    try:
        X_train, y_train, X_test, y_test = data.load_digits(test_fraction=0.2, seed=ctx["seed"])
        dataset, hidden, epochs, lr = "digits", (128, 64), s["digits_epochs"], 3e-3
        what = (f"the 8x8 handwritten digits ({len(y_train)} training and {len(y_test)} test "
                "images)")
        note = None
    except ImportError:
        note = ("      scikit-learn (which ships the digits) is not installed, so this part "
                "trains on three spirals instead (pip install scikit-learn for the digits)")
        X, y = data.make_spirals(600, classes=3, noise=0.2, seed=ctx["seed"])
        X_train, y_train, X_test, y_test = X[:480], y[:480], X[480:], y[480:]
        dataset, hidden, epochs, lr = "spirals", (64, 64), s["spirals_epochs"], 1e-2
        what = f"three spirals ({len(y_train)} training and {len(y_test)} test points)"
    arch = f"MLP({X_train.shape[1]}, [{', '.join(map(str, hidden))}, {int(y_train.max()) + 1}])"
    ctx["log"](f"[3/4] A Tensor {arch} on {what}: Adam, cross-entropy, minibatches of 32, "
               f"{epochs} epochs")
    if note:
        ctx["log"](note)
    bar = _progress(ctx, None, f"{dataset} (Tensor MLP)", total=epochs, unit="epoch")

    def callback(epoch, row):
        if hasattr(bar, "update"):
            bar.update(1)
            _postfix(bar, f"loss {row['loss']:.4f}, test accuracy "
                          f"{100 * row['test_accuracy']:.1f}%")

    try:
        r = train_classifier(X_train, y_train, X_test, y_test, hidden=hidden, epochs=epochs,
                             lr=lr, seed=ctx["seed"], callback=callback)
    finally:
        if hasattr(bar, "close"):
            bar.close()
    ctx["log"](f"      {epochs} epochs in {r['seconds']:.1f} s: test accuracy "
               f"{100 * r['test_accuracy']:.1f}% (train {100 * r['train_accuracy']:.1f}%)")
    files = []
    title = f"{dataset}: Tensor {arch}, Adam, cross-entropy, minibatches of 32"
    f = _plot_classifier_curves(ctx, r, f"{dataset}_curves.png", title)
    if f is not None:
        files.append(f)
    if dataset == "digits":
        f = _plot_digit_samples(ctx, r, X_test, y_test,
                                f"Test digits and the predictions of the Tensor {arch}: "
                                f"test accuracy {100 * r['test_accuracy']:.1f}%")
    else:
        f = _plot_spirals_boundary(ctx, r, np.concatenate([X_train, X_test]),
                                   np.concatenate([y_train, y_test]),
                                   f"Decision regions of the Tensor {arch}\n"
                                   f"test accuracy {100 * r['test_accuracy']:.1f}%")
    if f is not None:
        files.append(f)
    ctx["accuracies"].append(
        f"{dataset}, Tensor {arch}, {epochs} epochs of Adam: test accuracy "
        f"{100 * r['test_accuracy']:.1f}% (train {100 * r['train_accuracy']:.1f}%)")
    summary = {"dataset": dataset, "epochs": epochs, "train_accuracy": r["train_accuracy"],
               "test_accuracy": r["test_accuracy"], "seconds": r["seconds"],
               "history": r["history"]}
    return {"classifier": summary, "files": files}


# -- part 4: pictures of graphs ----------------------------------------------------------------
def _small_mlp_graph(seed: int):
    """A small Tensor MLP(2, [3, 2]) with its cross-entropy loss on 4 moons points, after
    backward: (loss, model, x)."""

    manual_seed(seed)
    X, y = data.make_moons(4, noise=0.1, seed=seed)
    model = nn.MLP(2, [3, 2])
    x = Tensor(X, requires_grad=True)  # so the input shows in the picture, with its gradient
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    return loss, model, x


def _graphs_part(ctx: dict) -> dict:
    ctx["log"]("[4/4] Pictures of computation graphs (Graphviz): micrograd's neuron with its "
               "gradients, and a small Tensor MLP")
    try:
        from . import viz
    except ImportError as e:  # pragma: no cover - graphviz is a dependency
        ctx["log"](f"      skipped: the graphviz Python package is missing ({e}): "
                   "pip install graphviz")
        return {"graphs": None, "files": []}
    out: Path = ctx["out"]
    files = []
    jobs = [
        ("neuron.png", "micrograd's neuron o = tanh(x1 w1 + x2 w2 + b), with its gradients",
         lambda: viz.draw_example("neuron")),
        ("mlp.png", "a small Tensor MLP(2, [3, 2]) and its cross-entropy loss, clustered by layer",
         lambda: _draw_small_mlp(viz, ctx["seed"])),
    ]
    for name, description, draw in _progress(ctx, jobs, "graph pictures", total=len(jobs), unit="picture"):
        try:
            files.append(Path(viz.save(draw(), out / name)))
        except viz.GraphvizNotFoundError:
            ctx["log"]("      skipped the graph pictures: Graphviz's `dot` is not installed "
                       "(install it: `sudo apt-get install graphviz`, `brew install graphviz`, "
                       "or `make dot` here)")
            return {"graphs": None, "files": files}
        ctx["descriptions"][name] = description
    return {"graphs": [f.name for f in files], "files": files}


def _draw_small_mlp(viz, seed: int):
    loss, model, x = _small_mlp_graph(seed)
    return viz.draw_dot(loss, module=model, names={"x": x, "loss": loss}, rankdir="TB")


#: The demo's parts, run in order: (name, function(ctx) -> dict of results).
#: ``ctx`` holds ``out`` (a Path), ``seed``, ``quiet``, ``quick`` and ``log``.
PARTS: list[tuple[str, Callable[[dict], dict]]] = [
    ("memo", _memo_part), ("moons", _moons_part), ("digits", _digits_part),
    ("graphs", _graphs_part),
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
    merging the parts' results (``memo_rows``, ``moons``, ``classifier``,
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
    ctx = {"out": out, "seed": seed, "quiet": quiet, "quick": quick, "log": emit,
           "descriptions": {}, "accuracies": []}
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
