"""The import table of the design (``../shared/DESIGN.md``, "Layout"), enforced on the source.

Every ``import`` of every module (at the top or inside a function: both run) is read with
:mod:`ast` and resolved to a module of the package or to a top-level outside package.

=============  ==========================================================================
folder         may import (besides its own folder, the standard library and outside packages)
=============  ==========================================================================
prosync/       everything (the front door: public API and the command line)
engine/        native/, calibration/
native/        numpy, numba and native/_jit.py only (kernels: no validation, no I/O)
streams/       engine/, native/, calibration/ (never the front door ``prosync.*``)
calibration/   native/
=============  ==========================================================================

``engine/errors.py`` (the one exception family) is a leaf that every layer but native/ may
raise from. No module imports itself back through others (no cycles).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Top-level folders and the package each installs as (pyproject's package-dir).
FOLDERS = {"prosync": "prosync", "engine": "prosync.engine", "native": "prosync.native",
           "streams": "prosync.streams", "calibration": "prosync.calibration"}
#: folder -> the other folders of the package it may import.
ALLOWED = {
    "prosync": {"engine", "native", "streams", "calibration"},
    "engine": {"native", "calibration"},
    "native": set(),
    "streams": {"engine", "native", "calibration"},
    "calibration": {"native"},
}
#: The exception family: a leaf importable from every folder but native/.
ERRORS = "prosync.engine.errors"
#: What native/ may import from outside the package (``_jit`` also reads the environment).
NATIVE_EXTERNAL = {"numpy", "numba"}
JIT_EXTERNAL = {"numba", "os"}


def _modules() -> dict[str, tuple[str, Path]]:
    """module name -> (folder, path) for every module of the package."""
    out = {}
    for folder, pkg in FOLDERS.items():
        for p in sorted((ROOT / folder).rglob("*.py")):
            parts = [x for x in p.relative_to(ROOT / folder).with_suffix("").parts if x != "__init__"]
            out[".".join([pkg, *parts])] = (folder, p)
    return out


MODULES = _modules()


def _folder_of(module: str) -> str:
    """The folder a package module lives in (the longest matching package prefix)."""
    best = ""
    for folder, pkg in FOLDERS.items():
        if (module == pkg or module.startswith(pkg + ".")) and len(pkg) > len(FOLDERS.get(best, "")):
            best = folder
    return best


def _imports(module: str, path: Path) -> list[tuple[int, str]]:
    """``(line, target)`` per import: a package module (``prosync.x.y``) or ``ext:<top>``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_pkg = path.name == "__init__.py"
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: None if is_pkg else -1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            # ``from pkg import name``: a submodule if ``pkg.name`` is one, else a name in ``pkg``
            names = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in MODULES else mod for a in node.names]
        else:
            continue
        for n in names:
            if n.split(".")[0] != "prosync":
                out.append((node.lineno, "ext:" + n.split(".")[0]))
                continue
            while n not in MODULES and "." in n:  # ``import prosync.x.y.name`` style
                n = n.rsplit(".", 1)[0]
            out.append((node.lineno, n))
    return out


GRAPH = {m: _imports(m, p) for m, (_, p) in MODULES.items()}


def _violations(module: str, folder: str, rel: str, imports) -> list[str]:
    """What ``module`` (in ``folder``, file ``rel``) imports against the table."""
    bad = []
    for line, target in imports:
        where = f"{rel}:{line} imports {target.removeprefix('ext:')}"
        if target.startswith("ext:"):
            ext = target[4:]
            if folder == "native":
                allowed = JIT_EXTERNAL if module.endswith("._jit") else NATIVE_EXTERNAL
                if ext not in allowed:
                    bad.append(f"{where}: native/ imports only {', '.join(sorted(allowed))}")
            continue
        other = _folder_of(target)
        if other == folder:
            continue
        if target == ERRORS and folder != "native":
            continue
        if other not in ALLOWED[folder]:
            may = ", ".join(sorted(ALLOWED[folder])) or "no other folder"
            bad.append(f"{where}: {folder}/ may import {may}")
    return bad


@pytest.mark.parametrize("folder", sorted(FOLDERS))
def test_each_folder_imports_only_what_the_design_allows(folder):
    bad = [v for m, (f, p) in MODULES.items() if f == folder
           for v in _violations(m, f, p.relative_to(ROOT), GRAPH[m])]
    assert not bad, "\n".join(bad)


def test_errors_is_a_leaf():
    assert [t for _, t in GRAPH[ERRORS] if not t.startswith("ext:")] == []
    assert {t for _, t in GRAPH[ERRORS]} <= {"ext:__future__"}


def _cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(edges)))
    try:
        for v in edges:
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return cycles


def test_no_import_cycles():
    edges = {m: sorted({t for _, t in deps if t in MODULES and t != m}) for m, deps in GRAPH.items()}
    cycles = _cycles(edges)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_checker_sees_violations(tmp_path):
    """The checks can fail: planted bad imports and a planted cycle are found."""
    bad = tmp_path / "bad.py"
    bad.write_text("import scipy\nfrom ..streams import files\nfrom prosync.engine import errors\n")
    msgs = _violations("prosync.native.bad", "native", "native/bad.py",
                       _imports("prosync.native.bad", bad))
    assert len(msgs) == 3, msgs
    assert "native/bad.py:1 imports scipy: native/ imports only numba, numpy" in msgs[0]
    assert "imports prosync.streams.files" in msgs[1] and "imports prosync.engine.errors" in msgs[2]
    bad.write_text("import prosync\nfrom prosync.engine.errors import ProsyncError\n")
    msgs = _violations("prosync.streams.bad", "streams", "streams/bad.py",
                       _imports("prosync.streams.bad", bad))
    assert msgs == ["streams/bad.py:1 imports prosync: streams/ may import calibration, engine, native"]
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
