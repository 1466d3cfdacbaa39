"""Where the API key comes from, and the one format accepted."""

from __future__ import annotations

import os
import re
from pathlib import Path

from nim_build.errors import InputFileError, UsageError
from nim_build.inputs import read_text
from nim_build.ngc.errors import KeyRefused
from nim_build.safe_text import KEY_PREFIX, register_secret

__all__ = ["KEY_ENV", "KEY_PREFIX", "check_api_key", "load_api_key"]
KEY_ENV = "NGC_API_KEY"
# A personal key is a bearer token (RFC 6750 b64token): it goes into an HTTP header as is, so
# anything outside this set (spaces, control or non-ASCII characters) cannot be a key.
KEY_PATTERN = re.compile(re.escape(KEY_PREFIX) + r"[A-Za-z0-9._~+/-]+=*")


class KeyFormatError(KeyRefused, UsageError):
    """No key was given, or what was given cannot be a personal key: nothing was sent."""


def _read_key_file(key_file: Path) -> str:
    try:
        key = read_text(key_file).strip()
    except InputFileError as error:
        raise KeyFormatError(f"API key file {error}") from error
    if not key:
        raise KeyFormatError(f"API key file {key_file} is empty")
    return key


def load_api_key(argument: str | None, key_file: Path | None) -> str:
    """The key from the argument, `--api-key-file`, or `NGC_API_KEY`, in that order.

    Only personal keys are supported (they are used directly as bearer tokens); anything
    else is refused here, before a single request is sent. The key is never echoed.
    """
    if argument:
        key, origin = argument, "the API_KEY argument"
    elif key_file is not None:
        key, origin = _read_key_file(key_file), f"API key file {key_file}"
    elif os.environ.get(KEY_ENV):
        key, origin = os.environ[KEY_ENV].strip(), KEY_ENV
    else:
        raise KeyFormatError(
            f"no NGC API key: set {KEY_ENV}, use --api-key-file, or pass it as API_KEY"
        )
    return check_api_key(key, origin)


def check_api_key(key: str, origin: str = "the api_key argument") -> str:
    """`key` if it is a personal key (see `load_api_key`), registered for redaction.

    KeyFormatError names `origin` and never shows the key.
    """
    if not key.startswith(KEY_PREFIX):
        raise KeyFormatError(
            f"the key from {origin} is not a personal NGC key (it must start with "
            f"'{KEY_PREFIX}'); legacy keys are not supported"
        )
    if not KEY_PATTERN.fullmatch(key):
        raise KeyFormatError(
            f"the key from {origin} is not a personal NGC key: after '{KEY_PREFIX}' it may "
            "hold only letters, digits and - . _ ~ + / (no spaces, control or non-ASCII "
            "characters)"
        )
    register_secret(key)  # from here on, no log line, message or file can show it
    return key
