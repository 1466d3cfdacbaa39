"""Output paths, checked before the first request: a run must not fetch for minutes and then
find that it cannot write (a folder, /dev/full, a FIFO, a file where a folder should be).

Every command checks each file it will write here, with the option that named it. A missing
folder is an error for a path the user named (a typo should not grow a tree) and is created for
a default path (generated/, build/demo/). A symlink is written through: the
link stays, its target gets the new content (`atomic.write_atomically` resolves it too).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from nim_build.errors import UsageError


def link_target(path: Path) -> Path:
    """The file a write to `path` lands in: `path`, or where its symlink (chain) points."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _existing_folder(path: Path) -> Path:
    """The nearest ancestor of `path` that exists (the folder the write will start from)."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def check_output(path: Path, option: str, *, create_folders: bool = False) -> Path:
    """`path`, if a regular file can be written there; else UsageError naming `option`.

    `create_folders`: missing folders on the way are fine (the write creates them).
    """
    where = f"{option} {path}"
    if path.name in ("", ".", ".."):
        raise UsageError(f"{where} names a folder; name a file inside it")
    target = link_target(path)
    if target != path:
        where += f" (a link to {target})"
    folder = _existing_folder(target)
    if folder != target.parent and not create_folders:
        raise UsageError(f"{where}: the folder {target.parent} does not exist")
    if not folder.is_dir():
        raise UsageError(f"{where}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{where}: the folder {folder} is not writable")
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        return path
    except OSError as error:  # e.g. a symlink loop
        raise UsageError(f"{where}: {error.strerror}") from None
    if stat.S_ISDIR(mode):
        raise UsageError(f"{where} is a folder; name a file inside it")
    if not stat.S_ISREG(mode):
        raise UsageError(f"{where} is not a regular file (a device, FIFO or socket)")
    return path


def check_distinct(outputs: dict[str, Path | None]) -> None:
    """UsageError when two options name one file (one output would silently replace another).

    `outputs` maps each option to its path (None: not written this run); links are followed.
    """
    seen: dict[Path, str] = {}
    for option, path in outputs.items():
        if path is None:
            continue
        target = Path(os.path.realpath(path))
        if target in seen:
            raise UsageError(f"{seen[target]} and {option} name the same file, {path}")
        seen[target] = option
