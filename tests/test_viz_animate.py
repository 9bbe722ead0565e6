"""tm.viz.animate_backward: one frame per node in the memoized pass's order, the counters,
and the files (a GIF read back with Pillow, an HTML page, a folder of SVGs)."""

from __future__ import annotations

import json
import re
import shutil
import sys
import xml.etree.ElementTree as ET
from collections import Counter

import numpy as np
import pytest

import tinygrad_memo as tm
from tinygrad_memo import Tensor, Value
from tinygrad_memo.engine import topological_order
from tinygrad_memo.viz import animate_backward, examples_graph

HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="Graphviz's dot is not installed")
CURRENT = "#ffd54f"


def graphs():
    """Fresh graphs (not yet backwarded): Values, a shared interior node, Tensors."""
    a = Value(0.5, label="a")
    b = a * a + a
    b.label = "b"
    c = b.tanh() * b
    c.label = "c"
    x = Tensor(np.arange(6.0).reshape(2, 3) / 10, requires_grad=True)
    w = Tensor(np.ones((3, 2)) / 3, requires_grad=True)
    loss = ((x @ w).tanh() * 2.0).sum()
    return {"neuron": examples_graph("neuron", backward=False),
            "ladder": examples_graph("ladder", backward=False),
            "mlp": examples_graph("mlp", backward=False), "shared": c, "tensor": loss}


def paths_to(root, node) -> int:
    """Paths from root to node, enumerated one by one (an iterative DFS): the oracle."""
    n, stack = 0, [root]
    while stack:
        v = stack.pop()
        if v is node:
            n += 1
        stack.extend(v._inputs)
    return n


@pytest.mark.parametrize("name", ["neuron", "ladder", "mlp", "shared", "tensor"])
def test_frames_follow_the_memoized_pass(name):
    root = graphs()[name]
    order = topological_order(root)
    anim = animate_backward(root, None)
    frames = anim.frames
    assert len(frames) == len(order) + 2
    assert [f.kind for f in frames] == ["start"] + ["node"] * len(order) + ["end"]
    visited = [f.node for f in frames[1:-1]]
    assert Counter(map(id, visited)) == Counter(map(id, order))  # every node once
    position = {id(n): k for k, n in enumerate(visited)}
    for node in order:  # a node's slot completes after all its consumers ran their rules
        for p in node._inputs:
            assert position[id(p)] > position[id(node)]
    # the counter: one local derivative per input edge, as the node's rule runs
    done = 0
    for f in frames[1:-1]:
        done += len(f.node._inputs)
        assert f.local_grads == done and f.complete == f.index
        assert f.through == paths_to(root, f.node)
    assert frames[0].local_grads == 0 and frames[0].complete == 0
    # the last frame's counter is the pass's BackwardStats, and that of a real backward,
    # which still works: the animation froze nothing and wrote no .grad
    assert frames[-1].local_grads == anim.stats.local_grads == done
    assert all(getattr(n, "grad", None) in (None, 0.0) for n in order if not n._inputs)
    stats = root.backward()
    assert anim.stats == stats
    assert {f.paths for f in frames} == {stats.paths}


@needs_dot
def test_gif_has_one_frame_per_node_plus_two(tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    root = examples_graph("ladder", backward=False)
    anim = animate_backward(root, tmp_path / "ladder.gif", duration=100)
    assert anim.path == str(tmp_path / "ladder.gif")
    with PIL.open(tmp_path / "ladder.gif") as im:
        assert im.n_frames == len(anim.frames) == 7 + 2
        sizes, durations = set(), []
        for i in range(im.n_frames):
            im.seek(i)
            sizes.add(im.size)
            durations.append(im.info["duration"])
    assert len(sizes) == 1
    assert durations == [300] + [100] * 7 + [300]


@needs_dot
def test_frames_light_up_the_node_and_show_the_counter():
    root = examples_graph("neuron", backward=False)
    anim = animate_backward(root, None)
    for k in (1, 4, len(anim.frames) - 2, len(anim.frames) - 1):
        d = json.loads(anim.digraph(k).pipe(format="json0"))
        lit = [o for o in d["objects"] if CURRENT in o.get("label", "") and
               o["name"].startswith("v")]
        caption = " ".join("".join(ET.fromstring(d["label"].replace("<BR/>", "\n"))
                                   .itertext()).replace("\u2007", " ").split())
        f = anim.frames[k]
        assert f"local derivatives evaluated: {f.local_grads} of {anim.stats.local_grads}" in caption
        if f.kind == "end":
            assert lit == []
            assert f"memo slots complete: {len(anim.frames) - 2} of" in caption
            continue
        assert len(lit) == 1
        assert f"<B>{f.node.label}</B>" in lit[0]["label"]
        # the edges into the current node's op are the ones drawn as contributions
        red = [e for e in d.get("edges", []) if e.get("color") == "#d62728"]
        assert len(red) == len(f.node._inputs)


@needs_dot
def test_html_page_and_svg_folder(tmp_path):
    root = examples_graph("ladder", backward=False)
    anim = animate_backward(root, tmp_path / "page.html")
    page = (tmp_path / "page.html").read_text(encoding="utf-8")
    svgs = re.findall(r"<svg.*?</svg>", page, flags=re.S)
    assert len(svgs) == page.count('<div class="frame"') == len(anim.frames)
    for svg in svgs:
        ET.fromstring(svg)
    animate_backward(root, tmp_path / "frames")
    files = sorted(p.name for p in (tmp_path / "frames").iterdir())
    assert files == [f"frame_{i:03d}.svg" for i in range(len(anim.frames))]
    for p in (tmp_path / "frames").iterdir():
        ET.fromstring(p.read_bytes())


def test_errors(tmp_path, monkeypatch):
    with pytest.raises(RuntimeError, match="freed by an earlier backward"):
        animate_backward(examples_graph("ladder"), None)  # (examples_graph ran backward)
    root = examples_graph("ladder", backward=False)
    with pytest.raises(ValueError, match=r"\.gif or \.html"):
        animate_backward(root, tmp_path / "x.mp4")
    with pytest.raises(ValueError, match="7 nodes"):
        animate_backward(root, None, max_nodes=5)
    with pytest.raises(ValueError, match="duration"):
        animate_backward(root, None, duration=0)
    monkeypatch.setitem(sys.modules, "PIL", None)  # Pillow missing
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    with pytest.raises(ImportError, match=r"Pillow.*'demo' extra"):
        animate_backward(root, tmp_path / "x.gif")
    assert tm.viz.animate_backward is animate_backward
