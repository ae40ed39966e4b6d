"""Printing a map from the command line (``gridmap map --pdf A3|A4 --png``): which files, then write them with
:func:`gridmap.maps.printing.print_map`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Callable


def print_targets(args: Any, target: Path, *, store: Any, resolve: Callable[..., Path]) -> dict[str, Path]:
    """{'.pdf': path, '.png': path} to print: -o itself when it ends in .pdf/.png, else beside it (same name)."""
    from gridmap.errors import UsageError, message

    suffix = target.suffix.lower()
    wanted = {s for s, on in ((".pdf", args.pdf), (".png", args.png)) if on}
    if suffix in (".pdf", ".png"):
        other = wanted - {suffix}
        if other:
            raise UsageError(message(f"-o {target.name} writes one {suffix[1:].upper()}; it cannot also name the "
                                     f"{', '.join(sorted(other))}", got=f"-o {target} with --pdf/--png",
                                     fix="name -o map.html to get the HTML with a PDF/PNG beside it"))
        wanted = {suffix}
    if args.date is not None:
        try:
            dt.date.fromisoformat(args.date)
        except ValueError:
            raise UsageError(message("--date is not a date", got=args.date, fix="give YYYY-MM-DD, e.g. 2025-06-15"))
    out = {}
    for s in sorted(wanted):
        out[s] = target if s == suffix else resolve(args, target.with_suffix(s), store=store, option=f"--{s[1:]}")
    return out


def write_prints(args: Any, m: Any, prints: dict[str, Path], *, store: Any) -> None:
    from gridmap.maps.printing import print_map
    from gridmap.maps.service import print_facts

    if not prints:
        return
    source, notice = print_facts(store, title=getattr(args, "title", None) or "")
    date = args.date or dt.date.today().isoformat()
    for suffix, path in prints.items():
        print_map(m, path, paper=args.pdf or "A4", orientation=args.orientation, date=date, source=source,
                  notice=notice)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, {(args.pdf or 'A4')} {args.orientation})")
