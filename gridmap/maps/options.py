"""How a map is drawn: :class:`MapOptions` (privacy, basemap, scale, thresholds ...), apart from what it draws.

:func:`~gridmap.maps.build_map` takes the layers as keywords and the drawing options either as a
:class:`MapOptions` (``options=``) or as the same keywords (``build_map(cells=cells, privacy='internal')``).

>>> MapOptions(privacy="internal", scale="community").scale
<Scale.COMMUNITY: 'community'>
>>> MapOptions().min_count
3
"""

from __future__ import annotations

import dataclasses

from typing import Any

from gridmap._enums import ChoiceEnum
from gridmap.maps.basemaps import Basemap
from gridmap.maps.safety import DEFAULT_MIN_COUNT, Privacy

__all__ = ["Scale", "MapOptions"]


class Scale(ChoiceEnum, what="map scale"):
    """Map scale: decides simplification (detail zoom) and whether unit cells are drawn as vectors."""

    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"

    @property
    def detail_zoom(self) -> int:
        return {"district": 15, "street": 17, "community": 18}[self.value]


@dataclasses.dataclass(frozen=True, kw_only=True)
class MapOptions:
    """The drawing options of :func:`~gridmap.maps.build_map` (string values are parsed into their enums).

    privacy : 'shared' (default) or 'internal'.
    basemap : 'none' (default, offline), 'osm', 'tianditu' (needs ``tianditu_key``) or 'gaode' (overlays are
        shifted into GCJ-02). Online basemaps need ``offline=False``.
    embed_key : a shared map refuses to carry the Tianditu key unless ``embed_key=True``.
    title : shown on the map.
    scale : 'district', 'street' (default) or 'community': simplification and cell drawing.
    min_count : cells/areas with fewer complaints are hidden on shared maps (default 3).
    max_cells : more unit cells than this are not drawn (the legend says to open a street map).
    cell_labels : cell sequence labels (default: on except at district scale).
    density_cell_m, density_bandwidth_m : lattice of the density image made from complaint points.
    compare_proposals : with split proposals, also show them side by side with the current boundary.
    print_block : a title block for print (:mod:`gridmap.maps.printing`): ``date``, ``source``, ``notice``
        texts; the legend stays open and the controls are hidden. Default none (screen maps carry no date).
    """

    privacy: Privacy = Privacy.SHARED
    basemap: Basemap = Basemap.NONE
    tianditu_key: str | None = None
    embed_key: bool = False
    offline: bool = True
    title: str = ""
    scale: Scale = Scale.STREET
    min_count: int = DEFAULT_MIN_COUNT
    max_cells: int = 12_000
    cell_labels: bool | None = None
    density_cell_m: float = 50.0
    density_bandwidth_m: float = 150.0
    compare_proposals: bool = True
    print_block: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "privacy", Privacy.parse(self.privacy))
        object.__setattr__(self, "basemap", Basemap.parse(self.basemap))
        object.__setattr__(self, "scale", Scale.parse(self.scale))

    @classmethod
    def of(cls, options: "MapOptions | None" = None, **changes: Any) -> "MapOptions":
        """``options`` (default: the defaults) with ``changes``; an unknown name raises ``TypeError`` naming
        the valid ones."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise TypeError(f"unknown map option(s) {', '.join(unknown)}; the drawing options are "
                            + ", ".join(sorted(names)))
        return dataclasses.replace(options, **changes) if options is not None else cls(**changes)
