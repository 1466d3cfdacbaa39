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
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
}


class _Unsupported(Exception):
    """A keyword or form this module does not check: jsonschema alone decides."""


# Keywords Draft 2020-12 validators do not assert (jsonschema ignores them too); any other
# keyword not handled below makes compile_schema give up. tests/test_fast_schema.py checks
# both lists against jsonschema's Draft202012Validator.VALIDATORS.
ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "$defs",
        "$anchor",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "contentMediaType",
        "contentEncoding",
        "contentSchema",
    }
)
HANDLED = frozenset(
    {
        "type",
        "const",
        "pattern",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "uniqueItems",
        "format",
        "items",
        "required",
        "properties",
        "propertyNames",
        "additionalProperties",
    }
)


def _datetime(value: Any) -> bool:
    # jsonschema's `date-time` check (jsonschema/_format.py, is_datetime), with the same
    # library: rfc3339-validator, a dependency for this reason.
    if not isinstance(value, str):
        return True
    from rfc3339_validator import validate_rfc3339  # type: ignore[import-untyped]

    return bool(validate_rfc3339(value.upper()))


_FORMATS: dict[str, Check] = {"date-time": _datetime}


def compile_schema(schema: Any) -> Check | None:
    """A predicate that is True only for instances valid against `schema`; None if unsure.

    It needs no jsonschema: `nim-build validate` of a valid file does not import it.
    """
    try:
        return _compile(schema)
    except _Unsupported:
        return None


_STRING_KEYWORDS = frozenset({"type", "pattern", "minLength", "maxLength", "format"})
_OBJECT_KEYWORDS = frozenset({"type", "required", "properties", "additionalProperties"})


def _compile(schema: Any) -> Check:  # noqa: PLR0912 - a branch a keyword
    if not isinstance(schema, dict):
        raise _Unsupported
    asserted = {keyword: value for keyword, value in schema.items() if keyword not in ANNOTATIONS}
    if asserted.get("type") == "string" and _STRING_KEYWORDS.issuperset(asserted):
        return _string(asserted)
    if (
        asserted.get("type") == "object"
        and asserted.get("additionalProperties") is False
        and _OBJECT_KEYWORDS.issuperset(asserted)
    ):
        return _closed_object(asserted)
    checks: list[Check] = []
    for keyword, value in schema.items():
        if keyword in ANNOTATIONS:
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
            checks.append(_format(value))
        elif keyword == "items":
            checks.append(_items(_compile(value)))
        elif keyword == "required":
            checks.append(_required(value))
        elif keyword == "properties":
            if not isinstance(value, dict):
                raise _Unsupported
            properties = {name: _compile(sub) for name, sub in value.items()}
            checks.append(_properties(properties))
        elif keyword == "propertyNames":
            checks.append(_names(_compile(value)))
        elif keyword == "additionalProperties":
            declared = frozenset(schema.get("properties", {}))
            if value is False:
                checks.append(_only(declared))
            else:
                checks.append(_additional(declared, _compile(value)))
        elif keyword == "if":
            checks.append(_conditional(value, schema.get("then", True), schema.get("else", True)))
        elif keyword in ("then", "else"):
            continue  # with their `if` (alone, JSON Schema ignores them)
        else:  # $ref (inline it first), patternProperties, oneOf, numbers, ...
            raise _Unsupported
    return _all_of(tuple(checks))


def _conditional(condition: Any, then: Any, otherwise: Any) -> Check:
    """`if`/`then`/`else`. A predicate's True is certain but its False only means "not sure",
    so when the `if` is not plainly met, both branches must hold: valid either way."""
    met = _compile(condition)
    then_holds = _always if then is True else _compile(then)
    else_holds = _always if otherwise is True else _compile(otherwise)

    def check(value: Any) -> bool:
        if met(value):
            return then_holds(value)
        return then_holds(value) and else_holds(value)

    return check


def _always(_value: Any) -> bool:
    return True


def _string(schema: dict[str, Any]) -> Check:
    """A string schema in one function: the common case, called for every field."""
    for keyword in ("minLength", "maxLength"):
        _bound(keyword, schema.get(keyword, 0))  # the same checks of the schema itself
    shortest, longest = schema.get("minLength", 0), schema.get("maxLength")
    search = _pattern(schema["pattern"]) if "pattern" in schema else None
    conforms = _format(schema["format"]) if "format" in schema else None

    def check(value: Any) -> bool:
        if not isinstance(value, str) or len(value) < shortest:
            return False
        if longest is not None and len(value) > longest:
            return False
        if search is not None and not search(value):
            return False
        return conforms is None or conforms(value)

    return check


def _closed_object(schema: dict[str, Any]) -> Check:
    """An object with the fields it requires and no others, in one function (each entry)."""
    _required(schema.get("required", []))  # the same checks of the schema itself
    required = tuple(schema.get("required", ()))
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        raise _Unsupported
    pairs = tuple((name, _compile(sub)) for name, sub in properties.items())
    declared = frozenset(properties)

    def check(value: Any) -> bool:
        if not isinstance(value, dict) or not declared.issuperset(value):
            return False
        for name in required:
            if name not in value:
                return False
        for name, sub in pairs:  # noqa: SIM110 - a plain loop is faster than all()
            if name in value and not sub(value[name]):
                return False
        return True

    return check


def _all_of(checks: tuple[Check, ...]) -> Check:
    if len(checks) == 1:
        return checks[0]

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


def _format(name: Any) -> Check:
    if not isinstance(name, str) or name not in _FORMATS:
        raise _Unsupported
    return _FORMATS[name]


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
