"""The repository stands on its own: the design card's layout, nothing read from beside it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Spelled in two parts so that this file does not match its own search.
OUTSIDE = "../" + "shared"


def _tracked_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False)
    if listed.returncode != 0:
        pytest.skip("not a git checkout (an unpacked sdist): nothing to list")
    return [ROOT / name for name in listed.stdout.decode().split("\0") if name]


def test_layout_is_the_design_cards() -> None:
    for name in ("pyproject.toml", "nim_build", "schemas", "tests", ".github", "generated"):
        assert (ROOT / name).exists(), name
    assert not (ROOT / "src").exists()
    assert (ROOT / "nim_build" / "atomic.py").is_file()


def test_nothing_reads_outside_the_repository() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in _tracked_files()
        if path.is_file() and OUTSIDE in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert offenders == []


def test_generated_holds_no_demo_output() -> None:
    assert sorted(p.name for p in (ROOT / "generated").iterdir()) == ["nim_eu_restricted.json"]


def test_sources_do_not_import_steps_for_file_writing() -> None:
    for path in (ROOT / "nim_build" / "ngc").glob("*.py"):
        assert "nim_build.steps" not in path.read_text(encoding="utf-8"), path.name
