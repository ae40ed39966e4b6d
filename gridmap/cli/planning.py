"""``gridmap communities flag|streets`` and ``gridmap split propose|accept|undo``: community size and splits."""

from __future__ import annotations

import argparse
from pathlib import Path

from gridmap.cli._common import add_command, add_json_option, open_store_from, print_json, print_table, progress_bar


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = add_command(sub, "communities", common, help="community size flags and the street-office standard",
                         description="社区规模：按户数分类（1,000–3,000 户标准），街道办设置标准检查。 Community size "
                                     "by households (1,000-3,000 per community) and the street-office standard.",
                         epilog="Examples:\n  gridmap communities flag --list\n  gridmap communities streets --json")
    s = p.add_subparsers(dest="communities_command", metavar="SUBCOMMAND")
    f = add_command(s, "flag", common, help="classify communities by households; table by street",
                       description="Classify every active community by households: 偏小 below --floor, 标准 up to "
                                   "--adjust, 需调整 above it, 超大社区 above --super-large; a table per street.",
                       epilog="Examples:\n  gridmap communities flag --list\n"
                              "  gridmap communities flag --adjust 3500 --super-large 6000 --json")
    f.add_argument("--floor", type=int, default=1000, help="below this: 偏小 small (default 1000)")
    f.add_argument("--adjust", type=int, default=3000, help="above this: 需调整 (default 3000)")
    f.add_argument("--super-large", type=int, default=5000, help="above this: 超大社区 (default 5000)")
    f.add_argument("--list", action="store_true", help="also list every oversized community")
    add_json_option(f, "the table by street and the oversized communities")
    f.set_defaults(func=cmd_flag)
    st = add_command(s, "streets", common, help="check streets against the street-office standard",
                        description="Check every street's area and resident population against Beijing's 2021 "
                                    "street-office standard for its zone.",
                        epilog="Examples:\n  gridmap communities streets\n  gridmap communities streets --zone core --json")
    st.add_argument("--zone", help="core (东城/西城), inner, other; default from the street's zone or district")
    add_json_option(st, "the check of every street")
    st.set_defaults(func=cmd_streets)

    p = add_command(sub, "split", common, help="split proposals for an oversized community",
                         description="超大社区拆分方案：生成、接受、撤销。 Split proposals for an oversized community: "
                                     "propose, accept, undo.",
                         epilog="Examples:\n"
                                "  gridmap split propose 110199001003 --out proposals/\n"
                                "  gridmap split accept 110199001003 --rank 2\n"
                                "  gridmap split undo 110199001003")
    s = p.add_subparsers(dest="split_command", metavar="SUBCOMMAND")
    pr = add_command(s, "propose", common, help="ranked split proposals for one community",
                        description="Ranked proposals to split one community into parts of --floor to --ceiling "
                                    "households along compounds, roads and barriers, each explained in Chinese and "
                                    "English. Deterministic for a given --seed.",
                        epilog="Examples:\n"
                               "  gridmap split propose 110199001003 --out proposals/\n"
                               "  gridmap split propose 110199001003 --floor 1200 --ceiling 2800 "
                               "--alternatives 5 --json")
    pr.add_argument("community", help="12-digit code of the community to split")
    _solver_args(pr)
    pr.add_argument("--out", type=Path, help="folder for <code>.gpkg, <code>.geojson and <code>.md (created if "
                                             "missing)")
    add_json_option(pr, "the ranked proposals")
    from gridmap.cli._outputs import add_overwrite

    add_overwrite(pr)
    pr.set_defaults(func=cmd_propose)
    ac = add_command(s, "accept", common, help="accept proposal RANK: new communities, cells re-coded",
                        description="Accept one proposal (recomputed with the same options, so give the options you "
                                    "proposed with): the community is retired, its parts become new communities, "
                                    "cells are re-coded; an undo journal is written.",
                        epilog="Examples:\n"
                               "  gridmap split accept 110199001003             # the best-ranked proposal\n"
                               "  gridmap split accept 110199001003 --rank 2 --journal journal/")
    ac.add_argument("community", help="12-digit code of the community to split")
    ac.add_argument("--rank", type=int, default=1,
                    help="which proposal to accept, as ranked by `gridmap split propose` (default 1, the best)")
    _solver_args(ac)
    ac.add_argument("--journal", type=Path, default=Path("gridmap-journal"), help="folder for the undo journal")
    ac.set_defaults(func=cmd_accept)
    un = add_command(s, "undo", common, help="undo the last accepted split of a community",
                        description="Restore the community and cells as they were before the last accepted split, "
                                    "from the undo journal.",
                        epilog="Examples:\n  gridmap split undo 110199001003\n"
                               "  gridmap split undo 110199001003 --journal journal/ --discard-cell-changes")
    un.add_argument("community", help="12-digit code of the community whose split is undone")
    un.add_argument("--journal", type=Path, default=Path("gridmap-journal"), help="folder of the undo journal")
    un.add_argument("--discard-cell-changes", action="store_true",
                    help="restore the old cells even if cells of the new communities changed since the accept "
                         "(by default undo refuses and lists them)")
    un.set_defaults(func=cmd_undo)


def _solver_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--floor", type=int, default=1000, help="fewest households in a new community (default 1000)")
    p.add_argument("--ceiling", type=int, default=3000, help="most households in a new community (default 3000)")
    p.add_argument("--alternatives", type=int, default=3, help="how many ranked proposals to look for (default 3)")
    p.add_argument("--seed", type=int, default=0,
                   help="random seed of the search (default 0; the same seed gives the same proposals)")
    p.add_argument("--barrier-kinds", default="river,rail,main",
                   help="road kinds adjacency may not cross (default river,rail,main)")


def cmd_flag(args: argparse.Namespace) -> int:
    from gridmap.planning.service import community_flags

    store = open_store_from(args, mode="read")
    _, table, over = community_flags(store, floor=args.floor, adjust=args.adjust, super_large=args.super_large)
    if args.json:
        print_json({"by_street": table.to_dict("records"),
                    "oversized": over[["code", "street_code", "name", "households", "size_label"]].to_dict("records")})
        return 0
    print("社区规模 / community size by street")
    print_table(table)
    if args.list:
        print("\n需调整与超大社区 / oversized communities")
        print_table(over[["code", "street_code", "name", "households", "size_label"]])
    return 0


def cmd_streets(args: argparse.Namespace) -> int:
    from gridmap.planning.service import street_check

    store = open_store_from(args, mode="read")
    r = street_check(store, zone=args.zone)
    cols = ["code", "name", "zone", "area_km2", "population", "ok", "reasons"]
    cols = [c for c in cols if c in r.columns]
    if args.json:
        print_json(r[cols].to_dict("records"))
    else:
        print_table(r[cols].round({"area_km2": 2}))
    return 0


def _search_options(args: argparse.Namespace) -> dict:
    """The solver options shared by ``split propose`` and ``split accept``."""
    return {"floor": args.floor, "ceiling": args.ceiling, "alternatives": args.alternatives, "seed": args.seed,
            "barrier_kinds": [k.strip() for k in args.barrier_kinds.split(",") if k.strip()]}


def cmd_propose(args: argparse.Namespace) -> int:
    from gridmap.planning.report import proposals_table
    from gridmap.planning.service import propose_for_community, save_proposals

    from gridmap.cli._outputs import resolve
    from gridmap.outputs import resolve_output_folder

    store = open_store_from(args, mode="read")
    targets = {}
    if args.out:
        folder = resolve_output_folder(args.out, store=store, option="--out")
        targets = {ext: resolve(args, folder / f"{args.community}.{ext}", store=store, option="--out")
                   for ext in ("gpkg", "geojson", "md")}
    with progress_bar(args, "split") as progress:
        com, props = propose_for_community(store, args.community, **_search_options(args), progress=progress)
    if args.out:
        store.close()  # before GDAL/pyogrio I/O (or pyogrio crashes the interpreter)
        save_proposals(props, com, community_code=args.community, targets=targets)
    if args.json:
        print_json([{"rank": p.rank, "k": p.k, "metrics": p.metrics, "explanation_zh": p.explanation_zh,
                     "explanation_en": p.explanation_en, "search": p.search,
                     "parts": p.parts.drop(columns=["geometry", "atoms"]).reset_index().to_dict("records")}
                    for p in props])
        return 0
    print_table(proposals_table(props))
    for p in props:
        print(f"\n{p.explanation_zh}\n{p.explanation_en}")
    if args.out:
        print(f"\nwritten: {args.out}/{args.community}.gpkg, .geojson, .md")
    return 0


def cmd_accept(args: argparse.Namespace) -> int:
    from gridmap.planning.service import accept_split

    store = open_store_from(args, mode="write")
    with progress_bar(args, "split") as progress:
        res, path = accept_split(store, args.community, rank=args.rank, journal=args.journal,
                                 **_search_options(args), progress=progress)
    print(res.markdown())
    print(f"undo journal: {path}  (gridmap split undo {args.community})")
    return 0


def cmd_undo(args: argparse.Namespace) -> int:
    from gridmap.planning.service import undo_split

    store = open_store_from(args, mode="write")
    counts = undo_split(store, args.community, journal=args.journal,
                        discard_cell_changes=args.discard_cell_changes)
    print(f"restored / 已恢复 {args.community}: {counts}")
    return 0
