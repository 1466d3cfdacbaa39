"""Public names imported on first use (PEP 562), so that importing a package loads no
library until one of its names is used. No third-party import here."""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # no `typing` import: `nim-build --version` starts in milliseconds
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


def load_export(package: str, exports: Mapping[str, str], name: str) -> Any:
    """`package`'s public `name` from its module in `exports` (absolute, or relative with a
    leading dot), stored in the package so that later look-ups skip this function."""
    module = exports.get(name)
    if module is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, package), name)
    setattr(importlib.import_module(package), name, value)
    return value
