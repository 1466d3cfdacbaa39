"""Schema failures in the words of the file being checked: JSON values, not Python reprs.

jsonschema's own messages quote values with `repr` (`None is not of type 'object'`,
`'no' is not of type 'boolean'`); a user wrote YAML or JSON, so values are shown as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import ValidationError

from nim_build.safe_text import clip

_QUOTED_LIMIT = 60
_KINDS = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "boolean": "a boolean",
    "integer": "an integer",
    "number": "a number",
    "null": "null",
}


def as_json(value: Any) -> str:
    """`value` as it would be written in JSON, cut to a readable length."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (ValueError, RecursionError):
        text = str(value)
    return clip(text, _QUOTED_LIMIT)


# bool before int: True is an int to Python, a boolean to JSON.
_PYTHON_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (type(None), "null"),
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    ((list, tuple), "an array"),
    (dict, "an object"),
)


def kind_of(value: Any) -> str:
    """The JSON kind of a decoded value: `an object`, `a string`, `null`, ..."""
    for python_type, kind in _PYTHON_KINDS:
        if isinstance(value, python_type):
            return kind
    return f"a {type(value).__name__}"


def _names(names: Any) -> str:
    return ", ".join(str(name) for name in names)


def _fields(label: str, names: list[str]) -> str:
    return f"{label} {'field' if len(names) == 1 else 'fields'} {_names(names)}"


def _type(expected: Any, value: Any, _error: ValidationError) -> str:
    kinds = expected if isinstance(expected, list) else [expected]
    wanted = " or ".join(_KINDS.get(str(kind), str(kind)) for kind in kinds)
    shown = "" if value is None else f" {as_json(value)}"
    return f"expected {wanted}, got {kind_of(value)}{shown}"


def _required(expected: Any, value: Any, error: ValidationError) -> str:
    # jsonschema reports each missing field as its own error; its message names which one.
    missing = [name for name in expected if name not in value]
    named = [name for name in missing if repr(name) in error.message]
    return _fields("missing required", named[:1] or missing)


def _additional(_expected: Any, value: Any, error: ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    allowed = set(schema.get("properties", {}))
    return _fields("unexpected", sorted(str(name) for name in value if name not in allowed))


_RULES: dict[str, Any] = {
    "type": _type,
    "required": _required,
    "additionalProperties": _additional,
    "const": lambda expected, value, _: f"expected {as_json(expected)}, got {as_json(value)}",
    "enum": lambda expected, value, _: (
        f"expected one of {_names(map(as_json, expected))}, got {as_json(value)}"
    ),
    "pattern": lambda expected, value, _: f"{as_json(value)} does not match the pattern {expected}",
    "format": lambda expected, value, _: f"{as_json(value)} is not a valid {expected}",
    "minLength": lambda expected, value, _: (
        f"{as_json(value)} is too short: at least {expected} characters"
    ),
    "maxLength": lambda expected, value, _: (
        f"{as_json(value)} is too long: at most {expected} characters"
    ),
    "minItems": lambda expected, value, _: (
        f"needs at least {expected} item{'' if expected == 1 else 's'}, has {len(value)}"
    ),
    "uniqueItems": lambda _expected, value, _: f"items must be unique: {as_json(value)}",
}


def describe(error: ValidationError) -> str:
    """One schema failure as a sentence about the document's own values."""
    rule = _RULES.get(str(error.validator))
    try:
        return str(rule(error.validator_value, error.instance, error)) if rule else error.message
    except (TypeError, AttributeError):  # an instance of an unexpected shape: the original
        return str(error.message)
