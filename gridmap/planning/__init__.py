"""Community planning: size flags, the street-office standard, split proposals, accept/undo.

- :mod:`~gridmap.planning.flags` size classes by households (below / in range / 需调整 / 超大社区);
- :mod:`~gridmap.planning.streets` the Beijing street-office establishment standard (area, population by zone);
- :mod:`~gridmap.planning.atoms` atoms of a split (compounds + remaining area) and their adjacency;
- :mod:`~gridmap.planning.proposal` one ranked split proposal (:class:`Proposal`);
- :mod:`~gridmap.planning.split` ranked split proposals with floor and ceiling, explained infeasibility;
- :mod:`~gridmap.planning.explain` why a proposal ranks where it does (中文 / English);
- :mod:`~gridmap.planning.report` GeoPackage/GeoJSON and Markdown outputs, the frame the maps draw;
- :mod:`~gridmap.planning.accept` accepting a proposal into the store, and undoing it (store-facing);
- :mod:`~gridmap.planning.service` the store-facing workflows the CLI calls (flag, propose, accept rank N, undo).

Analysis modules here import neither the store nor the maps; only ``accept`` and ``service`` talk to a store
passed in.
"""

from gridmap.planning.atoms import adjacency, build_atoms, check_atoms
from gridmap.planning.flags import SizeClass, check_thresholds, flag_communities, size_class, summarize_flags
from gridmap.planning.proposal import Proposal
from gridmap.planning.split import DEFAULT_WEIGHTS, propose_splits
from gridmap.planning.streets import STANDARDS, StreetStandard, Zone, check_streets, zone_for_district

__all__ = [
    "SizeClass", "size_class", "check_thresholds", "flag_communities", "summarize_flags",
    "Zone", "StreetStandard", "STANDARDS", "check_streets", "zone_for_district",
    "build_atoms", "adjacency", "check_atoms",
    "Proposal", "propose_splits", "DEFAULT_WEIGHTS",
]
