"""Kustomize trees: paths confined to a checkout, kustomization wiring, rendering."""

from __future__ import annotations

from nim_build.errors import NimBuildError

RENDER_TIMEOUT = 120.0  # seconds; odh-model-controller's config/base renders in well under 1 s


class KustomizeError(NimBuildError):
    """A kustomization that cannot be read or changed (exit code 1)."""


class RenderError(KustomizeError):
    """Rendering failed or does not hold the ConfigMap once: the file was placed, it does not
    deploy (a workflow still opens its pull request, marked as not deploying)."""
