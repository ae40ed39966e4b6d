"""The analyst's view of the warning results: frames and cubes indexed by cell code.

The analysis works on dense lattice arrays (``(T, ny, nx)``); an analyst wants one row per cell, indexed by the
cell's code, with its polygon, ready to plot, join or export, and the space-time cube as a labelled array. These
functions turn the arrays into those (the arrays stay on the result objects):

- :func:`cell_owner` the cell code of each lattice square (the largest cell on it);
- :func:`emerging_frame` per-location emerging hot-spot results as a GeoDataFrame indexed by cell code, with the
  per-slice z and p (``z_2025_01_06``, ``p_2025_01_06`` ...), the trend, the category and its Chinese name;
- :func:`cube_dataset` the space-time cube (counts, and with a result the z, p, hot/cold bins and the
  categories) as an :class:`xarray.Dataset` on ``(time, y, x)``, which :func:`write_cube` saves as netCDF
  (the format ArcGIS's space-time cube uses, read by xarray, QGIS, Panoply, R's ``stars``);
- :func:`cell_counts_frame` complaint counts per cell code over time (cells x slices) as a DataFrame;
- :func:`lattice_frame` any dense ``(ny, nx)`` arrays (counts, kernel density, a Gi* result's z/p/hot/cold) as a
  GeoDataFrame indexed by cell code.

xarray (and h5netcdf for netCDF files) are the optional extra ``cube``: ``pip install 'gridmap[cube]'``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from gridmap.errors import ValidationError, message
from gridmap.warning.labels import PATTERN_ZH
from gridmap.warning.lattice_ops import localise_cells, require_window

__all__ = ["cell_owner", "emerging_frame", "cube_dataset", "write_cube", "cell_counts_frame", "require_xarray",
           "slice_label", "lattice_frame"]

log = logging.getLogger(__name__)


def require_xarray() -> Any:
    """Import xarray, or a clear error naming the extra to install."""
    try:
        import xarray
    except ImportError:
        raise ValidationError(message("the space-time cube needs xarray", got="xarray is not installed",
                                      fix="pip install 'gridmap[cube]' (xarray and h5netcdf)")) from None
    return xarray


def slice_label(t: pd.Timestamp) -> str:
    """Column suffix of a slice: its start date, ``2025_01_06``."""
    return pd.Timestamp(t).strftime("%Y_%m_%d")


def cell_owner(cells: pd.DataFrame, lattice: Any = None) -> pd.DataFrame:
    """Each cell's local lattice square (``ix``, ``iy``), and ``owner``: whether it is the largest cell on its
    square (a square can hold pieces of several communities). Indexed like ``cells``, with ``code``."""
    lat, ix, iy = localise_cells(cells, lattice)
    area = cells["area_m2"].to_numpy(dtype=float) if "area_m2" in cells.columns else \
        (np.asarray(cells.geometry.area, dtype=float) if "geometry" in cells.columns else np.zeros(len(cells)))
    frame = pd.DataFrame({"code": cells["code"].astype(str).to_numpy(), "ix": ix, "iy": iy, "area": area},
                         index=cells.index)
    first = frame.sort_values("area", ascending=False, kind="stable").drop_duplicates(["ix", "iy"]).index
    frame["owner"] = frame.index.isin(first)
    return frame


def emerging_frame(result: Any, cells: pd.DataFrame) -> Any:
    """Every cell of ``cells`` with its location's emerging hot-spot results: a GeoDataFrame indexed by code.

    Columns: ``pattern``, ``pattern_zh``, ``n_hot``, ``n_cold``, ``final_z``, ``trend_z``, ``trend_p``, ``tau``,
    ``total``, then ``z_<slice>`` and ``p_<slice>`` for every slice (``<slice>`` = its start date), and the cell
    ``geometry``. A cell outside the analysed mask gets ``no pattern`` and NaN statistics.
    """
    import geopandas as gpd

    own = cell_owner(cells, result.lattice)
    per = result.cells.set_index(["iy", "ix"])
    key = pd.MultiIndex.from_arrays([own["iy"].to_numpy(), own["ix"].to_numpy()])
    stats_cols = ["pattern", "pattern_zh", "n_hot", "n_cold", "final_z", "trend_z", "trend_p", "tau", "total"]
    out = per.reindex(key)[stats_cols].reset_index(drop=True)
    out["pattern"] = out["pattern"].astype(object).where(out["pattern"].notna(), "no pattern")
    out["pattern_zh"] = out["pattern"].map(PATTERN_ZH)
    iy, ix = own["iy"].to_numpy(), own["ix"].to_numpy()
    z = result.z[:, iy, ix]
    p = 2.0 * _norm_sf(np.abs(z))
    slices = [slice_label(t) for t in result.starts]
    zf = pd.DataFrame(z.T, columns=[f"z_{s}" for s in slices])
    pf = pd.DataFrame(p.T, columns=[f"p_{s}" for s in slices])
    out = pd.concat([out, zf, pf], axis=1)
    out.index = pd.Index(own["code"].to_numpy(), name="code")
    geom = cells.geometry.to_numpy() if "geometry" in cells.columns else None
    if geom is None:
        return out
    return gpd.GeoDataFrame(out, geometry=geom, crs=cells.crs)


def _norm_sf(x: np.ndarray) -> np.ndarray:
    from scipy import stats

    return stats.norm.sf(x)


def cube_dataset(cube: Any, *, result: Any = None, cells: pd.DataFrame | None = None, crs: Any = None) -> Any:
    """The space-time cube as an :class:`xarray.Dataset` on ``(time, y, x)``.

    Variables: ``count`` (complaints per bin); with ``result`` (its :class:`~gridmap.warning.EmergingResult`)
    also ``gi_z``, ``gi_p`` (per bin), ``hot``/``cold`` (significant bins, 0/1), and per location ``pattern``,
    ``pattern_zh``, ``trend_z``, ``trend_p``; with ``cells`` a ``cell_code`` per square (empty outside the study
    area). Coordinates: ``time`` (slice starts), ``time_end``, ``x``/``y`` (square centres in the working CRS).
    """
    xr = require_xarray()
    lat = require_window(cube.lattice)
    t, ny, nx = cube.counts.shape
    c = lat.cell_size_m
    coords = {"time": pd.DatetimeIndex(cube.starts).values, "y": lat.y0 + (np.arange(ny) + 0.5) * c,
              "x": lat.x0 + (np.arange(nx) + 0.5) * c}
    ds = xr.Dataset({"count": (("time", "y", "x"), cube.counts.astype(np.int32))}, coords=coords)
    ds = ds.assign_coords(time_end=("time", pd.DatetimeIndex(cube.ends).values))
    ds["count"].attrs.update(long_name="complaints per bin (诉求数)", units="1")
    if result is not None:
        ds["gi_z"] = (("time", "y", "x"), result.z)
        ds["gi_z"].attrs.update(long_name="Getis-Ord Gi* z-score")
        ds["gi_p"] = (("time", "y", "x"), 2.0 * _norm_sf(np.abs(result.z)))
        ds["gi_p"].attrs.update(long_name="two-sided p-value of gi_z")
        ds["hot"] = (("time", "y", "x"), result.hot.astype(np.int8))
        ds["cold"] = (("time", "y", "x"), result.cold.astype(np.int8))
        for col in ("pattern", "pattern_zh"):
            ds[col] = (("y", "x"), np.where(pd.isna(g := result.grid(col)), "", g).astype(str))
        for col in ("trend_z", "trend_p"):
            ds[col] = (("y", "x"), result.grid(col).astype(float))
    if cells is not None:
        own = cell_owner(cells, lat)
        own = own[own["owner"]]
        code = np.full((ny, nx), "", dtype=object)
        code[own["iy"].to_numpy(), own["ix"].to_numpy()] = own["code"].to_numpy()
        ds["cell_code"] = (("y", "x"), code.astype(str))
    ds.attrs.update(title="gridmap space-time cube (时空立方体)", freq=cube.freq.value, cell_size_m=float(c),
                    x0=float(lat.x0), y0=float(lat.y0), ix0=int(lat.ix0), iy0=int(lat.iy0),
                    crs=str(crs) if crs is not None else "", Conventions="CF-1.8",
                    dropped_slices=", ".join(str(pd.Timestamp(s).date()) for s in cube.dropped_slices),
                    empty_slices=", ".join(str(pd.Timestamp(s).date()) for s in cube.empty_slices))
    return ds


def write_cube(dataset: Any, path: Any) -> str:
    """Write a cube dataset as netCDF: netCDF-4 (h5netcdf with h5py, compressed) when installed, else classic
    netCDF-3 (scipy, always there); both are read by xarray, ArcGIS, QGIS and Panoply. Returns the format."""
    try:
        import h5netcdf  # noqa: F401
        import h5py  # noqa: F401
    except ImportError:
        log.warning("h5netcdf/h5py not installed: writing classic netCDF-3 (pip install 'gridmap[cube]' for "
                    "compressed netCDF-4)")
        ds = dataset.copy()
        for v in list(ds.data_vars) + list(ds.coords):
            if ds[v].dtype.kind in "OU":
                ds[v] = ds[v].astype("S")  # UTF-8 bytes as char arrays
        ds.to_netcdf(path, engine="scipy", format="NETCDF3_64BIT")
        return "NETCDF3_64BIT"
    enc = {v: {"compression": "gzip", "compression_opts": 4} for v in dataset.data_vars
           if dataset[v].dtype.kind in "fiu"}
    dataset.to_netcdf(path, engine="h5netcdf", encoding=enc)
    return "NETCDF4"


def cell_counts_frame(cube: Any, cells: pd.DataFrame) -> pd.DataFrame:
    """Counts per cell code (rows, the owner cell of each square) and slice start (columns)."""
    own = cell_owner(cells, cube.lattice)
    own = own[own["owner"]]
    data = cube.counts[:, own["iy"].to_numpy(), own["ix"].to_numpy()].T
    return pd.DataFrame(data, index=pd.Index(own["code"].to_numpy(), name="code"),
                        columns=pd.DatetimeIndex(cube.starts, name="slice"))


def lattice_frame(grids: Any, cells: pd.DataFrame, *, lattice: Any = None) -> Any:
    """Dense ``(ny, nx)`` arrays read at each cell: a GeoDataFrame indexed by cell code (one column per array).

    ``grids`` is a mapping name -> array, or an object with array attributes (a
    :class:`~gridmap.warning.GiStarResult`: its ``z``, ``p``, ``q``, ``hot``, ``cold``). ``lattice`` is the
    lattice the arrays are on (default :func:`~gridmap.warning.lattice_from_cells` of ``cells``).

    >>> import geopandas as gpd, shapely
    >>> cells = gpd.GeoDataFrame({"code": ["A", "B"], "ix": [0, 1], "iy": [0, 0], "area_m2": 1e4},
    ...                          geometry=[shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100)])
    >>> lattice_frame({"count": np.array([[3.0, 5.0]])}, cells)["count"].to_dict()
    {'A': 3.0, 'B': 5.0}
    """
    import geopandas as gpd

    if not isinstance(grids, dict):
        grids = {k: getattr(grids, k) for k in ("z", "p", "q", "hot", "cold") if hasattr(grids, k)}
    lat, ix, iy = localise_cells(cells, lattice)
    out = pd.DataFrame({name: np.asarray(g)[iy, ix] for name, g in grids.items()},
                       index=pd.Index(cells["code"].astype(str).to_numpy(), name="code"))
    if "geometry" not in cells.columns:
        return out
    return gpd.GeoDataFrame(out, geometry=cells.geometry.to_numpy(), crs=cells.crs)
