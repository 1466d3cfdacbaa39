"""Strict JSON Schemas for tekton.dev/v1 Task and PipelineRun, from tektoncd/pipeline's own CRDs.

tests/data/tekton/{task,pipelinerun}.v1.json are the CRDs' openAPIV3Schema for v1 (generated from
the Go types of pkg/apis/pipeline/v1; vendored by .ci/vendor-tekton-schemas, provenance in
tests/data/tekton/crds.json). The API server prunes unknown fields silently; here every object
that lists its properties forbids others (where the CRD does not say
x-kubernetes-preserve-unknown-fields), so a misspelt field is an error, not a no-op.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

DATA = Path(__file__).resolve().parent / "data" / "tekton"
KINDS = {"Task": "task", "PipelineRun": "pipelinerun"}

# ObjectMeta as a manifest in a repository may set it (the CRDs say only `type: object`).
OBJECT_META: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
        "namespace": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def strict(node: Any) -> Any:
    """The OpenAPI v3 node as JSON Schema, closed wherever the CRD lists the properties."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: strict(value) for key, value in node.items()}
    if node.get("x-kubernetes-int-or-string"):
        result.pop("type", None)
        result["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and isinstance(node.get("type"), str):
        result["type"] = [node["type"], "null"]
    preserve = node.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in node and "additionalProperties" not in node and not preserve:
        result["additionalProperties"] = False
    return result


@cache
def validator(kind: str) -> Draft202012Validator:
    schema = strict(json.loads((DATA / f"{KINDS[kind]}.v1.json").read_text(encoding="utf-8")))
    schema["properties"]["apiVersion"] = {"const": "tekton.dev/v1"}
    schema["properties"]["kind"] = {"const": kind}
    schema["properties"]["metadata"] = OBJECT_META
    schema["required"] = ["apiVersion", "kind", "metadata", "spec"]
    schema["properties"].pop("status", None)  # a manifest in a repository carries no status
    return Draft202012Validator(schema)


def problems(document: Any) -> list[str]:
    """One line per schema violation: the path in the document and the reason."""
    kind = document.get("kind") if isinstance(document, dict) else None
    if kind not in KINDS:
        return [f"kind: {kind!r} is not one of {sorted(KINDS)}"]
    return [
        f"{'.'.join(str(p) for p in error.absolute_path) or '(document)'}: {error.message}"
        for error in sorted(validator(kind).iter_errors(document), key=str)
    ]
