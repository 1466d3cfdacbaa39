"""Errors of the registry subsystem."""

from __future__ import annotations

from nim_build.errors import NimBuildError


class RegistryError(NimBuildError):
    """Anything that went wrong talking to a registry or reading its credentials."""


class RegistryWideError(RegistryError):
    """A failure of the registry itself, not of one repository: TLS, no connection, refused
    or unusable credentials, an answer that is not HTTP, a token realm that fails, an auth
    challenge nim-build will not follow. Asking about the next repository would fail the same
    way, so a run stops at the first one."""
