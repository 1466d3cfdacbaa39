"""The README's example report is what its documented demo commands produce."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

SECTION = "#### What the pull request looks like"


def _example() -> tuple[str, str]:
    """The shell lines and the Markdown report of the README's example."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    commands = re.search(r"```sh\n(.*?)```\n", section, re.DOTALL)
    report = re.search(r"```markdown\n(.*?)```\n", section, re.DOTALL)
    assert commands and report
    return commands.group(1), report.group(1)


def test_the_readme_example_report_comes_from_the_demo(workdir: Path) -> None:
    commands, report = _example()
    scripts = str(Path(sys.executable).parent)  # where `nim-build` is installed
    env = {**os.environ, "PATH": scripts + os.pathsep + os.environ.get("PATH", "")}
    done = subprocess.run(
        ["bash", "-euc", commands],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    produced = (workdir / "build/demo/nim-models-data.report.md").read_text(encoding="utf-8")
    assert produced == report
