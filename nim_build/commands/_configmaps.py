"""ConfigMaps a command reads: diff's two inputs, and the file generate/run are about to replace.

Both go through the checks of `nim-build validate`, so a file is refused here with the same
words `validate` would use (no Python reprs, the file named), instead of half-parsed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from nim_build.errors import UsageError
from nim_build.inputs import read_text
from nim_build.models import ConfigMapData
from nim_build.steps.configmap import CONFIGMAP_NAME, ConfigMapError, configmap_from_document
from nim_build.steps.validate import Problem, is_eu_list
from nim_build.steps.yaml_scalars import nested_too_deeply
from nim_build.wording import plural

log = logging.getLogger("nim_build")


def _invalid(path: Path, problems: Sequence[Problem]) -> ConfigMapError:
    first = problems[0]
    cause = first.message if first.model is None and first.path == "$" else str(first)
    if not cause.startswith(str(path)):
        cause = f"{path}: {cause}"
    if len(problems) == 1:
        return ConfigMapError(cause)
    return ConfigMapError(
        f"{cause} (and {plural(len(problems) - 1, 'more problem')})",
        tuple(f"{path}: {problem}" for problem in problems),
    )


def _checked(path: Path, text: str) -> ConfigMapData:
    if is_eu_list(text, str(path)):
        raise ConfigMapError(f"{path}: an EU list, not a nim-models-data ConfigMap")
    from nim_build.steps.validate.configmap import checked_document

    # One parse: the entries come from the document `validate` read.
    checked, document = checked_document(text, str(path))
    if checked.problems:
        raise _invalid(path, checked.problems)
    return configmap_from_document(document, str(path))


def read_configmap(path: Path) -> ConfigMapData:
    """A nim-models-data ConfigMap that passes `validate`; ConfigMapError naming the file."""
    return _checked(path, read_text(path))


def what_it_holds(text: str) -> str:
    """ "nothing" (empty, comments only), "ours" (a nim-models-data ConfigMap, even a broken
    one: `validate` says why) or "other"."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    yaml = YAML(typ="safe")
    yaml.allow_duplicate_keys = True
    try:
        if nested_too_deeply(text):
            raise YAMLError("nested too deeply")
        document = yaml.load(text)
    except (YAMLError, RecursionError):
        # Unparsable, but e.g. ours with merge conflict markers: the name gives it away.
        return "ours" if f"name: {CONFIGMAP_NAME}" in text else "other"
    if document is None:
        return "nothing"
    if not isinstance(document, dict) or document.get("kind") != "ConfigMap":
        return "other"
    metadata = document.get("metadata")
    name = metadata.get("name", CONFIGMAP_NAME) if isinstance(metadata, dict) else CONFIGMAP_NAME
    return "ours" if name == CONFIGMAP_NAME else "other"


def read_previous(output: Path, *, strict: bool) -> ConfigMapData | None:
    """The ConfigMap currently at `output`: None when there is none (or nothing in it).

    A file holding anything else is refused: generate and run would overwrite it. A broken
    nim-models-data ConfigMap fails strict callers (run diffs against it); generate only needs
    it to carry over 451 answers, so it warns and replaces it.
    """
    if not output.exists():
        return None
    text = read_text(output)
    holds = what_it_holds(text)
    if holds == "nothing":
        return None
    if holds == "other":
        raise UsageError(
            f"refusing to overwrite {output}: it is not a {CONFIGMAP_NAME} ConfigMap "
            "(name another --output, or move the file away)"
        )
    try:
        return _checked(output, text)
    except ConfigMapError as error:
        if strict:
            raise
        log.warning("previous ConfigMap ignored: %s", error)
        return None
