"""The per-entry rules: the JSON Schemas, OCI image references, and JSON decoding."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from nim_build.models import ModelEntry
from nim_build.reference import (
    COMPONENT,
    IMAGE_NAME,
    IMAGE_NAME_MAX,
    NAMESPACE,
    TAG,
)
from nim_build.resources import MODEL_SCHEMA, schema_path

from .fast_schema import Check, compile_schema
from .messages import describe
from .problems import Problem, json_path, shorten

REGISTRY = "nvcr.io"

_TAG_ONLY = re.compile(TAG, re.ASCII)
_LOCAL_REF = "#/$defs/"
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_MESSAGE = "holds a lone surrogate (a \\ud800-\\udfff escape), which UTF-8 cannot encode"

# Note: jsonschema applies `pattern` with re.search, where `$` also matches before a final
# newline; the fullmatch checks below (image references, resourceId) close that gap.


def _inline_local_refs(node: Any, definitions: dict[str, Any]) -> Any:
    """`{"$ref": "#/$defs/x", ...}` replaced by the definition merged with the siblings."""
    if isinstance(node, list):
        return [_inline_local_refs(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(_LOCAL_REF):
        target = definitions[ref.removeprefix(_LOCAL_REF)]
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        return {**_inline_local_refs(target, definitions), **siblings}
    return {key: _inline_local_refs(value, definitions) for key, value in node.items()}


if TYPE_CHECKING:
    from jsonschema import Draft202012Validator


@cache
def _inlined_schema(name: str) -> Any:
    schema = json.loads(schema_path(name).read_text(encoding="utf-8"))
    # Same rules, but $ref lookups cost a third of the time of validating 5,000 entries.
    return _inline_local_refs(schema, schema.get("$defs", {}))


@cache
def validator(name: str) -> Draft202012Validator:
    """The bundled schema `name`, parsed once; `date-time` is checked (rfc3339-validator)."""
    from jsonschema import Draft202012Validator  # ~30 ms to import: only when needed

    checker = Draft202012Validator.FORMAT_CHECKER
    return Draft202012Validator(_inlined_schema(name), format_checker=checker)


@cache
def plainly_valid_for(name: str) -> Check | None:
    """The fast verdict for schema `name` (see fast_schema), None if it cannot give one."""
    return compile_schema(_inlined_schema(name))


def schema_problems(
    schema: str, instance: Any, model: str | None, prefix: Sequence[Any] = ()
) -> list[Problem]:
    plainly_valid = plainly_valid_for(schema)
    if plainly_valid is not None and plainly_valid(instance):
        return []  # what jsonschema would find: nothing; it runs only to say what is wrong
    return [
        Problem(model, json_path((*prefix, *error.absolute_path)), shorten(describe(error)))
        for error in validator(schema).iter_errors(instance)
    ]


def _image_problems(
    contract: dict[str, Any], model: str | None, reported: set[str]
) -> list[Problem]:
    """`nvcr.io/{namespace}/{name}:{tag}` must be a valid reference for every tag.

    Paths the schema already complained about are skipped: one cause, one problem.
    """
    namespace, name = contract.get("namespace"), contract.get("name")
    if not isinstance(namespace, str) or not isinstance(name, str):
        return []
    image = f"{REGISTRY}/{namespace}/{name}"
    if len(image) > IMAGE_NAME_MAX or not IMAGE_NAME.fullmatch(image):
        if not NAMESPACE.fullmatch(namespace):
            path = "$.namespace"
        elif not COMPONENT.fullmatch(name):
            path = "$.name"
        else:
            path = "$"
        if path in reported:
            return []
        return [Problem(model, path, shorten(f"image {image!r} is not a valid OCI reference"))]
    tags = contract.get("tags")
    latest = contract.get("latestTag")
    if isinstance(tags, list) and all(  # the usual case: every tag valid, no paths built
        isinstance(tag, str) and _valid_tag(tag) for tag in (*tags, latest)
    ):
        return []
    candidates = list(enumerate(tags)) if isinstance(tags, list) else []
    paths = [(f"$.tags[{index}]", tag) for index, tag in candidates]
    paths.append(("$.latestTag", latest))
    return [
        Problem(model, path, shorten(f"image {image}:{tag!r} is not a valid OCI reference"))
        for path, tag in paths
        if isinstance(tag, str) and path not in reported and not _valid_tag(tag)
    ]


@lru_cache(maxsize=4096)
def _valid_tag(tag: str) -> bool:
    """Whether `image:tag` is a reference, for an image name already valid: a tag holds no
    `:` or `/`, so the reference grammar comes down to its tag part (tags repeat: cached)."""
    return _TAG_ONLY.fullmatch(tag) is not None


def surrogate_problems(contract: Any, model: str | None) -> list[Problem]:
    """Strings with a lone surrogate (JSON `"\\ud800"`): no UTF-8 file or log can carry one."""
    if not isinstance(contract, dict):
        return []
    problems = []
    for field, value in contract.items():
        items = enumerate(value) if isinstance(value, list) else [(None, value)]
        for index, item in items:
            if isinstance(item, str) and not item.isascii() and _SURROGATE.search(item):
                where = json_path([field] if index is None else [field, index])
                problems.append(Problem(model, where, _SURROGATE_MESSAGE))
    return problems


def entry_problems(contract: Any, model: str | None, *, surrogates: bool = True) -> list[Problem]:
    """Problems of one decoded entry; `surrogates=False`: its JSON text could hold none."""
    problems = schema_problems(MODEL_SCHEMA, contract, model)
    if surrogates:
        problems += surrogate_problems(contract, model)
    if isinstance(contract, dict):
        problems += _image_problems(contract, model, {problem.path for problem in problems})
    return problems


def validate_entries(entries: Iterable[ModelEntry]) -> tuple[Problem, ...]:
    """Problems of entries about to be rendered: schema, image references, unique names."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for entry in entries:
        if entry.name in seen:
            problems.append(Problem(entry.name, "$.name", "duplicate model name"))
        seen.add(entry.name)
        problems += entry_problems(entry.to_contract(), entry.name)
    return tuple(problems)


# Objects as lists of (key, value) pairs, built in C: no Python call per object.
_PAIRS_DECODER = json.JSONDecoder(object_pairs_hook=list)


def decode_json(value: str) -> tuple[Any, list[str]]:
    """JSON value and the keys it repeats (json.loads would silently keep the last)."""
    if value.count("{") == 1 and value.lstrip().startswith("{"):
        # One object with nothing nested in it (a model entry, the usual case): its pairs,
        # and a repeated key is a shorter dict. Anything else takes the general way below.
        flat = _PAIRS_DECODER.decode(value)
        result = dict(flat)
        if len(result) == len(flat):
            return result, []
    repeated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(items)
        if len(result) == len(items):  # the usual case, decided without a Python loop
            return result
        seen: set[str] = set()
        for key, _item in items:
            if key in seen:
                repeated.append(key)
            seen.add(key)
        return result

    return json.loads(value, object_pairs_hook=pairs), repeated
