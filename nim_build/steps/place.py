"""Place a ConfigMap in a manifests checkout, wire it into kustomize, prove that it renders.

Every path is checked before the first write; the ConfigMap and the kustomizations are then
written atomically, and only when their bytes change, so a second run touches nothing.
"""

from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nim_build.atomic import write_atomically
from nim_build.errors import UsageError
from nim_build.inputs import read_text
from nim_build.kustomize import RENDER_TIMEOUT, KustomizeError, RenderError
from nim_build.kustomize.paths import KUSTOMIZATION_NAMES, Checkout
from nim_build.kustomize.render import configmaps_named, render
from nim_build.kustomize.wiring import with_resource
from nim_build.steps.configmap import ConfigMapError, load_yaml

log = logging.getLogger("nim_build")
# Bytes of a kustomization place reads and edits: ~100x odh-model-controller's largest.
MAX_KUSTOMIZATION = 1 << 20


@dataclass(frozen=True)
class Request:
    repo: Path
    path: str
    kustomization: str | None = None
    render: str | None = None
    expect_namespace: str | None = None
    timeout: float = RENDER_TIMEOUT


@dataclass(frozen=True)
class Placement:
    """Where the ConfigMap went, and (rendered) the namespace it lands in."""

    placed: str
    overlay: str | None = None
    namespace: str | None = None

    @property
    def deploys(self) -> bool:
        return self.overlay is not None

    @property
    def sentence(self) -> str:
        if self.overlay is None:
            return f"placed {self.placed} (not rendered)"
        where = f"into namespace {self.namespace}" if self.namespace else "with no namespace"
        return f"{self.placed} deploys: rendered from {self.overlay} {where}"


@dataclass(frozen=True)
class _Write:
    path: Path
    shown: str
    text: str | None  # None: already as wanted


def _clean(relative: str) -> str:
    return posixpath.normpath(relative)


def _refuse_another_file(target: Path, shown: str, name: str) -> None:
    """UsageError when --path holds something other than a ConfigMap called `name`."""
    if not target.exists():
        return
    text = read_text(target)
    try:
        document = load_yaml(text, shown)
    except ConfigMapError:  # unparsable, e.g. merge conflict markers: ours if it names it
        ours = f"name: {name}" in text
    else:
        metadata = document.get("metadata") if isinstance(document, dict) else None
        ours = document is None or (
            isinstance(metadata, dict)
            and document.get("kind") == "ConfigMap"
            and metadata.get("name") == name
        )
    if not ours:
        raise UsageError(
            f"refusing to overwrite {shown}: it is not the {name} ConfigMap "
            "(name another --path, or move the file away)"
        )


def _kustomization_of(checkout: Checkout, relative: str) -> Path:
    """--kustomization: a kustomization file, or a folder holding one."""
    path = checkout.inside(relative, "--kustomization")
    if path.is_dir():
        path = checkout.kustomization_in(relative, "--kustomization")
    if not path.is_file():
        raise UsageError(f"--kustomization {relative}: no such kustomization")
    return path


def _wiring(checkout: Checkout, request: Request, target: Path) -> list[_Write]:
    """The kustomization texts to write (each None when already wired); nothing written yet."""
    unit = posixpath.dirname(_clean(request.path)) or "."
    unit_file = checkout.kustomization_in(unit, "--path")
    writes = [_wiring_one(checkout, unit_file, target.name)]
    if request.kustomization is not None:
        parent = _kustomization_of(checkout, request.kustomization)
        if parent.parent == unit_file.parent:
            raise UsageError(
                f"--kustomization {request.kustomization} is the kustomization of the "
                f"ConfigMap's own folder; name the one that should include {unit}"
            )
        entry = posixpath.relpath(unit, checkout.relative(parent.parent))
        writes.append(_wiring_one(checkout, parent, entry))
    return writes


def _wiring_one(checkout: Checkout, path: Path, entry: str) -> _Write:
    shown = checkout.relative(path)
    if path.exists() and path.stat().st_size > MAX_KUSTOMIZATION:
        # Parsing and extending takes ~13 s per MB: a hostile checkout must not stall a run.
        raise KustomizeError(
            f"{shown}: larger than {MAX_KUSTOMIZATION >> 20} MiB; not a kustomization "
            "nim-build edits"
        )
    text = read_text(path) if path.exists() else None
    return _Write(path, shown, with_resource(text, entry, shown))


def _not_rendered(checkout: Checkout, request: Request, placed: str, overlay: str) -> str:
    unit = posixpath.dirname(placed) or "."
    overlay_file = checkout.relative(checkout.kustomization_in(overlay, "--render"))
    if request.kustomization is None:
        entry = posixpath.relpath(unit, overlay)
        return (
            f"{placed} is not rendered from {overlay}: add `{entry}` to the resources of "
            f"{overlay_file} or of a kustomization it includes (--kustomization does that)"
        )
    parent = checkout.relative(_kustomization_of(checkout, request.kustomization))
    folder = posixpath.dirname(parent) or "."
    return (
        f"{placed} is not rendered from {overlay}: {parent} lists it, but {overlay} does not "
        f"include {folder}: add `{posixpath.relpath(folder, overlay)}` to the resources of "
        f"{overlay_file}"
    )


def _check_rendered(
    request: Request, checkout: Checkout, placed: str, overlay: str, document: dict[str, Any]
) -> Placement:
    name, data = str(document["metadata"]["name"]), document.get("data") or {}
    folder = checkout.inside(overlay, "--render")
    rendered = render(folder, checkout.root, overlay, request.timeout)
    found = configmaps_named(rendered, name)
    if not found:
        raise RenderError(_not_rendered(checkout, request, placed, overlay))
    if len(found) > 1:
        spaces = ", ".join(sorted(str(each["metadata"].get("namespace")) for each in found))
        raise RenderError(
            f"{placed}: {overlay} renders {len(found)} ConfigMaps named {name} (namespaces "
            f"{spaces}); exactly one may deploy"
        )
    (configmap,) = found
    if (configmap.get("data") or {}) != data:
        raise RenderError(
            f"{placed} is rendered from {overlay} with other data: a patch, generator or "
            "transformer in the overlay changes it"
        )
    namespace = configmap["metadata"].get("namespace") or None
    if request.expect_namespace is not None and namespace != request.expect_namespace:
        landed = f"namespace {namespace}" if namespace else "no namespace"
        raise RenderError(
            f"{placed} is rendered from {overlay} into {landed}, not into "
            f"{request.expect_namespace} (--expect-namespace)"
        )
    return Placement(placed, overlay, namespace)


def place(text: str, request: Request) -> Placement:
    """Copy the ConfigMap `text` (already validated) to REPO/PATH, wire it, render it.

    UsageError (exit 2) for a path outside the checkout, before anything is written;
    RenderError when it is placed but does not render exactly once as it should.
    """
    document = load_yaml(text, "the ConfigMap")
    checkout = Checkout.open(request.repo)
    target = checkout.inside(request.path, "--path")
    placed = checkout.relative(target)
    if target.name in KUSTOMIZATION_NAMES or target.is_dir():
        raise UsageError(f"--path {request.path}: name the ConfigMap's file, not a kustomization")
    if request.render is not None:
        overlay = checkout.inside(request.render, "--render")
        if not overlay.is_dir():
            raise UsageError(f"--render {request.render}: not a folder of the checkout")
    _refuse_another_file(target, placed, str(document["metadata"]["name"]))
    writes = [_Write(target, placed, text), *_wiring(checkout, request, target)]
    for write in writes:
        written = write.text is not None and write_atomically(
            write.path, write.text, create_parents=True
        )
        log.info("%s: %s", write.shown, "written" if written else "unchanged")
    if request.render is None:
        return Placement(placed)
    return _check_rendered(request, checkout, placed, _clean(request.render), document)
