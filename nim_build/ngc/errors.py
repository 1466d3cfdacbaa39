"""Errors of the NGC source subsystem."""

from __future__ import annotations

from nim_build.errors import NimBuildError


class NgcError(NimBuildError):
    """Anything that went wrong talking to NGC (or replaying it)."""


class KeyRefused(NgcError):
    """The API key is not a personal key, or NGC refused it."""


class RequestFailed(NgcError):
    """A request still failed after its retries, or its answer was unusable."""


class SnapshotError(NgcError):
    """A snapshot file is missing, malformed, or lacks an answer the run asked for."""
