"""`--ca-file`: checked to be a PEM certificate bundle before any request is made."""

from __future__ import annotations

import os
import ssl
import stat
from pathlib import Path

from nim_build.errors import InputFileError

MAX_CA_FILE = 16 << 20  # bytes; a system bundle of ~150 certificates is ~220 KB
_PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"


def check_ca_file(path: Path, option: str = "--ca-file") -> Path:
    """`path` if it is a regular file holding at least one PEM certificate, all parseable.

    A FIFO or device would block or never end, so only regular files are opened; anything
    else, or a file that is not PEM, is one line naming the file and the option.
    """
    try:
        with open(path, "rb", opener=_nonblocking) as stream:  # Path.open takes no opener
            if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
                raise InputFileError(f"{path}: not a regular file ({option})")
            data = stream.read(MAX_CA_FILE + 1)
    except FileNotFoundError as error:
        raise InputFileError(f"{path}: no such file ({option})") from error
    except OSError as error:
        raise InputFileError(f"{path}: cannot read: {error.strerror} ({option})") from error
    if len(data) > MAX_CA_FILE:
        raise InputFileError(f"{path}: larger than {MAX_CA_FILE >> 20} MiB ({option})")
    if _PEM_BEGIN not in data:
        raise InputFileError(f"{path}: not a PEM certificate ({option})")
    try:
        ssl.create_default_context().load_verify_locations(cadata=data.decode("ascii"))
    except (ssl.SSLError, UnicodeDecodeError, ValueError) as error:
        raise InputFileError(f"{path}: not a PEM certificate bundle that parses ({option})") from (
            error
        )
    return path


def _nonblocking(path: str, flags: int) -> int:
    """Open without blocking: a FIFO with no writer would hang `open()` itself."""
    return os.open(path, flags | os.O_NONBLOCK)
