"""The full-period emerging hot-spot analysis an analyst runs (``gridmap emerging``): one call from complaints
and cells to the space-time cube, the per-bin Gi*, the trends and a category for **every** location.

:func:`emerging_period` counts the complaints of ``[start, end)`` per cell and day/week/month slice
(:func:`~gridmap.warning.space_time_cube`; slices before the data begin are not counted), runs
:func:`~gridmap.warning.emerging_hot_spots` over the cells' study area, and returns an :class:`EmergingPeriod`
holding the arrays and their analyst views: ``locations`` (a GeoDataFrame indexed by cell code, with per-slice z
and p, the trend, the category and its Chinese name) and ``dataset()`` (the cube as an :class:`xarray.Dataset`).

Gi* per slice (``time_window=0``, ``moments='slice'``, the default) compares each cell with its own slice, as
esda's ``G_Local`` does slice by slice: a city-wide rise in volume is not a hot spot by itself. ArcGIS's
space-time neighbourhood (the cell's neighbours in the ``time_window`` previous slices, the cube's moments) is
``time_window=1, moments='cube'``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gridmap.warning.emerging import EmergingResult, Pattern, SpaceTimeCube, emerging_hot_spots, space_time_cube
from gridmap.warning.frames import cube_dataset, emerging_frame
from gridmap.warning.lattice_ops import localise_cells

__all__ = ["EmergingPeriod", "emerging_period"]

log = logging.getLogger(__name__)


@dataclass
class EmergingPeriod:
    """The cube, the result, and ``locations`` (every cell, indexed by code)."""

    cube: SpaceTimeCube
    result: EmergingResult
    locations: Any
    cells: pd.DataFrame
    options: dict[str, Any]

    def dataset(self, *, crs: Any = None) -> Any:
        """The space-time cube with its z, p, hot/cold bins and categories as an :class:`xarray.Dataset`."""
        return cube_dataset(self.cube, result=self.result, cells=self.cells,
                            crs=crs if crs is not None else getattr(self.cells, "crs", None))

    def category_counts(self) -> dict[str, int]:
        """Locations (cells) per category, every one of the 17 listed (zeros included), in ArcGIS's order."""
        counts = self.locations["pattern"].value_counts()
        return {p.value: int(counts.get(p.value, 0)) for p in Pattern}

    def summary(self) -> dict[str, Any]:
        """What ``gridmap emerging --json`` prints besides the locations."""
        return {"slices": len(self.cube.starts), "slice": self.cube.freq.value,
                "first_slice": self.cube.starts[0], "last_slice_end": self.cube.ends[-1],
                "dropped_slices": [str(pd.Timestamp(s).date()) for s in self.cube.dropped_slices],
                "empty_slices": [str(pd.Timestamp(s).date()) for s in self.cube.empty_slices],
                "complaints": int(self.cube.counts.sum()), "locations": len(self.locations),
                "categories": self.category_counts(),
                "categories_zh": {Pattern(k).zh: v for k, v in self.category_counts().items()},
                **self.options}


def emerging_period(complaints: pd.DataFrame, cells: pd.DataFrame, *, start: Any, end: Any,
                    freq: str = "week", neighbours: str = "queen", distance_m: float | None = None,
                    alpha: float = 0.05, fdr: bool = False, time_window: int = 0, moments: str = "slice",
                    trend_alpha: float = 0.05, data_start: Any = "auto", **select: Any) -> EmergingPeriod:
    """Emerging hot spots of ``[start, end)`` for every cell of ``cells`` (see the module docstring).

    ``select`` (``categories=``, ``keywords=``) restricts the complaints counted; the data start is taken from
    all complaints. Options are those of :func:`~gridmap.warning.space_time_cube` and
    :func:`~gridmap.warning.emerging_hot_spots` (``neighbours`` is their ``weights``).

    Why 13 parameters: they are the options of ``gridmap emerging`` one to one (period, slices, neighbourhood,
    significance, trend), each independent and passed on to the two functions above; a group would only move
    the list.
    """
    lat, cix, ciy = localise_cells(cells)
    cube = space_time_cube(complaints, lat, start=start, end=end, freq=freq, cells=cells, data_start=data_start,
                           **select)
    mask = np.zeros(lat.shape, dtype=bool)
    mask[ciy, cix] = True
    res = emerging_hot_spots(cube, mask=mask, weights=neighbours, distance_m=distance_m, time_window=time_window,
                             alpha=alpha, fdr=fdr, trend_alpha=trend_alpha, moments=moments)
    locations = emerging_frame(res, cells)
    opts = {"neighbours": str(neighbours), "distance_m": distance_m, "alpha": alpha, "fdr": bool(fdr),
            "time_window": int(time_window), "moments": moments, "trend_alpha": trend_alpha}
    log.info("emerging hot spots over %d %s slices, %d locations: %s", len(cube.starts), cube.freq.value,
             len(locations), ", ".join(f"{k} {v}" for k, v in EmergingPeriod(cube, res, locations, cells, opts)
                                       .category_counts().items() if v and k != Pattern.NONE.value))
    return EmergingPeriod(cube, res, locations, cells, opts)
