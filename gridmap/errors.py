"""The gridmap exception hierarchy.

Every error gridmap raises on purpose derives from :class:`GridmapError` and from
the matching built-in (``ValueError``, ``LookupError`` ...), so callers can catch
either. Messages follow one shape: *what* went wrong, *where*, what was
*received*, and how to *fix* it. Build them with :func:`message`.

Examples
--------
>>> try:
...     raise CodeError(message("cell code must have 15 digits", where="cells.code",
...                             got="'1101010010010'", fix="pad the sequence to 3 digits"))
... except ValueError as exc:
...     print(exc)
cell code must have 15 digits (at cells.code); got '1101010010010'. Fix: pad the sequence to 3 digits
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "GridmapError",
    "CRSError",
    "CodeError",
    "CapacityError",
    "ValidationError",
    "Problem",
    "NotFoundError",
    "StoreError",
    "InfeasibleError",
    "OutputError",
    "message",
]


def message(what: str, *, where: str | None = None, got: object = None, fix: str | None = None) -> str:
    """Format an error message as *what (at where); got X. Fix: ...*."""
    text = what
    if where:
        text += f" (at {where})"
    if got is not None:
        text += f"; got {got}"
    if fix:
        text += f". Fix: {fix}"
    return text


class GridmapError(Exception):
    """Base class of every error gridmap raises on purpose."""


class CRSError(GridmapError, ValueError):
    """Missing, mismatched or unsuitable coordinate reference system."""


class CodeError(GridmapError, ValueError):
    """A malformed or unknown code (cell, community, street, component)."""


class CapacityError(CodeError):
    """A code scheme ran out of numbers (e.g. >999 cells in one community)."""


@dataclass(frozen=True)
class Problem:
    """One problem found while validating input: a row (or None for the whole input), a field, a reason."""

    row: object
    field: str | None
    reason: str
    value: object = None

    def __str__(self) -> str:
        where = "input" if self.row is None else f"row {self.row}"
        if self.field:
            where += f", field {self.field!r}"
        got = "" if self.value is None else f" (got {self.value!r})"
        return f"{where}: {self.reason}{got}"


class ValidationError(GridmapError, ValueError):
    """Input data failed validation. Carries every problem found, not just the first."""

    def __init__(self, what: str, problems: Sequence[Problem] = (), *, fix: str | None = None, limit: int = 20):
        self.what = what
        self.problems: list[Problem] = list(problems)
        self.fix = fix
        lines = [what + (f" ({len(self.problems)} problem(s))" if self.problems else "")]
        for p in self.problems[:limit]:
            lines.append(f"  - {p}")
        if len(self.problems) > limit:
            lines.append(f"  ... and {len(self.problems) - limit} more")
        if fix:
            lines.append(f"Fix: {fix}")
        super().__init__("\n".join(lines))


class NotFoundError(GridmapError, LookupError):
    """A code or name that is not in the store; carries the nearest valid suggestions."""

    def __init__(self, what: str, *, suggestions: Iterable[str] = (), fix: str | None = None):
        self.suggestions = list(suggestions)
        text = what
        if self.suggestions:
            text += "; did you mean: " + ", ".join(self.suggestions)
        if fix:
            text += f". Fix: {fix}"
        super().__init__(text)


class StoreError(GridmapError, RuntimeError):
    """The database cannot be opened, initialised or written as asked."""


class InfeasibleError(GridmapError, ValueError):
    """No solution satisfies the hard constraints; ``reasons`` says why in planner's words."""

    def __init__(self, what: str, reasons: Sequence[str] = (), relax: Sequence[str] = ()):
        self.reasons = list(reasons)
        self.relax = list(relax)
        lines = [what]
        lines += [f"  - {r}" for r in self.reasons]
        if self.relax:
            lines.append("Could be relaxed: " + "; ".join(self.relax))
        super().__init__("\n".join(lines))



class OutputError(GridmapError, ValueError):
    """An output path that must not be written (the store, an input, a foreign database) or cannot be."""
