"""Dense layers as images: a density lattice in the working CRS, warped to Web Mercator, as a PNG data URI.

Leaflet stretches an image overlay linearly between its corner coordinates in Web Mercator, while a lattice
in EPSG:4548 is rotated by the grid convergence (about 0.4 degree at Beijing) and not aligned with lat/lon.
:func:`warp_to_mercator` therefore resamples the lattice onto a regular Web Mercator pixel grid (nearest
neighbour: each output pixel takes the value of the lattice cell its centre falls in, found by the exact
inverse transform, including the GCJ-02 shift when drawing on Gaode tiles), so the drawn pixels sit where the
cells are to within half an output pixel.

The PNG is written with zlib only (no imaging library needed).
"""

from __future__ import annotations

import base64
import math
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gridmap.crs import check_crs, parse_crs
from gridmap.errors import Problem, ValidationError, message
from gridmap.grid.lattice import Lattice
from gridmap.maps.display import Display
from gridmap.warning.density import kernel_density
from gridmap.warning.lattice_ops import bin_points

__all__ = ["DensityGrid", "warp_to_mercator", "png_bytes", "png_data_uri", "colorize", "RAMP"]

_R = 6378137.0

#: Colour stops (YlOrRd), low to high.
RAMP = ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026")


@dataclass(frozen=True)
class DensityGrid:
    """A density lattice to draw: ``values[iy, ix]`` over ``bounds`` = (xmin, ymin, xmax, ymax) in ``crs``.

    A display wrapper only: the density itself is computed by :mod:`gridmap.warning` (:meth:`from_lattice`
    wraps its result; :meth:`from_points` runs it on points).

    Row 0 is the **southern** row (``iy`` grows northwards, like the cell lattice), unless
    ``origin='upper'``. ``counts`` (same shape, optional) holds the raw complaint counts per lattice cell;
    shared maps use it to hide pixels with fewer than ``min_count`` complaints nearby.
    """

    values: np.ndarray
    bounds: tuple[float, float, float, float]
    crs: Any
    counts: np.ndarray | None = None
    origin: str = "lower"
    unit: str = "件/km²"
    label: str = "诉求密度 complaint density"
    _checked: bool = field(default=False, repr=False, compare=False)

    def validated(self) -> "DensityGrid":
        vals = np.asarray(self.values, dtype=float)
        problems = []
        if vals.ndim != 2 or min(vals.shape) < 1:
            problems.append(Problem(None, "values", "must be a non-empty 2-D array", getattr(vals, "shape", None)))
        x0, y0, x1, y1 = (float(b) for b in self.bounds)
        if not (x1 > x0 and y1 > y0):
            problems.append(Problem(None, "bounds", "must be (xmin, ymin, xmax, ymax) with max > min", self.bounds))
        if self.counts is not None and np.shape(self.counts) != vals.shape:
            problems.append(Problem(None, "counts", "must have the shape of values", np.shape(self.counts)))
        if self.origin not in ("lower", "upper"):
            problems.append(Problem(None, "origin", "must be 'lower' (row 0 south) or 'upper'", self.origin))
        if problems:
            raise ValidationError("invalid density grid", problems)
        crs = parse_crs(self.crs, where="density grid")
        if not crs.is_projected:
            raise ValidationError(message("density grid bounds must be in the projected working CRS",
                                          where="density grid", got=crs.to_string(),
                                          fix="build the lattice in the working CRS (e.g. EPSG:4548)"))
        counts = None if self.counts is None else np.asarray(self.counts, dtype=float)
        if self.origin == "upper":
            vals = vals[::-1]
            counts = None if counts is None else counts[::-1]
        return DensityGrid(vals, (x0, y0, x1, y1), crs, counts, "lower", self.unit, self.label, True)

    @classmethod
    def from_lattice(cls, values: np.ndarray, lattice: Lattice, *, crs: Any, counts: np.ndarray | None = None,
                     unit: str = "件/km²", label: str = "诉求密度 complaint density") -> "DensityGrid":
        """Wrap a density :mod:`gridmap.warning` computed on ``lattice`` (row 0 south) for drawing.

        ``values`` is e.g. :func:`gridmap.warning.kernel_density`'s result, ``counts`` the
        :func:`gridmap.warning.cell_counts` / :func:`gridmap.warning.bin_points` it was smoothed from.
        """
        return cls(values, lattice.bounds, crs, counts, "lower", unit, label)

    @classmethod
    def from_points(cls, points: Any, *, cell_size_m: float = 50.0, bandwidth_m: float = 150.0,
                    bounds: tuple[float, float, float, float] | None = None,
                    per: str = "km2") -> "DensityGrid":
        """Density of points (a GeoDataFrame in a projected CRS) by :mod:`gridmap.warning`, ready to draw.

        The points are counted on a lattice over ``bounds`` (default: the points' extent padded by three
        bandwidths) with :func:`gridmap.warning.bin_points` and smoothed with
        :func:`gridmap.warning.kernel_density` (Gaussian, sigma = ``bandwidth_m``, no binning correction).
        Values are complaints per km² (``per='km2'``) or per lattice cell (``per='cell'``).
        """
        crs = check_crs(points, where="complaint points", metric=True)
        xy = np.column_stack([points.geometry.x.to_numpy(), points.geometry.y.to_numpy()])
        if bounds is None:
            if len(xy) == 0:
                raise ValidationError("no points to make a density grid from", fix="pass bounds= or some points")
            pad = 3 * bandwidth_m
            bounds = (xy[:, 0].min() - pad, xy[:, 1].min() - pad, xy[:, 0].max() + pad, xy[:, 1].max() + pad)
        x0, y0, x1, y1 = bounds
        nx = max(1, math.ceil((x1 - x0) / cell_size_m))
        ny = max(1, math.ceil((y1 - y0) / cell_size_m))
        lattice = Lattice(x0, y0, cell_size_m, nx, ny)
        counts = bin_points(xy[:, 0], xy[:, 1], lattice)
        dens = kernel_density(counts, lattice, bandwidth_m=bandwidth_m, scale="per_cell", binning_correction=False)
        if per == "km2":
            dens = dens / (cell_size_m * cell_size_m / 1e6)
        return cls.from_lattice(dens, lattice, crs=crs, counts=counts, unit="件/km²" if per == "km2" else "件/格")


def _hex(c: str) -> tuple[int, int, int]:
    return int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16)


def _lut(n: int = 256) -> np.ndarray:
    stops = np.array([_hex(c) for c in RAMP], float)
    pos = np.linspace(0, 1, len(stops))
    t = np.linspace(0, 1, n)
    rgb = np.column_stack([np.interp(t, pos, stops[:, k]) for k in range(3)])
    alpha = np.interp(t, [0, 0.15, 1], [110, 190, 230])
    return np.column_stack([rgb, alpha]).round().astype(np.uint8)


def colorize(values: np.ndarray, *, vmax: float | None = None) -> tuple[np.ndarray, float]:
    """RGBA uint8 image of ``values`` (NaN and values <= 0 transparent); returns (image, vmax used)."""
    v = np.asarray(values, float)
    pos = np.isfinite(v) & (v > 0)
    if vmax is None:
        vmax = float(np.percentile(v[pos], 99)) if pos.any() else 1.0
    vmax = vmax if vmax > 0 else 1.0
    idx = np.clip(np.nan_to_num(v / vmax * 255, nan=0), 0, 255).astype(np.uint8)
    img = _lut()[idx]
    img[~pos] = 0
    return img, vmax


def png_bytes(rgba: np.ndarray) -> bytes:
    """Encode an (h, w, 4) uint8 array as PNG (filter 0, zlib level 9)."""
    rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
    h, w = rgba.shape[:2]
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rgba.reshape(h, w * 4)], axis=1).tobytes()

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def png_data_uri(rgba: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(rgba)).decode("ascii")


def _merc(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _R * np.radians(lon), _R * np.log(np.tan(np.pi / 4 + np.radians(lat) / 2))


def _unmerc(mx: np.ndarray, my: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.degrees(mx / _R), np.degrees(2 * np.arctan(np.exp(my / _R)) - np.pi / 2)


def warp_to_mercator(grid: DensityGrid, display: Display, *, max_px: int = 1200,
                     mask: np.ndarray | None = None) -> tuple[np.ndarray, list[list[float]]]:
    """Resample ``grid.values`` (masked where ``mask`` is True) onto a Web Mercator pixel grid.

    Returns (values (H, W) with NaN outside the lattice, row 0 north; [[south, west], [north, east]]).
    """
    g = grid if grid._checked else grid.validated()
    vals = np.asarray(g.values, float)
    if mask is not None:
        vals = np.where(mask, np.nan, vals)
    ny, nx = vals.shape
    x0, y0, x1, y1 = g.bounds
    dx, dy = (x1 - x0) / nx, (y1 - y0) / ny
    disp = Display(g.crs, gcj02=display.gcj02)
    # The lattice outline, densified, in display lon/lat and then Web Mercator.
    t = np.linspace(0, 1, 33)
    ex = np.concatenate([x0 + t * (x1 - x0), np.full_like(t, x1), x1 - t * (x1 - x0), np.full_like(t, x0)])
    ey = np.concatenate([np.full_like(t, y0), y0 + t * (y1 - y0), np.full_like(t, y1), y1 - t * (y1 - y0)])
    mx, my = _merc(*disp.lonlat(ex, ey))
    mx0, mx1, my0, my1 = mx.min(), mx.max(), my.min(), my.max()
    # Pixel size: the lattice step in Mercator metres (scale 1/cos(lat)), capped at max_px pixels a side.
    lat_c = float(_unmerc(np.array([0.0]), np.array([(my0 + my1) / 2]))[1][0])
    step = min(dx, dy) / math.cos(math.radians(lat_c))
    step = max(step, (mx1 - mx0) / max_px, (my1 - my0) / max_px)
    w = max(1, int(math.ceil((mx1 - mx0) / step)))
    h = max(1, int(math.ceil((my1 - my0) / step)))
    mx1, my0 = mx0 + w * step, my1 - h * step
    px = mx0 + (np.arange(w) + 0.5) * step
    py = my1 - (np.arange(h) + 0.5) * step
    PX, PY = np.meshgrid(px, py)
    lon, lat = _unmerc(PX.ravel(), PY.ravel())
    sx, sy = disp.to_source(lon, lat)
    ix = np.floor((np.asarray(sx) - x0) / dx).astype(np.int64)
    iy = np.floor((np.asarray(sy) - y0) / dy).astype(np.int64)
    inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    out = np.full(ix.shape, np.nan)
    out[inside] = vals[iy[inside], ix[inside]]
    lon0, lat0 = _unmerc(np.array([mx0]), np.array([my0]))
    lon1, lat1 = _unmerc(np.array([mx1]), np.array([my1]))
    bounds = [[float(lat0[0]), float(lon0[0])], [float(lat1[0]), float(lon1[0])]]
    return out.reshape(h, w), bounds
