"""Part 4 of the demo: a small CNN on the 8x8 digits, its curves and its graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import data, nn, viz
from ..nn import functional as F
from ..random import manual_seed
from ..tensor import Tensor
from . import graphs, plots
from .digits import train_shown

ARCH = "conv3x3(16)-relu-maxpool2, conv3x3(32)-relu-maxpool2, linear(128, 10)"


def make_cnn() -> nn.Sequential:
    """Two conv-relu-maxpool blocks (8x8 -> 4x4 -> 2x2), then a linear layer: the model of
    ``examples/cnn_digits.py``."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10),
    )


def _images(X: np.ndarray) -> np.ndarray:
    return X.reshape(-1, 1, 8, 8)


def _graph(model, X: np.ndarray, y: np.ndarray):
    """The graph of the model's loss on two images, after backward, clustered by layer."""
    x = Tensor(_images(X), requires_grad=True)  # so the input shows, with its gradient
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    return viz.draw_dot(loss, module=model, names={"images": x, "loss": loss}, rankdir="TB")


def part(ctx: dict) -> dict:
    """Train the CNN on the digits' fixed split with ``ctx["settings"]["cnn_epochs"]``; plot
    its curves (``cnn_curves.png``) and draw its graph (``cnn_graph.png``). Skipped when
    scikit-learn (which ships the digits) is missing."""
    epochs = ctx["settings"]["cnn_epochs"]
    try:
        X_train, y_train, X_test, y_test = data.load_digits()
    except ImportError:
        ctx["log"]("[4/5] skipped the CNN: scikit-learn (which ships the digits) is not installed")
        return {"cnn": None, "files": []}
    ctx["log"](f"[4/5] A CNN ({ARCH}) on the digits as 1x8x8 images: Adam, cross-entropy, "
               f"minibatches of 32, {epochs} epochs")
    manual_seed(ctx["seed"])
    model = make_cnn()
    r = train_shown(ctx, "digits (CNN)", (_images(X_train), y_train, _images(X_test), y_test),
                    epochs=epochs, model=model)
    files = plots.classifier_curves(ctx, r, "cnn_curves.png",
                                    f"digits: a CNN ({ARCH}), Adam, cross-entropy")
    name = "cnn_graph.png"
    try:
        files.append(Path(viz.save(_graph(model, X_test[:2], y_test[:2]), ctx["out"] / name)))
        ctx["descriptions"][name] = ("the CNN's loss on two digits, clustered by layer: one node "
                                     "per convolution and per pooling")
    except viz.GraphvizNotFoundError:
        ctx["log"](f"      skipped the CNN's graph picture: {graphs.DOT_HINT}")
    ctx["accuracies"].append(
        f"digits, CNN, {epochs} epochs of Adam: test accuracy {100 * r['test_accuracy']:.1f}% "
        f"(train {100 * r['train_accuracy']:.1f}%)")
    summary = {"epochs": epochs, "train_accuracy": r["train_accuracy"],
               "test_accuracy": r["test_accuracy"], "seconds": r["seconds"],
               "history": r["history"]}
    return {"cnn": summary, "files": files}
