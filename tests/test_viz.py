"""Tests of tinygrad_memo.viz: the DOT text is parsed by Graphviz itself
(``dot -Tjson0``), never grepped, and compared with the graph the engine sees."""

from __future__ import annotations

import html
import json
import math
import re
import time
import xml.etree.ElementTree as ET
from collections import Counter

import graphviz
import numpy as np
import pytest

from tinygrad_memo import Function, Tensor, Value
from tinygrad_memo.engine import count_paths, topological_order
from tinygrad_memo.viz import (
    EXAMPLES,
    GraphvizNotFoundError,
    draw_dot,
    draw_example,
    examples_graph,
    save,
)

SVG_NS = "{http://www.w3.org/2000/svg}"


# -- parsing helpers -------------------------------------------------------------------
def _text(node) -> str:
    """Text of an element of an HTML-like label as Graphviz shows it (it reads a
    doubled backslash as one)."""
    return "".join(node.itertext()).replace("\\\\", "\\")


def _html(label: str):
    return ET.fromstring(label.replace("<BR/>", "\n"))


def _cells(label: str) -> list[str]:
    """The text of each <TD> of an HTML-like value label (<BR/> read as a newline)."""
    return [_text(td) for td in _html(label).iter("TD")]


def _bold(label: str) -> str | None:
    b = _html(label).find(".//B")
    return None if b is None else _text(b)


def _plain(label: str) -> str:
    """An HTML-like label without markup (op nodes, clusters)."""
    return html.unescape(label).replace("\\\\", "\\")


class Parsed:
    """What Graphviz read from the DOT text: value nodes, op nodes, edges, clusters."""

    def __init__(self, g: graphviz.Digraph):
        d = json.loads(g.pipe(format="json0", quiet=True))
        self.caption = " ".join(
            "".join(ET.fromstring(d["label"].replace("<BR/>", "\n")).itertext()).split()
        )
        objs = d.get("objects", [])
        by_gvid = {o["_gvid"]: o for o in objs if not o["name"].startswith("cluster_")}
        self.values: dict[str, list[str]] = {}  # node name -> cell texts
        self.label: dict[str, str | None] = {}  # node name -> bold label cell
        self.ops: dict[str, str] = {}  # node name -> op text
        self.other: dict[str, str] = {}
        for o in by_gvid.values():
            name = o["name"]
            if re.fullmatch(r"v\d+", name):
                self.values[name] = _cells(o["label"])
                self.label[name] = _bold(o["label"])
            elif re.fullmatch(r"o\d+", name):
                self.ops[name] = _plain(o["label"])
            else:
                self.other[name] = o["label"]
        self.edges = Counter(
            (by_gvid[e["tail"]]["name"], by_gvid[e["head"]]["name"]) for e in d.get("edges", [])
        )
        self.clusters: dict[str, set[str]] = {}
        for o in objs:
            if o["name"].startswith("cluster_"):
                members = {by_gvid[i]["name"] for i in o.get("nodes", []) if i in by_gvid}
                self.clusters[_plain(o["label"])] = members

    # by label, for graphs whose value nodes have unique labels
    def name_of(self, label: str) -> str:
        hits = [n for n, lab in self.label.items() if lab == label]
        assert len(hits) == 1, (label, hits)
        return hits[0]

    def labelled_edges(self) -> Counter:
        """Edges with value nodes as their labels and op node oK as 'op:<label of vK>'."""
        def key(n):
            if n in self.ops:
                return "op:" + str(self.label["v" + n[1:]])
            return self.label.get(n, n)
        return Counter({(key(a), key(b)): c for (a, b), c in self.edges.items()})

    def ops_by_output(self) -> dict:
        return {self.label["v" + n[1:]]: text for n, text in self.ops.items()}

    def cell(self, label: str, prefix: str) -> str | None:
        hits = [c for c in self.values[self.name_of(label)] if c.startswith(prefix)]
        return hits[0] if hits else None

    def caption_numbers(self) -> dict:
        m = re.search(r"([\d,]+) nodes · ([\d,]+) edges · memoized backward: ([\d,]+) local "
                      r"derivatives \(one per edge\) · naive chain rule: ([\d,]+) paths",
                      self.caption)
        assert m, self.caption
        n = [int(x.replace(",", "")) for x in m.groups()]
        return dict(nodes=n[0], edges=n[1], local_grads=n[2], paths=n[3])


def engine_edges(root) -> Counter:
    """The graph's edges as the engine sees them, in the same labelled form."""
    out = Counter()
    for node in topological_order(root):
        if node._inputs:
            out[("op:" + node.label, node.label)] += 1
            for p in node._inputs:
                out[(p.label, "op:" + node.label)] += 1
    return out


def svg_node_count(svg: bytes | str) -> int:
    root = ET.fromstring(svg)
    return sum(1 for g in root.iter(SVG_NS + "g") if g.get("class") == "node")


# -- graphs ----------------------------------------------------------------------------
def ladder(depth=6, start=1.05):
    a = Value(start, label="a")
    for i in range(depth):
        a = a * a
        a.label = chr(ord("b") + i)
    return a


# -- structure -------------------------------------------------------------------------
def test_neuron_exact_nodes_ops_edges():
    o = examples_graph("neuron")
    p = Parsed(draw_dot(o))
    assert sorted(p.label.values()) == sorted(
        ["x1", "x2", "w1", "w2", "b", "x1*w1", "x2*w2", "x1*w1 + x2*w2", "n", "o"])
    assert p.ops_by_output() == {"x1*w1": "*", "x2*w2": "*", "x1*w1 + x2*w2": "+",
                                 "n": "+", "o": "tanh"}
    assert p.labelled_edges() == Counter({
        ("x1", "op:x1*w1"): 1, ("w1", "op:x1*w1"): 1, ("op:x1*w1", "x1*w1"): 1,
        ("x2", "op:x2*w2"): 1, ("w2", "op:x2*w2"): 1, ("op:x2*w2", "x2*w2"): 1,
        ("x1*w1", "op:x1*w1 + x2*w2"): 1, ("x2*w2", "op:x1*w1 + x2*w2"): 1,
        ("op:x1*w1 + x2*w2", "x1*w1 + x2*w2"): 1,
        ("x1*w1 + x2*w2", "op:n"): 1, ("b", "op:n"): 1, ("op:n", "n"): 1,
        ("n", "op:o"): 1, ("op:o", "o"): 1,
    })
    assert p.other == {}
    # micrograd's famous numbers
    assert p.cell("o", "data") == "data 0.7071" and p.cell("o", "grad") == "grad 1.0000"
    assert p.cell("n", "grad") == "grad 0.5000"
    assert p.cell("x1", "grad") == "grad -1.5000" and p.cell("w1", "grad") == "grad 1.0000"
    assert p.cell("x2", "grad") == "grad 0.5000" and p.cell("w2", "grad") == "grad 0.0000"
    assert p.cell("b", "data") == "data 6.8814"
    assert p.caption_numbers() == dict(nodes=10, edges=9, local_grads=9, paths=5)


def test_parallel_edges_and_reused_interior_node():
    a = Value(3.0, label="a")
    b = a + a
    b.label = "b"
    c = b * b
    c.label = "c"
    p = Parsed(draw_dot(c))
    assert p.labelled_edges() == Counter({
        ("a", "op:b"): 2, ("op:b", "b"): 1, ("b", "op:c"): 2, ("op:c", "c"): 1})
    assert p.labelled_edges() == engine_edges(c)
    assert p.cell("a", "Σ") == "Σ×2" and p.cell("b", "Σ") == "Σ×2"
    assert p.cell("c", "Σ") is None


@pytest.mark.parametrize("seed", range(5))
def test_random_graph_structure_matches_the_engine(seed):
    rng = np.random.default_rng(seed)
    nodes = [Value(float(rng.normal()), label=f"x{i}") for i in range(3)]
    for i in range(25):
        a, b = (nodes[int(j)] for j in rng.integers(0, len(nodes), size=2))
        op = int(rng.integers(0, 4))
        out = a + b if op == 0 else a * b if op == 1 else (a * 0.5).tanh() if op == 2 else -a
        if op == 2:
            out._inputs[0].label = f"h{i}"
        out.label = f"n{i}"
        nodes.append(out)
    root = sum(nodes[-4:], Value(0.0, label="z"))
    for k, node in enumerate(topological_order(root)):
        if not node.label:
            node.label = f"u{k}"
    p = Parsed(draw_dot(root, max_nodes=None))
    order = topological_order(root)
    assert sorted(p.label.values()) == sorted(n.label for n in order)
    assert len(p.ops) == sum(1 for n in order if n._inputs)
    assert p.labelled_edges() == engine_edges(root)
    stats = p.caption_numbers()
    assert stats["paths"] == count_paths(order)
    assert stats["nodes"] == len(order)
    # fan-out marks: exactly the nodes with more than one consumer edge
    uses = Counter(id(q) for n in order for q in n._inputs)
    for n in order:
        mark = p.cell(n.label, "Σ")
        assert mark == (f"Σ×{uses[id(n)]}" if uses[id(n)] > 1 else None), n.label


def test_readable_op_names():
    x = Value(2.0, label="x")
    y = Value(3.0, label="y")
    cases = {
        "* 3": x * 3, "+ 1.5": x + 1.5, "- 2": x - 2, "/ 4": x / 4, "** 2": x ** 2,
        "3 -": 3 - x, "2 /": 2 / x, "2 **": 2 ** x, "**": x ** y, "neg": -x, "abs": abs(x),
        "exp": x.exp(), "log": x.log(), "sqrt": x.sqrt(), "tanh": x.tanh(),
        "sigmoid": x.sigmoid(), "relu": x.relu(), "sin": x.sin(), "cos": x.cos(),
        "+": x + y, "-": x - y, "*": x * y, "/": x / y,
    }
    for i, (text, node) in enumerate(cases.items()):
        node.label = f"r{i}"
        p = Parsed(draw_dot(node))
        assert p.ops_by_output() == {f"r{i}": text}


def test_names_override_labels_and_show_flags():
    a = Value(2.0, label="a")
    b = a * 3
    b.backward()
    p = Parsed(draw_dot(b, names={"weight": a, "out": b}))
    assert sorted(p.label.values()) == ["out", "weight"]
    p = Parsed(draw_dot(b, show_data=False, show_grad=False))
    assert p.values[p.name_of("a")] == ["a"]
    p = Parsed(draw_dot(b, show_grad=False))
    assert p.values[p.name_of("a")] == ["a", "data 2.0000"]
    # unlabelled nodes have no label cell, but still data and grad
    c = Value(1.0) + Value(2.0)
    p = Parsed(draw_dot(c))
    assert set(p.label.values()) == {None}
    assert all(cells[0].startswith("data") for cells in p.values.values())


def test_styles_output_leaf_parameter():
    w = Value(0.5, label="w")
    x = Value(2.0, label="x")
    h = w * x
    h.label = "h"
    y = h.tanh()
    y.label = "y"

    class Fake:
        def named_parameters(self):
            yield "layer.w", w

    g = draw_dot(y, module=Fake())
    by_label = {}
    for line in g.body:
        m = re.match(r"\s*(v\d+) \[label=<<TABLE BORDER=\"(\d)\"[^>]* BGCOLOR=\"([^\"]+)\"", line)
        if m:
            by_label[m.group(1)] = (m.group(2), m.group(3))
    p = Parsed(g)
    styles = {p.label[n]: s for n, s in by_label.items()}
    assert styles["y"][0] == "2" and styles["h"][0] == "0"  # the output's bold border
    fills = {k: v[1] for k, v in styles.items()}
    assert len({fills["y"], fills["x"], fills["layer.w"], fills["h"]}) == 4
    assert "output" in p.caption and "leaf" in p.caption and "parameter" in p.caption


def test_multiple_roots():
    a = Value(1.0, label="a")
    b = a * 2
    b.label = "b"
    c = a + 1
    c.label = "c"
    p = Parsed(draw_dot([b, c]))
    assert sorted(p.label.values()) == ["a", "b", "c"]
    assert p.cell("a", "Σ") == "Σ×2"


# -- memoization made visible: the ladder ------------------------------------------------
def test_ladder_fanout_marks_and_caption():
    root = ladder(6)
    p = Parsed(draw_dot(root))
    marks = {lab: p.cell(lab, "Σ") for lab in "abcdefg"}
    assert marks == {**{lab: "Σ×2" for lab in "abcdef"}, "g": None}
    numbers = p.caption_numbers()
    assert numbers == dict(nodes=7, edges=12, local_grads=12, paths=64)
    # the caption is what backward then reports, without backward having run
    assert root.grad == 0.0
    stats = root.backward()
    assert numbers == dict(nodes=stats.nodes, edges=stats.edges,
                           local_grads=stats.local_grads, paths=stats.paths)


def test_fanout_three_and_wider_ladder():
    a = Value(0.3, label="a")
    b = a + a + a  # three contributions summed into a's memo slot
    b.label = "b"
    c = (b * b * b).tanh()
    c.label = "c"
    for k, n in enumerate(topological_order(c)):
        n.label = n.label or f"t{k}"
    p = Parsed(draw_dot(c))
    assert p.cell("a", "Σ") == "Σ×3" and p.cell("b", "Σ") == "Σ×3"
    stats = c.backward()
    assert p.caption_numbers() == dict(nodes=stats.nodes, edges=stats.edges,
                                       local_grads=stats.local_grads, paths=stats.paths)
    assert stats.paths == 9


def test_example_graphs():
    assert EXAMPLES == ("neuron", "mlp", "ladder")
    o = examples_graph("neuron")
    assert math.isclose(o.data, math.sqrt(0.5), rel_tol=1e-12) and o.grad == 1.0
    p = Parsed(draw_example("ladder"))
    assert p.caption_numbers()["paths"] == 64 and len(p.values) == 7
    root = examples_graph("ladder")
    assert root.label == "g"
    with pytest.raises(ValueError, match="neuron, mlp, ladder"):
        examples_graph("nope")
    mlp = examples_graph("mlp")
    assert len(topological_order(mlp)) > 5


# -- rendering for real --------------------------------------------------------------------
def test_render_svg_png_pdf(tmp_path):
    o = examples_graph("neuron")
    g = draw_dot(o)
    assert isinstance(g, graphviz.Digraph)
    svg_path = save(o, tmp_path / "neuron.svg")
    assert svg_path == str(tmp_path / "neuron.svg")
    svg = (tmp_path / "neuron.svg").read_bytes()
    assert svg_node_count(svg) == 10 + 5  # value nodes + op nodes
    png = save(o, tmp_path / "sub" / "neuron.png")
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    pdf = save(g, tmp_path / "neuron.PDF")
    assert open(pdf, "rb").read(5) == b"%PDF-"
    # the Digraph renders by itself too (Jupyter uses the same pipe)
    out = g.render(tmp_path / "direct", format="png", cleanup=True)
    assert open(out, "rb").read(4) == b"\x89PNG"
    assert svg_node_count(g._repr_image_svg_xml()) == 15


def test_svg_node_count_matches_graph(tmp_path):
    root = ladder(4)
    save(root, tmp_path / "l.svg")
    n = len(topological_order(root))
    ops = sum(1 for x in topological_order(root) if x._inputs)
    assert svg_node_count((tmp_path / "l.svg").read_bytes()) == n + ops


def test_save_errors(tmp_path):
    o = examples_graph("neuron")
    with pytest.raises(ValueError, match=r"\.svg, \.png, \.jpg or \.pdf"):
        save(o, tmp_path / "graph.gif")
    with pytest.raises(TypeError, match="extension"):
        save(o, tmp_path / "graph.svg", format="png")
    with pytest.raises(TypeError):
        save(draw_dot(o), tmp_path / "graph.svg", rankdir="TB")


def test_bad_arguments():
    o = examples_graph("neuron")
    with pytest.raises(ValueError, match="rankdir"):
        draw_dot(o, rankdir="XY")
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="max_nodes"):
            draw_dot(o, max_nodes=bad)
    with pytest.raises(TypeError, match="Value or Tensor"):
        draw_dot(3.0)
    with pytest.raises(TypeError, match="named_parameters"):
        draw_dot(o, module=object())
    with pytest.raises(TypeError, match="mapping"):
        draw_dot(o, names=[o])
    assert "rankdir=TB" in draw_dot(o, rankdir="TB").source


def test_library_prints_nothing(tmp_path, capsys):
    o = examples_graph("neuron")
    draw_dot(o)
    save(o, tmp_path / "x.png")
    draw_example("mlp")
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


# -- large graphs --------------------------------------------------------------------------
def test_max_nodes_on_a_100k_chain_is_fast_and_bounded():
    n = 100_000
    x = Value(0.0, label="n0")
    for i in range(1, n):
        x = x + 1.0
        x.label = f"n{i}"
    t = time.perf_counter()
    g = draw_dot(x, max_nodes=500)
    source = g.source
    elapsed = time.perf_counter() - t
    assert elapsed < 5.0, elapsed
    assert len(source) < 400_000
    p = Parsed(g)
    assert len(p.values) == 500 and len(p.ops) == 500
    # the part nearest the output is kept
    assert set(p.label.values()) == {f"n{i}" for i in range(n - 500, n)}
    assert list(p.other) == ["more"]
    assert p.edges[("more", "o" + p.name_of(f"n{n - 500}")[1:])] == 1
    assert "99,500 of 100,000 nodes left out (max_nodes=500)" in p.caption
    assert p.caption_numbers() == dict(nodes=n, edges=n - 1, local_grads=n - 1, paths=1)
    # the default bound is 500 too
    assert source == draw_dot(x).source


def test_max_nodes_on_a_deep_ladder_with_astronomical_path_count():
    a = Value(1.0)
    for _ in range(100_000):
        a = a * a
    t = time.perf_counter()
    g = draw_dot(a, max_nodes=50)
    assert time.perf_counter() - t < 5.0
    text = " ".join(g.source.split())
    assert "naive chain rule: ≈ 9.99 × 10^30102 paths" in text
    assert "100,001 nodes" in text and "200,000 edges" in text


def test_max_nodes_keeps_nearest_by_breadth_first():
    root = examples_graph("neuron")  # depth: o <- n <- {sum, b} <- {x1*w1, x2*w2} <- leaves
    p = Parsed(draw_dot(root, max_nodes=4))
    assert sorted(p.label.values()) == ["b", "n", "o", "x1*w1 + x2*w2"]
    assert "6 of 10 nodes left out" in p.caption
    more_targets = {b for (a, b) in p.edges if a == "more"}
    assert {p.ops_by_output().get(p.label["v" + t[1:]]) for t in more_targets} == {"+"}


# -- hostile labels -----------------------------------------------------------------------
HOSTILE = [
    'quote " inside', "'single'", "<b>bold?</b>", "a < b > c", "{record|split}", "pipe | bar",
    "back\\slash", "trailing backslash\\", "\\N \\G \\l", "&amp; &lt; &#60;", "]]> <![CDATA[",
    "line one\nline two", "ünïcödé ∂x/∂y → λ 中文 🧠", 'x" shape=box color="red',
    "-> v0", "}; digraph evil {", "<<TABLE>>", "%s %d {}", "   spaced   ",
]


def test_hostile_labels_render_to_valid_svg(tmp_path):
    leaves = [Value(float(i), label=lab) for i, lab in enumerate(HOSTILE)]
    root = leaves[0]
    for v in leaves[1:]:
        root = root + v
    root.label = "ctrl \x00\x07\x1b chars"
    g = draw_dot(root, names={'name "key" <x>': leaves[1]})
    p = Parsed(g)
    labels = set(p.label.values())
    for lab in HOSTILE[:1] + HOSTILE[2:]:
        assert lab in labels, lab
    assert 'name "key" <x>' in labels
    assert "ctrl \\x00\\x07\\x1b chars" in labels  # control characters made visible
    n_ops = len(HOSTILE) - 1  # the sums
    assert len(p.values) == len(HOSTILE) + n_ops and len(p.ops) == n_ops and p.other == {}
    save(g, tmp_path / "hostile.svg")
    svg = (tmp_path / "hostile.svg").read_text(encoding="utf-8")
    tree = ET.fromstring(svg)  # valid XML
    assert svg_node_count(svg) == len(HOSTILE) + 2 * n_ops
    texts = [t.text or "" for t in tree.iter(SVG_NS + "text")]
    for lab in HOSTILE[:1] + HOSTILE[2:]:
        for line in lab.split("\n"):
            assert any(line.strip() in t for t in texts), line
    save(g, tmp_path / "hostile.png")
    save(g, tmp_path / "hostile.pdf")


def test_hostile_module_and_op_names(tmp_path):
    Evil = type('Ev<il>"{|}\\Op', (Function,), {
        "forward": staticmethod(lambda ctx, x: x * 2.0),
        "backward": staticmethod(lambda ctx, g: g * 2.0),
    })
    w = Tensor([1.0, 2.0], requires_grad=True)
    y = Evil.apply(w).sum()

    class Fake:
        def named_parameters(self):
            yield 'my "mod" <b>.w', w

    g = draw_dot(y, module=Fake())
    p = Parsed(g)
    assert 'Ev<il>"{|}\\Op' in p.ops.values()
    assert 'my "mod" <b>.w' in p.label.values()
    assert set(p.clusters) == {'my "mod" <b>'}
    save(g, tmp_path / "evil.svg")
    ET.parse(tmp_path / "evil.svg")


def test_long_label_is_shortened():
    v = Value(1.0, label="x" * 500)
    p = Parsed(draw_dot(v * 2))
    (lab,) = [lab for lab in p.label.values() if lab]
    assert lab.endswith("…") and len(lab) <= 60


# -- missing dot ---------------------------------------------------------------------------
def test_missing_dot_gives_install_instructions(tmp_path, monkeypatch):
    o = examples_graph("neuron")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    g = draw_dot(o)
    assert "digraph" in g.source and "tanh" in g.source  # the DOT text needs no dot
    checks = [
        lambda: g.render(tmp_path / "out", format="png"),
        lambda: g.pipe(format="svg"),
        lambda: save(o, tmp_path / "out.svg"),
        lambda: save(g, tmp_path / "out.png"),
        lambda: save(graphviz.Digraph(), tmp_path / "plain.svg"),
        lambda: g._repr_mimebundle_(),  # Jupyter's inline display
    ]
    for call in checks:
        with pytest.raises(GraphvizNotFoundError) as info:
            call()
        assert isinstance(info.value, RuntimeError)
        assert isinstance(info.value, graphviz.ExecutableNotFound)
        msg = str(info.value)
        assert "sudo apt-get install graphviz" in msg and "brew install graphviz" in msg
        assert ".source" in msg
    assert not (tmp_path / "out.svg").exists()


# -- Tensor graphs ---------------------------------------------------------------------------
def test_tensor_graph_nodes_shapes_and_stats():
    W = Tensor([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]], requires_grad=True)
    x = Tensor([[1.0, 0.5]])  # no grad: not part of the graph
    h = (x @ W).relu()
    loss = h.sum()
    loss.backward()
    p = Parsed(draw_dot(loss, names={"W": W, "h": h, "loss": loss}))
    assert sorted(lab for lab in p.label.values() if lab) == ["W", "h", "loss"]
    assert sorted(p.ops.values()) == ["matmul", "relu", "sum"]
    cells = p.values[p.name_of("W")]
    assert cells[1] == "(2, 3)\nfloat32"
    assert cells[2] == "data mean 0.8333 std 3.8042\nmin -6.0000 max 5.0000"
    assert cells[3].startswith("grad mean ")  # the leaf's gradient
    # x @ W = [3, 0.5, 0]; the root is interior: no .grad kept, so no grad cell
    assert p.values[p.name_of("loss")][1:] == ["()\nfloat32", "data 3.5000"]
    # interior tensors keep no .grad (PyTorch semantics): no grad cell
    assert not any(c.startswith("grad") for c in p.values[p.name_of("h")])
    assert p.caption_numbers() == dict(nodes=4, edges=3, local_grads=3, paths=1)


def test_tensor_and_value_graphs_draw_alike():
    """One implementation: the same computation on both engines, the same picture shape."""
    va, vb = Value(0.5, label="a"), Value(-1.5, label="b")
    ta = Tensor(0.5, requires_grad=True, dtype=np.float64)
    tb = Tensor(-1.5, requires_grad=True, dtype=np.float64)

    def f(a, b):
        c = a * b + a
        return (c * c).tanh()

    vr, tr = f(va, vb), f(ta, tb)
    vr.backward()
    tr.backward()
    pv = Parsed(draw_dot(vr))
    pt = Parsed(draw_dot(tr, names={"a": ta, "b": tb}))
    assert len(pv.values) == len(pt.values) and len(pv.ops) == len(pt.ops)
    assert sorted(pv.edges.values()) == sorted(pt.edges.values())
    assert pv.caption_numbers() == pt.caption_numbers()
    assert pv.cell("a", "Σ") == pt.cell("a", "Σ") == "Σ×2"
    assert pv.cell("a", "grad") == pt.cell("a", "grad")


def test_tensor_ladder_fanout_and_truncation():
    x = Tensor(np.ones((2, 2)), requires_grad=True)
    y = x
    for _ in range(30):
        y = y * y
    p = Parsed(draw_dot(y, max_nodes=10))
    assert len(p.values) == 10 and "21 of 31 nodes left out" in p.caption
    assert sum(1 for cells in p.values.values() if "Σ×2" in cells) == 9
    assert p.caption_numbers()["paths"] == 2 ** 30


class FakeModule:
    """The nn.Module protocol the picture needs: named_parameters()."""

    def __init__(self, pairs):
        self.pairs = pairs

    def named_parameters(self):
        return iter(self.pairs)


def test_module_clusters_tensor_mlp():
    rng = np.random.default_rng(0)
    W0 = Tensor(rng.normal(size=(3, 2)), requires_grad=True)
    b0 = Tensor(rng.normal(size=3), requires_grad=True)
    W1 = Tensor(rng.normal(size=(1, 3)), requires_grad=True)
    b1 = Tensor(rng.normal(size=1), requires_grad=True)
    X = Tensor(rng.normal(size=(5, 2)))
    h = (X @ W0.T + b0).relu()
    out = h @ W1.T + b1
    loss = (out * out).mean()
    model = FakeModule([("layers.0.weight", W0), ("layers.0.bias", b0),
                        ("layers.2.weight", W1), ("layers.2.bias", b1)])
    p = Parsed(draw_dot(loss, module=model))
    labels = {lab for lab in p.label.values() if lab}
    assert labels == {"layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"}
    assert set(p.clusters) == {"layers.0", "layers.2"}
    for prefix in ("layers.0", "layers.2"):
        members = p.clusters[prefix]
        assert {p.label[n] for n in members if n in p.values and p.label[n]} == {
            f"{prefix}.weight", f"{prefix}.bias"}
        assert sorted(p.ops[n] for n in members if n in p.ops) == ["+", "matmul", "transpose"]
    outside = set(p.ops) - p.clusters["layers.0"] - p.clusters["layers.2"]
    assert sorted(p.ops[n] for n in outside) == ["*", "mean", "relu"]


def test_module_clusters_scalar_neurons():
    xs = [Value(1.0, label="x0"), Value(-2.0, label="x1")]
    pairs, outs = [], []
    for j in range(2):
        ws = [Value(0.1 * (i + j + 1)) for i in range(2)]
        b = Value(0.0)
        pairs += [(f"layers.0.neurons.{j}.w.{i}", w) for i, w in enumerate(ws)]
        pairs.append((f"layers.0.neurons.{j}.b", b))
        act = b
        for w, x in zip(ws, xs):
            act = act + w * x
        outs.append(act.tanh())
    y = outs[0] + outs[1]
    p = Parsed(draw_dot(y, module=FakeModule(pairs)))
    assert set(p.clusters) == {"layers.0.neurons.0", "layers.0.neurons.1"}
    for j in range(2):
        members = p.clusters[f"layers.0.neurons.{j}"]
        ops = sorted(p.ops[n] for n in members if n in p.ops)
        assert ops == ["*", "*", "+", "+"]
        params = {p.label[n] for n in members if n in p.values and p.label[n]}
        assert params == {f"layers.0.neurons.{j}.w.0", f"layers.0.neurons.{j}.w.1",
                          f"layers.0.neurons.{j}.b"}
    # shared inputs and the tanh outputs stay outside the clusters
    inside = set().union(*p.clusters.values())
    assert p.name_of("x0") not in inside and p.name_of("x1") not in inside
    assert not any(p.ops[n] == "tanh" for n in inside if n in p.ops)


def test_nested_module_clusters():
    a = Value(1.0)
    b = Value(2.0)
    y = (a * 2) * (b * 3)
    model = FakeModule([("enc.weight", a), ("enc.sub.weight", b)])
    g = draw_dot(y, module=model)
    p = Parsed(g)
    assert set(p.clusters) == {"enc", "enc.sub"}
    assert p.clusters["enc.sub"] < p.clusters["enc"]  # nested inside its parent


def test_mlp_example_is_a_tensor_mlp_with_clusters(tmp_path):
    root = examples_graph("mlp")
    assert isinstance(root, Tensor) and root.shape == ()
    p = Parsed(draw_example("mlp"))
    assert set(p.clusters) == {"layers.0", "layers.2"}
    assert "loss" in p.label.values()
    save(draw_example("mlp"), tmp_path / "mlp.svg")
    assert svg_node_count((tmp_path / "mlp.svg").read_bytes()) == len(p.values) + len(p.ops)
