"""One base for the string options gridmap validates against an Enum.

:class:`ChoiceEnum` gives every option enum the same ``parse``: a member passes through, text is matched after
:meth:`ChoiceEnum._key` (stripped and lower-cased unless the enum says otherwise) against the values and the
enum's aliases, and anything else raises the enum's error listing the valid values.

>>> class Colour(ChoiceEnum, what="colour"):
...     RED = "red"
...     BLUE = "blue"
>>> Colour.parse(" Red "), Colour.parse(Colour.BLUE)
(<Colour.RED: 'red'>, <Colour.BLUE: 'blue'>)
>>> Colour.parse("green")
Traceback (most recent call last):
...
gridmap.errors.ValidationError: unknown colour; got 'green'. Fix: use one of red, blue
"""

from __future__ import annotations

import enum
from typing import Any

from gridmap.errors import GridmapError, ValidationError, message

__all__ = ["ChoiceEnum"]


class ChoiceEnum(str, enum.Enum):
    """A string option: ``parse`` turns user text into a member or raises a gridmap error naming the choices.

    Subclasses name what they choose (``class Scale(ChoiceEnum, what="map scale")``) and may override
    :meth:`_key` (how text is normalised), :meth:`_aliases` (other spellings) and :meth:`_unknown` (the error).
    """

    def __init_subclass__(cls, *, what: str = "value", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._what = what

    @classmethod
    def parse(cls, value: Any) -> Any:
        """The member ``value`` names; a member is returned as it is."""
        if isinstance(value, cls):
            return value
        key = cls._key(value)
        aliases = cls._aliases()
        if isinstance(key, str) and key in aliases:
            return aliases[key]
        try:
            return cls(key)
        except ValueError:
            raise cls._unknown(value) from None

    @classmethod
    def _key(cls, value: Any) -> Any:
        return str(value).strip().lower()

    @classmethod
    def _aliases(cls) -> dict[Any, Any]:
        return {}

    @classmethod
    def _unknown(cls, value: Any) -> GridmapError:
        return ValidationError(message(f"unknown {cls._what}", got=repr(value), fix="use one of " + cls.choices()))

    @classmethod
    def choices(cls) -> str:
        """The valid values, comma-separated, in definition order."""
        return ", ".join(m.value for m in cls)
