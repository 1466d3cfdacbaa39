"""Reading input files: one place that turns OS and decode errors into one-line messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

from nim_build.errors import InputFileError

# Characters read from one input file at most: far above a snapshot of 5,000 models (~40 MB),
# far below what would exhaust memory (`--eu-restricted /dev/zero` would read forever).
MAX_INPUT_CHARS = 64 << 20


def read_text(path: Path) -> str:
    """A file's text; InputFileError with a one-line message naming it when it cannot be had."""
    try:
        # utf-8-sig: a byte-order mark (Windows editors write one) is not part of the text.
        with path.open(encoding="utf-8-sig") as stream:
            return read_stream(stream, str(path))
    except FileNotFoundError as error:
        raise InputFileError(f"{path}: no such file") from error
    except OSError as error:
        raise InputFileError(f"{path}: cannot read: {error.strerror}") from error


def read_stream(stream: TextIO, name: str) -> str:
    """An open text stream's text, up to MAX_INPUT_CHARS; InputFileError naming `name`."""
    try:
        text = stream.read(MAX_INPUT_CHARS + 1)
    except UnicodeDecodeError as error:
        raise InputFileError(f"{name}: not UTF-8 text ({error.reason})") from error
    except OSError as error:
        raise InputFileError(f"{name}: cannot read: {error.strerror}") from error
    if len(text) > MAX_INPUT_CHARS:
        raise InputFileError(f"{name}: larger than {MAX_INPUT_CHARS >> 20} Mi characters")
    return text


class NestedTooDeeply(ValueError):
    """JSON nested deeper than Python's json module can follow."""


def parse_json(data: str | bytes) -> Any:
    """`json.loads`, with JSON nested too deeply for Python a ValueError like any bad JSON.

    json.loads raises RecursionError for arrays nested ~100,000 deep: every caller that
    turns ValueError into a one-line error covers that too.
    """
    try:
        return json.loads(data)
    except RecursionError:
        raise NestedTooDeeply("nested too deeply") from None


def read_json(path: Path) -> Any:
    """A JSON file's document; InputFileError naming the file when it is missing or malformed."""
    return json_document(read_text(path), str(path))


def json_document(text: str, source: str) -> Any:
    """`read_json` for text already read from `source` (which the error names)."""
    try:
        return parse_json(text)
    except ValueError as error:
        raise InputFileError(f"{source}: not valid JSON: {error}") from error


def nested_deeper_than(value: Any, limit: int) -> bool:
    """True when arrays and objects in a decoded JSON `value` nest more than `limit` deep.

    Iterative: recursive code downstream (redaction, json.dumps, schema checks) needs the
    answer, and json.loads accepts ~1,000 levels, more than they can take.
    """
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False
