"""The demo's matplotlib figures, drawn off screen into PNG files.

Each function takes plain data (arrays, result dicts, a scoring function) and
returns the list of files it wrote: one, or none when matplotlib (the ``demo``
extra) is not installed, which is logged once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

_PNG_DPI = 110


def figure(ctx: dict, *, figsize, ncols: int = 1, nrows: int = 1):
    """A matplotlib Figure with its axes, drawn off screen (no pyplot, no global backend),
    or (None, None) (logged once) when matplotlib is not installed."""
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


def savefig(ctx: dict, fig, name: str, description: str) -> list[Path]:
    path = ctx["out"] / name
    fig.savefig(path, dpi=_PNG_DPI)
    ctx["descriptions"][name] = description
    return [path]


def _panel(ax, title: str, xlabel: str, ylabel: str, grid: str = "major") -> None:
    """Title, axis labels and a light grid of one panel of curves."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which=grid, alpha=0.3)


def moons_curves(ctx: dict, r: dict, title: str) -> list[Path]:
    """Loss (with the learning rate) and accuracy per SGD step of ``train_moons``."""
    fig, axes = figure(ctx, figsize=(11, 4.2), ncols=2)
    if fig is None:
        return []
    steps = np.arange(1, len(r["losses"]) + 1)
    ax = axes[0, 0]
    ax.plot(steps, r["losses"], color="#d6604d", lw=2, label="hinge loss + L2")
    ax.set_yscale("log")
    _panel(ax, "Training loss", "SGD step", "loss (log scale)", grid="both")
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
    _panel(ax, "Training accuracy", "SGD step", "accuracy (%)")
    ax.legend(loc="lower right")
    fig.suptitle(title, fontsize=13)
    return savefig(ctx, fig, "moons_loss.png", "moons: loss and accuracy per SGD step")


def moons_boundary(ctx: dict, X, y, score, title: str) -> list[Path]:
    """The two moons with the decision boundary and margins of ``score(points)``."""
    fig, axes = figure(ctx, figsize=(7.5, 6))
    if fig is None:
        return []
    ax = axes[0, 0]
    pad = 0.5
    xs = np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, 300)
    ys = np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, 240)
    xx, yy = np.meshgrid(xs, ys)
    scores = score(np.c_[xx.ravel(), yy.ravel()]).reshape(xx.shape)
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
    return savefig(ctx, fig, "moons_boundary.png",
                   "moons: the decision boundary of the scalar MLP, with the points")


def classifier_curves(ctx: dict, r: dict, name: str, title: str) -> list[Path]:
    """Loss and train/test accuracy per epoch of ``train_classifier``."""
    fig, axes = figure(ctx, figsize=(11, 4.2), ncols=2)
    if fig is None:
        return []
    h = r["history"]
    epochs = [row["epoch"] for row in h]
    ms = 4 if len(h) <= 40 else 0  # markers only while they do not crowd
    ax = axes[0, 0]
    ax.plot(epochs, [row["loss"] for row in h], "o-", color="#d6604d", lw=2, ms=ms,
            label="training loss (mean over minibatches)")
    ax.set_yscale("log")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _panel(ax, "Training loss", "epoch", "cross-entropy (log scale)", grid="both")
    ax.legend(loc="upper right")
    ax = axes[0, 1]
    ax.plot(epochs, [100 * row["train_accuracy"] for row in h], "o-", color="#4393c3", lw=2,
            ms=ms, label="train")
    ax.plot(epochs, [100 * row["test_accuracy"] for row in h], "s-", color="#1b7837", lw=2,
            ms=ms, label=f"test (final {100 * r['test_accuracy']:.1f}%)")
    low = min(100 * min(row["test_accuracy"] for row in h), 100 * min(row["train_accuracy"] for row in h))
    ax.set_ylim(max(0, min(low, 90) - 2), 100.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _panel(ax, "Accuracy", "epoch", "accuracy (%)")
    ax.legend(loc="lower right")
    fig.suptitle(title, fontsize=13)
    return savefig(ctx, fig, name, f"{name.split('_')[0]}: training loss and "
                                   "train/test accuracy per epoch")


def digit_samples(ctx: dict, X_test, y_test, pred, title: str) -> list[Path]:
    """A grid of test digits with the predictions ``pred`` (a few mistakes, in red)."""
    fig, axes = figure(ctx, figsize=(10, 5.6), nrows=4, ncols=8)
    if fig is None:
        return []
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
    return savefig(ctx, fig, "digits_samples.png",
                   "digits: test images with the model's predictions (mistakes in red)")


def spirals_boundary(ctx: dict, X, y, predict, title: str) -> list[Path]:
    """The three spirals with the decision regions of ``predict(points) -> classes``."""
    fig, axes = figure(ctx, figsize=(7, 6))
    if fig is None:
        return []
    ax = axes[0, 0]
    xs = np.linspace(X[:, 0].min() - 0.2, X[:, 0].max() + 0.2, 250)
    ys = np.linspace(X[:, 1].min() - 0.2, X[:, 1].max() + 0.2, 250)
    xx, yy = np.meshgrid(xs, ys)
    grid = np.c_[xx.ravel(), yy.ravel()].astype(np.float32)
    zz = predict(grid).reshape(xx.shape)
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
    return savefig(ctx, fig, "spirals_boundary.png",
                   "spirals: the decision regions of the Tensor MLP, with the points")
