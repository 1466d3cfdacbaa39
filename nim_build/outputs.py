"""Output paths, checked before the first request: a run must not fetch for minutes and then
find that it cannot write (a folder, /dev/full, a FIFO, a file where a folder should be), nor
destroy a file it was not asked to write.

Every command checks each file it will write here, with the option that named it. A missing
folder is an error for a path the user named (a typo should not grow a tree) and is created for
a default path (generated/, build/demo/). A symlink is written through: the
link stays, its target gets the new content (`atomic.write_atomically` resolves it too).

An output is refused when it is an input of the same run (the same file by any path: a link,
a hard link), and when it holds something other than what the command writes: each command's
`OutputKind` recognises its own files by their first lines. An empty file is fine to fill.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from nim_build.errors import UsageError

HEAD_BYTES = 4096  # what is read of an existing output to recognise it
_SCAN_CHUNK = 1 << 20


@dataclass(frozen=True)
class OutputKind:
    """What a command writes, recognised by the first HEAD_BYTES of a file it wrote.

    `marker`: bytes that may also sit further in (an older layout); searched in chunks, up to
    `scan_limit` bytes, when the head alone does not tell, and only in a file whose first
    non-blank characters are `opens_with` (a file that merely quotes the marker is no output).
    """

    description: str  # "a ConfigMap": for "... it is not a ConfigMap"
    recognise: Callable[[str], bool]
    marker: bytes = b""
    scan_limit: int = 0
    opens_with: str = ""


def link_target(path: Path) -> Path:
    """The file a write to `path` lands in: `path`, or where its symlink (chain) points."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _existing_folder(path: Path) -> Path:
    """The nearest ancestor of `path` that exists (the folder the write will start from)."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def check_output(
    path: Path,
    option: str,
    *,
    create_folders: bool = False,
    kind: OutputKind | None = None,
    inputs: Mapping[str, Path | None] | None = None,
) -> Path:
    """`path`, if a regular file can be written there; else UsageError naming `option`.

    `create_folders`: missing folders on the way are fine (the write creates them).
    `kind`: an existing non-empty file must be one (else it is not this command's to replace).
    `inputs`: the files the run reads, by option; `path` must be none of them.
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
        status = target.stat()
    except FileNotFoundError:
        return path
    except OSError as error:  # e.g. a symlink loop
        raise UsageError(f"{where}: {error.strerror}") from None
    if stat.S_ISDIR(status.st_mode):
        raise UsageError(f"{where} is a folder; name a file inside it")
    if not stat.S_ISREG(status.st_mode):
        raise UsageError(f"{where} is not a regular file (a device, FIFO or socket)")
    refusing = f"refusing to overwrite {path} ({option}"
    refusing += f", a link to {target})" if target != path else ")"
    for input_option, input_path in (inputs or {}).items():
        if input_path is not None and _same_file(status, input_path):
            same = "" if str(input_path) == str(path) else " (the same file)"
            raise UsageError(
                f"{refusing}: it is the input {input_option} {input_path} of this run{same}"
            )
    if kind is not None and not _holds_kind(target, status.st_size, kind, where):
        raise UsageError(
            f"{refusing}: it is not {kind.description}; name another file, or move it away"
        )
    return path


def _same_file(status: os.stat_result, other: Path) -> bool:
    try:
        theirs = other.stat()  # through links: the file the input is read from
    except OSError:
        return False
    return (status.st_dev, status.st_ino) == (theirs.st_dev, theirs.st_ino)


def _holds_kind(target: Path, size: int, kind: OutputKind, where: str) -> bool:
    """True when `target` is empty (blanks only) or recognised as `kind`."""
    if size == 0:
        return True
    try:
        with target.open("rb") as stream:
            head = stream.read(HEAD_BYTES).decode("utf-8", "replace").removeprefix("\ufeff")
    except OSError as error:
        raise UsageError(f"{where}: cannot read it to see what it is: {error.strerror}") from None
    if size <= HEAD_BYTES and not head.strip():
        return True
    if kind.recognise(head):
        return True
    if not kind.marker or not head.lstrip().startswith(kind.opens_with):
        return False
    return _contains(target, kind.marker, kind.scan_limit)


def _contains(target: Path, marker: bytes, limit: int) -> bool:
    """`marker` in the first `limit` bytes of `target`, read in chunks (bounded memory)."""
    tail = b""
    try:
        with target.open("rb") as stream:
            for _ in range(0, limit, _SCAN_CHUNK):
                chunk = stream.read(_SCAN_CHUNK)
                if not chunk:
                    return False
                if marker in tail + chunk:
                    return True
                tail = chunk[-len(marker) :]
    except OSError:
        return False
    return False


def check_distinct(outputs: dict[str, Path | None]) -> None:
    """UsageError when two options name one file (one output would silently replace another).

    `outputs` maps each option to its path (None: not written this run); links are followed,
    and an existing file is known by its inode too (a hard link).
    """
    seen: dict[Path | tuple[int, int], str] = {}
    for option, path in outputs.items():
        if path is None:
            continue
        names: list[Path | tuple[int, int]] = [Path(os.path.realpath(path))]
        try:
            status = path.stat()
            names.append((status.st_dev, status.st_ino))
        except OSError:
            pass
        for name in names:
            if name in seen:
                raise UsageError(f"{seen[name]} and {option} name the same file, {path}")
        for name in names:
            seen[name] = option
