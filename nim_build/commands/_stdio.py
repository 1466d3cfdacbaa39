"""`-` as a file name: stdin for an input, stdout for an output, as in every Unix tool.

A command says which of its arguments take `-` (`STDIO_ARGUMENTS`, argument dest → "in" or
"out"); the CLI refuses `-` everywhere else, and stdin named twice, before any work.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from nim_build.errors import OutputError
from nim_build.inputs import read_stream, read_text

STDIO = "-"
Direction = Literal["in", "out"]


def is_stdio(path: object) -> bool:
    """True for the `-` of a command line (a file literally named `-` is `./-` or a full path
    once it has gone through the shell, but pathlib folds `./-` to `-`: use a full path)."""
    return isinstance(path, str | Path) and str(path) == STDIO


def input_name(path: Path) -> str:
    """How messages name an input: its path, or `stdin`."""
    return "stdin" if is_stdio(path) else str(path)


def output_name(path: Path) -> str:
    """How messages name an output: its path, or `stdout`."""
    return "stdout" if is_stdio(path) else str(path)


def read_input(path: Path) -> str:
    """An input's text (`-`: all of stdin), with the limits and messages of `read_text`."""
    if not is_stdio(path):
        return read_text(path)
    # utf-8-sig, like files: a byte-order mark is not part of the text.
    stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig")
    try:
        return read_stream(stream, "stdin")
    finally:
        stream.detach()  # sys.stdin stays usable (and open) for whoever reads it next


def write_stdout(text: str) -> None:
    """`text` to stdout, flushed; OutputError (one line, no traceback) when stdout is closed,
    full (/dev/full) or its reader has gone (`| head`)."""
    stream = sys.stdout
    if stream is None:
        raise OutputError("stdout: cannot write: it is closed")
    try:
        stream.write(text)
        stream.flush()
    except OSError as error:
        # What is still buffered would fail again when the interpreter flushes it at exit.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        raise OutputError(f"stdout: cannot write: {error.strerror}") from error


def _name(action: argparse.Action) -> str:
    return action.option_strings[-1] if action.option_strings else str(action.metavar)


def stdio_misuse(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    accepted: Mapping[str, Direction],
) -> str | None:
    """Why the `-` arguments of `args` cannot work (None when they can): `-` where the command
    does not take it, or stdin named for two inputs (it can be read once)."""
    stdin_users: list[str] = []
    for action in parser._actions:
        value = getattr(args, action.dest, None)
        values = value if isinstance(value, list) else [value]
        dashes = sum(1 for item in values if is_stdio(item))
        if not dashes:
            continue
        direction = accepted.get(action.dest)
        if direction is None:
            return f"argument {_name(action)}: '-' (stdin/stdout) is not taken here; name a file"
        if direction == "in":
            stdin_users += [_name(action)] * dashes
    if len(stdin_users) > 1:
        named = " and ".join(stdin_users)
        return f"'-' can stand for one input only (stdin is read once), not for {named}"
    return None
