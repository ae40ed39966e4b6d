"""Where workflows live, read from the code (every ``import`` statement, at any depth, parsed with ``ast``):
no CLI command module imports another command module (shared helpers are in ``cli/_*.py``), the drawing
modules of ``gridmap.maps`` never import the store (only ``maps/service.py`` may), and the store-facing map
assembly is written once, in the service."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "gridmap"


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names; ``from x import y`` gives ``x`` and ``x.y``)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def test_imported_modules_sees_nested_imports(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from gridmap.cli.store_cmd import _x\n    import gridmap.store\n")
    assert {"gridmap.cli.store_cmd", "gridmap.cli.store_cmd._x", "gridmap.store"} <= imported_modules(f)


def test_no_cli_command_module_imports_another():
    commands = {p.stem for p in (PKG / "cli").glob("*.py") if not p.stem.startswith("_")}
    assert {"store_cmd", "locate", "warn", "map_cmd"} <= commands
    sideways = {}
    for name in commands:
        wrong = {m for m in imported_modules(PKG / "cli" / f"{name}.py")
                 if m.split(".")[:2] == ["gridmap", "cli"] and len(m.split(".")) > 2
                 and m.split(".")[2] in commands - {name}}
        if wrong:
            sideways[name] = sorted(wrong)
    assert sideways == {}


def test_map_drawing_modules_never_import_the_store():
    offenders = {}
    for p in sorted((PKG / "maps").glob("*.py")):
        if p.stem == "service":
            continue
        wrong = {m for m in imported_modules(p)
                 if m == "gridmap.store" or m.startswith("gridmap.store.") or m.startswith("gridmap.maps.service")}
        if wrong:
            offenders[p.name] = sorted(wrong)
    assert offenders == {}
    assert any(m.startswith("gridmap.maps.service") for m in imported_modules(PKG / "cli" / "map_cmd.py"))


def test_the_map_assembly_is_written_once():
    """Hot spots and alerts are put on a map (``warning_layers``) in the service only; the CLI commands and the
    demo call the service, never the map builders themselves."""
    writers = []
    for p in [PKG / "pipeline.py", *sorted((PKG / "cli").glob("*.py")), *sorted((PKG / "maps").glob("*.py"))]:
        calls = {n.func.id if isinstance(n.func, ast.Name) else getattr(n.func, "attr", None)
                 for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))) if isinstance(n, ast.Call)}
        if "warning_layers" in calls:
            writers.append(p.relative_to(PKG).as_posix())
    assert writers == ["maps/service.py"]
    for p in (PKG / "cli" / "map_cmd.py", PKG / "cli" / "locate.py", PKG / "pipeline.py"):
        mods = imported_modules(p)
        assert "gridmap.maps.service" in mods, p.name
        assert not {"gridmap.maps.build_map", "gridmap.maps.street_map", "gridmap.maps.district_map",
                    "gridmap.maps.warning_layers"} & mods, p.name
