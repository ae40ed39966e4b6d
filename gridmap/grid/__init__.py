"""Unit cells (万米单元网格): the lattice, cell building and point-to-cell assignment.

>>> from gridmap.grid import Lattice, build_cells, assign_points
"""

from gridmap.grid.assign import (CellIndex, Engine, PointAssignment, UnassignedPointsWarning, assign_points,
                                 cell_codes)
from gridmap.grid.cells import CELL_COLUMNS, assemble_cells, build_cells, check_communities
from gridmap.grid.lattice import Lattice

__all__ = ["Lattice", "build_cells", "assemble_cells", "check_communities", "CELL_COLUMNS", "assign_points",
           "CellIndex", "Engine", "PointAssignment", "UnassignedPointsWarning", "cell_codes"]
