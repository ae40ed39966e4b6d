"""The data model: one set of tables for SpatiaLite and PostGIS, built for the store's SRID.

Every geometry column declares its SRID (the working CRS) and has a spatial index; every code
column is unique and indexed. Areas are stored as MULTIPOLYGON, points as POINT, lines as
MULTILINESTRING (polygons are promoted to one-part multipolygons on write, as GIS files do).

All times are China Standard Time (UTC+8) stored without a zone; imports convert aware times.

Layers and their columns (the GeoDataFrame contract used across gridmap):

=============  ==========================================================================================
layer          columns (besides ``geometry``)
=============  ==========================================================================================
districts      code (6 digits), name
streets        code (9), district_code, name, zone
communities    code (12), street_code, name, households, population, active, retired_at, parent_code
compounds      code, community_code, name, kind ('compound'|'building'), households, population,
               indivisible
roads          code, name, kind ('main'|'secondary'|'branch'|'hutong'|'river'|'rail'), width_m
cells          code (15), community_code, ix, iy, area_m2
components     code (8), district_code, national_id (16), class_code (4), major (2), serial, name,
               dept (主管部门), owner (权属单位), maintainer (养护单位), status, initial_date,
               change_date, source, remarks, cell_code, community_code, street_code
complaints     source_id, received_at, category, text, address, status, closed_at, cell_code,
               community_code, street_code
=============  ==========================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from geoalchemy2 import Geometry
from sqlalchemy import (BigInteger, Boolean, Column, Date, DateTime, Float, Index, Integer, MetaData, Table, Text,
                        UniqueConstraint)

__all__ = ["SCHEMA_VERSION", "COUNT_COLUMNS", "LAYERS", "LayerSpec", "build_metadata", "layer_spec"]

#: Version of the table layout. Bump it and add a step to ``gridmap.store.migrations`` when it changes.
#: 2: household and population counts are 64-bit (BIGINT) on PostGIS (3,000,000,000 wrapped in int4).
SCHEMA_VERSION = 2

#: Count columns stored as 64-bit integers (layer -> columns); migration step 2 widens them on PostGIS.
COUNT_COLUMNS: dict[str, tuple[str, ...]] = {"communities": ("households", "population"),
                                             "compounds": ("households", "population")}


@dataclass(frozen=True)
class LayerSpec:
    """What the store knows about a layer: its key column(s) and geometry type."""

    name: str
    key: tuple[str, ...]
    geometry_type: str
    label_zh: str


LAYERS: dict[str, LayerSpec] = {
    s.name: s
    for s in (
        LayerSpec("districts", ("code",), "MULTIPOLYGON", "区"),
        LayerSpec("streets", ("code",), "MULTIPOLYGON", "街道/乡镇"),
        LayerSpec("communities", ("code",), "MULTIPOLYGON", "社区/村"),
        LayerSpec("compounds", ("code",), "MULTIPOLYGON", "小区/楼栋"),
        LayerSpec("roads", ("code",), "MULTILINESTRING", "道路与障碍线"),
        LayerSpec("cells", ("code",), "MULTIPOLYGON", "万米单元网格"),
        LayerSpec("components", ("district_code", "code"), "POINT", "城市部件"),
        LayerSpec("complaints", ("source_id",), "POINT", "12345诉求"),
    )
}


def layer_spec(name: str) -> LayerSpec:
    from gridmap.errors import NotFoundError

    if name not in LAYERS:
        import difflib

        raise NotFoundError(f"unknown layer {name!r}", suggestions=difflib.get_close_matches(name, LAYERS, n=3),
                            fix="use one of " + ", ".join(LAYERS))
    return LAYERS[name]


def _geom(kind: str, srid: int) -> Column:
    # spatial_index=True: GeoAlchemy2 builds an R*Tree (SpatiaLite) or GiST (PostGIS) index.
    return Column("geom", Geometry(kind, srid=srid, spatial_index=True), nullable=False)


@lru_cache(maxsize=8)
def build_metadata(srid: int) -> MetaData:
    """All gridmap tables with geometry columns in ``srid``.

    Why one long function: it is the declarative column contract of every layer, read top to bottom like the
    schema it creates; splitting it per table would only scatter that list.
    """
    md = MetaData()
    g = {name: spec.geometry_type for name, spec in LAYERS.items()}
    Table("gridmap_meta", md, Column("key", Text, primary_key=True), Column("value", Text, nullable=False))
    Table("districts", md,
          Column("id", Integer, primary_key=True),
          Column("code", Text, nullable=False, unique=True, index=True),
          Column("name", Text),
          _geom(g["districts"], srid))
    Table("streets", md,
          Column("id", Integer, primary_key=True),
          Column("code", Text, nullable=False, unique=True, index=True),
          Column("district_code", Text, nullable=False, index=True),
          Column("name", Text),
          Column("zone", Text),
          _geom(g["streets"], srid))
    Table("communities", md,
          Column("id", Integer, primary_key=True),
          Column("code", Text, nullable=False, unique=True, index=True),
          Column("street_code", Text, nullable=False, index=True),
          Column("name", Text),
          Column("households", BigInteger),
          Column("population", BigInteger),
          Column("active", Boolean, nullable=False, default=True, server_default="1"),
          Column("retired_at", DateTime),
          Column("parent_code", Text),
          _geom(g["communities"], srid))
    Table("compounds", md,
          Column("id", Integer, primary_key=True),
          Column("code", Text, nullable=False, unique=True, index=True),
          Column("community_code", Text, index=True),
          Column("name", Text),
          Column("kind", Text, nullable=False, default="compound", server_default="compound"),
          Column("households", BigInteger),
          Column("population", BigInteger),
          Column("indivisible", Boolean, nullable=False, default=True, server_default="1"),
          _geom(g["compounds"], srid))
    Table("roads", md,
          Column("id", Integer, primary_key=True),
          Column("code", Text, nullable=False, unique=True, index=True),
          Column("name", Text),
          Column("kind", Text, nullable=False),
          Column("width_m", Float),
          _geom(g["roads"], srid))
    Table("cells", md,
          Column("id", Integer, primary_key=True),
          Column("code", Text, nullable=False, unique=True, index=True),
          Column("community_code", Text, nullable=False, index=True),
          Column("ix", Integer, nullable=False),
          Column("iy", Integer, nullable=False),
          Column("area_m2", Float, nullable=False),
          _geom(g["cells"], srid),
          Index("ix_cells_lattice", "ix", "iy"))
    Table("components", md,
          Column("id", Integer, primary_key=True),
          Column("code", Text, nullable=False),
          Column("district_code", Text, nullable=False),
          Column("national_id", Text, nullable=False, unique=True, index=True),
          Column("class_code", Text, nullable=False, index=True),
          Column("major", Text, nullable=False),
          Column("serial", Integer, nullable=False),
          Column("name", Text),
          Column("dept", Text),
          Column("owner", Text),
          Column("maintainer", Text),
          Column("status", Text),
          Column("initial_date", Date),
          Column("change_date", Date),
          Column("source", Text),
          Column("remarks", Text),
          Column("cell_code", Text, index=True),
          Column("community_code", Text, index=True),
          Column("street_code", Text),
          _geom(g["components"], srid),
          UniqueConstraint("district_code", "code", name="uq_components_district_code"),
          Index("ix_components_code", "code"))
    Table("complaints", md,
          Column("id", Integer, primary_key=True),
          Column("source_id", Text, nullable=False, unique=True, index=True),
          Column("received_at", DateTime, nullable=False, index=True),
          Column("category", Text),
          Column("text", Text),
          Column("address", Text),
          Column("status", Text),
          Column("closed_at", DateTime),
          Column("cell_code", Text, index=True),
          Column("community_code", Text, index=True),
          Column("street_code", Text),
          _geom(g["complaints"], srid))
    return md
