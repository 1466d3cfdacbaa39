"""Talking to an OCI registry: where it is, its credentials, and which tags it holds."""

from .auth import AuthFileError, Credentials, default_auth_files, load_credentials
from .client import RegistryClient
from .errors import RegistryError
from .location import RegistryLocation

__all__ = [
    "AuthFileError",
    "Credentials",
    "RegistryClient",
    "RegistryError",
    "RegistryLocation",
    "default_auth_files",
    "load_credentials",
]
