"""Synthetic data for tests, benchmarks and examples, kept out of the runtime path.

Nothing in :mod:`gridmap` imports this package; the 示范区 generator that produces input files like any real
source is :mod:`gridmap.demo`, not this.

- :mod:`gridmap.testing.grid`: random community layouts (clipped Voronoi tilings).
- :mod:`gridmap.testing.warning`: complaints with planted anomalies over a lattice of cells.
- :mod:`gridmap.testing.maps`: small layers (streets, communities, cells, components, complaints) for maps, with
  optional script/HTML payloads and personal data for the safety tests.
"""

from gridmap.testing.grid import voronoi_communities
from gridmap.testing.maps import PAYLOADS, PII, sample_layers
from gridmap.testing.warning import default_anomalies, generate, make_cells

__all__ = ["voronoi_communities", "sample_layers", "PAYLOADS", "PII", "generate", "make_cells", "default_anomalies"]
