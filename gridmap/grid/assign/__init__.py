"""Point to cell assignment for millions of points: lattice arithmetic first, exact point-in-polygon only at edges.

Boundary semantics
------------------
A point belongs to a cell that *covers* it (interior or boundary), the relation of ``geopandas.sjoin(...,
predicate='intersects')``. A point inside one cell gets that cell (the same as ``predicate='within'``). A point
on the boundary shared by several cells gets exactly one of them, chosen deterministically: among the cells
covering it, the cell whose own lattice square (columns ``ix``/``iy``) contains the point in the half-open sense
of :class:`~gridmap.grid.lattice.Lattice` (lattice lines belong to the square east / north of them), else a cell
reaching into that square's interior, else any other (each in the order of the ``cells`` frame). Points covered by
no cell, and points with missing coordinates, get no cell and are listed in :attr:`PointAssignment.report` (never
dropped silently; a :class:`UnassignedPointsWarning` says how many).

How it is fast
--------------
:class:`CellIndex` maps every lattice square met by a cell to either the one cell that *is* that square (a whole
square: one ``floor`` and one table lookup per point) or a *shared* square (clipped cells, merged slivers, the
edge of the gridded area) with its few candidate cells. Only points in shared squares, and points on lattice lines,
get an exact point-in-polygon test: crossing numbers over the edges the point's horizontal line meets, with GEOS
(``shapely.intersects_xy``) deciding points that lie on, or within rounding of, an edge. Nothing is approximated:
answers equal ``geopandas.sjoin``.

Two engines give the same answers (tested against each other and against sjoin). ``c``, the default where it was
built at install: a small C kernel (``gridmap/grid/_kernel.c``, called through ctypes) scans the cells' vertices,
builds the table and the candidates, packs each shared square's candidates and edges into one run of memory, and
looks points up in one pass, prefetching the runs ahead; it leaves points next to a lattice line or an edge to the
numpy path. ``numpy``: the same steps vectorised, plus a sub-square level for shared squares (``8 x 8`` sub-squares
whose cell is found once by counting boundary crossings along their rows) once enough points have come to pay for
it. Large lookups run blocks of points on threads (``$GRIDMAP_THREADS``, default the usable CPUs); the answer does
not depend on their number.

Modules: :mod:`~gridmap.grid.assign.index` (:class:`CellIndex`, :func:`assign_points`, :func:`cell_codes`, the
:class:`Engine` choice), :mod:`~gridmap.grid.assign.numpy_engine` and :mod:`~gridmap.grid.assign.subsquares` (the
numpy engine), :mod:`~gridmap.grid.assign.kernel` (loading the compiled kernel, its ``gm_abi`` check, the steps it
runs).

Examples
--------
>>> import geopandas as gpd, shapely
>>> cells = gpd.GeoDataFrame({"code": ["110101001001001", "110101001001002"]},
...                          geometry=[shapely.box(0, 0, 100, 100), shapely.box(100, 0, 150, 100)], crs="EPSG:4548")
>>> res = assign_points(([50.0, 120.0, 100.0, 170.0], [50.0, 50.0, 50.0, 50.0]), cells, warn=False)
>>> res.codes.tolist()
['110101001001001', '110101001001002', '110101001001002', None]
>>> res.report[["x", "y", "reason"]].to_dict("records")
[{'x': 170.0, 'y': 50.0, 'reason': 'on no cell'}]
"""

from gridmap.grid.assign.index import (CellIndex, Engine, PointAssignment, UnassignedPointsWarning, assign_points,
                                       cell_codes, default_threads)
from gridmap.grid.assign.kernel import ENGINES

__all__ = ["ENGINES", "CellIndex", "Engine", "PointAssignment", "UnassignedPointsWarning", "assign_points",
           "cell_codes", "default_threads"]
