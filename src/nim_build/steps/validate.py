"""Check entries, ConfigMaps and EU lists against the schemas and the limits Kubernetes sets.

Every problem is collected, not just the first, each with its model and a JSON path, so one
run shows a reviewer everything there is to fix. The schemas in `schemas/` are the contract;
the few rules a JSON Schema cannot say (data key = name, image references, sort order, size,
duplicate keys) are checked here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from nim_build.errors import NimBuildError
from nim_build.inputs import read_text
from nim_build.models import ModelEntry
from nim_build.resources import CONFIGMAP_SCHEMA, EU_LIST_SCHEMA, MODEL_SCHEMA, schema_path

# Kubernetes refuses a ConfigMap whose data keys and values exceed 1 MiB in total.
CONFIGMAP_LIMIT = 1_048_576
REGISTRY = "nvcr.io"
_MESSAGE_LIMIT = 300  # a schema message quotes the value; a 1 MB value must not flood stderr

# The OCI distribution reference grammar (github.com/distribution/reference, regexp.go).
_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_PATH_COMPONENT = rf"{_ALPHANUMERIC}(?:{_SEPARATOR}{_ALPHANUMERIC})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_IMAGE_NAME_MAX = 255  # NameTotalLengthMax: domain and path together
_IMAGE_NAME = re.compile(rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*", re.ASCII)
_IMAGE_REFERENCE = re.compile(rf"{_IMAGE_NAME.pattern}(?::{_TAG})?", re.ASCII)
_COMPONENT = re.compile(_PATH_COMPONENT, re.ASCII)
_NAMESPACE = re.compile(rf"{_PATH_COMPONENT}/{_PATH_COMPONENT}", re.ASCII)
_RESOURCE_ID = re.compile(rf"{_PATH_COMPONENT}/{_PATH_COMPONENT}/{_PATH_COMPONENT}", re.ASCII)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LOCAL_REF = "#/$defs/"

# Note: jsonschema applies `pattern` with re.search, where `$` also matches before a final
# newline; the fullmatch checks below (image references, resourceId) close that gap.


@dataclass(frozen=True)
class Problem:
    """One thing wrong, with the model it belongs to (None: the file) and a JSON path."""

    model: str | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: {self.message}"
        return where if self.model is None else f"{self.model}: {where}"


class ValidationFailed(NimBuildError):
    """Output that breaks the contract; `problems` holds every one of them."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        if not self.problems:
            message = "validation failed"
        elif len(self.problems) == 1:
            message = f"validation failed: {self.problems[0]}"
        else:
            message = f"validation failed with {len(self.problems)} problems, the first: "
            message += str(self.problems[0])
        super().__init__(message)


@dataclass(frozen=True)
class Checked:
    """What `check_text` found in one file: its kind, how many models, and the problems."""

    kind: str  # "ConfigMap" or "EU list"
    models: int
    problems: tuple[Problem, ...]


# --------------------------------------------------------------------------- helpers


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


@cache
def _validator(name: str) -> Draft202012Validator:
    """The bundled schema `name`, parsed once; `date-time` is checked (rfc3339-validator)."""
    schema = json.loads(schema_path(name).read_text(encoding="utf-8"))
    # Same rules, but $ref lookups cost a third of the time of validating 5,000 entries.
    schema = _inline_local_refs(schema, schema.get("$defs", {}))
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def json_path(parts: Iterable[Any]) -> str:
    """`$.tags[0]`, `$.metadata.labels['opendatahub.io/managed']`."""
    path = "$"
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(part, str) and _IDENTIFIER.fullmatch(part):
            path += f".{part}"
        else:
            quoted = str(part).replace("\\", "\\\\").replace("'", "\\'")
            path += f"['{quoted}']"
    return path


def _shorten(message: str) -> str:
    message = " ".join(message.split())
    return message if len(message) <= _MESSAGE_LIMIT else message[: _MESSAGE_LIMIT - 1] + "…"


def _schema_problems(
    schema: str, instance: Any, model: str | None, prefix: Sequence[Any] = ()
) -> list[Problem]:
    return [
        Problem(model, json_path((*prefix, *error.absolute_path)), _shorten(error.message))
        for error in _validator(schema).iter_errors(instance)
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
    if len(image) > _IMAGE_NAME_MAX or not _IMAGE_NAME.fullmatch(image):
        if not _NAMESPACE.fullmatch(namespace):
            path = "$.namespace"
        elif not _COMPONENT.fullmatch(name):
            path = "$.name"
        else:
            path = "$"
        if path in reported:
            return []
        return [Problem(model, path, _shorten(f"image {image!r} is not a valid OCI reference"))]
    tags = contract.get("tags")
    candidates = list(enumerate(tags)) if isinstance(tags, list) else []
    paths = [(f"$.tags[{index}]", tag) for index, tag in candidates]
    paths.append(("$.latestTag", contract.get("latestTag")))
    return [
        Problem(model, path, _shorten(f"image {image}:{tag!r} is not a valid OCI reference"))
        for path, tag in paths
        if isinstance(tag, str)
        and path not in reported
        and not _IMAGE_REFERENCE.fullmatch(f"{image}:{tag}")
    ]


def _entry_problems(contract: Any, model: str | None) -> list[Problem]:
    problems = _schema_problems(MODEL_SCHEMA, contract, model)
    if isinstance(contract, dict):
        problems += _image_problems(contract, model, {problem.path for problem in problems})
    return problems


# --------------------------------------------------------------------------- entries


def validate_entries(entries: Iterable[ModelEntry]) -> tuple[Problem, ...]:
    """Problems of entries about to be rendered: schema, image references, unique names."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for entry in entries:
        if entry.name in seen:
            problems.append(Problem(entry.name, "$.name", "duplicate model name"))
        seen.add(entry.name)
        problems += _entry_problems(entry.to_contract(), entry.name)
    return tuple(problems)


# --------------------------------------------------------------------------- ConfigMap


def _compose(text: str) -> Node | None:
    # typ="safe" uses libyaml when ruamel.yaml.clib is installed (~25x faster), else pure Python.
    return YAML(typ="safe").compose(text)  # type: ignore[no-any-return]


def _construct(root: Node) -> Any:
    yaml = YAML(typ="safe")
    yaml.allow_duplicate_keys = True  # already reported by _structure_problems
    return yaml.constructor.construct_document(root)


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _walk(root: Node) -> Iterator[tuple[Node, tuple[Any, ...], bool]]:
    """Every node with its path, depth first; the flag marks a node seen before (an alias)."""
    seen: set[int] = set()
    stack: list[tuple[Node, tuple[Any, ...]]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        again = id(node) in seen
        seen.add(id(node))
        yield node, path, again
        if again:
            continue
        if isinstance(node, MappingNode):
            children = [
                (value, (*path, key.value if isinstance(key, ScalarNode) else "?"))
                for key, value in node.value
            ]
        elif isinstance(node, SequenceNode):
            children = [(item, (*path, index)) for index, item in enumerate(node.value)]
        else:
            children = []
        stack.extend(reversed(children))


def _structure_problems(root: Node) -> tuple[list[Problem], bool]:
    """Duplicate keys (a YAML loader would silently keep one) and aliases; True if aliased."""
    problems: list[Problem] = []
    aliased = False
    for node, path, again in _walk(root):
        if again:
            # Our output never has aliases; refusing them also rules out "billion laughs".
            aliased = True
            problems.append(Problem(None, json_path(path), "YAML aliases are not allowed"))
            continue
        if not isinstance(node, MappingNode):
            continue
        first: dict[str, int] = {}
        for key, _value in node.value:
            if not isinstance(key, ScalarNode):
                continue
            name = str(key.value)
            if name in first:
                model = name if path == ("data",) else None
                message = (
                    f"duplicate key {name!r} at line {_line(key)} (first at line {first[name]})"
                )
                problems.append(Problem(model, json_path(path), message))
            else:
                first[name] = _line(key)
    return problems, aliased


def _decode(value: str) -> tuple[Any, list[str]]:
    """JSON value and the keys it repeats (json.loads would silently keep the last)."""
    repeated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, item in items:
            if key in result:
                repeated.append(key)
            result[key] = item
        return result

    return json.loads(value, object_pairs_hook=pairs), repeated


def _value_problems(key: str, value: str) -> list[Problem]:
    try:
        decoded, repeated = _decode(value)
    except (ValueError, RecursionError) as error:
        return [Problem(key, "$", _shorten(f"value is not JSON: {error}"))]
    problems = [Problem(key, "$", f"duplicate JSON key {name!r}") for name in repeated]
    problems += _entry_problems(decoded, key)
    name = decoded.get("name") if isinstance(decoded, dict) else None
    if isinstance(name, str) and name != key:
        problems.append(Problem(key, "$.name", _shorten(f"{name!r} is not the data key {key!r}")))
    return problems


def _size_problems(text: str, data: dict[Any, Any], source: str) -> list[Problem]:
    problems = []
    size = len(text.encode("utf-8"))
    if size > CONFIGMAP_LIMIT:
        problems.append(
            Problem(None, "$", f"{source} is {size:,} bytes, over the 1 MiB ConfigMap limit")
        )
    data_size = sum(
        len(str(key).encode("utf-8")) + len(value.encode("utf-8"))
        for key, value in data.items()
        if isinstance(value, str)
    )
    if data_size > CONFIGMAP_LIMIT:
        problems.append(
            Problem(
                None,
                "$.data",
                f"data keys and values total {data_size:,} bytes, over the "
                f"{CONFIGMAP_LIMIT:,}-byte ConfigMap limit",
            )
        )
    return problems


def _check_configmap(text: str, source: str) -> Checked:
    try:
        root = _compose(text)
        if root is None:
            return Checked("ConfigMap", 0, (Problem(None, "$", f"{source} is empty"),))
        problems, aliased = _structure_problems(root)
        if aliased:
            return Checked("ConfigMap", 0, tuple(problems))
        document = _construct(root)
    except YAMLError as error:
        return Checked("ConfigMap", 0, (Problem(None, "$", _shorten(f"not valid YAML: {error}")),))
    except RecursionError:
        return Checked("ConfigMap", 0, (Problem(None, "$", "YAML nested too deeply"),))
    problems += _schema_problems(CONFIGMAP_SCHEMA, document, None)
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        problems += _size_problems(text, {}, source)
        return Checked("ConfigMap", 0, tuple(problems))
    problems += _size_problems(text, data, source)
    for key, value in data.items():
        if isinstance(value, str):  # other types: the schema has said so already
            problems += _value_problems(str(key), value)
    return Checked("ConfigMap", len(data), tuple(problems))


def validate_configmap_text(text: str, source: str) -> tuple[Problem, ...]:
    """Problems of a nim-models-data ConfigMap; `source` names it in file-level messages."""
    return _check_configmap(text, source).problems


# --------------------------------------------------------------------------- EU list


def _order_problems(items: list[tuple[int, dict[str, Any]]]) -> list[Problem]:
    """Sorted by name, names unique, resourceId = org/team/name and a valid repository."""
    problems: list[Problem] = []
    first: dict[str, int] = {}
    previous: str | None = None
    unsorted = False
    for index, item in items:
        name = item.get("name")
        if not isinstance(name, str):
            continue
        if name in first:
            problems.append(
                Problem(name, f"$[{index}].name", f"duplicate name (first at $[{first[name]}])")
            )
        first.setdefault(name, index)
        if previous is not None and name < previous and not unsorted:
            unsorted = True  # one problem says it; a reversed list would give one per entry
            problems.append(
                Problem(name, f"$[{index}].name", f"not sorted by name: comes after {previous!r}")
            )
        previous = name
        parts = [
            part for part in (item.get("org"), item.get("team"), name) if isinstance(part, str)
        ]
        resource_id = item.get("resourceId")
        if isinstance(resource_id, str) and len(parts) == 3:
            expected = "/".join(parts)
            if resource_id != expected:
                message = f"{resource_id!r} is not org/team/name {expected!r}"
                problems.append(Problem(name, f"$[{index}].resourceId", _shorten(message)))
            elif not _RESOURCE_ID.fullmatch(resource_id):
                message = f"{resource_id!r} is not a valid image repository path"
                problems.append(Problem(name, f"$[{index}].resourceId", _shorten(message)))
    return problems


def _check_eu_list(text: str) -> Checked:
    try:
        document, repeated = _decode(text)
    except (ValueError, RecursionError) as error:
        return Checked("EU list", 0, (Problem(None, "$", _shorten(f"not valid JSON: {error}")),))
    problems = [Problem(None, "$", f"duplicate JSON key {name!r}") for name in repeated]
    if not isinstance(document, list):
        problems += _schema_problems(EU_LIST_SCHEMA, document, None)
        return Checked("EU list", 0, tuple(problems))
    items = [(index, item) for index, item in enumerate(document) if isinstance(item, dict)]
    names = {index: item.get("name") for index, item in items}
    for failure in _validator(EU_LIST_SCHEMA).iter_errors(document):
        where = failure.absolute_path
        name = names.get(where[0]) if where and isinstance(where[0], int) else None
        model = name if isinstance(name, str) else None
        problems.append(Problem(model, json_path(where), _shorten(failure.message)))
    problems += _order_problems(items)
    return Checked("EU list", len(document), tuple(problems))


def validate_eu_list_text(text: str, source: str) -> tuple[Problem, ...]:
    """Problems of an EU list (`[{name, resourceId, org, team}]`, sorted by name)."""
    del source  # every problem names its entry; kept for symmetry with the ConfigMap check
    return _check_eu_list(text).problems


# --------------------------------------------------------------------------- files


def is_eu_list(text: str, source: str) -> bool:
    """A `.json` file, or text that starts like a JSON array, is an EU list."""
    return source.endswith(".json") or text.lstrip().startswith("[")


def check_text(text: str, source: str) -> Checked:
    """Check a ConfigMap or an EU list, whichever `text` is."""
    return _check_eu_list(text) if is_eu_list(text, source) else _check_configmap(text, source)


def check_file(path: Path) -> Checked:
    return check_text(read_text(path), str(path))


def validate(path: Path) -> tuple[Problem, ...]:
    """Problems of a ConfigMap or EU list file; InputFileError if it cannot be read."""
    return check_file(path).problems
