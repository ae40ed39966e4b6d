"""The layout of the package, checked from the code: the import graph of ``gridmap`` has no cycle, the house
rules on who may import the store, the maps and the CLI hold, and every file ``docs/architecture.md`` names exists.

The graph is built with ``ast`` over ``gridmap/**/*.py``: every ``import`` counts, at module level, inside a
function, or under ``if TYPE_CHECKING:``. ``from gridmap.a import b`` is an edge to ``gridmap.a.b`` when that is a
module, else to ``gridmap.a``. Parent packages are not added as edges (importing ``gridmap.a.b`` runs
``gridmap/a/__init__.py`` too, but that package's own imports are edges of their own).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "gridmap"
ANALYSIS = ("grid", "codes", "planning", "warning")

# Cycles in the code today that other changes of the same wave remove; the lead empties this list at merge
# (test_allow_lists_are_not_stale fails as soon as one of them is gone).
KNOWN_CYCLES: list[frozenset[str]] = []

# Imports that break a house rule today and that other changes of the same wave remove; emptied at merge.
ALLOWED_EDGES: dict[tuple[str, str], str] = {
    ("gridmap.planning.accept", "gridmap.store.schema"):
        "accept_proposal writes the split to the store (its schema's tables); it belongs in planning/service.py",
}


def module_files(package: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file under ``package`` (a package is its ``__init__``)."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (anywhere in its code)."""
    files = module_files(package)
    top = package.name

    def known(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        targets: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets |= {known(a.name) for a in node.names if a.name.split(".")[0] == top}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[:len(base) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                if mod.split(".")[0] != top:
                    continue
                for alias in node.names:
                    full = f"{mod}.{alias.name}"
                    folder = files[mod].parent if mod in files and files[mod].name == "__init__.py" else None
                    if full in files:
                        targets.add(full)
                    elif folder is not None and any(folder.glob(f"{alias.name}.*")):
                        continue  # a compiled extension (gridmap.grid._kernel): a leaf, not a cycle
                    else:
                        targets.add(known(mod))
        graph[name] = {t for t in targets if t is not None and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.add(member)
                    if member == node:
                        break
                if len(comp) > 1:
                    found.append(frozenset(comp))
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(PACKAGE)


def _without_allowed(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    return {m: {t for t in targets if (m, t) not in ALLOWED_EDGES} for m, targets in graph.items()}


# --- the checker itself ----------------------------------------------------------------------------------------

def test_the_graph_sees_lazy_relative_and_type_checking_imports(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .b import thing\n")
    (pkg / "a.py").write_text("def f():\n    from pkg.sub import b\n    return b\n")
    (pkg / "sub" / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..c import C\n"
                                      "thing = 1\n")
    (pkg / "c.py").write_text("import pkg.a\nclass C: ...\n")
    (pkg / "leaf.py").write_text("import os\n")
    g = import_graph(pkg)
    assert g == {"pkg": set(), "pkg.sub": {"pkg.sub.b"}, "pkg.a": {"pkg.sub.b"}, "pkg.sub.b": {"pkg.c"},
                 "pkg.c": {"pkg.a"}, "pkg.leaf": set()}
    assert cycles(g) == [frozenset({"pkg.a", "pkg.sub.b", "pkg.c"})]


def test_the_graph_of_gridmap_covers_every_module(graph):
    assert set(graph) == set(module_files(PACKAGE)) and len(graph) > 50
    assert "gridmap.errors" in graph["gridmap.crs"]
    assert all(t in graph for targets in graph.values() for t in targets)


# --- the rules ---------------------------------------------------------------------------------------------------

def test_import_graph_is_a_dag(graph):
    found = cycles(_without_allowed(graph))
    unknown = [sorted(c) for c in found if c not in KNOWN_CYCLES]
    assert not unknown, f"import cycles in gridmap: {unknown}"


def test_analysis_packages_import_neither_store_nor_maps(graph):
    bad = sorted((m, t) for m, targets in graph.items() for t in targets
                 if m.split(".")[1:2] and m.split(".")[1] in ANALYSIS and m.rsplit(".", 1)[-1] != "service"
                 and t.split(".")[1:2] and t.split(".")[1] in ("store", "maps") and (m, t) not in ALLOWED_EDGES)
    assert not bad, f"analysis modules importing the store or the maps (only service.py may): {bad}"


def test_map_drawing_modules_never_import_the_store(graph):
    bad = sorted((m, t) for m, targets in graph.items() for t in targets
                 if m.startswith("gridmap.maps") and m != "gridmap.maps.service" and t.startswith("gridmap.store")
                 and (m, t) not in ALLOWED_EDGES)
    assert not bad, f"map modules importing the store (only gridmap/maps/service.py may): {bad}"


def _command_module(name: str) -> bool:
    parts = name.split(".")
    return len(parts) == 3 and parts[1] == "cli" and not parts[2].startswith("_")


def test_cli_command_modules_do_not_import_each_other(graph):
    bad = sorted((m, t) for m, targets in graph.items() for t in targets
                 if _command_module(m) and _command_module(t) and (m, t) not in ALLOWED_EDGES)
    assert not bad, f"CLI command modules importing each other (share code through a library module): {bad}"


def test_runtime_never_imports_the_testing_package(graph):
    bad = sorted((m, t) for m, targets in graph.items() for t in targets
                 if t.startswith("gridmap.testing") and not m.startswith("gridmap.testing"))
    assert not bad, f"gridmap.testing is for tests and benchmarks only: {bad}"


def test_allow_lists_are_not_stale(graph):
    """Every allowed exception still exists: once the change that removes it lands, its entry must go."""
    gone_edges = sorted(e for e in ALLOWED_EDGES if e[1] not in graph.get(e[0], ()))
    present = cycles(graph)
    gone_cycles = [sorted(c) for c in KNOWN_CYCLES if c not in present]
    assert not gone_edges and not gone_cycles, \
        f"remove from tests/contract/test_layout.py: ALLOWED_EDGES {gone_edges}, KNOWN_CYCLES {gone_cycles}"


# --- docs/architecture.md ------------------------------------------------------------------------------------------

ARCHITECTURE = ROOT / "docs" / "architecture.md"


_PATH = re.compile(r"`(gridmap/[\w/]*?(?:\.py|/))(?::([\w.]+))?`")


def _references() -> list[tuple[str, str | None]]:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    return sorted(set(_PATH.findall(text)), key=lambda r: (r[0], r[1] or ""))


def _defines(path: Path, dotted: str) -> bool:
    """``path`` defines ``name`` (function, class or assignment at module level) or ``Class.method``."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    for part in dotted.split("."):
        names = {}
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names[node.name] = node
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    if isinstance(t, ast.Name):
                        names[t.id] = node
        if part not in names:
            return False
        body = getattr(names[part], "body", [])
    return True


def _cases():
    for path, name in _references():
        yield pytest.param(path, name or None, id=f"{path}:{name}" if name else path)


def test_architecture_names_enough_files():
    refs = _references()
    assert len({p for p, _ in refs}) >= 20 and sum(1 for _, n in refs if n) >= 20, refs


@pytest.mark.parametrize(("path", "name"), list(_cases()))
def test_every_file_named_in_architecture_exists(path, name):
    target = ROOT / path
    assert target.is_dir() if path.endswith("/") else target.is_file(), f"{path} does not exist"
    if name:
        assert _defines(target, name), f"{path} does not define {name}"


# --- size: modules and functions small enough to read, or a reason given -----------------------------------------

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80
MAX_PARAMETERS = 12  # positional and keyword-only; *args and **kwargs do not count
#: A docstring line starting with this gives the reason a module or function is larger (docs/CONTRIBUTING.md).
REASON_MARKER = "Why "

# Oversized functions that a change of the same wave refactors; emptied at merge (test_allow_lists_are_not_stale
# style: test_oversized_allow_list_is_not_stale fails as soon as one of them is small or has its reason).
OVERSIZED_PENDING: dict[str, str] = {}


def _has_reason(docstring: str | None) -> bool:
    return any(line.strip().startswith(REASON_MARKER) for line in (docstring or "").splitlines())


def oversized(package: Path) -> list[str]:
    """``path`` (a module over the line limit) or ``path:qualified.name (what)`` (a function over a limit), for
    each one whose docstring gives no reason (a line starting with :data:`REASON_MARKER`)."""
    found = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package.parent).as_posix()
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text, str(path))
        n_lines = len(text.splitlines())
        if n_lines > MAX_MODULE_LINES and not _has_reason(ast.get_docstring(tree)):
            found.append(f"{rel} ({n_lines} lines)")

        def visit(body: list[ast.stmt], prefix: str) -> None:
            for node in body:
                if isinstance(node, ast.ClassDef):
                    visit(node.body, f"{prefix}{node.name}.")
                elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    a = node.args
                    n_params = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs)
                    n_body = node.end_lineno - node.lineno + 1
                    what = [f"{n_body} lines"] if n_body > MAX_FUNCTION_LINES else []
                    what += [f"{n_params} parameters"] if n_params > MAX_PARAMETERS else []
                    if what and not _has_reason(ast.get_docstring(node)):
                        found.append(f"{rel}:{prefix}{node.name} ({', '.join(what)})")
                    visit(node.body, f"{prefix}{node.name}.")

        visit(tree.body, "")
    return found


def test_the_size_check_sees_long_modules_functions_methods_and_reasons(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    long_body = "".join(f"    x{i} = {i}\n" for i in range(80))
    (pkg / "a.py").write_text(
        "def short(a, b, *args, c=1, **kw):\n    return a\n\n"
        f"def long():\n{long_body}\n"
        f"def long_with_reason():\n    '''Doc.\n\n    Why long: a table.\n    '''\n{long_body}\n"
        "def many(" + ", ".join(f"p{i}" for i in range(13)) + "):\n    pass\n\n"
        "class K:\n    def method(self, " + ", ".join(f"p{i}" for i in range(12)) + "):\n        pass\n")
    (pkg / "big.py").write_text('"""Big."""\n' + "x = 1\n" * 500)
    (pkg / "big_with_reason.py").write_text('"""Big.\n\nWhy big: generated.\n"""\n' + "x = 1\n" * 500)
    assert oversized(pkg) == ["pkg/a.py:long (81 lines)", "pkg/a.py:many (13 parameters)",
                              "pkg/a.py:K.method (13 parameters)", "pkg/big.py (501 lines)"]


def test_modules_and_functions_are_small_or_say_why():
    found = [f for f in oversized(PACKAGE) if f.split(" (")[0] not in OVERSIZED_PENDING]
    assert not found, (f"over {MAX_MODULE_LINES} lines (module), {MAX_FUNCTION_LINES} lines or {MAX_PARAMETERS} "
                       f"parameters (function) without a docstring line starting {REASON_MARKER!r}: split it, or "
                       f"give the reason (docs/CONTRIBUTING.md): {found}")


def test_oversized_allow_list_is_not_stale():
    present = {f.split(" (")[0] for f in oversized(PACKAGE)}
    gone = sorted(set(OVERSIZED_PENDING) - present)
    assert not gone, f"remove from tests/contract/test_layout.py OVERSIZED_PENDING: {gone}"
