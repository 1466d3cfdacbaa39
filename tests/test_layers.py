"""Imports point down: the clients import base modules, never a step or each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "nim_build"


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("registry", ("nim_build.steps", "nim_build.ngc", "nim_build.commands")),
        ("http", ("nim_build.steps", "nim_build.ngc", "nim_build.registry", "nim_build.commands")),
        ("ngc", ("nim_build.steps", "nim_build.registry", "nim_build.commands")),
    ],
)
def test_a_client_imports_no_step_and_no_other_client(
    layer: str, forbidden: tuple[str, ...]
) -> None:
    wrong = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in (PACKAGE / layer).glob("*.py")
        for name in imported(path)
        if name.startswith(forbidden)
    }
    assert wrong == set()


def test_the_reference_grammar_and_request_stats_are_base_modules() -> None:
    for base in ("reference.py", "stats.py"):
        assert not {name for name in imported(PACKAGE / base) if name.startswith("nim_build")}
