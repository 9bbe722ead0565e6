"""Make the pictures of docs/visualization.md (written to docs/img/).

Run from the repository root after ``make venv``:

    .venv/bin/python docs/make_pictures.py

Needs Graphviz's ``dot`` (``make dot``). The output is deterministic, so the
committed files only change when the drawing code or the examples do.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from tinygrad_memo import Tensor, Value
from tinygrad_memo.viz import animate_backward, draw_dot, draw_example, save

IMG = Path(__file__).resolve().parent / "img"


def deep_ladder(depth: int = 40, backward: bool = True, start: float = 1.0) -> Value:
    """b = a * a, c = b * b, ...: 2**depth paths through depth + 1 nodes."""
    a = Value(start, label="a")
    for i in range(depth):
        a = a * a
        a.label = f"a{i + 1}"
    if backward:
        a.backward()
    return a


def rnn_window():
    """A window of depth 4 around step 100 of a 200-step recurrence h = tanh(h W^T + 0.1),
    one cluster per time step (the code of docs/visualization.md)."""
    W = Tensor(np.eye(4) * 0.5, requires_grad=True)
    h = Tensor(np.zeros((1, 4)), requires_grad=True)
    names, step_of = {"W": W}, {}
    for t in range(1, 201):
        z = h @ W.T
        a = z + 0.1
        h = a.tanh()
        names[f"h{t}"] = h
        step_of.update({z: f"t={t}", a: f"t={t}", h: f"t={t}"})
    loss = h.sum()
    return draw_dot(loss, around=names["h100"], depth=4, names=names, groups=step_of,
                    show_data=False)


def main() -> int:
    IMG.mkdir(parents=True, exist_ok=True)
    pictures = {
        "neuron.svg": draw_example("neuron"),
        "neuron.png": draw_example("neuron"),
        "ladder.svg": draw_example("ladder"),
        "mlp.svg": draw_example("mlp", rankdir="TB"),
        "ladder_truncated.svg": draw_dot(deep_ladder(40), max_nodes=8),
        "rnn_window.svg": rnn_window(),
    }
    for name, graph in pictures.items():
        path = save(graph, IMG / name)
        print(f"wrote {path} ({Path(path).stat().st_size:,} bytes)")
    # the memoized backward on a 4-level ladder, one frame per node (tutorial chapter 1)
    path = animate_backward(deep_ladder(4, backward=False, start=1.1), IMG / "ladder_backward.gif",
                            duration=1000, dpi=72).path
    print(f"wrote {path} ({Path(path).stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
