"""Maps of an area: :func:`district_map`, :func:`street_map` and :func:`community_map`.

Each cuts every layer to its area (by code columns where present, else by geometry) and hands the rest to
:func:`gridmap.maps.build.build_map`. An unknown street or community code raises
:class:`~gridmap.errors.NotFoundError` with the closest codes; a name is accepted in place of a code.
"""

from __future__ import annotations

import difflib
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import check_crs
from gridmap.errors import NotFoundError, Problem, ValidationError, message
from gridmap.maps.build import _canonical, build_map
from gridmap.maps.options import Scale
from gridmap.maps.raster import DensityGrid

__all__ = ["district_map", "street_map", "community_map"]


def district_map(*, title: str = "区级总图 district map", **kwargs: Any) -> folium.Map:
    """A district-scale map of whatever layers are given (see :func:`build_map`); cells above ``max_cells``
    are left out with a note, and cell labels are off."""
    kwargs.setdefault("scale", Scale.DISTRICT)
    return build_map(title=title, **kwargs)


def _street_index(communities: gpd.GeoDataFrame | None, streets: gpd.GeoDataFrame | None) -> dict[str, str]:
    names: dict[str, str] = {}
    if streets is not None and "code" in streets:
        names.update({str(c): str(n) for c, n in zip(streets["code"], streets.get("name", streets["code"]))})
    if communities is not None and "street_code" in communities:
        for c in communities["street_code"].dropna().unique():
            names.setdefault(str(c), str(c))
    return names


def _community_index(communities: gpd.GeoDataFrame) -> dict[str, str]:
    if "code" not in communities:
        raise ValidationError("communities need a code column to make a community map",
                              [Problem(None, "code", "missing column")])
    names = communities["name"] if "name" in communities else communities["code"]
    return {str(c): str(n) for c, n in zip(communities["code"], names)}


def _within(frame: gpd.GeoDataFrame | None, area: Any, *, by: str | None = None,
            codes: Any = None) -> gpd.GeoDataFrame | None:
    if frame is None:
        return None
    if by is not None and by in frame and codes is not None:
        return frame[frame[by].astype("string").isin([str(c) for c in codes])]
    return frame[frame.geometry.intersects(area)]


def _units_within(frame: Any, area: Any, *, streets: list[str], comm_codes: list[str],
                  cell_codes: list[str] | None) -> Any:
    """Rows of a (canonical) hot-spot/alert frame whose unit lies in the area: cells by code (or by the
    community prefix of a 15-digit cell code), communities and streets by code, the rest by geometry."""
    if frame is None or not isinstance(frame, gpd.GeoDataFrame) or "unit" not in frame:
        return frame
    t, u = frame["unit_type"].astype("string"), frame["unit"].astype("string")
    keep = (t == "street") & u.isin(streets)
    keep |= (t == "community") & u.isin(comm_codes)
    keep |= (t == "cell") & (u.isin(cell_codes or []) | u.str[:12].isin(comm_codes))
    known = u.notna() & t.isin(["cell", "community", "street"])
    keep = keep.fillna(False) | (~known.fillna(False) & frame.geometry.intersects(area))
    return frame[keep.to_numpy(dtype=bool)]


def _proposals_within(frame: Any, area: Any, *, comm_codes: list[str]) -> Any:
    if frame is None or not isinstance(frame, gpd.GeoDataFrame) or "parent_code" not in frame:
        return frame
    p = frame["parent_code"].astype("string")
    keep = p.isin(comm_codes).fillna(False) | (p.isna() & frame.geometry.intersects(area))
    return frame[keep.to_numpy(dtype=bool)]


def _not_found(what: str, code: str, index: dict[str, str], fix: str) -> NotFoundError:
    by_name = {v: k for k, v in index.items()}
    close = difflib.get_close_matches(code, list(index), n=3, cutoff=0.5)
    close += [by_name[n] for n in difflib.get_close_matches(code, list(by_name), n=2, cutoff=0.5)]
    return NotFoundError(f"{what} {code!r} not found in the communities layer ({len(index)} {what}s)",
                         suggestions=[f"{c} {index.get(c, '')}".strip() for c in dict.fromkeys(close)]
                         or [f"{c} {n}" for c, n in list(index.items())[:5]], fix=fix)


def _area_map(level: str, code: str, *, communities: gpd.GeoDataFrame, streets: gpd.GeoDataFrame | None,
              cells: gpd.GeoDataFrame | None, components: gpd.GeoDataFrame | None, density: DensityGrid | None,
              hotspots: gpd.GeoDataFrame | None, alerts: gpd.GeoDataFrame | None,
              proposals: gpd.GeoDataFrame | None, complaints: gpd.GeoDataFrame | None, title: str | None,
              **kwargs: Any) -> folium.Map:
    """A street (``level='street'``) or community map: every layer cut to that area."""
    if not isinstance(communities, gpd.GeoDataFrame):
        raise ValidationError(message(f"a {level} map needs the communities layer", where=f"{level}_map",
                                      got=type(communities).__name__, fix="pass communities= (a GeoDataFrame)"))
    check_crs(communities, where="map layer 'communities'", metric=True)
    code = str(code).strip()
    if level == "street":
        index = _street_index(communities, streets)
        if "street_code" not in communities:
            raise ValidationError("communities need a street_code column to make a street map",
                                  [Problem(None, "street_code", "missing column")])
        key = "street_code"
        fix = "pass a 9-digit street code (district 6 + street 3) from the streets layer, or a street name"
    else:
        index = _community_index(communities)
        key = "code"
        fix = "pass a 12-digit community code (street 9 + community 3) from the communities layer, or its name"
    comm = communities[communities[key].astype("string") == code]
    if len(comm) == 0:
        by_name = {v: k for k, v in index.items()}
        if code in by_name:  # a name was given
            return _area_map(level, by_name[code], communities=communities, streets=streets, cells=cells,
                             components=components, density=density, hotspots=hotspots, alerts=alerts,
                             proposals=proposals, complaints=complaints, title=title, **kwargs)
        raise _not_found(level, code, index, fix)
    area = shapely.union_all(comm.geometry.values)
    comm_codes = [str(c) for c in comm["code"]] if "code" in comm else []
    street_codes = [code] if level == "street" else [str(c) for c in _col_or_empty(comm, "street_code")]
    sel_cells = _within(cells, area, by="community_code", codes=comm_codes or None)
    cell_codes = [str(c) for c in sel_cells["code"]] if sel_cells is not None and "code" in sel_cells else None

    def points(frame: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
        if frame is None:
            return None
        if level == "street" and "street_code" in frame:
            return frame[frame["street_code"].astype("string") == code]
        if "community_code" in frame and comm_codes:
            return frame[frame["community_code"].astype("string").isin(comm_codes)]
        return frame[frame.geometry.intersects(area)]

    st = None
    if streets is not None and "code" in streets:
        st = streets[streets["code"].astype("string").isin(street_codes)]
    if density is not None:
        density = _crop(density, area.bounds, margin_m=500.0)
    hot, al, prop = (_canonical(n, f) for n, f in (("hotspots", hotspots), ("alerts", alerts),
                                                    ("proposals", proposals)))
    name = index.get(code, code)
    word = "街道图 street map" if level == "street" else "社区图 community map"
    return build_map(communities=comm, streets=st, cells=sel_cells, components=points(components),
                     density=density,
                     hotspots=_units_within(hot, area, streets=street_codes, comm_codes=comm_codes,
                                            cell_codes=cell_codes),
                     alerts=_units_within(al, area, streets=street_codes, comm_codes=comm_codes,
                                          cell_codes=cell_codes),
                     proposals=_proposals_within(prop, area, comm_codes=comm_codes),
                     complaints=points(complaints), title=title if title is not None else f"{name} {word} ({code})",
                     **{"scale": Scale.STREET if level == "street" else Scale.COMMUNITY, **kwargs})


def _col_or_empty(frame: pd.DataFrame, name: str) -> list:
    return list(dict.fromkeys(frame[name].dropna())) if name in frame else []


def street_map(street_code: str, *, communities: gpd.GeoDataFrame, streets: gpd.GeoDataFrame | None = None,
               cells: gpd.GeoDataFrame | None = None, components: gpd.GeoDataFrame | None = None,
               density: DensityGrid | None = None, hotspots: gpd.GeoDataFrame | None = None,
               alerts: gpd.GeoDataFrame | None = None, proposals: gpd.GeoDataFrame | None = None,
               complaints: gpd.GeoDataFrame | None = None, title: str | None = None,
               **kwargs: Any) -> folium.Map:
    """The map of one street (街道): layers cut to its communities (by code columns where present, else by
    geometry); hot spots and alerts by their unit (cell, community or street code); the density lattice is
    cropped to the street with a 500 m margin. ``street_code`` may also be the street's name.

    Raises :class:`~gridmap.errors.NotFoundError` (with the closest codes) for an unknown ``street_code``.
    """
    return _area_map("street", street_code, communities=communities, streets=streets, cells=cells,
                     components=components, density=density, hotspots=hotspots, alerts=alerts,
                     proposals=proposals, complaints=complaints, title=title, **kwargs)


def community_map(community_code: str, *, communities: gpd.GeoDataFrame, streets: gpd.GeoDataFrame | None = None,
                  cells: gpd.GeoDataFrame | None = None, components: gpd.GeoDataFrame | None = None,
                  density: DensityGrid | None = None, hotspots: gpd.GeoDataFrame | None = None,
                  alerts: gpd.GeoDataFrame | None = None, proposals: gpd.GeoDataFrame | None = None,
                  complaints: gpd.GeoDataFrame | None = None, title: str | None = None,
                  **kwargs: Any) -> folium.Map:
    """The map of one community (社区), like :func:`street_map` (``community_code`` may be its name), at
    community scale (cell sequence labels from zoom 17).

    Raises :class:`~gridmap.errors.NotFoundError` (with the closest codes) for an unknown code.
    """
    return _area_map("community", community_code, communities=communities, streets=streets, cells=cells,
                     components=components, density=density, hotspots=hotspots, alerts=alerts,
                     proposals=proposals, complaints=complaints, title=title, **kwargs)


def _crop(grid: DensityGrid, box: tuple[float, float, float, float], *, margin_m: float) -> DensityGrid:
    g = grid.validated()
    ny, nx = g.values.shape
    x0, y0, x1, y1 = g.bounds
    dx, dy = (x1 - x0) / nx, (y1 - y0) / ny
    i0 = int(np.clip(np.floor((box[0] - margin_m - x0) / dx), 0, nx - 1))
    i1 = int(np.clip(np.ceil((box[2] + margin_m - x0) / dx), i0 + 1, nx))
    j0 = int(np.clip(np.floor((box[1] - margin_m - y0) / dy), 0, ny - 1))
    j1 = int(np.clip(np.ceil((box[3] + margin_m - y0) / dy), j0 + 1, ny))
    counts = None if g.counts is None else g.counts[j0:j1, i0:i1]
    return DensityGrid(g.values[j0:j1, i0:i1], (x0 + i0 * dx, y0 + j0 * dy, x0 + i1 * dx, y0 + j1 * dy), g.crs,
                       counts, "lower", g.unit, g.label)
