"""Files shipped with the package: JSON Schemas and the demo snapshot.

A wheel carries `schemas/` inside the package (see pyproject.toml); an editable install
reads the repository's `schemas/` directly, so that folder stays the single source.
"""

from __future__ import annotations

from pathlib import Path

# The package is always a folder (a wheel installs one): no importlib.resources, which costs
# a few milliseconds at every start.
_PACKAGE_DIR = Path(__file__).resolve().parent

MODEL_SCHEMA = "nim-model.schema.json"
CONFIGMAP_SCHEMA = "nim-models-configmap.schema.json"
EU_LIST_SCHEMA = "nim-eu-restricted.schema.json"


def schema_path(name: str) -> Path:
    """Path of a bundled JSON Schema, in the wheel or in the source checkout."""
    for folder in (_PACKAGE_DIR / "schemas", _PACKAGE_DIR.parent / "schemas"):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"schema {name} is not installed with nim_build")


def demo_snapshot_path() -> Path:
    """The recorded NGC answers that `--demo` replays."""
    return _PACKAGE_DIR / "data" / "demo-snapshot.json"


def demo_eu_list_path() -> Path:
    """The EU list that goes with the demo snapshot."""
    return _PACKAGE_DIR / "data" / "demo-eu-restricted.json"
