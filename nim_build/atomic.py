"""Write outputs atomically: a temp file in the same folder, fsync, then rename.

A reader (or a failed run) only ever sees the old file or the complete new one, and a file
whose bytes would not change is not touched at all (no new mtime, no noise in git). Ctrl-C and
SIGTERM wait for a write to finish, and no `.*.tmp` file outlives a failed one. An output that
is a symbolic link is replaced by a regular file; the link's target is never written.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from nim_build import interrupts
from nim_build.errors import OutputError

log = logging.getLogger("nim_build")
LOCK_WAIT = 600.0  # seconds a run waits for another run writing the same output
_LOCK_POLL = 0.1


def write_atomically(path: Path, text: str) -> bool:
    """Write `text` to `path` unless it already holds exactly that; True when written."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise OutputError(
            f"{path}: cannot write: character {error.start} cannot be encoded as UTF-8"
        ) from error
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    except OSError as error:
        raise OutputError(f"{path}: cannot read: {error.strerror}") from error
    with interrupts.deferred():
        _replace(path, data)
    return True


def _replace(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
    except OSError as error:
        raise OutputError(f"{path}: cannot write: {error.strerror}") from error
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        # mkstemp creates 0600; a committed manifest should get the usual umask-based mode.
        umask = os.umask(0)
        os.umask(umask)
        temp.chmod(0o666 & ~umask)
        temp.replace(path)
    except OSError as error:
        raise OutputError(f"{path}: cannot write: {error.strerror}") from error
    finally:
        with contextlib.suppress(OSError):
            temp.unlink(missing_ok=True)  # gone after a successful rename; else the leftover


def _nearest_folder(path: Path) -> Path:
    folder = path.absolute().parent
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    return folder


@contextlib.contextmanager
def output_lock(path: Path, wait: float | None = None) -> Iterator[None]:
    """Keep other nim-build runs from writing `path` until the block ends (flock on its folder).

    Runs on one output take turns, waiting up to `wait` seconds (default LOCK_WAIT), so the
    file and the report written next to it always describe the same run. While the folder does
    not exist yet, the nearest existing one above it is locked instead.
    """
    limit = LOCK_WAIT if wait is None else wait
    deadline = time.monotonic() + limit
    waiting = False
    while True:
        folder = _nearest_folder(path)
        try:
            descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as error:
            raise OutputError(f"{path}: cannot lock {folder}: {error.strerror}") from error
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            if time.monotonic() >= deadline:
                raise OutputError(
                    f"{path}: another nim-build run is writing it (its lock on {folder} "
                    f"was still held after {limit:g} s)"
                ) from None
            if not waiting:
                waiting = True
                log.info("waiting for another nim-build run writing %s", path)
            time.sleep(_LOCK_POLL)
            continue
        except OSError as error:
            os.close(descriptor)
            if error.errno not in (errno.ENOLCK, errno.EOPNOTSUPP):
                raise OutputError(f"{path}: cannot lock {folder}: {error.strerror}") from error
            log.warning("warning: %s cannot be locked (%s); going on without", folder, error)
            yield
            return
        if _nearest_folder(path) != folder:  # its own folder appeared while we waited
            os.close(descriptor)
            continue
        try:
            yield
        finally:
            os.close(descriptor)  # closing releases the lock
        return
