"""Build of the optional compiled kernel (gridmap/grid/_kernel.c); all other metadata is in setup.cfg.

The kernel is optional: without a C compiler the install still succeeds and gridmap uses its numpy code path
(``CellIndex(engine='numpy')``), which gives the same answers, slower.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "gridmap.grid._kernel",
            ["gridmap/grid/_kernel.c"],
            # IEEE arithmetic exactly as numpy does it: no fused multiply-add, no fast-math
            extra_compile_args=["-O3", "-ffp-contract=off", "-fno-fast-math"],
            optional=True,
        )
    ]
)
