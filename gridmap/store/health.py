"""A store health check: is this store whole and consistent? (``gridmap check``)

:func:`check_store` reads (never writes) a store and reports, in plain words (Chinese and English):

* **schema** — the schema version is the one this gridmap writes, and the working CRS is recorded;
* **srid** — every layer's geometry column is registered with the working CRS's SRID, and no stored geometry
  carries another SRID;
* **spatial_index** — every layer's geometry column has its spatial index (SpatiaLite: the R*Tree virtual
  table ``idx_<layer>_geom`` and ``spatial_index_enabled``; PostGIS: a GiST index);
* **unique_codes** — the key of every layer (``code``; ``district_code``+``code`` for components;
  ``source_id`` for complaints) is unique;
* **tiling** — the cells of every active community tile it: the community minus the union of its cells (a gap)
  and the union minus the community (a spill) are no larger than ``tolerance_m2``, and no two cells overlap
  by more than ``tolerance_m2`` (pairs found with an STRtree);
* **orphans** — cells whose community is not stored, components and complaints whose cell is not stored,
  communities whose street is not stored.

Each problem is a :class:`Finding` naming the check, the layer, how many features and which (up to
``examples``). The report is healthy when there is no finding.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import shapely
from sqlalchemy import text

from gridmap.store import migrations
from gridmap.store.database import _backend_for
from gridmap.store.schema import LAYERS

__all__ = ["CHECKS", "Finding", "HealthReport", "check_store"]

log = logging.getLogger(__name__)

#: The checks, in the order they run: name -> (中文, English) title.
CHECKS: dict[str, tuple[str, str]] = {
    "schema": ("数据结构版本", "schema version"),
    "srid": ("坐标系 SRID", "SRIDs"),
    "spatial_index": ("空间索引", "spatial indexes"),
    "unique_codes": ("编码唯一", "unique codes"),
    "tiling": ("网格铺满社区", "cells tile their communities"),
    "orphans": ("孤立记录", "orphan records"),
}


@dataclass(frozen=True)
class Finding:
    """One problem: which check found it, on which layer, in words, how many features and some of them."""

    check: str
    layer: str | None
    problem_zh: str
    problem_en: str
    count: int = 1
    examples: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        where = f"[{self.layer}] " if self.layer else ""
        more = f": {', '.join(self.examples)}" + (" ..." if self.count > len(self.examples) else "") \
            if self.examples else ""
        return f"{where}{self.problem_zh} / {self.problem_en}{more}"


@dataclass
class HealthReport:
    """What :func:`check_store` found."""

    store: str
    backend: str
    srid: int
    schema_version: int
    counts: dict[str, int]
    findings: list[Finding]
    tolerance_m2: float

    @property
    def healthy(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (no NaN, no numpy types)."""
        return {"store": self.store, "backend": self.backend, "crs": f"EPSG:{self.srid}",
                "schema_version": self.schema_version, "healthy": self.healthy, "tolerance_m2": self.tolerance_m2,
                "counts": {k: int(v) for k, v in self.counts.items()},
                "checks": [{"check": name, "title_zh": zh, "title_en": en,
                            "ok": not any(f.check == name for f in self.findings)} for name, (zh, en) in CHECKS.items()],
                "findings": [asdict(f) for f in self.findings]}

    def text(self) -> str:
        """The report in plain words, one line per check and one per problem."""
        lines = [f"{self.store}  ({self.backend}, EPSG:{self.srid}, schema v{self.schema_version})"]
        for name, (zh, en) in CHECKS.items():
            found = [f for f in self.findings if f.check == name]
            lines.append(f"{'✓' if not found else '✗'} {zh} / {en}: " + ("正常 ok" if not found else
                                                                          f"{len(found)} 个问题 problem(s)"))
            lines += [f"    - {f}" for f in found]
        lines.append("存储完好 / the store is healthy" if self.healthy else
                     f"发现 {len(self.findings)} 个问题 / {len(self.findings)} problem(s) found")
        return "\n".join(lines)


def check_store(store: Any, *, tolerance_m2: float = 1.0, examples: int = 10,
                progress: Callable[[int, int, str], None] | None = None) -> HealthReport:
    """Check ``store`` (a :class:`~gridmap.store.Store`, opened read-only or not); nothing is written.

    ``progress(done, total, label)``, if given, is called before each check (the CLI draws a bar with it)."""
    step = progress or (lambda done, total, label: None)
    findings: list[Finding] = []
    ex = int(examples)
    with store.engine.connect() as conn:
        step(0, 6, "schema")
        version = _schema(conn, store, findings)
        step(1, 6, "SRIDs")
        _srids(conn, store, findings, ex)
        step(2, 6, "spatial indexes")
        _indexes(conn, store, findings)
        counts = {name: int(conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar()) for name in LAYERS}
        step(3, 6, "unique codes")
        _unique(conn, findings, ex)
        step(4, 6, "orphans")
        _orphans(conn, findings, ex)
    step(5, 6, "cells tile their communities")
    _tiling(store, counts, findings, float(tolerance_m2), ex)
    step(6, 6, "done")
    report = HealthReport(store.safe_url, store.backend, store.srid, version, counts, findings, float(tolerance_m2))
    log.info("checked %s: %d problem(s)", store.safe_url, len(findings))
    return report


def _schema(conn: Any, store: Any, findings: list[Finding]) -> int:
    rows = dict(conn.execute(text("SELECT key, value FROM gridmap_meta")).all())
    version = int(rows.get("schema_version", 0))
    if version != migrations.SCHEMA_VERSION:
        findings.append(Finding("schema", None, f"数据结构版本为 {version}，应为 {migrations.SCHEMA_VERSION}",
                                f"schema version is {version}, this gridmap uses {migrations.SCHEMA_VERSION} "
                                "(run `gridmap migrate`)"))
    if "srid" not in rows:
        findings.append(Finding("schema", None, "未记录工作坐标系", "the working CRS (srid) is not recorded"))
    return version


def _srids(conn: Any, store: Any, findings: list[Finding], ex: int) -> None:
    srid = int(store.srid)
    dialect = _backend_for(store.url)
    registered = dialect.geometry_srids(conn)
    srid_fn = dialect.SRID_FUNCTION
    for layer in LAYERS:
        got = registered.get(layer)
        if got is None:
            findings.append(Finding("srid", layer, "几何列未登记", "the geometry column is not registered"))
        elif got != srid:
            findings.append(Finding("srid", layer, f"几何列登记的 SRID 为 {got}，工作坐标系为 {srid}",
                                    f"the geometry column is registered with SRID {got}, the working CRS is {srid}"))
        rows = conn.execute(text(f'SELECT {srid_fn}(geom), count(*) FROM "{layer}" WHERE geom IS NOT NULL '
                                 f"AND {srid_fn}(geom) <> :srid GROUP BY 1 ORDER BY 1"), {"srid": srid}).all()
        if rows:
            n = sum(int(r[1]) for r in rows)
            findings.append(Finding("srid", layer, f"{n} 个要素的 SRID 不是 {srid}", f"{n} feature(s) have an SRID "
                                    f"other than {srid}", n, [f"SRID {r[0]}: {r[1]}" for r in rows[:ex]]))


def _indexes(conn: Any, store: Any, findings: list[Finding]) -> None:
    dialect = _backend_for(store.url)
    zh, en = dialect.MISSING_INDEX
    for layer in dialect.missing_spatial_indexes(conn, list(LAYERS)):
        findings.append(Finding("spatial_index", layer, zh, en.format(layer=layer)))


def _unique(conn: Any, findings: list[Finding], ex: int) -> None:
    for layer, spec in LAYERS.items():
        cols = ", ".join(f'"{k}"' for k in spec.key)
        rows = conn.execute(text(f'SELECT {cols}, count(*) FROM "{layer}" GROUP BY {cols} HAVING count(*) > 1 '
                                 f"ORDER BY {cols}")).all()
        if rows:
            findings.append(Finding("unique_codes", layer, f"{len(rows)} 个编码重复", f"{len(rows)} duplicate "
                                    f"{'/'.join(spec.key)}", len(rows),
                                    ["/".join(map(str, r[:-1])) + f" ×{r[-1]}" for r in rows[:ex]]))


#: (layer, column, referenced layer, referenced column, 中文, English)
_REFERENCES: Sequence[tuple[str, str, str, str, str, str]] = (
    ("cells", "community_code", "communities", "code", "网格所属社区不存在", "cells whose community is not stored"),
    ("components", "cell_code", "cells", "code", "部件所在网格不存在", "components whose cell is not stored"),
    ("complaints", "cell_code", "cells", "code", "诉求所在网格不存在", "complaints whose cell is not stored"),
    ("communities", "street_code", "streets", "code", "社区所属街道不存在", "communities whose street is not stored"),
)


def _orphans(conn: Any, findings: list[Finding], ex: int) -> None:
    for layer, col, ref, ref_col, zh, en in _REFERENCES:
        key = LAYERS[layer].key[-1]
        sql = (f'SELECT t."{key}", t."{col}" FROM "{layer}" t WHERE t."{col}" IS NOT NULL AND NOT EXISTS '
               f'(SELECT 1 FROM "{ref}" r WHERE r."{ref_col}" = t."{col}") ORDER BY t."{key}"')
        rows = conn.execute(text(sql)).all()
        if rows:
            findings.append(Finding("orphans", layer, f"{len(rows)} 个{zh}", f"{len(rows)} {en}", len(rows),
                                    [f"{r[0]} → {r[1]}" for r in rows[:ex]]))


def _tiling(store: Any, counts: dict[str, int], findings: list[Finding], tol: float, ex: int) -> None:
    if not counts["cells"]:
        return  # no grid built yet: nothing to tile
    communities = store.read("communities", columns=["code", "active"])
    communities = communities[communities["active"].fillna(True).astype(bool)]
    cells = store.read("cells", columns=["code", "community_code"])
    geoms = np.asarray(cells.geometry.values, dtype=object)
    codes = cells["code"].astype(str).to_numpy()
    by_community = cells.groupby("community_code").indices
    gaps: list[tuple[str, float]] = []
    spills: list[tuple[str, float]] = []
    for code, poly in zip(communities["code"].astype(str), communities.geometry):
        idx = by_community.get(code)
        union = shapely.union_all(geoms[idx]) if idx is not None and len(idx) else shapely.Polygon()
        gap = shapely.difference(poly, union).area
        spill = shapely.difference(union, poly).area
        if gap > tol:
            gaps.append((code, gap))
        if spill > tol:
            spills.append((code, spill))
    if gaps:
        findings.append(Finding("tiling", "cells", f"{len(gaps)} 个社区未被网格铺满（有缺口）",
                                f"{len(gaps)} community(ies) not fully covered by their cells (gaps)", len(gaps),
                                [f"{c}: {a:,.1f} m²" for c, a in gaps[:ex]]))
    if spills:
        findings.append(Finding("tiling", "cells", f"{len(spills)} 个社区的网格超出社区边界",
                                f"{len(spills)} community(ies) whose cells reach outside the community", len(spills),
                                [f"{c}: {a:,.1f} m²" for c, a in spills[:ex]]))
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    inner = shapely.relate_pattern(geoms[left], geoms[right], "T********")  # interiors meet: more than a border
    left, right = left[inner], right[inner]
    areas = shapely.area(shapely.intersection(geoms[left], geoms[right])) if len(left) else np.array([])
    big = areas > tol
    if big.any():
        pairs = [(codes[i], codes[j], a) for i, j, a in zip(left[big], right[big], areas[big])]
        findings.append(Finding("tiling", "cells", f"{len(pairs)} 对网格相互重叠", f"{len(pairs)} pair(s) of cells "
                                "overlap", len(pairs), [f"{a} × {b}: {s:,.1f} m²" for a, b, s in pairs[:ex]]))
