"""What validation reports: problems with their model and JSON path."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from nim_build.errors import ValidationFailed
from nim_build.safe_text import clip

__all__ = ["Checked", "Problem", "ValidationFailed", "json_path", "shorten"]

_MESSAGE_LIMIT = 300  # a schema message quotes the value; a 1 MB value must not flood stderr
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Problem:
    """One thing wrong, with the model it belongs to (None: the file) and a JSON path."""

    model: str | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: {self.message}"
        return where if self.model is None else f"{self.model}: {where}"


@dataclass(frozen=True)
class Checked:
    """What `check_text` found in one file: its kind, how many models, and the problems."""

    kind: str  # "ConfigMap" or "EU list"
    models: int
    problems: tuple[Problem, ...]


def json_path(parts: Iterable[Any]) -> str:
    """`$.tags[0]`, `$.metadata.labels['opendatahub.io/managed']`."""
    path = "$"
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(part, str) and _IDENTIFIER.fullmatch(part):
            path += f".{part}"
        else:
            quoted = str(part).replace("\\", "\\\\").replace("'", "\\'")
            path += f"['{quoted}']"
    return path


def shorten(message: str) -> str:
    return clip(" ".join(message.split()), _MESSAGE_LIMIT)
