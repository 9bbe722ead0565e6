"""Make the pictures of docs/visualization.md (written to docs/img/).

Run from the repository root after ``make venv``:

    .venv/bin/python docs/make_pictures.py

Needs Graphviz's ``dot`` (``make dot``). The output is deterministic, so the
committed files only change when the drawing code or the examples do.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tinygrad_memo import Value
from tinygrad_memo.viz import draw_dot, draw_example, save

IMG = Path(__file__).resolve().parent / "img"


def deep_ladder(depth: int = 40) -> Value:
    """b = a * a, c = b * b, ...: 2**depth paths through depth + 1 nodes."""
    a = Value(1.0, label="a")
    for i in range(depth):
        a = a * a
        a.label = f"a{i + 1}"
    a.backward()
    return a


def main() -> int:
    IMG.mkdir(parents=True, exist_ok=True)
    pictures = {
        "neuron.svg": draw_example("neuron"),
        "neuron.png": draw_example("neuron"),
        "ladder.svg": draw_example("ladder"),
        "mlp.svg": draw_example("mlp", rankdir="TB"),
        "ladder_truncated.svg": draw_dot(deep_ladder(40), max_nodes=8),
    }
    for name, graph in pictures.items():
        path = save(graph, IMG / name)
        print(f"wrote {path} ({Path(path).stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
