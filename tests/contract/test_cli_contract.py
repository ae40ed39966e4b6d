"""The CLI's contract with its user: help that teaches (every command an example that parses, every option a
help text), one name per concept (``--rejects``; the old ``--report`` still works and warns), error messages that
name flags, and progress bars on a terminal only (not with ``-q``, not into a pipe)."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import io
import os
import pty
import re
import select
import shlex
import shutil
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pandas as pd
import pytest

from gridmap.cli import build_parser
from gridmap.cli._common import DeprecatedAlias


def _walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ("gridmap",)):
    yield path, parser
    for action in parser._actions:  # noqa: SLF001 -- argparse keeps its tree here
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for name, sub in action.choices.items():
                yield from _walk(sub, (*path, name))


PARSERS = list(_walk(build_parser()))


def _examples(epilog: str) -> list[str]:
    """Example command lines of an epilog: lines starting with ``gridmap `` (backslash continuations joined),
    without the trailing comment (``# ...`` or a description after two spaces)."""
    text = re.sub(r"\\\n\s*", " ", epilog)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("Example:"):
            line = line[len("Example:"):].strip()
        if line.startswith("gridmap "):
            out.append(re.split(r"\s+#|\s{2,}", line)[0])
    return out


def test_the_walk_sees_every_command():
    names = {" ".join(p) for p, _ in PARSERS}
    assert {"gridmap export", "gridmap split propose", "gridmap split accept", "gridmap complaints import",
            "gridmap communities flag", "gridmap nearest", "gridmap map", "gridmap cells build"} <= names
    assert len(PARSERS) >= 20


@pytest.mark.parametrize("path,parser", PARSERS, ids=[" ".join(p) for p, _ in PARSERS])
def test_every_command_has_an_example_of_itself(path, parser):
    examples = _examples(parser.epilog or "")
    own = [e for e in examples if all(word in shlex.split(e) for word in path[1:])]
    assert own, f"{' '.join(path)}: no example of itself in its epilog (--help): {examples}"
    assert own[0] in parser.format_help().replace("\n", " ") or "\\" in (parser.epilog or "")


@pytest.mark.parametrize("path,parser", PARSERS, ids=[" ".join(p) for p, _ in PARSERS])
def test_every_example_parses(path, parser):
    for example in _examples(parser.epilog or ""):
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err):
                build_parser().parse_args(shlex.split(example)[1:])
        except SystemExit:
            pytest.fail(f"the example {example!r} in `{' '.join(path)} --help` does not parse: {err.getvalue()}")


@pytest.mark.parametrize("path,parser", PARSERS, ids=[" ".join(p) for p, _ in PARSERS])
def test_every_option_has_help_text(path, parser):
    missing = []
    for action in parser._actions:  # noqa: SLF001
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):  # noqa: SLF001
            continue
        if action.help is argparse.SUPPRESS:
            assert isinstance(action, DeprecatedAlias), (path, action.option_strings)  # only old names hide
            continue
        if not (action.help or "").strip():
            missing.append("/".join(action.option_strings) or action.dest)
    assert not missing, f"{' '.join(path)}: options without help text: {missing}"


def test_issue_options_have_help_in_the_rendered_help():
    def help_of(*argv):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
            build_parser().parse_args([*argv, "--help"])
        return re.sub(r"\s+", " ", out.getvalue())

    assert re.search(r"--rank RANK which proposal", help_of("split", "accept"))
    text = help_of("split", "propose")
    for opt in ("--floor FLOOR fewest", "--ceiling CEILING most", "--alternatives ALTERNATIVES how many",
                "--seed SEED random seed"):
        assert opt in text, opt
    text = help_of("map")
    assert "--privacy {shared,internal} shared (default)" in text and "--basemap {none,osm,tianditu,gaode} " \
        "background tiles" in text
    text = help_of("nearest")
    assert "--lon LON longitude" in text and "--lat LAT latitude" in text


# -- one name per concept ------------------------------------------------------------------------------------


def gridmap(*argv, **kw):
    return subprocess.run([sys.executable, "-m", "gridmap", *argv], capture_output=True, text=True, timeout=300, **kw)


def test_rejects_is_the_one_name_and_report_still_works_with_a_warning(tmp_path):
    db = tmp_path / "a.sqlite"
    src = tmp_path / "calls.csv"
    pd.DataFrame({"source_id": ["a", "b"], "received_at": ["2025-06-01 08:00", "not a time"], "category": "供暖",
                  "text": "暖气不热", "lon": [116.40, 116.41], "lat": [39.91, 39.92]}).to_csv(src, index=False)
    for argv in (["complaints", "import"], ["import", "complaints"]):
        new, old = tmp_path / "new.csv", tmp_path / "old.csv"
        r = gridmap("--db", str(db), *argv, str(src), "--dry-run", "--rejects", str(new))
        assert r.returncode == 0 and "deprecated" not in r.stderr, r.stderr
        r2 = gridmap("--db", str(db), *argv, str(src), "--dry-run", "--report", str(old))
        assert r2.returncode == 0, r2.stderr
        assert "warning: --report is deprecated" in r2.stderr and "use --rejects" in r2.stderr
        assert new.read_bytes() == old.read_bytes()  # the same report under either name
        assert pd.read_csv(new, encoding="utf-8-sig")["field"].tolist() == ["received_at"]
        new.unlink()
        old.unlink()
    for argv in (["complaints", "import"], ["import"], ["import-components"]):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
            build_parser().parse_args([*argv, "--help"])
        assert "--rejects" in out.getvalue() and "--report" not in out.getvalue(), argv


def test_map_basemap_error_names_the_flag(tmp_path):
    r = gridmap("--db", str(tmp_path / "a.sqlite"), "map", "--basemap", "osm", "-o", str(tmp_path / "m.html"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "--online" in r.stderr and "offline=" not in r.stderr and "basemap=" not in r.stderr
    assert not (tmp_path / "m.html").exists()


# -- progress bars ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    d = tmp_path_factory.mktemp("progress")
    db = d / "demo.sqlite"
    r = gridmap("--db", str(db), "demo", "--scale", "0.03", "--out", str(d / "out"), "-q")
    assert r.returncode == 0, r.stderr[-2000:]
    return db


def _run_on_pty(argv: list[str], cwd: Path, *, size: tuple[int, int] = (40, 120)) -> tuple[int, str, str]:
    """Run gridmap with stderr on a pseudo-terminal of ``size`` (rows, columns; (0, 0) is what ``script`` and
    some CI runners give) and stdout a pipe: exit code, stdout, what the terminal got."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm"}
    proc = subprocess.Popen([sys.executable, "-m", "gridmap", *argv], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=slave, cwd=cwd, env=env)
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    return
                if not data:
                    return
                chunks.append(data)
            elif proc.poll() is not None:
                return

    t = threading.Thread(target=drain)
    t.start()
    out, _ = proc.communicate(timeout=300)
    t.join(timeout=30)
    os.close(master)
    return proc.returncode, out.decode("utf-8"), b"".join(chunks).decode("utf-8", "replace")


def _commands(tmp: Path, db: Path) -> dict[str, list[str]]:
    calls = tmp / "calls.csv"
    pd.DataFrame({"source_id": ["p1"], "received_at": ["2025-07-01 08:00"], "category": "供暖", "text": "暖气不热",
                  "lon": [116.43], "lat": [39.90]}).to_csv(calls, index=False)
    return {
        "export": ["export", str(tmp / "all.gpkg")],
        "complaints": ["complaints", "import", str(calls), "--dry-run"],
        "warn": ["warn", "--from", "2025-06-01", "--to", "2025-06-15", "--no-scan", "--md", str(tmp / "w.md")],
        "map": ["map", "-o", str(tmp / "m.html")],
        "cells": ["cells", "build", "--replace", "--dry-run"],
        "import": ["import", "roads", str(_roads_file(tmp)), "--dry-run"],
        "components": ["import-components", str(_components_file(tmp)), "--lonlat", "wgs84", "--dry-run"],
        "check": ["check"],
        "demo": ["demo", "--scale", "0.03", "--out", str(tmp / "demo-out")],
    }


def _roads_file(tmp: Path) -> Path:
    """Two roads as a user's file, for a layer import."""
    import geopandas as gpd
    import shapely

    path = tmp / "roads.geojson"
    gpd.GeoDataFrame({"code": ["R-P1", "R-P2"], "name": ["东路", "西路"], "kind": ["main", "branch"]},
                     geometry=[shapely.LineString([(446000, 4418000), (447000, 4418000)]),
                               shapely.LineString([(446000, 4418500), (447000, 4418500)])],
                     crs="EPSG:4548").to_file(path, driver="GeoJSON", engine="pyogrio")
    return path


def _components_file(tmp: Path) -> Path:
    path = tmp / "covers.csv"
    pd.DataFrame({"class_code": ["0101", "0103"], "lon": [116.43, 116.431], "lat": [39.90, 39.901]}).to_csv(
        path, index=False)
    return path


BAR = re.compile(r"(\w+): +\d+%\|")  # tqdm: "export:  50%|█████     | 1/2 ..."


@pytest.mark.parametrize("desc", ["export", "complaints", "warn", "map", "cells", "import", "components", "check", "demo"])
def test_progress_bar_on_a_terminal_only(demo_db, tmp_path, desc):
    db = tmp_path / "copy.sqlite"
    shutil.copy(demo_db, db)
    argv = ["--db", str(db), *_commands(tmp_path, db)[desc]]
    for size in ((40, 120), (0, 0)):
        code, out, term = _run_on_pty(argv, tmp_path, size=size)
        assert code in (0, 1), term[-2000:]
        assert desc in BAR.findall(term), (size, term[-2000:])  # the bar is drawn on the terminal
        assert "%|" not in out  # and never into stdout
    code, out, term = _run_on_pty([*argv, "-q"], tmp_path)
    assert code in (0, 1) and not BAR.search(term), term[-2000:]  # -q: no bar
    r = gridmap(*argv, cwd=tmp_path)  # stderr a pipe: no bar
    assert r.returncode in (0, 1) and not BAR.search(r.stderr) and "%|" not in r.stderr, r.stderr[-2000:]


def test_split_propose_shows_progress(demo_db, tmp_path):
    import sqlite3

    con = sqlite3.connect(demo_db)
    over = [c for c, in con.execute("SELECT code FROM communities WHERE households > 3000 ORDER BY households")]
    con.close()
    for code in over:
        code_, out, term = _run_on_pty(["--db", str(demo_db), "split", "propose", code], tmp_path)
        if code_ == 0:
            break
    assert code_ == 0, term[-2000:]
    assert "split" in BAR.findall(term), term[-2000:]  # (labels of fast steps may be skipped: tqdm redraws <= 10/s)


def test_library_calls_draw_no_progress(demo_db, capfd):
    """Progress is off in library calls unless asked for (``progress=`` defaults to None)."""
    from gridmap.store import open_store
    from gridmap.warning.alerts import early_warning

    s = open_store(f"sqlite:///{demo_db}")
    complaints, cells = s.read("complaints"), s.read("cells")
    s.close()
    seen = []
    early_warning(complaints, start="2025-06-01", end="2025-06-15", cells=cells, scan=False)
    assert "%|" not in capfd.readouterr().err
    early_warning(complaints, start="2025-06-01", end="2025-06-15", cells=cells, scan=False, keywords="漏雨",
                  progress=lambda done, total, label: seen.append((done, total, label)))
    assert seen[-1][0] == seen[-1][1] and [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)
    assert any("hot spots" in label for _, _, label in seen)
