"""ConfigMaps a command reads: diff's two inputs, and the file generate/run are about to replace.

Both go through the checks of `nim-build validate`, so a file is refused here with the same
words `validate` would use (no Python reprs, the file named), instead of half-parsed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nim_build.errors import UsageError
from nim_build.inputs import read_text
from nim_build.models import ConfigMapData
from nim_build.outputs import OutputKind
from nim_build.steps.configmap import (
    CONFIGMAP_NAME,
    HEADER,
    ConfigMapError,
    configmap_from_document,
)
from nim_build.steps.validate import Problem, is_eu_list
from nim_build.steps.yaml_scalars import nested_too_deeply
from nim_build.wording import plural

from ._stdio import input_name, read_input

log = logging.getLogger("nim_build")
_KIND_CONFIGMAP = re.compile(r"""^kind:[ \t]*(["']?)ConfigMap\1[ \t]*(#.*)?$""", re.M)
_DOCUMENT_START = re.compile(r"^---", re.M)


def _looks_like_configmap(head: str) -> bool:
    """nim-build's header, or one YAML document whose first lines say `kind: ConfigMap`."""
    if head.startswith(f"# {HEADER.splitlines()[0]}"):
        return True
    body = _DOCUMENT_START.sub("", head, count=1) if head.startswith("---") else head
    return bool(_KIND_CONFIGMAP.search(body)) and not _DOCUMENT_START.search(body)


# What generate, run and mirror-configmap may replace (each then reads it whole: a ConfigMap
# named otherwise is refused there, see configmap_to_replace).
CONFIGMAP_OUTPUT = OutputKind("a ConfigMap", _looks_like_configmap)


def _invalid(name: str, problems: Sequence[Problem]) -> ConfigMapError:
    first = problems[0]
    cause = first.message if first.model is None and first.path == "$" else str(first)
    if not cause.startswith(name):
        cause = f"{name}: {cause}"
    if len(problems) == 1:
        return ConfigMapError(cause)
    return ConfigMapError(
        f"{cause} (and {plural(len(problems) - 1, 'more problem')})",
        tuple(f"{name}: {problem}" for problem in problems),
    )


def _checked(name: str, text: str) -> ConfigMapData:
    if is_eu_list(text, name):
        raise ConfigMapError(f"{name}: an EU list, not a nim-models-data ConfigMap")
    from nim_build.steps.validate.configmap import checked_document

    # One parse: the entries come from the document `validate` read.
    checked, document = checked_document(text, name)
    if checked.problems:
        raise _invalid(name, checked.problems)
    return configmap_from_document(document, name)


def read_configmap(path: Path) -> ConfigMapData:
    """A nim-models-data ConfigMap that passes `validate`; ConfigMapError naming the file.

    `-` reads stdin (named `stdin` in messages).
    """
    return _checked(input_name(path), read_input(path))


def _several_documents(yaml: Any, text: str) -> bool:
    """True when `text` is a YAML stream of more than one document with content."""
    from ruamel.yaml.error import YAMLError

    try:
        return sum(1 for document in yaml.load_all(text) if document is not None) > 1
    except (YAMLError, RecursionError):
        return False


def what_it_holds(text: str, name: str = CONFIGMAP_NAME) -> str:
    """ "nothing" (empty, comments only), "ours" (a ConfigMap of that name, even a broken
    one: `validate` says why) or "other"."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    yaml = YAML(typ="safe")
    yaml.allow_duplicate_keys = True
    deep = nested_too_deeply(text)  # the C parser would overflow its stack: never parsed
    try:
        if deep:
            raise YAMLError("nested too deeply")
        document = yaml.load(text)
    except (YAMLError, RecursionError):
        if not deep and _several_documents(yaml, text):  # ours and more: not ours to replace
            return "other"
        # Unparsable, but e.g. ours with merge conflict markers: the name gives it away.
        return "ours" if f"name: {name}" in text else "other"
    if document is None:
        return "nothing"
    if not isinstance(document, dict) or document.get("kind") != "ConfigMap":
        return "other"
    metadata = document.get("metadata")
    # Nameless: a broken one of ours, whichever name the run writes (validate says why).
    found = metadata.get("name", name) if isinstance(metadata, dict) else name
    return "ours" if found == name else "other"


def configmap_to_replace(output: Path, name: str) -> str | None:
    """The text of the ConfigMap named `name` at `output`, which a run may replace; None when
    there is none (or nothing in it). A file holding anything else, a ConfigMap of another name
    too, is refused: it is not this run's to overwrite."""
    if not output.exists():
        return None
    text = read_text(output)
    holds = what_it_holds(text, name)
    if holds == "nothing":
        return None
    if holds == "other":
        raise UsageError(
            f"refusing to overwrite {output}: it is not a {name} ConfigMap "
            "(name another --output, or move the file away)"
        )
    return text


def read_previous(
    output: Path, *, strict: bool, name: str = CONFIGMAP_NAME
) -> ConfigMapData | None:
    """The ConfigMap currently at `output`: None when there is none (or nothing in it).

    A file holding anything else is refused: generate and run would overwrite it. A broken
    nim-models-data ConfigMap fails strict callers (run diffs against it); generate only needs
    it to carry over 451 answers, so it warns and replaces it.
    """
    text = configmap_to_replace(output, name)
    if text is None:
        return None
    try:
        return _checked(str(output), text)
    except ConfigMapError as error:
        if strict:
            raise
        log.warning("previous ConfigMap ignored: %s", error)
        return None
