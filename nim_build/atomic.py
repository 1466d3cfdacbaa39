"""Write outputs atomically: a temp file in the same folder, fsync, then rename.

A reader (or a failed run) only ever sees the old file or the complete new one, and a file
whose bytes would not change is not touched at all (no new mtime, no noise in git). Ctrl-C and
SIGTERM wait for a write to finish, and no `.*.tmp` file outlives a failed one. An output that
is a symbolic link is written through: the link stays, its target is replaced atomically.
The old file is compared size first, then in bounded chunks: never read whole into memory.
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
from nim_build.outputs import link_target

log = logging.getLogger("nim_build")
LOCK_WAIT = 600.0  # seconds a run waits for another run writing the same output
_LOCK_POLL = 0.1
_COMPARE_CHUNK = 1 << 20  # bytes of the old file read at a time


def write_atomically(path: Path, text: str, *, create_parents: bool = False) -> bool:
    """Write `text` to `path` unless it already holds exactly that; True when written.

    A symlink is written through: the temp file goes beside its target, which is replaced.
    A missing folder is an OutputError unless `create_parents` (then it is made, with parents).
    """
    path = link_target(path)
    if path.exists() and not path.is_file():  # a device or FIFO must never be replaced
        raise OutputError(f"{path}: not a regular file")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise OutputError(
            f"{path}: cannot write: character {error.start} cannot be encoded as UTF-8"
        ) from error
    if _holds(path, data):
        return False
    with interrupts.deferred():
        _replace(path, data, create_parents)
    return True


def _holds(path: Path, data: bytes) -> bool:
    """True when the file at `path` holds exactly `data`: its size first, then chunk by chunk."""
    try:
        with path.open("rb") as stream:
            if os.fstat(stream.fileno()).st_size != len(data):
                return False
            view = memoryview(data)
            for start in range(0, len(data), _COMPARE_CHUNK):
                chunk = view[start : start + _COMPARE_CHUNK]
                if stream.read(len(chunk)) != chunk:
                    return False
            return stream.read(1) == b""  # the file did not grow while being read
    except FileNotFoundError:
        return False
    except OSError as error:
        raise OutputError(f"{path}: cannot read: {error.strerror}") from error


def _replace(path: Path, data: bytes, create_parents: bool) -> None:
    if not create_parents and not path.parent.is_dir():
        raise OutputError(f"{path}: cannot write: the folder {path.parent} does not exist")
    try:
        if create_parents:
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


def _make_folders(folder: Path, path: Path) -> list[Path]:
    """Create `folder` and missing parents; the ones this call made, deepest first."""
    missing = []
    current = folder
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    made = []
    for each in reversed(missing):
        try:
            each.mkdir()
        except FileExistsError:
            continue  # another run made it: not ours to remove
        except OSError as error:
            raise OutputError(f"{path}: cannot write: {error.strerror}: {each}") from error
        made.append(each)
    return made[::-1]


def _still_there(descriptor: int, folder: Path) -> bool:
    try:
        current = folder.stat()
    except OSError:
        return False
    locked = os.fstat(descriptor)
    return (locked.st_dev, locked.st_ino) == (current.st_dev, current.st_ino)


def _lock_folder(folder: Path, path: Path, limit: float, made: list[Path]) -> int:
    """A descriptor of `folder` holding its flock (made: folders created on the way)."""
    deadline = time.monotonic() + limit
    waiting = False
    while True:
        made[:0] = _make_folders(folder, path)
        try:
            descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            continue  # removed by a run that failed: make it again
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
            if error.errno not in (errno.ENOLCK, errno.EOPNOTSUPP):
                os.close(descriptor)
                raise OutputError(f"{path}: cannot lock {folder}: {error.strerror}") from error
            log.warning("warning: %s cannot be locked (%s); going on without", folder, error)
            return descriptor
        if _still_there(descriptor, folder):
            return descriptor
        os.close(descriptor)  # a failed run removed the folder while we waited


@contextlib.contextmanager
def output_lock(path: Path, wait: float | None = None) -> Iterator[None]:
    """Keep other nim-build runs from writing `path` until the block ends (flock on its folder).

    Runs on one output take turns, waiting up to `wait` seconds (default LOCK_WAIT), so the
    file and the report written next to it always describe the same run. A folder made for
    the lock is removed again at the end if nothing was written into it.
    """
    # The folder of the file written: runs through two links to one target take turns too.
    folder = link_target(path).absolute().parent
    made: list[Path] = []
    try:
        descriptor = _lock_folder(folder, path, LOCK_WAIT if wait is None else wait, made)
    except BaseException:
        _remove_empty(made)
        raise
    try:
        yield
    finally:
        _remove_empty(made)  # still locked: a waiting run sees the folder go, and makes it anew
        os.close(descriptor)  # closing releases the lock


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:  # deepest first
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty: nothing was written
