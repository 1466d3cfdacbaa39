"""A fast yes for the common case: an instance that plainly satisfies a JSON Schema.

jsonschema spends ~100 µs on each valid entry (90% of `validate` on a real ConfigMap). The
schemas here use a handful of keywords, each a line of Python; `compile_schema` turns such a
schema into a predicate. The predicate only ever says "valid" when jsonschema would report
no error; for anything else it says "not sure" (False) and jsonschema runs, with its own
messages. A keyword it does not know makes it give up on the whole schema (None): a schema
that changes can make validation slower, never laxer. tests/test_validate.py holds it to
jsonschema's verdict on thousands of mutated entries.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

Check = Callable[[Any], bool]
FormatCheck = Callable[[Any, str], bool]

_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
}


class _Unsupported(Exception):
    """A keyword or form this module does not check: jsonschema alone decides."""


def compile_schema(schema: Any, formats: FormatCheck, assertions: Collection[str]) -> Check | None:
    """A predicate that is True only for instances valid against `schema`; None if unsure.

    `formats(value, name)` checks a `format` as the validator's format checker does;
    `assertions` are the keywords the validator checks (others, like `description` or
    `contentMediaType`, it ignores, and so does the predicate).
    """
    try:
        return _compile(schema, _Context(formats, frozenset(assertions)))
    except _Unsupported:
        return None


@dataclass(frozen=True)
class _Context:
    formats: FormatCheck
    assertions: frozenset[str]


def _compile(schema: Any, context: _Context) -> Check:  # noqa: PLR0912 - a branch a keyword
    if not isinstance(schema, dict):
        raise _Unsupported
    formats = context.formats
    checks: list[Check] = []
    for keyword, value in schema.items():
        if keyword not in context.assertions:
            continue
        if keyword == "type":
            if not isinstance(value, str) or value not in _TYPES:
                raise _Unsupported
            checks.append(_TYPES[value])
        elif keyword == "const":
            checks.append(_const(value))
        elif keyword == "pattern":
            checks.append(_pattern(value))
        elif keyword in ("minLength", "maxLength", "minItems", "maxItems"):
            checks.append(_bound(keyword, value))
        elif keyword == "uniqueItems":
            if value is True:
                checks.append(_unique_strings)
            elif value is not False:
                raise _Unsupported
        elif keyword == "format":
            checks.append(_format(value, formats))
        elif keyword == "items":
            checks.append(_items(_compile(value, context)))
        elif keyword == "required":
            checks.append(_required(value))
        elif keyword == "properties":
            if not isinstance(value, dict):
                raise _Unsupported
            properties = {name: _compile(sub, context) for name, sub in value.items()}
            checks.append(_properties(properties))
        elif keyword == "propertyNames":
            checks.append(_names(_compile(value, context)))
        elif keyword == "additionalProperties":
            declared = frozenset(schema.get("properties", {}))
            if value is False:
                checks.append(_only(declared))
            else:
                checks.append(_additional(declared, _compile(value, context)))
        else:  # $ref (inline it first), patternProperties, oneOf, numbers, ...
            raise _Unsupported
    return _all_of(tuple(checks))


def _all_of(checks: tuple[Check, ...]) -> Check:
    def check(instance: Any) -> bool:
        for one in checks:  # noqa: SIM110 - a plain loop: ~2x faster than all() and a generator
            if not one(instance):
                return False
        return True

    return check


def _const(expected: Any) -> Check:
    if not isinstance(expected, str):  # jsonschema's equality of numbers and bools is subtle
        raise _Unsupported
    return lambda value: isinstance(value, str) and value == expected


def _pattern(pattern: Any) -> Check:
    if not isinstance(pattern, str):
        raise _Unsupported
    search = re.compile(pattern).search  # jsonschema uses re.search, as here
    return lambda value: not isinstance(value, str) or search(value) is not None


def _bound(keyword: str, limit: Any) -> Check:
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise _Unsupported
    kind = str if keyword.endswith("Length") else list
    if keyword.startswith("min"):
        return lambda value: not isinstance(value, kind) or len(value) >= limit
    return lambda value: not isinstance(value, kind) or len(value) <= limit


def _unique_strings(value: Any) -> bool:
    # Strings only: jsonschema's equality of 1, 1.0 and True is not Python's.
    if not isinstance(value, list):
        return True
    return all(isinstance(item, str) for item in value) and len(set(value)) == len(value)


def _format(name: Any, formats: FormatCheck) -> Check:
    if not isinstance(name, str):
        raise _Unsupported
    return lambda value: formats(value, name)


def _items(check: Check) -> Check:
    def checked(value: Any) -> bool:
        if isinstance(value, list):
            for item in value:
                if not check(item):
                    return False
        return True

    return checked


def _required(names: Any) -> Check:
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise _Unsupported
    wanted = tuple(names)
    return lambda value: not isinstance(value, dict) or all(name in value for name in wanted)


def _properties(properties: dict[str, Check]) -> Check:
    pairs = tuple(properties.items())

    def check(value: Any) -> bool:
        if isinstance(value, dict):
            for name, sub in pairs:
                if name in value and not sub(value[name]):
                    return False
        return True

    return check


def _names(check: Check) -> Check:
    return lambda value: not isinstance(value, dict) or all(check(name) for name in value)


def _only(declared: frozenset[str]) -> Check:
    return lambda value: not isinstance(value, dict) or declared.issuperset(value)


def _additional(declared: frozenset[str], check: Check) -> Check:
    def checked(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        return all(check(item) for name, item in value.items() if name not in declared)

    return checked
