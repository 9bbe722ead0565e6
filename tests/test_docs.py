"""The documentation cannot rot: its code runs, its site builds, its API has examples.

1. Every ```python block of README.md and docs/**/*.md is executed. The blocks
   of one page run in order in one namespace (a page is one script), in a fresh
   temporary working directory. A block is skipped when its info string says
   ``no-run`` (```python no-run) or when the line before its fence is
   ``<!-- skip -->``; use that sparingly (a long training run, a shell-only
   snippet). Line numbers in tracebacks are those of the Markdown file.
2. ``mkdocs build --strict`` succeeds (skipped when mkdocs is not installed):
   a broken link, a page missing from the nav or an API name mkdocstrings
   cannot find fails the test.
3. Every public name of the design contract (../shared/DESIGN.md, listed
   explicitly below) has a docstring with a ``>>>`` example.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


# -- 1. executed code blocks ------------------------------------------------------------------
_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")


class Block:
    """One fenced code block: its language, info words, first code line and source."""

    def __init__(self, lang: str, words: list[str], line: int, source: str, skip: bool):
        self.lang, self.words, self.line, self.source = lang, words, line, source
        self.skip = skip or "no-run" in words


def code_blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text (indented fences too, as in admonitions)."""
    lines = text.split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = m.group("indent"), m.group("fence"), m.group("info").strip()
        words = info.replace("{", " ").replace("}", " ").split()
        lang = words[0].lstrip(".").lower() if words else ""
        prev = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        close = re.compile(rf"^{re.escape(indent)}{fence[0]}{{{len(fence)},}}\s*$")
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            line = lines[j]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            j += 1
        if j == len(lines):
            raise ValueError(f"unclosed code fence opened on line {i + 1}")
        blocks.append(Block(lang, words[1:], i + 2, "\n".join(body) + "\n", prev == "<!-- skip -->"))
        i = j + 1
    return blocks


def _python_blocks(page: Path) -> list[Block]:
    return [b for b in code_blocks(page.read_text(encoding="utf-8"))
            if b.lang in ("python", "py", "python3")]


def _pages() -> list[Path]:
    """README.md and every page of docs/ that has a python block (API pages have none)."""
    pages = [ROOT / "README.md"] + sorted(DOCS.rglob("*.md"))
    return [p for p in pages if "_ext" not in p.parts and _python_blocks(p)]


def _page_id(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _is_missing_dot(e: BaseException) -> bool:
    """Rendering without Graphviz's ``dot`` program (the one optional system tool)."""
    try:
        import graphviz
    except ImportError:  # pragma: no cover
        return False
    return isinstance(e, graphviz.ExecutableNotFound) and shutil.which("dot") is None


def test_fence_parser():
    text = (
        "intro\n```python\nx = 1\n```\n<!-- skip -->\n```python\nslow()\n```\n"
        "```python no-run\nnope()\n```\n!!! note\n    ```python\n    y = x + 1\n    ```\n"
        "```sh\nmake test\n```\n"
    )
    blocks = code_blocks(text)
    assert [(b.lang, b.skip, b.line) for b in blocks] == [
        ("python", False, 3), ("python", True, 7), ("python", True, 10), ("python", False, 14),
        ("sh", False, 17),
    ]
    assert blocks[3].source == "y = x + 1\n"


#: optional packages a page may use (the PyTorch guides): its blocks are skipped without them
OPTIONAL = {"torch": "the torch extra: pip install torch", "safetensors": "the test extra"}


@pytest.mark.parametrize("page", _pages(), ids=_page_id)
def test_page_code_runs(page: Path, tmp_path, monkeypatch, capsys):
    blocks = _python_blocks(page)
    runnable = [b for b in blocks if not b.skip]
    if not runnable:
        pytest.skip("no runnable python blocks")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.syspath_prepend(str(ROOT))
    namespace: dict = {"__name__": "__docs__"}
    start = time.perf_counter()
    for block in runnable:
        # Pad with newlines so that tracebacks give the line number in the .md file.
        code = compile("\n" * (block.line - 1) + block.source, str(page), "exec")
        try:
            exec(code, namespace)
        except Exception as e:  # pragma: no cover - the failure report
            if _is_missing_dot(e):
                pytest.skip(f"{_page_id(page)}: line {block.line} renders a picture and "
                            "Graphviz's dot is not installed (make dot)")
            if isinstance(e, ModuleNotFoundError) and e.name in OPTIONAL:
                pytest.skip(f"{_page_id(page)}: line {block.line} needs {e.name}, which is "
                            f"not installed ({OPTIONAL[e.name]})")
            out = capsys.readouterr().out
            raise AssertionError(
                f"{_page_id(page)}: the code block starting on line {block.line} failed: "
                f"{type(e).__name__}: {e}\n--- its output so far ---\n{out[-3000:]}"
            ) from e
    elapsed = time.perf_counter() - start
    # Not a timing gate (CI machines vary): a note in -ra output when a page gets slow.
    if elapsed > 10:
        print(f"note: {_page_id(page)} took {elapsed:.1f} s (keep pages under 10 s)")


# -- 2. the site builds with --strict -------------------------------------------------------------
def test_mkdocs_build_strict(tmp_path):
    for module in ("mkdocs", "mkdocstrings", "material"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install -e '.[docs]')")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
         str(ROOT / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    assert (tmp_path / "site" / "index.html").exists()
    assert (tmp_path / "site" / "api" / "engine" / "index.html").exists()


# -- 3. every public name of the contract has an example ------------------------------------------
PUBLIC_NAMES = [
    # import tinygrad_memo as tm
    "tinygrad_memo.Value", "tinygrad_memo.Tensor", "tinygrad_memo.Function",
    "tinygrad_memo.no_grad", "tinygrad_memo.manual_seed", "tinygrad_memo.concatenate",
    "tinygrad_memo.stack", "tinygrad_memo.where", "tinygrad_memo.maximum",
    "tinygrad_memo.minimum", "tinygrad_memo.save", "tinygrad_memo.load", "tinygrad_memo.grad",
    # engine
    "tinygrad_memo.engine.topological_order",
    "tinygrad_memo.engine.backward", "tinygrad_memo.engine.naive_grad",
    "tinygrad_memo.engine.BackwardStats",
    # Value
    "tinygrad_memo.Value.backward", "tinygrad_memo.Value.exp", "tinygrad_memo.Value.log",
    "tinygrad_memo.Value.tanh", "tinygrad_memo.Value.relu", "tinygrad_memo.Value.sigmoid",
    "tinygrad_memo.Value.sin", "tinygrad_memo.Value.cos", "tinygrad_memo.Value.sqrt",
    # Tensor
    "tinygrad_memo.Tensor.numpy", "tinygrad_memo.Tensor.item", "tinygrad_memo.Tensor.detach",
    "tinygrad_memo.Tensor.requires_grad", "tinygrad_memo.Tensor.is_leaf",
    "tinygrad_memo.Tensor.retain_grad", "tinygrad_memo.Tensor.backward",
    "tinygrad_memo.Tensor.exp", "tinygrad_memo.Tensor.log", "tinygrad_memo.Tensor.sqrt",
    "tinygrad_memo.Tensor.tanh", "tinygrad_memo.Tensor.relu", "tinygrad_memo.Tensor.sigmoid",
    "tinygrad_memo.Tensor.abs", "tinygrad_memo.Tensor.sum", "tinygrad_memo.Tensor.mean",
    "tinygrad_memo.Tensor.max", "tinygrad_memo.Tensor.min", "tinygrad_memo.Tensor.softmax",
    "tinygrad_memo.Tensor.log_softmax", "tinygrad_memo.Tensor.reshape",
    "tinygrad_memo.Tensor.transpose", "tinygrad_memo.Tensor.T", "tinygrad_memo.Tensor.flatten",
    "tinygrad_memo.Tensor.__getitem__",
    # Tensor, round 2 (issue 12's ops)
    "tinygrad_memo.Tensor.sin", "tinygrad_memo.Tensor.cos", "tinygrad_memo.Tensor.square",
    "tinygrad_memo.Tensor.log1p", "tinygrad_memo.Tensor.clip", "tinygrad_memo.Tensor.var",
    "tinygrad_memo.Tensor.std", "tinygrad_memo.Tensor.argmax", "tinygrad_memo.Tensor.argmin",
    "tinygrad_memo.Tensor.unsqueeze", "tinygrad_memo.Tensor.squeeze",
    "tinygrad_memo.Tensor.permute", "tinygrad_memo.Tensor.tolist",
    "tinygrad_memo.einsum", "tinygrad_memo.tensordot", "tinygrad_memo.outer",
    "tinygrad_memo.zeros_like", "tinygrad_memo.full", "tinygrad_memo.linspace",
    "tinygrad_memo.nn.functional.scaled_dot_product_attention",
    "tinygrad_memo.multinomial", "tinygrad_memo.nn.functional.embedding",
    "tinygrad_memo.nn.functional.one_hot", "tinygrad_memo.nn.Embedding",
    "tinygrad_memo.nn.functional.leaky_relu", "tinygrad_memo.nn.functional.gelu",
    "tinygrad_memo.nn.functional.silu", "tinygrad_memo.nn.functional.softplus",
    "tinygrad_memo.nn.LeakyReLU", "tinygrad_memo.nn.GELU", "tinygrad_memo.nn.SiLU",
    "tinygrad_memo.nn.Softplus", "tinygrad_memo.nn.ELU", "tinygrad_memo.Tensor.erf",
    "tinygrad_memo.Value.erf", "tinygrad_memo.nn.BatchNorm1d", "tinygrad_memo.nn.BatchNorm2d",
    "tinygrad_memo.nn.Module.register_buffer", "tinygrad_memo.nn.Module.buffers",
    "tinygrad_memo.nn.Module.named_buffers", "tinygrad_memo.nn.utils.clip_grad_norm_",
    "tinygrad_memo.optim.Optimizer.state_dict", "tinygrad_memo.optim.Optimizer.load_state_dict",
    # nn
    "tinygrad_memo.nn", "tinygrad_memo.nn.Module", "tinygrad_memo.nn.Module.parameters",
    "tinygrad_memo.nn.Module.named_parameters", "tinygrad_memo.nn.Module.zero_grad",
    "tinygrad_memo.nn.Module.state_dict", "tinygrad_memo.nn.Module.load_state_dict",
    "tinygrad_memo.nn.Module.train", "tinygrad_memo.nn.Module.eval",
    "tinygrad_memo.nn.Linear", "tinygrad_memo.nn.MLP", "tinygrad_memo.nn.Sequential",
    "tinygrad_memo.nn.ReLU", "tinygrad_memo.nn.Tanh", "tinygrad_memo.nn.Sigmoid",
    "tinygrad_memo.nn.Dropout", "tinygrad_memo.nn.LayerNorm",
    "tinygrad_memo.nn.functional", "tinygrad_memo.nn.functional.mse_loss",
    "tinygrad_memo.nn.functional.cross_entropy",
    "tinygrad_memo.nn.functional.binary_cross_entropy_with_logits",
    "tinygrad_memo.nn.functional.conv2d", "tinygrad_memo.nn.functional.conv_transpose2d",
    "tinygrad_memo.nn.functional.max_pool2d", "tinygrad_memo.nn.functional.avg_pool2d",
    "tinygrad_memo.nn.functional.pad", "tinygrad_memo.nn.Conv2d", "tinygrad_memo.nn.ConvTranspose2d",
    "tinygrad_memo.nn.MaxPool2d", "tinygrad_memo.nn.AvgPool2d", "tinygrad_memo.nn.Flatten",
    "tinygrad_memo.nn.RNNCell", "tinygrad_memo.nn.GRUCell", "tinygrad_memo.nn.LSTMCell",
    "tinygrad_memo.nn.scalar", "tinygrad_memo.nn.scalar.Neuron", "tinygrad_memo.nn.scalar.Layer",
    "tinygrad_memo.nn.scalar.MLP",
    # optim
    "tinygrad_memo.optim", "tinygrad_memo.optim.SGD", "tinygrad_memo.optim.Adam",
    "tinygrad_memo.optim.AdamW", "tinygrad_memo.optim.Optimizer.step",
    "tinygrad_memo.optim.Optimizer.zero_grad",
    # tools
    "tinygrad_memo.data", "tinygrad_memo.data.make_moons", "tinygrad_memo.viz.draw_dot",
    "tinygrad_memo.viz.animate_backward",
    "tinygrad_memo.gradcheck.gradcheck", "tinygrad_memo.gradcheck.gradgradcheck",
    "tinygrad_memo.testing.strategies",
    # the memo's price and its instruments
    "tinygrad_memo.checkpoint", "tinygrad_memo.checkpoint_sequential",
    "tinygrad_memo.Tensor.register_hook", "tinygrad_memo.Value.register_hook",
    "tinygrad_memo.nn.Module.register_forward_pre_hook",
    "tinygrad_memo.nn.Module.register_forward_hook",
    "tinygrad_memo.detect_anomaly", "tinygrad_memo.saved_tensors_report",
    # forward mode
    "tinygrad_memo.jvp", "tinygrad_memo.jacfwd", "tinygrad_memo.jacrev", "tinygrad_memo.hessian",
    "tinygrad_memo.hvp", "tinygrad_memo.adjoint_check", "tinygrad_memo.testing.properties",
]


def _resolve(name: str):
    parts = name.split(".")
    obj = None
    for i in range(len(parts), 0, -1):
        modname = ".".join(parts[:i])
        try:
            obj = importlib.import_module(modname)
            break
        except ModuleNotFoundError as e:
            if e.name is not None and not modname.startswith(e.name) and e.name != modname:
                raise  # a real missing dependency inside an existing module
            continue
    rest = parts[i:]
    for attr in rest:
        if isinstance(obj, type):
            obj = inspect.getattr_static(obj, attr)
        else:
            if not hasattr(obj, attr) and inspect.ismodule(obj):
                # a submodule that is not imported by its package, or one that is missing
                pytest.skip(f"{name}: module {obj.__name__}.{attr} does not exist (yet)")
            obj = getattr(obj, attr)
    if isinstance(obj, property):
        obj = obj.fget
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    return obj


@pytest.mark.parametrize("name", PUBLIC_NAMES)
def test_public_name_has_docstring_example(name):
    obj = _resolve(name)
    doc = inspect.getdoc(obj) or ""
    assert doc.strip(), f"{name} has no docstring"
    assert ">>>" in doc, f"{name}'s docstring has no >>> example"
