"""nim-build: fetch NVIDIA NIM model metadata from NGC into the nim-models-data ConfigMap.

The pipeline steps are plain functions over frozen dataclasses, importable on their own so
another tool (a Tekton step, a script) can chain them differently from the CLI:

    from nim_build import LiveSource, fetch_catalog, fetch_metadata, render_configmap

    source = LiveSource("https://api.ngc.nvidia.com", key)
    catalog = fetch_catalog(source)
    result = fetch_metadata(source, catalog.resources)
    text = render_configmap(result.entries)
"""

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
from nim_build.steps.report import render_markdown
from nim_build.steps.validate import (
    Problem,
    ValidationFailed,
    validate,
    validate_configmap_text,
    validate_entries,
    validate_eu_list_text,
)

__all__ = [
    "CONTRACT_FIELDS",
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
    "ModelChange",
    "ModelEntry",
    "ModelFailure",
    "NgcError",
    "NgcSource",
    "NimBuildError",
    "OutputError",
    "Problem",
    "RecordingSource",
    "RequestFailed",
    "Resource",
    "RetryPolicy",
    "SnapshotSource",
    "UsageError",
    "ValidationFailed",
    "diff",
    "ensure_unique_names",
    "fetch_catalog",
    "fetch_metadata",
    "load_api_key",
    "parse_configmap",
    "probe_eu",
    "read_eu_list",
    "render_configmap",
    "render_eu_list",
    "render_markdown",
    "validate",
    "validate_configmap_text",
    "validate_entries",
    "validate_eu_list_text",
    "write_atomically",
]
