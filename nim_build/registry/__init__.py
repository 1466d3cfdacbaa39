"""Talking to an OCI registry: where it is, its credentials, and which tags it holds."""

from .auth import AuthFileError, Credentials, default_auth_files, load_credentials
from .ca import check_ca_file
from .client import RegistryClient, TagBounds, credentials_allowed
from .errors import RegistryError, RegistryWideError
from .location import RegistryLocation

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
