"""Code schemes: area and cell codes (DB11/T 2157-2023), component codes and the component catalog.

>>> from gridmap.codes import parse_cell_code, parse_component_code, load_catalog
>>> parse_component_code("06010001").class_code
'0601'
"""

from gridmap.codes.areal import (MAX_CELL_SEQUENCE, CellCode, check_community_code, check_digits,
                                 check_district_code, check_street_code, format_cell_code, parse_cell_code,
                                 street_kind)
from gridmap.codes.catalog import Catalog, ComponentClass, UnknownClassError, default_catalog, load_catalog
from gridmap.codes.components import (MAX_SERIAL, ComponentCode, format_component_code, free_serial_count,
                                      next_free_serials, parse_any_component_code, parse_component_code,
                                      parse_national_id, to_national_id)

__all__ = [
    "CellCode", "MAX_CELL_SEQUENCE", "check_digits", "parse_cell_code", "format_cell_code",
    "check_community_code", "check_street_code", "check_district_code", "street_kind",
    "Catalog", "ComponentClass", "UnknownClassError", "load_catalog", "default_catalog",
    "ComponentCode", "MAX_SERIAL", "parse_component_code", "parse_national_id", "parse_any_component_code",
    "format_component_code", "to_national_id", "next_free_serials", "free_serial_count",
]
