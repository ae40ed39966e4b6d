"""Open311 GeoReport v2 service requests (the ``GET requests`` response), in JSON and XML, as the standard
defines them (https://wiki.open311.org/GeoReport_v2).

A response is a list of requests (JSON: a top-level array; XML: ``<service_requests>`` holding ``<request>``
elements, one child element per field). The fields of a request and where they go:

=====================  =====================================================================
service_request_id     ``source_id`` (``token`` when a server has no id yet)
requested_datetime     ``received_at`` (ISO 8601 with a zone; converted to China Standard Time)
updated_datetime       ``closed_at`` when ``status`` is ``closed``
status                 ``status`` (``open`` / ``closed``)
service_name           ``category`` (through the catalog and ``--category-map``); ``service_code``
                       when the name is missing
description            ``text``; **optional** in the standard: when it is missing, null or empty
                       the request's ``service_name`` is its text (counted in the import notes)
address                ``address``
lat, long              the point (WGS 84, as the standard says)
status_notes, agency_responsible, service_notice, expected_datetime, address_id, zipcode, media_url
                       read and not stored (the complaints contract has no column for them)
=====================  =====================================================================

No ``--map`` is needed for these names; ``--map`` still overrides any of them.

Examples
--------
>>> xml = b'''<?xml version="1.0" encoding="utf-8"?>
... <service_requests><request><service_request_id>638344</service_request_id><status>closed</status>
... <service_name>Sidewalk and Curb Issues</service_name><service_code>006</service_code><description/>
... <requested_datetime>2010-04-19T06:37:38-08:00</requested_datetime><lat>37.76</lat><long>-122.46</long>
... </request></service_requests>'''
>>> raw = parse_open311_xml(xml)
>>> raw.loc[0, ["service_request_id", "status", "description"]].tolist()
['638344', 'closed', None]
>>> frame, notes = normalise_open311(raw)
>>> frame.loc[0, "description"], notes
('Sidewalk and Curb Issues', ['1 request(s) without a description: their text is their service_name (Open311: description is optional)'])
"""

from __future__ import annotations

import logging
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd

from gridmap.errors import InputFileError

__all__ = ["OPEN311_FIELDS", "is_open311", "parse_open311_xml", "read_open311_xml", "normalise_open311"]

log = logging.getLogger(__name__)

#: The fields of a GeoReport v2 service request.
OPEN311_FIELDS = ("service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url", "token")


def is_open311(columns: object) -> bool:
    """Whether a table's columns look like GeoReport v2 requests."""
    cols = {str(c).strip().lower() for c in columns}
    return "requested_datetime" in cols and bool(cols & {"service_request_id", "token", "service_name",
                                                          "service_code"})


def parse_open311_xml(data: bytes, *, where: str = "input") -> pd.DataFrame:
    """The ``<request>`` elements of a GeoReport v2 XML response as a table of strings (``None`` if empty)."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise InputFileError("not well-formed XML", path=where, got=str(exc),
                             fix="export the Open311 GET requests response (XML or JSON)") from None
    if root.tag != "service_requests":
        raise InputFileError("not an Open311 GeoReport v2 response", path=where, got=f"root element <{root.tag}>",
                             fix="the root element must be <service_requests> holding <request> elements")
    rows = []
    for req in root:
        if req.tag != "request":
            continue
        row: dict[str, object] = {}
        for child in req:
            text = (child.text or "").strip()
            row[child.tag] = text if text else None
        rows.append(row)
    frame = pd.DataFrame.from_records(rows)
    for name in ("service_request_id", "requested_datetime"):
        if name not in frame.columns:
            frame[name] = None
    return frame.astype(object).where(frame.notna(), None)


def read_open311_xml(path: str | os.PathLike) -> pd.DataFrame:
    """:func:`parse_open311_xml` of a file."""
    p = Path(path)
    return parse_open311_xml(p.read_bytes(), where=str(p))


def _blank(s: pd.Series) -> pd.Series:
    t = s.astype("string").str.strip()
    return (t.isna() | (t == "")).fillna(True).astype(bool)


def _fill(out: pd.DataFrame, target: str, source: str) -> int:
    """Where ``target`` is blank (or missing) and ``source`` is not, ``target`` takes ``source``; rows filled."""
    if target not in out.columns:
        out[target] = None
    fill = _blank(out[target]) & ~_blank(out[source])
    if fill.any():
        out[target] = out[target].astype(object)
        out.loc[fill, target] = out.loc[fill, source]
    return int(fill.sum())


def normalise_open311(raw: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The standard's optional fields filled as the standard implies; returns the table and notes.

    A missing/empty ``description`` takes the ``service_name``; a missing ``service_name`` the ``service_code``;
    a missing ``service_request_id`` the ``token``.
    """
    out = raw.copy()
    notes: list[str] = []
    # (in this order: a description may take a service_name that was just taken from the service_code; a
    # service_name column is filled where it exists, never made)
    fills = (("service_name", "service_code", False, "request(s) without a service_name: their category is their "
              "service_code"),
             ("description", "service_name", True, "request(s) without a description: their text is their "
              "service_name (Open311: description is optional)"),
             ("service_request_id", "token", True, "request(s) without a service_request_id: identified by their "
              "token"))
    for target, source, make, what in fills:
        if source in out.columns and (make or target in out.columns):
            filled = _fill(out, target, source)
            if filled:
                notes.append(f"{filled} {what}")
    for n in notes:
        log.info("Open311: %s", n)
    return out, notes
