"""GitHub Actions integration: step outputs, the job summary, annotations.

Active only inside Actions (the runner sets GITHUB_ACTIONS=true); elsewhere every call is a no-op.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from pathlib import Path

from nim_build.errors import OutputError
from nim_build.outputs import check_distinct, check_output
from nim_build.safe_text import escape_controls, redact


def in_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def _escape(text: str) -> str:
    # Workflow-command escaping: a newline in API text must not start a new command. Control
    # characters are made visible first, so none reaches the log raw (U+2028, NEL, ...).
    text = escape_controls(redact(text))
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def annotate(level: str, message: str) -> None:
    """`::error::` / `::warning::` line on stdout, where the runner reads commands."""
    if in_actions():
        print(f"::{level}::{_escape(message)}", flush=True)


FILE_VARIABLES = ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")


def check_files(run_files: Mapping[str, Path | None] | None = None) -> None:
    """Inside Actions, the runner's output and summary files must be writable: say so up front.

    `run_files`: the files the run reads or writes, by option; appending to one would corrupt
    it (a ConfigMap ending in `added=0`), so each must be another file.
    """
    if in_actions():
        for variable in FILE_VARIABLES:
            if os.environ.get(variable):
                path = Path(os.environ[variable])
                check_output(path, f"${variable}")
                check_distinct({f"${variable}": path, **(run_files or {})})


def _append(variable: str, text: str) -> None:
    # Only the Actions runner reads these files; the same variables set elsewhere are ignored.
    target = os.environ.get(variable)
    if not (in_actions() and target):
        return
    try:
        with Path(target).open("a", encoding="utf-8") as stream:
            stream.write(redact(text))
    except OSError as error:
        raise OutputError(f"${variable} {target}: cannot write: {error.strerror}") from error


def set_outputs(values: Mapping[str, str]) -> None:
    """Append `name=value` lines to $GITHUB_OUTPUT (multi-line values use a delimiter)."""
    lines = []
    for name, value in values.items():
        if "\n" in value:
            delimiter = f"EOF_{uuid.uuid4().hex}"
            lines.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            lines.append(f"{name}={value}\n")
    _append("GITHUB_OUTPUT", "".join(lines))


def append_summary(markdown: str) -> None:
    """Add the report to the job's summary page ($GITHUB_STEP_SUMMARY)."""
    _append("GITHUB_STEP_SUMMARY", markdown.rstrip("\n") + "\n")
