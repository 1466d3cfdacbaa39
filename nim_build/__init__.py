"""nim-build: fetch NVIDIA NIM model metadata from NGC into the nim-models-data ConfigMap.

The pipeline steps are plain functions over frozen dataclasses, importable on their own so
another tool (a Tekton step, a script) can chain them differently from the CLI:

    from nim_build import LiveSource, fetch_catalog, fetch_metadata, render_configmap

    source = LiveSource("https://api.ngc.nvidia.com", key)
    catalog = fetch_catalog(source)
    result = fetch_metadata(source, catalog.resources)
    text = render_configmap(result.entries)

Each name is imported on first use (PEP 562), so `import nim_build` and `nim-build --version`
load no HTTP, YAML or schema library.
"""

from __future__ import annotations

from nim_build.lazy import load_export

TYPE_CHECKING = False  # no `typing` import: `nim-build --version` starts in milliseconds
if TYPE_CHECKING:
    from typing import Any

# The one place the version is written (pyproject.toml reads it from here: [tool.hatch.version]).
__version__ = "0.1.0"

# Public name → the module that defines it.
_EXPORTS = {
    "write_atomically": "nim_build.atomic",
    **dict.fromkeys(
        ("InputFileError", "NimBuildError", "OutputError", "UsageError"), "nim_build.errors"
    ),
    **dict.fromkeys(
        (
            "CONTRACT_FIELDS",
            "Catalog",
            "ConfigMapData",
            "EuProbeResult",
            "EuRestriction",
            "MetadataResult",
            "ModelEntry",
            "ModelFailure",
            "Resource",
        ),
        "nim_build.models",
    ),
    **dict.fromkeys(
        (
            "KeyRefused",
            "LiveSource",
            "NgcError",
            "NgcSource",
            "RecordingSource",
            "RequestFailed",
            "RetryPolicy",
            "SnapshotSource",
            "load_api_key",
        ),
        "nim_build.ngc",
    ),
    **dict.fromkeys(
        ("CatalogError", "ensure_unique_names", "fetch_catalog"), "nim_build.steps.catalog"
    ),
    **dict.fromkeys(
        ("ConfigMapError", "parse_configmap", "render_configmap"), "nim_build.steps.configmap"
    ),
    **dict.fromkeys(("Diff", "FieldChange", "ModelChange", "diff"), "nim_build.steps.diff"),
    **dict.fromkeys(("probe_eu", "read_eu_list", "render_eu_list"), "nim_build.steps.eu"),
    "fetch_metadata": "nim_build.steps.metadata",
    **dict.fromkeys(
        (
            "FORMATS",
            "RENDERERS",
            "MirroredCatalog",
            "MirrorPlan",
            "PlannedImage",
            "SelectionError",
            "mirrored_catalog",
            "mirrored_entry",
            "plan_images",
            "select_models",
        ),
        "nim_build.steps.mirror",
    ),
    "render_markdown": "nim_build.steps.report",
    **dict.fromkeys(
        (
            "Problem",
            "ValidationFailed",
            "validate",
            "validate_configmap_text",
            "validate_entries",
            "validate_eu_list_text",
        ),
        "nim_build.steps.validate",
    ),
}

__all__ = [
    "CONTRACT_FIELDS",
    "FORMATS",
    "RENDERERS",
    "Catalog",
    "CatalogError",
    "ConfigMapData",
    "ConfigMapError",
    "Diff",
    "EuProbeResult",
    "EuRestriction",
    "FieldChange",
    "InputFileError",
    "KeyRefused",
    "LiveSource",
    "MetadataResult",
    "MirrorPlan",
    "MirroredCatalog",
    "ModelChange",
    "ModelEntry",
    "ModelFailure",
    "NgcError",
    "NgcSource",
    "NimBuildError",
    "OutputError",
    "PlannedImage",
    "Problem",
    "RecordingSource",
    "RequestFailed",
    "Resource",
    "RetryPolicy",
    "SelectionError",
    "SnapshotSource",
    "UsageError",
    "ValidationFailed",
    "__version__",
    "diff",
    "ensure_unique_names",
    "fetch_catalog",
    "fetch_metadata",
    "load_api_key",
    "mirrored_catalog",
    "mirrored_entry",
    "parse_configmap",
    "plan_images",
    "probe_eu",
    "read_eu_list",
    "render_configmap",
    "render_eu_list",
    "render_markdown",
    "select_models",
    "validate",
    "validate_configmap_text",
    "validate_entries",
    "validate_eu_list_text",
    "write_atomically",
]


def __getattr__(name: str) -> Any:
    return load_export(__name__, _EXPORTS, name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # what type checkers and IDEs see: the same names, eagerly
    from nim_build.atomic import write_atomically
    from nim_build.errors import InputFileError, NimBuildError, OutputError, UsageError
    from nim_build.models import (
        CONTRACT_FIELDS,
        Catalog,
        ConfigMapData,
        EuProbeResult,
        EuRestriction,
        MetadataResult,
        ModelEntry,
        ModelFailure,
        Resource,
    )
    from nim_build.ngc import (
        KeyRefused,
        LiveSource,
        NgcError,
        NgcSource,
        RecordingSource,
        RequestFailed,
        RetryPolicy,
        SnapshotSource,
        load_api_key,
    )
    from nim_build.steps.catalog import CatalogError, ensure_unique_names, fetch_catalog
    from nim_build.steps.configmap import ConfigMapError, parse_configmap, render_configmap
    from nim_build.steps.diff import Diff, FieldChange, ModelChange, diff
    from nim_build.steps.eu import probe_eu, read_eu_list, render_eu_list
    from nim_build.steps.metadata import fetch_metadata
    from nim_build.steps.mirror import (
        FORMATS,
        RENDERERS,
        MirroredCatalog,
        MirrorPlan,
        PlannedImage,
        SelectionError,
        mirrored_catalog,
        mirrored_entry,
        plan_images,
        select_models,
    )
    from nim_build.steps.report import render_markdown
    from nim_build.steps.validate import (
        Problem,
        ValidationFailed,
        validate,
        validate_configmap_text,
        validate_entries,
        validate_eu_list_text,
    )
