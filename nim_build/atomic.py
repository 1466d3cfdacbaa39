"""Write outputs atomically: a temp file in the same folder, fsync, then rename.

A reader (or a failed run) only ever sees the old file or the complete new one, and a file
whose bytes would not change is not touched at all (no new mtime, no noise in git).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from nim_build.errors import OutputError
from nim_build.outputs import link_target


def write_atomically(path: Path, text: str) -> bool:
    """Write `text` to `path` unless it already holds exactly that; True when written.

    A symlink is written through: the temp file goes beside its target, which is replaced.
    """
    path = link_target(path)
    if path.exists() and not path.is_file():  # a device or FIFO must never be replaced
        raise OutputError(f"{path}: not a regular file")
    data = text.encode("utf-8")
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    except OSError as error:
        raise OutputError(f"{path}: cannot read: {error.strerror}") from error
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
    except OSError as error:
        raise OutputError(f"{path}: cannot write: {error.strerror}") from error
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        # mkstemp creates 0600; a committed manifest should get the usual umask-based mode.
        umask = os.umask(0)
        os.umask(umask)
        Path(temp_name).chmod(0o666 & ~umask)
        Path(temp_name).replace(path)
    except OSError as error:
        with contextlib.suppress(OSError):
            Path(temp_name).unlink()
        raise OutputError(f"{path}: cannot write: {error.strerror}") from error
    return True
