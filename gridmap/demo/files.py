"""Write the 示范区 to a folder of GeoPackage files, the input format of ``gridmap import`` (as any real source).

Only pyogrio is used (no SpatiaLite connection is ever opened here: pyogrio and an open SpatiaLite connection in one
process crash the interpreter).
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd

from gridmap.demo.district import LAYER_NAMES, DemoDistrict

__all__ = ["write_files"]

log = logging.getLogger(__name__)


def write_files(demo: DemoDistrict, folder: str | Path, *, anomalies_csv: bool = True) -> dict[str, Path]:
    """Write every layer of ``demo`` to ``folder/<layer>.gpkg`` (and ``anomalies.csv``).

    Parameters
    ----------
    demo
        The district from :func:`gridmap.demo.generate`.
    folder
        Output folder (created if missing); existing files of the same names are replaced.
    anomalies_csv
        Also write the planted-anomaly table as UTF-8 CSV (key ``'anomalies'`` in the result).

    Returns
    -------
    dict
        Layer name -> path of the written file.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name in LAYER_NAMES:
        frame: gpd.GeoDataFrame = getattr(demo, name)
        path = out / f"{name}.gpkg"
        if path.exists():
            path.unlink()
        frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
        paths[name] = path
    if anomalies_csv:
        path = out / "anomalies.csv"
        demo.anomalies.to_csv(path, index=False, encoding="utf-8")
        paths["anomalies"] = path
    log.info("demo files: %d files written to %s", len(paths), out)
    return paths
