"""Checks every request value passes before it reaches the database or a library.

PostgreSQL refuses NUL characters in text, columns have lengths, Python's json recurses once per nesting level and
``int()`` refuses very long digit strings: each of these would otherwise surface as a 500. Values are checked here,
explicitly, and refused with :class:`InputError` (a 400 with a human message); names the LMS sends for display are
cleaned instead, so a learner with an odd name can still launch.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import sqlalchemy as sa
from werkzeug.routing import IntegerConverter
from werkzeug.routing import Map

# C0 controls (NUL included), DEL and C1 controls. Tab, newline and carriage return are allowed only in free text.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_BEYOND_LATIN1 = re.compile(r"[^\x00-\xff]")  # what an HTTP header value cannot carry
_CONTROL_EXCEPT_WHITESPACE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
JSON_MAX_DEPTH = 32
NUMBER_MAX_CHARS = 40  # a score or an id never needs more; int() and float() stay fast and never refuse


class InputError(ValueError):
    """A request value is refused; ``message`` says which and why (shown to the caller, logged)."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def column_length(column: Any) -> int | None:
    """The length limit of a mapped ``sa.String`` column (``Model.column``), ``None`` when unbounded."""
    expression = getattr(column, "expression", column)
    column_type = getattr(expression, "type", None)
    return column_type.length if isinstance(column_type, sa.String) else None


def has_control(value: str, allow_whitespace: bool = False) -> bool:
    pattern = _CONTROL_EXCEPT_WHITESPACE if allow_whitespace else _CONTROL
    return pattern.search(value) is not None


def checked_text(value: Any, field: str, column: Any = None, max_length: int | None = None) -> str:
    """``value`` as a string with no control characters, no longer than ``column`` (or ``max_length``) allows.

    :raise InputError: it has control characters or is too long.
    """
    text = str(value)
    if has_control(text):
        raise InputError(f"{field} contains control characters (such as NUL), which are not allowed.")
    limit = max_length if max_length is not None else column_length(column) if column is not None else None
    if limit is not None and len(text) > limit:
        raise InputError(f"{field} is longer than {limit} characters.")
    return text


def cleaned_text(value: Any, column: Any = None, max_length: int | None = None) -> str | None:
    """A display value (a name, a title) with control characters removed and cut to the column's length;
    ``None`` when nothing is left."""
    if value is None:
        return None
    text = " ".join(_CONTROL.sub(" ", str(value)).split())
    limit = max_length if max_length is not None else column_length(column) if column is not None else None
    if limit is not None:
        text = text[:limit].rstrip()
    return text or None


def parse_json(raw: bytes | str, field: str = "The body", max_depth: int = JSON_MAX_DEPTH) -> Any:
    """Parse JSON with bounded nesting and bounded numbers; NaN and Infinity are refused.

    :raise InputError: not UTF-8, not JSON, nested deeper than ``max_depth``, or a number longer than
        :data:`NUMBER_MAX_CHARS`.
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise InputError(f"{field} is not UTF-8 text.") from exc
    # The depth cannot exceed the count of opening brackets (inside strings or not): only a text with more of them
    # than the limit needs the walk.
    if text.count("[") + text.count("{") > max_depth and _depth(text) > max_depth:
        raise InputError(f"{field} is nested deeper than {max_depth} levels.")
    try:
        return json.loads(text, parse_int=_bounded_int, parse_float=_bounded_float, parse_constant=_no_constant)
    except InputError:
        raise
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{field} is not valid JSON: {exc}.") from exc


def _depth(text: str) -> int:
    """The deepest nesting of arrays/objects, ignoring brackets inside strings (one pass, no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _bounded_int(text: str) -> int:
    if len(text) > NUMBER_MAX_CHARS:
        raise InputError(f"A number in the JSON has more than {NUMBER_MAX_CHARS} digits.")
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > NUMBER_MAX_CHARS:
        raise InputError(f"A number in the JSON has more than {NUMBER_MAX_CHARS} characters.")
    number = float(text)
    if not math.isfinite(number):
        raise InputError(f"The number {text} is too large.")
    return number


def _no_constant(name: str) -> float:
    raise InputError(f"{name} is not a number.")


# The bodies werkzeug parses into ``request.form``; every other body leaves the form empty.
FORM_MIMETYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def request_problem(path: str, values: Any, headers: Any) -> str | None:
    """What is wrong with a request's path, query/form values or header values, or ``None``.

    Control characters are refused everywhere (tab, newline and carriage return are allowed in form values, for
    text areas); header values must be latin-1, which is all HTTP can carry.
    """
    if has_control(path):
        return "The address contains control characters (such as NUL)."
    # One search over all names and one over all values (joined by a space, which is not refused) finds nothing
    # in an ordinary request; only a hit pays for finding which field it is in.
    pairs = list(values.items(multi=True))
    header_values = [value for _name, value in headers.items()]
    if (not has_control(" ".join(name for name, _value in pairs))
            and not has_control(" ".join(value for _name, value in pairs), allow_whitespace=True)
            and not has_control(" ".join(header_values))
            and all(value.isascii() or not _BEYOND_LATIN1.search(value) for value in header_values)):
        return None
    for name, value in pairs:
        if has_control(name) or has_control(value, allow_whitespace=True):
            return f"The value of {_shown(name)!r} contains control characters (such as NUL)."
    for name, value in headers.items():
        if has_control(value) or (not value.isascii() and _BEYOND_LATIN1.search(value)):
            return f"The {_shown(name)} header holds characters HTTP headers cannot carry."
    return None


def _shown(name: str) -> str:
    return _CONTROL.sub("?", name)[:60]


DATABASE_INT_MAX = 2**31 - 1  # the primary keys are INTEGER on PostgreSQL


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` route parameters no larger than a database key, so a 400-digit id is a 404, not a
    PostgreSQL "integer out of range" 500."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = DATABASE_INT_MAX, signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)
