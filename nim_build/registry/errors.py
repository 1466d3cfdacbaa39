"""Errors of the registry subsystem."""

from __future__ import annotations

from nim_build.errors import NimBuildError


class RegistryError(NimBuildError):
    """Anything that went wrong talking to a registry or reading its credentials."""
