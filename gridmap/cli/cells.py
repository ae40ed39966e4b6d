"""``gridmap cells build``: the unit grid (万米单元网格) from the stored communities."""

from __future__ import annotations

import argparse

from gridmap.cli._common import add_command, add_json_option, open_store_from, print_json, progress_bar


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = add_command(sub, "cells", common, help="unit cells (万米单元网格): build them from the communities",
                         description="Unit cells (万米单元网格) of the stored communities.",
                         epilog="Examples:\n  gridmap cells build\n  gridmap cells build --replace --cell-size-m 50")
    cells_sub = p.add_subparsers(dest="cells_command", metavar="SUBCOMMAND")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])  # `gridmap cells` alone: its help
    b = add_command(cells_sub,
        "build", common, help="cut the active communities into coded unit cells (one transaction)",
        description="Cut every active community into unit cells on a square lattice anchored at a fixed origin "
                    "(the same ground gets the same cells and codes on every rebuild), merge slivers into a "
                    "neighbour of the same community and code the cells per DB11/T 2157-2023 (community code + "
                    "3-digit sequence, west to east, then north to south). Cells, and the re-assignment of stored "
                    "components and complaints to them, are written in one transaction: an error writes nothing.",
        epilog="Examples:\n"
               "  gridmap cells build                        # 100 m cells at origin (0, 0) of the working CRS\n"
               "  gridmap cells build --replace              # rebuild; components/complaints follow the new cells\n"
               "  gridmap cells build --cell-size-m 50 --dry-run\n"
               "  gridmap --db postgresql://u@127.0.0.1/gm cells build --replace --json")
    b.add_argument("--cell-size-m", type=float, default=100.0, help="side of a lattice square in metres (100)")
    b.add_argument("--origin", metavar="X,Y", default="0,0",
                   help="lattice origin in the working CRS (default 0,0; keep it fixed so rebuilds match)")
    b.add_argument("--sliver-share", type=float, default=0.1,
                   help="pieces smaller than this share of a square are merged into a neighbour (0.1)")
    b.add_argument("--allow-overflow", action="store_true",
                   help="communities with more than 999 cells get a non-standard 4-digit sequence instead of an "
                        "error")
    b.add_argument("--replace", action="store_true", help="rebuild when the store already has cells")
    b.add_argument("--no-reassign", dest="reassign", action="store_false",
                   help="leave the cell codes of stored components and complaints as they are")
    b.add_argument("--dry-run", action="store_true", help="build and check everything, report, write nothing")
    add_json_option(b, "the build summary")
    b.set_defaults(func=cmd_build)


def _origin(text: str) -> tuple[float, float]:
    from gridmap.errors import Problem, UsageError

    parts = text.replace(" ", "").split(",")
    try:
        x, y = (float(v) for v in parts)
    except ValueError:
        raise UsageError("bad --origin", [Problem(None, "--origin", "expected X,Y", text)],
                              fix="e.g. --origin 0,0 or --origin 440000,4400000") from None
    return (x, y)


def cmd_build(args: argparse.Namespace) -> int:
    from gridmap.grid.service import build_store_cells

    store = open_store_from(args, mode="write")  # cells are cut from the stored communities
    with progress_bar(args, "cells") as progress:
        res = build_store_cells(store, cell_size_m=args.cell_size_m, origin=_origin(args.origin),
                                sliver_share=args.sliver_share, allow_overflow=args.allow_overflow,
                                replace=args.replace, reassign=args.reassign, dry_run=args.dry_run,
                                progress=progress)
    if args.json:
        print_json({"cells": res.cells, "communities": res.communities, "streets": res.streets,
                    "cell_size_m": res.cell_size_m, "origin": list(res.origin), "replaced": res.replaced,
                    "dry_run": res.dry_run, "reassigned": res.reassigned, "on_no_cell": res.on_no_cell,
                    "seconds": round(res.seconds, 2)})
    else:
        print(res)
    return 0
