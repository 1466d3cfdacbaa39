"""The ConfigMap checks: YAML structure (duplicate keys, aliases), schema, entries, size."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from nim_build.resources import CONFIGMAP_SCHEMA
from nim_build.steps.yaml_scalars import (
    MAX_DEPTH,
    needs_quotes,
    nested_too_deeply,
    yaml11_type,
)

from .limits import CONFIGMAP_LIMIT
from .problems import Checked, Problem, json_path, shorten
from .rules import decode_json, entry_problems, schema_problems


def _compose(text: str) -> Node | None:
    if nested_too_deeply(text):
        raise YAMLError(f"nested more than {MAX_DEPTH} levels deep")
    # typ="safe" uses libyaml when ruamel.yaml.clib is installed (~25x faster), else pure Python.
    return YAML(typ="safe").compose(text)  # type: ignore[no-any-return]


_STR = "tag:yaml.org,2002:str"


def _construct(root: Node) -> Any:
    yaml = YAML(typ="safe")
    yaml.allow_duplicate_keys = True  # already reported by _structure_problems
    data = _plain_data(root)
    if data is None:
        return yaml.constructor.construct_document(root)
    # The data section holds only plain strings (the usual case): its scalars are already
    # what the constructor would make of them, so only the envelope goes through it.
    envelope = MappingNode(root.tag, [pair for pair in root.value if pair[1] is not data])
    document = yaml.constructor.construct_document(envelope)
    section = {key.value: value.value for key, value in data.value}
    if len(section) != len(data.value):  # a repeated key (reported): the first, as constructed
        section = {}
        for key, value in data.value:
            section.setdefault(key.value, value.value)
    document["data"] = section
    return document


def _plain_data(root: Node) -> MappingNode | None:
    """The top-level `data` mapping when every key and value in it is a string scalar."""
    if not isinstance(root, MappingNode) or root.tag != "tag:yaml.org,2002:map":
        return None
    found = [
        value
        for key, value in root.value
        if isinstance(key, ScalarNode) and key.tag == _STR and key.value == "data"
    ]
    if len(found) != 1 or not isinstance(found[0], MappingNode):
        return None
    data = found[0]
    if data.tag != "tag:yaml.org,2002:map":
        return None
    for key, value in data.value:
        if not (
            isinstance(key, ScalarNode)
            and isinstance(value, ScalarNode)
            and key.tag == _STR
            and value.tag == _STR
        ):
            return None
    return data


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


def _data_key_problems(root: Node) -> list[Problem]:
    """Plain data keys that a YAML 1.1 loader (kubectl) or a 1.2 one reads as no string."""
    if not isinstance(root, MappingNode):
        return []
    data = next((v for k, v in root.value if isinstance(k, ScalarNode) and k.value == "data"), None)
    if not isinstance(data, MappingNode):
        return []
    problems = []
    for key, _value in data.value:
        if isinstance(key, ScalarNode) and not key.style and needs_quotes(key.value):
            kind = yaml11_type(key.value)
            loaders = f"YAML 1.1 loaders such as kubectl ({kind})" if kind else "YAML 1.2 loaders"
            message = (
                f"data key {key.value!r} at line {_line(key)} is no string to {loaders}: quote it"
            )
            problems.append(Problem(str(key.value), "$.data", message))
    return problems


def _value_problems(key: str, value: str) -> list[Problem]:
    try:
        decoded, repeated = decode_json(value)
    except (ValueError, RecursionError) as error:
        return [Problem(key, "$", shorten(f"value is not JSON: {error}"))]
    problems = [Problem(key, "$", f"duplicate JSON key {name!r}") for name in repeated]
    # A lone surrogate comes from a \u escape or is itself non-ASCII: most values have neither.
    surrogates = "\\u" in value or not value.isascii()
    problems += entry_problems(decoded, key, surrogates=surrogates)
    name = decoded.get("name") if isinstance(decoded, dict) else None
    if isinstance(name, str) and name != key:
        problems.append(Problem(key, "$.name", shorten(f"{name!r} is not the data key {key!r}")))
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


def check_configmap(text: str, source: str) -> Checked:
    return checked_document(text, source)[0]


def checked_document(text: str, source: str) -> tuple[Checked, Any]:
    """`check_configmap`, and the document it read (None if unreadable or aliased), so that
    a caller needs no second parse."""
    try:
        root = _compose(text)
        if root is None:
            return Checked("ConfigMap", 0, (Problem(None, "$", "the file is empty"),)), None
        problems, aliased = _structure_problems(root)
        if aliased:
            return Checked("ConfigMap", 0, tuple(problems)), None
        problems += _data_key_problems(root)
        document = _construct(root)
    except YAMLError as error:
        message = str(error).replace('"<unicode string>"', source)  # name the file
        problem = Problem(None, "$", shorten(f"not valid YAML: {message}"))
        return Checked("ConfigMap", 0, (problem,)), None
    except RecursionError:
        return Checked("ConfigMap", 0, (Problem(None, "$", "YAML nested too deeply"),)), None
    problems += schema_problems(CONFIGMAP_SCHEMA, document, None)
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        problems += _size_problems(text, {}, source)
        return Checked("ConfigMap", 0, tuple(problems)), document
    problems += _size_problems(text, data, source)
    for key, value in data.items():
        if isinstance(value, str):  # other types: the schema has said so already
            problems += _value_problems(str(key), value)
    return Checked("ConfigMap", len(data), tuple(problems)), document


def check_rendered(text: str, data: dict[str, str], source: str) -> list[Problem]:
    """What `check_configmap` adds for text nim-build rendered itself from validated entries
    (`data`: their keys and values): the envelope and the size. The data section is not
    parsed back, its entries are checked already."""
    head, section, _ = text.partition("\ndata:\n")
    envelope = check_configmap(head + "\ndata: {}\n" if section else text, source)
    return [*envelope.problems, *_size_problems(text, data, source)]


def validate_configmap_text(text: str, source: str) -> tuple[Problem, ...]:
    """Problems of a nim-models-data ConfigMap; `source` names it in file-level messages."""
    return check_configmap(text, source).problems
