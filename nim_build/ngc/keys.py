"""Where the API key comes from, and the one format accepted."""

from __future__ import annotations

import os
from pathlib import Path

from nim_build.ngc.errors import KeyRefused
from nim_build.safe_text import KEY_PREFIX, register_secret

__all__ = ["KEY_ENV", "KEY_PREFIX", "load_api_key"]
KEY_ENV = "NGC_API_KEY"


def load_api_key(argument: str | None, key_file: Path | None) -> str:
    """The key from the argument, `--api-key-file`, or `NGC_API_KEY`, in that order.

    Only personal keys are supported (they are used directly as bearer tokens); anything
    else is refused here, before a single request is sent. The key is never echoed.
    """
    if argument:
        key, origin = argument, "the API_KEY argument"
    elif key_file is not None:
        try:
            key = key_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise KeyRefused(f"cannot read API key file {key_file}: {error.strerror}") from error
        origin = f"API key file {key_file}"
    elif os.environ.get(KEY_ENV):
        key, origin = os.environ[KEY_ENV].strip(), KEY_ENV
    else:
        raise KeyRefused(
            f"no NGC API key: pass it as API_KEY, set {KEY_ENV}, or use --api-key-file"
        )
    if (
        not key.startswith(KEY_PREFIX)
        or len(key) <= len(KEY_PREFIX)
        or any(c.isspace() for c in key)
    ):
        raise KeyRefused(
            f"the key from {origin} is not a personal NGC key (it must start with "
            f"'{KEY_PREFIX}'); legacy keys are not supported"
        )
    register_secret(key)  # from here on, no log line, message or file can show it
    return key
