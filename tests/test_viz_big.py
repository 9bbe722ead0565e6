"""Pictures of big graphs: a window around a node, a cut by depth, user groups (clusters),
Graphviz's warnings, the formats Jupyter shows, and the CLI drawing a user's function.

The graphs: a 200-step RNN-like recurrence on Tensors (h = tanh(h W^T + x_t)) and a
10,000-node "braid" of Values (n_i = n_{i-1} * n_{i-2}), where the nodes at most k edges
from node c are exactly n_{c-2k} .. n_{c+2k}. What Graphviz drew is read back with
``dot -Tjson0`` (tests/test_viz.py's ``Parsed``) or from the SVG, never grepped."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import warnings
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from test_viz import Parsed, svg_node_count

from tinygrad_memo import Tensor, Value, cli
from tinygrad_memo.viz import GraphvizWarning, draw_dot, save

pytestmark = pytest.mark.skipif(shutil.which("dot") is None,
                                reason="Graphviz's dot is not installed")

STEPS = 200
N_BRAID = 10_000


@pytest.fixture(scope="module")
def rnn():
    """The recurrence, its nodes by step (z_t = h_{t-1} W^T, a_t = z_t + x_t, h_t = tanh a_t)
    and the names of all nodes."""
    rng = np.random.default_rng(0)
    W = Tensor(rng.normal(size=(4, 4)) * 0.3, requires_grad=True)
    WT = W.T
    h = Tensor(np.zeros((1, 4)), requires_grad=True)
    names = {"W": W, "WT": WT, "h0": h}
    steps = []
    for t in range(1, STEPS + 1):
        z = h @ WT
        a = z + rng.normal(size=(1, 4))
        h = a.tanh()
        steps.append({"z": z, "a": a, "h": h})
        names.update({f"z{t}": z, f"a{t}": a, f"h{t}": h})
    loss = h.sum()
    names["loss"] = loss
    return loss, steps, names


def step(steps, t):
    return steps[t - 1]


@pytest.fixture(scope="module")
def braid():
    nodes = [Value(1.0, label="n0"), Value(1.0, label="n1")]
    for i in range(2, N_BRAID):
        v = nodes[-1] * nodes[-2]
        v.label = f"n{i}"
        nodes.append(v)
    return nodes


def value_labels(p: Parsed) -> set:
    return set(p.label.values())


# -- the window ------------------------------------------------------------------------------
def test_rnn_window_holds_exactly_the_nodes_within_depth(rnn):
    loss, steps, names = rnn
    centre = step(steps, 100)["h"]
    p = Parsed(draw_dot(loss, around=centre, depth=2, names=names))
    assert value_labels(p) == {"z100", "a100", "h100", "z101", "a101"}
    p = Parsed(draw_dot(loss, around=centre, depth=3, names=names))
    # upstream: h100 <- a100 <- z100 <- {h99, WT}; downstream: h100 -> z101 -> a101 -> h101.
    # WT feeds every step's matmul but only what is upstream of z100 is within reach.
    assert value_labels(p) == {"h99", "WT", "z100", "a100", "h100", "z101", "a101", "h101"}
    assert "showing the 8 nodes within 3 edges of 'h100' (either direction)" in p.caption
    assert "604 nodes" in p.caption  # the statistics stay those of the whole graph
    # dashed boxes: inputs left out (W of WT, a99 of h99), consumers left out (of WT, h101)
    into = {p.label["v" + b[1:]] for (a, b) in p.edges if a == "more"}
    out_of = {p.label[a] for (a, b) in p.edges if b == "more_out"}
    assert into == {"WT", "h99"}
    assert out_of == {"WT", "h101"}


def test_braid_window_matches_the_index_arithmetic(braid):
    for centre, k in ((5000, 3), (3, 2), (N_BRAID - 2, 4)):
        lo, hi = max(centre - 2 * k, 0), min(centre + 2 * k, N_BRAID - 1)
        p = Parsed(draw_dot(braid[-1], around=braid[centre], depth=k))
        assert value_labels(p) == {f"n{i}" for i in range(lo, hi + 1)}, (centre, k)
    # several centres: the union of their windows
    p = Parsed(draw_dot(braid[-1], around=[braid[100], braid[200]], depth=1))
    assert value_labels(p) == {f"n{i}" for i in (*range(98, 103), *range(198, 203))}


def test_window_capped_by_max_nodes_keeps_the_nearest(braid):
    p = Parsed(draw_dot(braid[-1], around=braid[5000], depth=10, max_nodes=5))
    # distance 0: n5000; distance 1: n4998, n4999 (inputs), n5001, n5002 (consumers)
    assert value_labels(p) == {f"n{i}" for i in range(4998, 5003)}


# -- the cut by depth from the output -------------------------------------------------------
def test_max_depth_cuts_by_distance_from_the_output(rnn, braid):
    p = Parsed(draw_dot(braid[-1], max_depth=3))
    assert value_labels(p) == {f"n{i}" for i in range(N_BRAID - 7, N_BRAID)}
    assert "at most 3 edges from the output" in p.caption
    loss, steps, names = rnn
    p = Parsed(draw_dot(loss, max_depth=7, names=names))
    assert value_labels(p) == {"loss", "h200", "a200", "z200", "h199", "WT", "W", "a199",
                               "z199", "h198"}
    # the breadth-first count cut (the old behaviour) still applies on top
    p = Parsed(draw_dot(loss, max_depth=7, max_nodes=3, names=names))
    assert value_labels(p) == {"loss", "h200", "a200"}


# -- user groups -----------------------------------------------------------------------------
def test_groups_by_time_step_are_exactly_the_clusters(rnn):
    loss, steps, names = rnn
    mapping = {n: f"t={t}" for t in range(1, STEPS + 1) for n in step(steps, t).values()}
    by_id = {id(n): g for n, g in mapping.items()}
    for groups in (mapping, lambda node: by_id.get(id(node))):
        p = Parsed(draw_dot(loss, max_depth=7, names=names, groups=groups))
        members = {c: {p.label[m] for m in ms if m in p.label} for c, ms in p.clusters.items()}
        assert members == {"t=200": {"z200", "a200", "h200"}, "t=199": {"z199", "a199", "h199"},
                           "t=198": {"h198"}}
    p = Parsed(draw_dot(loss, around=step(steps, 50)["h"], depth=3, names=names, groups=mapping))
    members = {c: {p.label[m] for m in ms if m in p.label} for c, ms in p.clusters.items()}
    assert members == {"t=49": {"h49"}, "t=50": {"z50", "a50", "h50"}, "t=51": {"z51", "a51",
                                                                            "h51"}}
    # the op oval of each node sits in its node's cluster
    ops = {m for ms in p.clusters.values() for m in ms if m in p.ops}
    assert ops == {"o" + p.name_of(lab)[1:] for lab in ("h49", "z50", "a50", "h50", "z51", "a51",
                                                         "h51")}


def test_groups_replace_module_clusters_and_bad_arguments(rnn):
    loss, steps, names = rnn
    with pytest.raises(TypeError, match="groups must be"):
        draw_dot(loss, groups=["t=1"])
    with pytest.raises(TypeError, match="around="):
        draw_dot(loss, depth=2)
    with pytest.raises(ValueError, match="not in the graph"):
        draw_dot(loss, around=Tensor([1.0], requires_grad=True))
    with pytest.raises(TypeError, match="around="):
        draw_dot(loss, around=3.0)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="max_depth"):
            draw_dot(loss, max_depth=bad)
        with pytest.raises(ValueError, match="depth"):
            draw_dot(loss, around=loss, depth=bad)


# -- rendering ---------------------------------------------------------------------------------
def test_rendered_svg_of_big_graphs_is_valid_and_counted(rnn, braid, tmp_path):
    loss, steps, names = rnn
    cases = [
        # (graph, value nodes drawn, their op ovals, dashed boxes and references)
        (draw_dot(braid[-1], around=braid[5000], depth=5), 21, 21, 2),
        (draw_dot(braid[-1]), 500, 500, 1),  # the default cut: 500 of 10,000 nodes
        (draw_dot(loss, around=step(steps, 100)["h"], depth=3, names=names,
                  groups=lambda n: "rnn"), 8, 8, 2),
        # all of it (W and h0 are leaves); WT, used by 200 matmuls, is drawn once and
        # referred to by a small dashed box at each use (else the layout takes minutes)
        (draw_dot(loss, max_nodes=None, names=names), 604, 602, 200),
    ]
    for i, (g, values, ops, boxes) in enumerate(cases):
        path = save(g, tmp_path / f"g{i}.svg")
        svg = (tmp_path / f"g{i}.svg").read_bytes()
        ET.fromstring(svg)  # valid XML
        assert svg_node_count(svg) == values + ops + boxes, path
    p = Parsed(cases[-1][0])
    refs = [n for n in p.other if n.startswith("r")]
    assert len(refs) == 200 and all("WT (used 200×)" in p.other[n] for n in refs)
    assert sum(c for (a, b), c in p.edges.items() if a in refs) == 200
    assert not any(a == p.name_of("WT") for (a, b) in p.edges)  # no long edges out of WT


def test_huge_png_downscale_is_a_warning(tmp_path):
    a = Value(2.0, label="a")
    g = draw_dot(a * a)
    g.attr(size="1000,0.1", ratio="fill")  # 72,000 pixels wide: more than cairo can make
    with pytest.warns(GraphvizWarning, match="too large.*save as .svg"):
        save(g, tmp_path / "wide.png")
    with pytest.warns(GraphvizWarning, match="too large"):
        g.pipe(format="png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        save(draw_dot(a * a), tmp_path / "fine.png")  # an ordinary picture warns nothing
        g.pipe(format="png", quiet=True)


def test_jpg_and_the_format_jupyter_shows(tmp_path):
    a = Value(2.0, label="a")
    b = a * a
    save(b, tmp_path / "g.jpg")
    save(b, tmp_path / "g.jpeg")
    assert (tmp_path / "g.jpg").read_bytes()[:2] == b"\xff\xd8"
    assert (tmp_path / "g.jpeg").read_bytes()[:2] == b"\xff\xd8"
    magic = {"image/png": b"\x89PNG", "image/jpeg": b"\xff\xd8"}
    for fmt, mime in (("svg", "image/svg+xml"), ("png", "image/png"), ("jpg", "image/jpeg"),
                      ("jpeg", "image/jpeg"), ("pdf", "image/svg+xml")):
        bundle = draw_dot(b, format=fmt)._repr_mimebundle_()
        assert list(bundle) == [mime], fmt
        data = bundle[mime]
        if mime == "image/svg+xml":
            ET.fromstring(data)
        else:
            assert data.startswith(magic[mime]), fmt
    # Jupyter asking for a type explicitly still gets it
    assert list(draw_dot(b, format="png")._repr_mimebundle_(include=["image/svg+xml"])) == [
        "image/svg+xml"]
    with pytest.raises(ValueError, match="format"):
        draw_dot(b, format="gif")


# -- the CLI draws the user's function ------------------------------------------------------
USER_MODULE = '''
from tinygrad_memo import Value


def build():
    a = Value(1.5, label="a")
    for i in range(5):
        a = a * a
        a.label = "l" + str(i)
    return a


def many():
    x = Value(1.0, label="x0")
    for i in range(50):
        x = x + 1.0
        x.label = "x" + str(i + 1)
    return x


NOT_CALLABLE = 3
'''


def test_cli_draws_a_user_function(tmp_path):
    (tmp_path / "usergraph.py").write_text(textwrap.dedent(USER_MODULE))
    out = tmp_path / "pics" / "g.svg"
    proc = subprocess.run([sys.executable, "-m", "tinygrad_memo", "viz", "usergraph:build",
                           "--out", str(out)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout
    svg = out.read_bytes()
    ET.fromstring(svg)
    assert svg_node_count(svg) == 6 + 5  # a, l0..l4 and five ops
    proc = subprocess.run([sys.executable, "-m", "tinygrad_memo", "viz", "usergraph:many",
                           "--out", str(out), "--max-depth", "4"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert svg_node_count(out.read_bytes()) == 5 + 5 + 1  # x46..x50, their ops, one box


def test_cli_user_function_errors(tmp_path, monkeypatch, capsys):
    (tmp_path / "usergraph2.py").write_text(textwrap.dedent(USER_MODULE))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    out = str(tmp_path / "g.svg")
    for target, message in (("nosuchmodule_xyz:f", "cannot import"),
                            ("usergraph2:nope", "no attribute"),
                            ("usergraph2:NOT_CALLABLE", "not callable"),
                            ("usergraph2", "MODULE:FUNCTION")):
        assert cli.main(["viz", target, "--out", out]) == 1, target
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (target, err)
    assert cli.main(["viz", "usergraph2:build", "--example", "ladder", "--out", out]) == 2
    assert cli.main(["viz", "--out", out]) == 2
