"""Add an entry to a kustomization's `resources`, leaving every other byte of it as it was.

A new line is inserted under the last entry, with that entry's indentation, at the position
ruamel.yaml's round-trip parser reports; only a list it cannot extend that way (none yet,
flow style) is written by a ruamel round trip, which keeps the other entries, their order and
their comments. Either result is parsed again and must equal the old document plus the entry.
"""

from __future__ import annotations

import posixpath
import re
from io import StringIO
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.util import load_yaml_guess_indent

from nim_build.kustomize import KustomizeError
from nim_build.steps.yaml_scalars import MAX_DEPTH, needs_quotes, nested_too_deeply

NEW_KUSTOMIZATION = (
    "# Made by nim-build place: kustomize takes this folder's ConfigMap through this file.\n"
    "apiVersion: kustomize.config.k8s.io/v1beta1\n"
    "kind: Kustomization\n"
    "resources:\n"
)
# Fields whose entries kustomize loads as resources (`bases` is the deprecated spelling).
_LISTS = ("resources", "bases")
_PLAIN = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_./@+-]*")


def normal(entry: str) -> str:
    """The form two spellings of one entry share: `../nim`, `../nim/` and `./../nim` match."""
    if "://" in entry or entry.startswith("git@"):
        return entry  # a remote base: compared as written
    return posixpath.normpath(entry.strip())


def _round_trip() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long line that was not folded
    return yaml


def _load(text: str, source: str, yaml: YAML) -> Any:
    if nested_too_deeply(text):
        raise KustomizeError(f"{source}: not valid YAML: nested more than {MAX_DEPTH} levels deep")
    try:
        document = yaml.load(text)
    except YAMLError as error:
        problem = " ".join(str(error).replace('"<unicode string>"', source).split())
        raise KustomizeError(f"{source}: not valid YAML: {problem}") from error
    if document is None:
        return CommentedMap() if "rt" in yaml.typ else {}
    if not isinstance(document, dict):
        raise KustomizeError(f"{source}: not a kustomization (its top level is not a mapping)")
    for field in _LISTS:
        entries = document.get(field)
        if entries is not None and (
            not isinstance(entries, list) or not all(isinstance(e, str) for e in entries)
        ):
            raise KustomizeError(f"{source}: `{field}` is not a list of paths")
    return document


def listed(text: str, entry: str, source: str) -> bool:
    """True when the kustomization `text` already lists `entry` (in any spelling)."""
    document = _load(text, source, YAML(typ="safe"))
    wanted = normal(entry)
    return any(normal(each) == wanted for field in _LISTS for each in document.get(field) or ())


def _inserted(text: str, document: CommentedMap, entry: str) -> str | None:
    """`text` with a line for `entry` under the last item of `resources`; None when that
    list is missing, empty or in flow style, or the entry would need quotes."""
    resources = document.get("resources")
    if not isinstance(resources, CommentedSeq) or not resources or resources.fa.flow_style():
        return None
    if not _PLAIN.fullmatch(entry) or needs_quotes(entry):
        return None
    line, column = resources.lc.item(len(resources) - 1)
    lines = text.splitlines(keepends=True)
    prefix = lines[line][:column]
    if not re.fullmatch(r" *- +", prefix):
        return None  # e.g. an item on the key's own line
    if not lines[line].endswith("\n"):
        lines[line] += "\n"
    return "".join([*lines[: line + 1], f"{prefix}{entry}\n", *lines[line + 1 :]])


def _dumped(text: str, document: CommentedMap, entry: str) -> str:
    yaml = _round_trip()
    _, indent, block_seq_indent = load_yaml_guess_indent(text)
    indent = indent or 2
    yaml.indent(mapping=indent, sequence=indent, offset=block_seq_indent or 0)
    resources = document.get("resources")
    if resources is None:
        document["resources"] = CommentedSeq([entry])
    else:
        resources.append(entry)
    stream = StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()


def with_resource(text: str | None, entry: str, source: str) -> str | None:
    """The kustomization `text` (None: no file yet) with `entry` in its `resources`; None
    when it is listed already. KustomizeError naming `source` when it cannot be read."""
    if text is None:
        return f"{NEW_KUSTOMIZATION}  - {entry}\n"
    if listed(text, entry, source):
        return None
    before = _load(text, source, YAML(typ="safe"))
    expected = {**before, "resources": [*(before.get("resources") or []), entry]}
    for make in (_inserted, _dumped):
        changed = make(text, _load(text, source, _round_trip()), entry)
        if changed is not None and _load(changed, source, YAML(typ="safe")) == expected:
            return changed
    raise KustomizeError(f"{source}: cannot add {entry} to its resources without changing more")
