"""One arrow direction and no import circle: every module of the package imports on its
own, in a fresh interpreter (``python -c "import tinygrad_memo.X"`` for each X found by
walking the package), and no ``noqa: E402`` (an import moved below code, the usual way
to hold a circle up) is left in the package."""

from __future__ import annotations

import os
import pkgutil
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import tinygrad_memo

PACKAGE = Path(tinygrad_memo.__file__).resolve().parent
MODULES = ["tinygrad_memo"] + sorted(
    m.name for m in pkgutil.walk_packages(tinygrad_memo.__path__, "tinygrad_memo."))


def _module_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_the_walk_finds_every_module_file():
    on_disk = {_module_of(p) for p in PACKAGE.rglob("*.py")}
    assert on_disk == set(MODULES), "a module the walk misses (a folder without __init__.py?)"
    assert {"tinygrad_memo.engine", "tinygrad_memo.ops.elementwise",
            "tinygrad_memo.testing.strategies"} <= set(MODULES)


def _import_alone(module: str) -> tuple[str, int, str]:
    proc = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, MPLBACKEND="Agg"))
    return module, proc.returncode, proc.stderr


def test_every_module_imports_on_its_own_in_a_fresh_interpreter():
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(_import_alone, MODULES))
    failed = {m: err.strip().splitlines()[-1] for m, rc, err in results if rc != 0}
    assert not failed, f"modules that do not import on their own: {failed}"


def test_a_module_that_cannot_be_imported_is_reported():
    module, rc, err = _import_alone("tinygrad_memo.no_such_module")
    assert rc != 0 and "ModuleNotFoundError" in err


E402 = re.compile(r"#\s*noqa\b[:\s]*[^#]*\bE402\b", re.IGNORECASE)


def test_no_noqa_e402_in_the_package():
    found = [f"{p.relative_to(PACKAGE.parent)}:{n}"
             for p in sorted(PACKAGE.rglob("*.py"))
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if E402.search(line)]
    assert not found, f"imports held below code (noqa: E402): {found}"
    assert E402.search("import x  # noqa: E402") and E402.search("import x  # NOQA:F401,E402")


def test_subpackages_load_lazily_as_attributes_of_tm():
    code = (
        "import sys\n"
        "import tinygrad_memo as tm\n"
        "lazy = ('nn', 'optim', 'data', 'gradcheck', 'testing')\n"
        "print(sorted(m for m in lazy if 'tinygrad_memo.' + m in sys.modules))\n"
        "print('hypothesis' in sys.modules)\n"
        "print(tm.nn.Linear.__name__, tm.optim.SGD.__name__, tm.data.make_moons.__name__,\n"
        "      tm.gradcheck.gradcheck.__name__, tm.testing.__name__)\n"
        "print(all(name in dir(tm) for name in lazy))\n"
        "try:\n"
        "    tm.cat\n"
        "except AttributeError as e:\n"
        "    print(e)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=True)
    lines = proc.stdout.splitlines()
    assert lines[0] == "[]"  # none of them imported by `import tinygrad_memo`
    assert lines[1] == "False"  # (so hypothesis is not imported either)
    assert lines[2] == "Linear SGD make_moons gradcheck tinygrad_memo.testing"
    assert lines[3] == "True"
    assert "use tm.concatenate" in lines[4]  # PyTorch-spelling hints still work
