"""Complaint early warning (12345 接诉即办): counts, kernel density, Gi* hot spots, emerging hot spots, alerts.

Pure analysis on a regular lattice (numpy/scipy; no file or database I/O here). The modules:

- :mod:`~gridmap.warning.categories` the complaint category catalog;
- :mod:`~gridmap.warning.counts` selection by window, category and keyword; counts per cell/community/street;
- :mod:`~gridmap.warning.density` Gaussian kernel density on the lattice (bandwidth in metres), and its
  aggregation to cells, communities or streets (per km², per 1,000 households);
- :mod:`~gridmap.warning.hotspots` Getis-Ord Gi* (equal to esda's ``G_Local(star=True, transform='B')``), BH FDR;
- :mod:`~gridmap.warning.emerging` space-time cube, Mann-Kendall, ArcGIS emerging hot-spot categories;
- :mod:`~gridmap.warning.alerts` count jumps against a seasonal baseline, keyword watch lists, space-time
  clusters in the window, 回头看 re-check lists, the Chinese Markdown summary;
- :mod:`~gridmap.warning.scan` prospective space-time alerts (space-time permutation scan, exact test, false
  alarms controlled per evaluation date), the method the demo's planted anomalies are scored on;
- :mod:`~gridmap.warning.labels` the Chinese labels of patterns, alert kinds and units;
- :mod:`~gridmap.warning.unit_geometry` each alert row's cell / community / street polygon;
- :mod:`~gridmap.warning.scoring` recall / false alerts / days to detection against planted anomalies;
- :mod:`~gridmap.warning.keywords` keyword families for keyword watch (漏雨 -> 漏雨, 渗水, 屋顶漏水 ...);
- :mod:`~gridmap.warning.period` the full-period emerging hot-spot analysis of ``gridmap emerging``;
- :mod:`~gridmap.warning.frames` the analyst's views: GeoDataFrames indexed by cell code, the cube as xarray.

Dense arrays live on a window of the one lattice, :class:`gridmap.grid.Lattice` with ``nx``/``ny``, covering only
the cells' extent (:func:`lattice_from_cells`); cells from :func:`gridmap.grid.build_cells` carry global indices
on a lattice anchored at (0, 0), which :func:`localise_cells` maps to local ones
(:mod:`~gridmap.warning.lattice_ops`).
"""

# The names below are loaded on first use (PEP 562): importing one submodule, e.g. ``gridmap.warning.categories``
# from the complaint importer, must not import scipy through ``emerging``/``density`` (about 0.5 s of a CLI
# import's start-up).
_EXPORTS = {
    "lattice_ops": ("bin_points", "grid_to_cells", "lattice_from_cells", "localise_cells"),
    "categories": ("CATEGORIES", "FALLBACK_CATEGORY", "normalise_category"),
    "counts": ("Unit", "cell_counts", "complaint_mask", "counts_by", "select_complaints"),
    "density": ("DensityScale", "density_by", "kernel_density"),
    "emerging": ("EmergingResult", "Pattern", "SliceFreq", "SpaceTimeCube", "classify", "emerging_hot_spots",
                 "mann_kendall", "space_time_cube"),
    "hotspots": ("GiStarResult", "Weights", "fdr_bh", "gi_star"),
    "scan": ("ScanBaseline", "ScanControl", "ScanOptions", "space_time_alerts"),
    "unit_geometry": ("attach_unit_geometry",),
    "frames": ("cell_counts_frame", "cube_dataset", "emerging_frame", "lattice_frame"),
    "period": ("EmergingPeriod", "emerging_period"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'gridmap.warning' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"gridmap.warning.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


__all__ = [
    "bin_points", "grid_to_cells", "lattice_from_cells", "localise_cells",
    "CATEGORIES", "FALLBACK_CATEGORY", "normalise_category",
    "Unit", "cell_counts", "complaint_mask", "counts_by", "select_complaints",
    "DensityScale", "density_by", "kernel_density",
    "GiStarResult", "Weights", "fdr_bh", "gi_star",
    "EmergingResult", "Pattern", "SliceFreq", "SpaceTimeCube", "classify", "emerging_hot_spots", "mann_kendall",
    "space_time_cube", "ScanBaseline", "ScanControl", "ScanOptions", "space_time_alerts", "attach_unit_geometry",
    "cell_counts_frame", "cube_dataset", "emerging_frame", "lattice_frame", "EmergingPeriod", "emerging_period",
]
