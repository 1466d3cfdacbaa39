"""Talking to an OCI registry: where it is, its credentials, and which tags it holds.

Each name is loaded on first use (PEP 562): the location, auth-file and error modules need no
third-party library, so `mirror-list` and the `mirror-*` options load no HTTP client.
"""

from __future__ import annotations

from nim_build.lazy import load_export

TYPE_CHECKING = False  # no `typing` import at start
if TYPE_CHECKING:
    from typing import Any

    from .auth import AuthFileError, Credentials, default_auth_files, load_credentials
    from .ca import check_ca_file
    from .client import RegistryClient, TagBounds, credentials_allowed
    from .errors import RegistryError, RegistryWideError
    from .location import RegistryLocation

_EXPORTS = {
    "AuthFileError": ".auth",
    "Credentials": ".auth",
    "RegistryClient": ".client",
    "RegistryError": ".errors",
    "RegistryLocation": ".location",
    "RegistryWideError": ".errors",
    "TagBounds": ".client",
    "check_ca_file": ".ca",
    "credentials_allowed": ".client",
    "default_auth_files": ".auth",
    "load_credentials": ".auth",
}

__all__ = [
    "AuthFileError",
    "Credentials",
    "RegistryClient",
    "RegistryError",
    "RegistryLocation",
    "RegistryWideError",
    "TagBounds",
    "check_ca_file",
    "credentials_allowed",
    "default_auth_files",
    "load_credentials",
]


def __getattr__(name: str) -> Any:
    return load_export(__name__, _EXPORTS, name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
