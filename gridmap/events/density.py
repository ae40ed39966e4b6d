"""Kernel density of the events store, streamed partition by partition (here or on a Dask cluster).

What the in-memory density needs from the rows: :func:`gridmap.warning.kernel_density` bins the complaints on a
lattice and smooths the *binned counts* with a Gaussian filter; it never looks at a point again. So each
partition file is reduced to its binned counts (sparse integer pairs ``(square, count)``, in bounded memory),
the counts are summed (integers: exact, in any order, here or on Dask), and the same
:func:`~gridmap.warning.kernel_density` runs on the summed lattice. The result is **identical**, bit for bit, to
the in-memory density of the same rows, not merely close.

Two binnings, as in memory:

- on the cells' lattice (the default): each event counts in the square of its imported ``cell_code``, as
  :func:`gridmap.warning.cell_counts` ``(complaints, lattice_from_cells(cells), cells=cells)`` does;
- on any lattice (``lattice=Lattice(...)``): the points ``x``/``y`` binned by floor arithmetic, as
  :func:`gridmap.warning.bin_points` does (what the maps' ``DensityGrid.from_points`` smooths).

Per cell, community or street, :func:`gridmap.warning.density_by` runs on the streamed density unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gridmap.events.analysis import Selection, _read, run_partials, sum_sparse
from gridmap.grid.lattice import Lattice
from gridmap.warning.density import kernel_density
from gridmap.warning.lattice_ops import cell_index, localise_cells, require_window

__all__ = ["StreamedDensity", "stream_bins", "stream_density", "cell_positions"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamedDensity:
    """A streamed density: ``density`` and the binned ``counts`` it was smoothed from (``(ny, nx)`` on
    ``lattice``), the events counted, and the selected events not counted (on no known cell, or outside)."""

    density: np.ndarray
    counts: np.ndarray
    lattice: Lattice
    events: int
    missed: int


def cell_positions(col: pa.ChunkedArray | pa.Array, codes: pa.Array) -> np.ndarray:
    """The position in ``codes`` of each row's code (-1: no code, or a code not among ``codes``), matched on the
    column's dictionary with Arrow's hash lookup (one lookup per distinct code, not per row)."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if not pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_encode()
    found = pc.index_in(arr.dictionary.cast(pa.string()), value_set=codes).fill_null(-1)
    pos_of_value = np.append(found.to_numpy(zero_copy_only=False).astype(np.int64), -1)
    return pos_of_value[arr.indices.fill_null(len(arr.dictionary)).to_numpy(zero_copy_only=False)]


@dataclass(frozen=True)
class _BinSpec:
    codes: pa.Array | None       # cell code -> position (cells binning)
    flat: np.ndarray | None      # position -> iy * nx + ix
    lattice: Lattice | None      # points binning
    sel: Selection


def _bin_partial(path: str, spec: _BinSpec) -> tuple[np.ndarray, np.ndarray, int]:
    """Sparse binned counts of one file: (flat square index, count) and how many selected rows were not binned."""
    if spec.codes is not None:
        table = _read(path, ["cell_code"], spec.sel)
        pos = cell_positions(table.column("cell_code"), spec.codes)  # -1: no code, or not among the cells
        ok = pos >= 0
        flat = spec.flat[pos[ok]]
    else:
        table = _read(path, ["x", "y"], spec.sel)
        x = table.column("x").to_numpy()
        y = table.column("y").to_numpy()
        ix, iy, ok = cell_index(x, y, spec.lattice)  # the arithmetic of bin_points
        flat = (iy[ok] * spec.lattice.nx + ix[ok]).astype(np.int64)
    uniq, counts = np.unique(flat, return_counts=True)
    return uniq, counts, int((~ok).sum())


def stream_bins(files: Sequence[str | Path], cells: pd.DataFrame | None = None, *, lattice: Lattice | None = None,
                client: Any = None, progress: Callable[[int, int, str], None] | None = None,
                **select: Any) -> tuple[np.ndarray, Lattice, int]:
    """Binned counts of the selected events, streamed file by file: ``(counts (ny, nx) float, lattice, missed)``.

    With ``cells`` (and no ``lattice``) on the cells' lattice by ``cell_code``; with ``lattice``, the points by
    their ``x``/``y``. ``select``: ``start``, ``end``, ``categories``, ``keywords``
    (:class:`~gridmap.events.analysis.Selection`).
    """
    sel = Selection.of(**select)
    if lattice is None:
        if cells is None:
            from gridmap.errors import ValidationError, message

            raise ValidationError(message("stream_bins needs cells or a lattice",
                                          fix="pass the cells layer (code, ix, iy, geometry) or lattice=Lattice(...)"))
        lat, cix, ciy = localise_cells(cells)
        spec = _BinSpec(pa.array(cells["code"].astype(str).to_numpy(), pa.string()),
                        (ciy * lat.nx + cix).astype(np.int64), None, sel)
    else:
        lat = require_window(lattice)
        spec = _BinSpec(None, None, lat, sel)
    parts = run_partials(_bin_partial, files, spec, client=client, progress=progress)
    grid, missed = sum_sparse(parts, lat.nx * lat.ny)
    if missed:
        log.warning("%d selected event(s) on no known cell (or outside the lattice) were not counted", missed)
    return grid.astype(float).reshape(lat.shape), lat, missed


def stream_density(files: Sequence[str | Path], cells: pd.DataFrame | None = None, *, bandwidth_m: float,
                   lattice: Lattice | None = None, scale: str = "per_m2", truncate: float = 4.0,
                   binning_correction: bool = True, client: Any = None,
                   progress: Callable[[int, int, str], None] | None = None, **select: Any) -> StreamedDensity:
    """Gaussian kernel density of the selected events, streamed (see the module docstring).

    Equal to ``kernel_density(cell_counts(complaints, lattice_from_cells(cells), cells=cells, **select), ...)``
    (or, with ``lattice``, to ``kernel_density(bin_points(x, y, lattice), lattice, ...)``) on the same rows;
    ``bandwidth_m``, ``scale``, ``truncate`` and ``binning_correction`` are those of
    :func:`gridmap.warning.kernel_density`.
    """
    counts, lat, missed = stream_bins(files, cells, lattice=lattice, client=client, progress=progress, **select)
    dens = kernel_density(counts, lat, bandwidth_m=bandwidth_m, scale=scale, truncate=truncate,
                          binning_correction=binning_correction)
    n = int(counts.sum())
    log.info("streamed kernel density of %d event(s) from %d file(s) on a %dx%d lattice", n, len(files), lat.nx,
             lat.ny)
    return StreamedDensity(dens, counts, lat, n, missed)
