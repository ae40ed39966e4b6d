"""Getting data in: read files, map fields, reproject into the working CRS, check every row, import.

Every import is atomic and loses nothing: rows that pass are written in one transaction; every rejected row is
reported with its reason (:class:`ImportResult`). With ``on_error='abort'`` any bad row stops the import and
nothing is written. Re-importing rows whose keys are already stored reports them as duplicates.

One module per step or layer:

* :mod:`gridmap.io.vector` — reading files and tables (:func:`read_vector`, :func:`require_crs`);
* :mod:`gridmap.io.layers` — importing layer files (:func:`import_file`, :func:`import_frame`,
  :func:`import_outline`, :class:`ImportResult`);
* :mod:`gridmap.io.components` — the component import (cells and codes assigned);
* :mod:`gridmap.io.complaints` — the complaint import;
* :mod:`gridmap.io.export` — writing layers out;
* :mod:`gridmap.io.encoding` — Shapefile/CSV text encoding: ``.cpg`` honoured, else UTF-8, else GBK/GB18030;
* :mod:`gridmap.io.mapping` — ``--map code=SQDM,...`` or a TOML file, matched ignoring case and width;
* :mod:`gridmap.io.tables` and :mod:`gridmap.io.names` — Excel/CSV attribute tables joined by code or by
  normalised name, unmatched keys reported both ways;
* :mod:`gridmap.io.coordinates` — EPSG, WKT text or ``.prj`` files, zone warnings;
* :mod:`gridmap.io.admin_codes` — parent codes filled, district prefixes checked, missing codes assigned;
* :mod:`gridmap.io.topology` — gaps and overlaps reported, opt-in seamless repair;
* :mod:`gridmap.io.outlines` — real district outlines from the optional ``geotool-cn`` package.

``dry_run=True`` runs every step and check inside a transaction that is never committed: the result says what
would be written and what is wrong.
"""

from __future__ import annotations

from gridmap.io.layers import ImportResult, TopologyMode, import_file, import_frame, import_outline, prepare
from gridmap.io.vector import read_vector, require_crs

__all__ = ["ImportResult", "TopologyMode", "read_vector", "require_crs", "prepare", "import_frame", "import_file",
           "import_outline"]
