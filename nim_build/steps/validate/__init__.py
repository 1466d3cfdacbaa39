"""Check entries, ConfigMaps and EU lists against the schemas and the limits Kubernetes sets.

Every problem is collected, not just the first, each with its model and a JSON path, so one
run shows a reviewer everything there is to fix. The schemas in `schemas/` are the contract;
the few rules a JSON Schema cannot say (data key = name, image references, sort order, size,
duplicate keys) are checked here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nim_build.lazy import load_export

from .problems import Checked, Problem, ValidationFailed, json_path

# Imported on first use (PEP 562): the CLI catches ValidationFailed without loading the YAML
# and schema libraries the checks need.
_LAZY = {
    "CONFIGMAP_LIMIT": ".limits",
    "check_configmap": ".configmap",
    "check_rendered": ".configmap",
    "validate_configmap_text": ".configmap",
    "check_eu_list": ".eu_list",
    "validate_eu_list_text": ".eu_list",
    "validate_entries": ".rules",
}

if TYPE_CHECKING:
    from pathlib import Path

    from .configmap import (
        check_configmap,
        check_rendered,
        validate_configmap_text,
    )
    from .eu_list import check_eu_list, validate_eu_list_text
    from .limits import CONFIGMAP_LIMIT
    from .rules import validate_entries

__all__ = [
    "CONFIGMAP_LIMIT",
    "Checked",
    "Problem",
    "ValidationFailed",
    "check_configmap",
    "check_eu_list",
    "check_file",
    "check_rendered",
    "check_text",
    "is_eu_list",
    "json_path",
    "validate",
    "validate_configmap_text",
    "validate_entries",
    "validate_eu_list_text",
]


def __getattr__(name: str) -> Any:
    return load_export(__name__, _LAZY, name)


def is_eu_list(text: str, source: str) -> bool:
    """A `.json` file, or text that starts like a JSON array, is an EU list."""
    return source.endswith(".json") or text.lstrip().startswith("[")


def check_text(text: str, source: str) -> Checked:
    """Check a ConfigMap or an EU list, whichever `text` is."""
    if is_eu_list(text, source):
        from .eu_list import check_eu_list

        return check_eu_list(text)
    from .configmap import check_configmap

    return check_configmap(text, source)


def check_file(path: Path) -> Checked:
    from nim_build.inputs import read_text

    return check_text(read_text(path), str(path))


def validate(path: Path) -> tuple[Problem, ...]:
    """Problems of a ConfigMap or EU list file; InputFileError if it cannot be read."""
    return check_file(path).problems
