"""The synthetic 示范区 (demo district, code 110199): a deterministic generator of every input layer.

A producer of input files like any real source: :func:`generate` builds the frames in memory (pure, no I/O),
:func:`write_files` writes them as GeoPackage files for the ordinary import path, and :func:`calibration_table`
compares the result with the published figures it is calibrated to (see ``data/README.md``).

Examples
--------
>>> demo = generate(scale=0.05)
>>> sorted(demo.layers())[:3]
['communities', 'complaints', 'components']
"""

from gridmap.demo.calibration import calibration_markdown, calibration_table
from gridmap.demo.complaints import ANOMALY_COLUMNS, CATEGORIES, FAKE_PHONES
from gridmap.demo.components import CLASSES, LOCAL_CLASSES
from gridmap.demo.district import DEFAULT_SEED, LAYER_NAMES, DemoDistrict, generate
from gridmap.demo.files import write_files

__all__ = ["generate", "DemoDistrict", "write_files", "calibration_table", "calibration_markdown", "LAYER_NAMES", "DEFAULT_SEED",
           "ANOMALY_COLUMNS", "CATEGORIES", "CLASSES", "LOCAL_CLASSES", "FAKE_PHONES"]
