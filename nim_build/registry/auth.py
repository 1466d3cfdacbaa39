"""Registry credentials from a containers auth.json or a Docker config.json.

Looked up like podman and skopeo do (containers-auth.json(5)): a file named with `--authfile`
or `$REGISTRY_AUTH_FILE`, else the first of the default files holding an entry for the
registry. Keys may name the host or a path under it; the most specific match wins.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nim_build.errors import InputFileError
from nim_build.inputs import read_json

from .errors import RegistryError
from .location import RegistryLocation


class AuthFileError(RegistryError):
    """An auth file that cannot be read or has an unusable entry."""


@dataclass(frozen=True)
class Credentials:
    """A user name and password for basic auth or a token request."""

    username: str
    password: str = field(repr=False)  # never shown, even in a debugger


def default_auth_files(environ: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """The files podman/skopeo read when none is named, in order."""
    env = os.environ if environ is None else environ
    files = []
    if env.get("XDG_RUNTIME_DIR"):
        files.append(Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    home = Path(env.get("HOME") or Path.home())
    files += [home / ".config" / "containers" / "auth.json", home / ".docker" / "config.json"]
    return tuple(files)


def _normalise_key(key: str) -> str:
    """Docker writes `https://host/v1/`-style keys; containers use `host[/path]`."""
    if "://" in key:
        key = key.split("://", 1)[1]
        host, _, path = key.partition("/")
        key = host if path.rstrip("/") in ("", "v1", "v2") else f"{host}/{path}"
    return key.rstrip("/")


def _matches(key: str, location: RegistryLocation) -> bool:
    target = str(location)
    return target == key or target.startswith(key + "/")


def _decode(entry: Any, key: str, path: Path) -> Credentials:
    where = f"{path}: auths[{key!r}]"
    encoded = entry.get("auth") if isinstance(entry, dict) else None
    if not isinstance(encoded, str) or not encoded:
        raise AuthFileError(f"{where}: no 'auth' value (credential helpers are not supported)")
    try:
        user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise AuthFileError(f"{where}: 'auth' is not base64 of user:password") from error
    if not sep:
        raise AuthFileError(f"{where}: 'auth' is not base64 of user:password")
    return Credentials(user, password)


def _credentials_in(path: Path, location: RegistryLocation) -> Credentials | None:
    try:
        # A FIFO or device named as the auth file would block the read, or never end.
        if path.exists() and not stat.S_ISREG(path.stat().st_mode):
            raise AuthFileError(f"{path}: not a regular file")
        document = read_json(path)
    except InputFileError as error:
        raise AuthFileError(str(error)) from error
    except OSError as error:
        raise AuthFileError(f"{path}: cannot read: {error.strerror}") from error
    auths = document.get("auths") if isinstance(document, dict) else None
    if auths is None:
        return None
    if not isinstance(auths, dict):
        raise AuthFileError(f"{path}: 'auths' is not an object")
    matching = [key for key in auths if _matches(_normalise_key(str(key)), location)]
    if not matching:
        return None
    best = max(matching, key=lambda key: len(_normalise_key(str(key))))
    return _decode(auths[best], str(best), path)


def load_credentials(
    location: RegistryLocation,
    authfile: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Credentials | None:
    """The credentials for `location`, or None to go anonymous."""
    env = os.environ if environ is None else environ
    named = authfile or (Path(env["REGISTRY_AUTH_FILE"]) if env.get("REGISTRY_AUTH_FILE") else None)
    if named is not None:
        return _credentials_in(named, location)  # a named file must exist
    for path in default_auth_files(env):
        if path.is_file():
            found = _credentials_in(path, location)
            if found is not None:
                return found
    return None
