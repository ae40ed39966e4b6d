"""Output files: where a command may write, and writing them atomically.

Every command that writes a file (a map, an export, a report, rejects, proposals) goes through this module:

* :func:`resolve_output` turns the path the user gave into the file to write and refuses, with a clear
  :class:`~gridmap.errors.OutputError`, any path that is the open store (or its ``-journal``/``-wal``/``-shm``)
  — always —, an input file the command reads, or an existing SQLite/GeoPackage file gridmap did not write —
  unless ``overwrite=True``. Paths are compared after resolving symlinks and ``..`` and by device and inode
  (so a case-insensitive filesystem or a hard link cannot hide the store). A trailing slash or an existing
  folder means a folder: the default file name is written inside it (created if the user named it).
* :func:`atomic_output` yields a temporary path in the same folder; when the block succeeds the file (and
  the side files a driver wrote next to it, e.g. a Shapefile's ``.dbf``) is flushed to disk and renamed over
  the target, so a reader sees the old file or the new one, never half of each; on failure every temporary
  file is removed and the target is untouched.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> target = resolve_output(str(folder) + "/", default_name="map.html")
>>> target.name
'map.html'
>>> write_text_atomic(target, "<html></html>")
>>> target.read_text()
'<html></html>'
>>> resolve_output(folder / "x.html", inputs=[folder / "x.html"])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
gridmap.errors.OutputError: the output would overwrite an input file of this command ...
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from gridmap.errors import OutputError, message

__all__ = ["SQLITE_HEADER", "GRIDMAP_OUTPUT_KEY", "is_sqlite_file", "store_files", "resolve_output",
           "resolve_output_folder", "atomic_output", "write_text_atomic"]

log = logging.getLogger(__name__)

#: The first 16 bytes of every SQLite database (and so of every GeoPackage and SpatiaLite file).
SQLITE_HEADER = b"SQLite format 3\x00"
#: Key of the GeoPackage dataset metadata item gridmap writes, so it can replace its own outputs later.
GRIDMAP_OUTPUT_KEY = "gridmap_output"
_SIDE = ("-journal", "-wal", "-shm")
_TMP_TAG = ".gridmap-tmp-"


def is_sqlite_file(path: str | os.PathLike) -> bool:
    """True when ``path`` is a file starting with the 16-byte SQLite header (SQLite, SpatiaLite, GeoPackage)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(16) == SQLITE_HEADER
    except (IsADirectoryError, FileNotFoundError, PermissionError):
        return False


def _written_by_gridmap(path: Path) -> bool:
    """A GeoPackage gridmap wrote (a table's description in ``gpkg_contents`` starts ``gridmap_output:``)."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        rows = con.execute("SELECT description FROM gpkg_contents").fetchall()
    except sqlite3.Error:
        return False
    finally:
        con.close()
    return any(str(r[0] or "").startswith(f"{GRIDMAP_OUTPUT_KEY}:") for r in rows)


def store_files(store: Any) -> list[Path]:
    """The files of an open SpatiaLite store (database, ``-journal``, ``-wal``, ``-shm``); [] for PostGIS.

    ``store`` is a :class:`~gridmap.store.Store`, a URL or a path.
    """
    url = getattr(store, "url", store)
    if url is None:
        return []
    url = os.fspath(url)
    if url.startswith(("postgresql", "postgres://")):
        return []
    if url.startswith("sqlite:"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path.startswith("file:"):
            path = path[5:].split("?", 1)[0]
    else:
        path = url
    if not path or path == ":memory:":
        return []
    main = Path(path).expanduser()
    return [main] + [main.with_name(main.name + s) for s in _SIDE]


def _same(a: Path, b: Path) -> bool:
    """Same file: by (device, inode) when both exist, else by the fully resolved, case-normalised path."""
    with contextlib.suppress(OSError):
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def _is_folder_request(path: str | os.PathLike) -> bool:
    raw = os.fspath(path)
    return raw.endswith(("/", os.sep)) or Path(raw).is_dir()


def resolve_output(path: str | os.PathLike, *, store: Any = None, inputs: Iterable[str | os.PathLike] = (),
                   overwrite: bool = False, default_name: str | None = None, option: str = "output") -> Path:
    """The file to write for the output ``path`` the user gave, or :class:`~gridmap.errors.OutputError`.

    Parameters
    ----------
    path : the path as given (a trailing slash or an existing folder means "inside this folder").
    store : the open store (or its URL): its files are never written, even with ``overwrite``.
    inputs : files the command reads; refused as outputs unless ``overwrite``.
    overwrite : allow replacing an input or an existing SQLite/GeoPackage file gridmap did not write.
    default_name : the file name used when ``path`` is a folder (None: a folder is refused).
    option : how the user named the output (``-o``, ``--out`` ...), for messages.
    """
    raw = os.fspath(path)
    if not raw:
        raise OutputError(message(f"{option} is empty", fix="give a file name"))
    target = Path(raw).expanduser()
    if _is_folder_request(raw):
        if default_name is None:
            raise OutputError(message(f"{option} must name a file, not a folder", got=raw,
                                      fix=f"give a file name, e.g. {Path(raw) / 'out'}"))
        if target.exists() and not target.is_dir():
            raise OutputError(message(f"{option} ends with a slash but is a file", got=raw,
                                      fix="drop the trailing slash to write that file, or name a folder"))
        target = target / default_name
        folder_named = True
    else:
        folder_named = False
    if target.is_dir():
        raise OutputError(message(f"{option} is a folder inside which the file name is a folder", got=str(target),
                                  fix="choose another file name"))
    parent = target.parent
    if not parent.exists() and not folder_named:
        raise OutputError(message(f"the folder of {option} does not exist", got=str(parent),
                                  fix=f"create it first, or end {option} with a slash to name a folder to create"))
    if parent.exists() and not parent.is_dir():
        raise OutputError(message(f"the folder of {option} is a file", got=str(parent), fix="choose another path"))
    for protected in store_files(store):
        if _same(target, protected):
            raise OutputError(message(f"{option} is the open store: writing it would destroy the store",
                                      where=str(protected), got=raw,
                                      fix="write the output to another file (--overwrite never allows this)"))
    if not overwrite:
        for inp in inputs:
            if inp is not None and _same(target, Path(inp).expanduser()):
                raise OutputError(message("the output would overwrite an input file of this command",
                                          where=option, got=raw,
                                          fix="write the output to another file, or pass --overwrite"))
        if target.is_file() and is_sqlite_file(target) and not _written_by_gridmap(target):
            raise OutputError(message(f"{option} is an existing SQLite/GeoPackage database that gridmap did not "
                                      "write", got=raw,
                                      fix="choose a new file name, or pass --overwrite to replace that file"))
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputError(message(f"{option} is read-only", got=raw, fix="make it writable or choose another path"))
    if folder_named:
        _make_folder(parent, what=f"the folder of {option}")
    return target


def resolve_output_folder(path: str | os.PathLike, *, store: Any = None, reserved: Iterable[str] = (),
                          option: str = "--out", create: bool = True) -> Path:
    """A folder the command writes several files into: created if missing; refused if it is a file or if the
    store lies at one of the ``reserved`` names inside it (files or sub-folders the command writes).

    ``create=False``: checked only (refused now if it could not be created), for a command that may still find
    nothing to write; its writer creates the folder, so a command that ends with "nothing written" leaves no empty
    folder behind."""
    folder = Path(os.fspath(path)).expanduser()
    if folder.exists() and not folder.is_dir():
        raise OutputError(message(f"{option} must be a folder", got=f"{path} (an existing file)",
                                  fix="name a folder (it is created if missing)"))
    for protected in store_files(store):
        for name in ("", *reserved):
            inside = folder / name if name else folder
            if _same(inside, protected) or (name.endswith("/") and _inside(protected, inside)):
                raise OutputError(message(f"{option} would write over the open store", where=str(protected),
                                          got=str(path), fix="choose another output folder"))
    if create:
        _make_folder(folder, what=option)
    else:
        _check_creatable(folder, what=option)
    return folder


def _check_creatable(folder: Path, *, what: str) -> None:
    """Refuse now a folder that could not be created later: its nearest existing ancestor must be a folder this
    process can write in."""
    probe = folder.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe != folder.absolute() and (not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK)):
        reason = "a file is in the way" if not probe.is_dir() else "no permission to write there"
        raise OutputError(message(f"cannot create {what}", got=f"{folder}: {reason} ({probe})",
                                  fix="check the path and your permissions"))


def _make_folder(folder: Path, *, what: str) -> None:
    """Create ``folder`` (and its parents) or say clearly why it cannot be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(message(f"cannot create {what}", got=f"{folder}: {exc.strerror}",
                                  fix="check the path and your permissions")) from exc


def _inside(path: Path, folder: Path) -> bool:
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(folder))
    except ValueError:
        return False
    return True


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a folder be fsynced
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_output(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success fsync it and rename it over ``target``.

    The temporary path has the target's extension (drivers choose the format by it). Side files a driver
    writes next to it with the same stem (a Shapefile's ``.dbf``/``.shx``/``.prj``) are renamed with it.
    On any failure (including KeyboardInterrupt) every temporary file is removed and ``target`` is untouched.
    """
    target = Path(target)
    folder = target.parent
    stem = target.name[: len(target.name) - len(target.suffix)] if target.suffix else target.name
    prefix = f".{stem}{_TMP_TAG}{secrets.token_hex(4)}"
    tmp = folder / (prefix + target.suffix)
    try:  # probe: the folder must be writable (a clear error now instead of a driver's traceback later)
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise OutputError(message("cannot write in the output folder", where=str(folder),
                                  got=exc.strerror or str(exc),
                                  fix="choose a writable folder, or fix its permissions")) from exc

    def temps() -> list[Path]:
        return sorted(p for p in folder.iterdir() if p.name.startswith(prefix))

    try:
        yield tmp
        if not tmp.exists():
            raise OutputError(message("the output was not written", where=str(target),
                                      fix="report this as a bug"))
        pieces = temps()
        for piece in pieces:
            if piece.name.endswith(_SIDE):  # a journal left by a driver: the data is in the main file
                piece.unlink()
                continue
            _fsync_file(piece)
        for piece in pieces:  # side files first, the main file last
            if piece != tmp and piece.exists():
                os.replace(piece, folder / (stem + piece.name[len(prefix):]))
        os.replace(tmp, target)
        _fsync_dir(folder)
    except BaseException:
        for piece in temps():
            with contextlib.suppress(OSError):
                piece.unlink()
        raise
    log.info("wrote %s", target)


def write_text_atomic(target: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``target`` through :func:`atomic_output`."""
    with atomic_output(target) as tmp:
        with open(tmp, "w", encoding=encoding) as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
