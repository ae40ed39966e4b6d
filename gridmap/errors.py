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
    "UsageError",
    "InputFileError",
    "Problem",
    "NotFoundError",
    "StoreError",
    "InfeasibleError",
    "OutputError",
    "message",
    "Message",
    "plain",
    "group_reasons",
    "plain_value",
]


class Message(str):
    """The text of :func:`message`, carrying its parts: ``what``, ``where``, ``got`` and ``fix``.

    It is a ``str`` (compares, prints and formats as the text); a :class:`GridmapError` built from one keeps the
    parts as attributes, so callers read ``exc.what`` or ``exc.fix`` instead of cutting the text apart.
    """

    what: str
    where: str | None
    got: object
    fix: str | None

    def __new__(cls, what: str, *, where: str | None = None, got: object = None, fix: str | None = None) -> "Message":
        text = what
        if where:
            text += f" (at {where})"
        if got is not None:
            text += f"; got {got}"
        if fix:
            text += f". Fix: {fix}"
        self = super().__new__(cls, text)
        self.what, self.where, self.got, self.fix = what, where or None, got, fix or None
        return self


def message(what: str, *, where: str | None = None, got: object = None, fix: str | None = None) -> Message:
    """Format an error message as *what (at where); got X. Fix: ...*, keeping the parts (see :class:`Message`).

    >>> text = message("unknown unit", got="'x'", fix="use cell")
    >>> text, text.what, text.fix
    ("unknown unit; got 'x'. Fix: use cell", 'unknown unit', 'use cell')
    """
    return Message(what, where=where, got=got, fix=fix)


class GridmapError(Exception):
    """Base class of every error gridmap raises on purpose.

    Its parts are attributes: ``what`` (what went wrong), ``where``, ``got`` (what was received) and ``fix``.
    Raised with a :func:`message`, they are that message's parts; raised with plain text, ``what`` is the text and
    the others are ``None``. ``reason`` is the message without its fix (for a per-row problem list).

    >>> exc = CodeError(message("bad code", where="cells.code", got="'1'", fix="use 15 digits"))
    >>> exc.what, exc.where, exc.got, exc.fix
    ('bad code', 'cells.code', "'1'", 'use 15 digits')
    >>> exc.reason
    "bad code (at cells.code); got '1'"
    >>> CodeError("no class").what, CodeError("no class").fix
    ('no class', None)
    """

    what: str
    where: str | None = None
    got: object = None
    fix: str | None = None

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        first = args[0] if args else ""
        parts = vars(self)
        if isinstance(first, Message):
            for name in ("what", "where", "got", "fix"):
                parts.setdefault(name, getattr(first, name))
        else:
            parts.setdefault("what", str(first))

    @property
    def reason(self) -> str:
        """The message without its fix: *what (at where); got X*."""
        return str(Message(self.what, where=self.where, got=self.got))


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
        got = "" if self.value is None else f" (got {plain(self.value)})"
        return f"{where}: {self.reason}{got}"


def plain_value(value: object) -> object:
    """A rejected value for a report table: numpy scalars as Python numbers, tuples as ``(a, b)`` text.

    >>> import numpy as np
    >>> plain_value((np.float64(116.4), np.float64(39.9))), plain_value(np.int64(3)), plain_value("x")
    ('(116.4, 39.9)', 3, 'x')
    """
    if isinstance(value, (tuple, list)):
        return plain(value)
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        try:
            return item()
        except (TypeError, ValueError):
            return value
    return value


def group_reasons(problems: Iterable[Problem]) -> list[tuple[str, int]]:
    """Rejected rows grouped by reason, most frequent first; a row with several problems counts once, under its
    first reason, so the counts add up to the number of rejected rows.

    >>> group_reasons([Problem(1, "a", "bad"), Problem(1, "b", "worse"), Problem(2, "a", "bad")])
    [('bad', 2)]
    """
    first: dict[str, str] = {}
    for p in problems:
        first.setdefault(str(p.row), p.reason)
    counts: dict[str, int] = {}
    for reason in first.values():
        counts[reason] = counts.get(reason, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


class ValidationError(GridmapError, ValueError):
    """Input data failed validation. Carries every problem found, not just the first.

    >>> exc = UsageError(message("mode must be 'append' or 'replace'", got="'x'"))
    >>> exc.what, exc.got, str(exc)
    ("mode must be 'append' or 'replace'", "'x'", "mode must be 'append' or 'replace'; got 'x'")
    >>> ValidationError("bad rows", [Problem(3, "code", "missing")], fix="fill it").fix
    'fill it'
    """

    def __init__(self, what: str, problems: Sequence[Problem] = (), *, fix: str | None = None, limit: int = 20):
        self.what, self.fix = str(what), fix
        if isinstance(what, Message):  # UsageError(message(...)): keep the message's parts
            self.what, self.where, self.got, self.fix = what.what, what.where, what.got, fix or what.fix
        self.problems: list[Problem] = list(problems)
        lines = [str(what) + (f" ({len(self.problems)} problem(s))" if self.problems else "")]
        for p in self.problems[:limit]:
            lines.append(f"  - {p}")
        if len(self.problems) > limit:
            lines.append(f"  ... and {len(self.problems) - limit} more")
        if fix:
            lines.append(f"Fix: {fix}")
        super().__init__("\n".join(lines))


class UsageError(ValidationError):
    """A bad option value or combination of options (the CLI exits with 2, as for argparse's own errors)."""


class InputFileError(GridmapError, ValueError):
    """An input file that cannot be read at all: empty, truncated, corrupt, in another encoding, cut inside a quoted
    field ... Says which file, where in it (row, field) when known, what was found and how to fix it."""

    def __init__(self, what: str, *, path: object, row: object = None, field: str | None = None,
                 got: object = None, fix: str | None = None):
        self.path = str(path)
        self.row = row
        self.field = field
        where = self.path
        if row is not None:
            where += f", row {row}"
        if field:
            where += f", field {field!r}"
        super().__init__(message(what, where=where, got=got, fix=fix))


def plain(value: object) -> str:
    """A value as a user reads it: numpy scalars as plain numbers (``1.5``, not ``np.float64(1.5)``), tuples as
    ``(a, b)``, strings quoted.

    >>> import numpy as np
    >>> plain((np.float64(116.4), np.float64(39.9))), plain("abc"), plain(np.int64(3))
    ('(116.4, 39.9)', "'abc'", '3')
    """
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        try:
            value = item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, (tuple, list)):
        inner = ", ".join(plain(v) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    return repr(value)


class NotFoundError(GridmapError, LookupError):
    """A code or name that is not in the store; carries the nearest valid suggestions."""

    def __init__(self, what: str, *, suggestions: Iterable[str] = (), fix: str | None = None):
        self.what, self.fix = what, fix
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
        self.what = what
        self.reasons = list(reasons)
        self.relax = list(relax)
        lines = [what]
        lines += [f"  - {r}" for r in self.reasons]
        if self.relax:
            lines.append("Could be relaxed: " + "; ".join(self.relax))
        super().__init__("\n".join(lines))



class OutputError(GridmapError, ValueError):
    """An output path that must not be written (the store, an input, a foreign database) or cannot be."""
