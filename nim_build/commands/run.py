"""`nim-build run`: the release pipeline — generate, validate, diff, guard, write, report."""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

from nim_build import github, interrupts
from nim_build.atomic import output_lock, write_atomically
from nim_build.errors import NimBuildError, OutputError
from nim_build.progress import StepTimes
from nim_build.steps.diff import Diff, diff
from nim_build.steps.report import code, escape, render_markdown

from ._source import (
    default_path,
    non_negative_int,
    open_source,
    request_summary,
    save_recording,
)
from .generate import CONFIGMAP_NAME, build_configmap, read_previous
from .generate import add_arguments as add_generate_arguments

log = logging.getLogger("nim_build")
DEFAULT_MAX_REMOVALS = 5


class TooManyRemovals(NimBuildError):
    """The change would delete more models than allowed: likely a partial catalog answer."""


@dataclass(frozen=True)
class RunOutcome:
    """What a run decided; the GitHub outputs are derived from it."""

    changes: Diff
    written: bool

    def outputs(self) -> dict[str, str]:
        return {
            "changed": "true" if self.written else "false",
            "added": str(len(self.changes.added)),
            "removed": str(len(self.changes.removed)),
            "changed-models": str(len(self.changes.changed)),
        }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_generate_arguments(parser)
    parser.add_argument(
        "--report",
        type=Path,
        metavar="PATH",
        help="Markdown change report (default: next to the output, *.report.md)",
    )
    parser.add_argument(
        "--max-removals",
        type=non_negative_int,
        default=DEFAULT_MAX_REMOVALS,
        metavar="N",
        help="refuse to write when more models than this would be removed (default: %(default)s)",
    )


def _report_path(args: argparse.Namespace, output: Path) -> Path:
    report: Path | None = args.report
    return report or output.with_name(f"{output.stem}.report.md")


def run(args: argparse.Namespace) -> int:
    output = default_path(args, args.output, CONFIGMAP_NAME)
    try:
        # One run at a time from reading the current file to writing the report about it.
        with output_lock(output):
            outcome = _run(args, output)
    except NimBuildError as error:
        github.annotate("error", str(error))
        github.set_outputs({"changed": "false"})
        raise
    github.set_outputs(outcome.outputs())
    return 0


def _run(args: argparse.Namespace, output: Path) -> RunOutcome:
    times = StepTimes()
    previous = read_previous(output, strict=True)
    with open_source(args) as source:
        generated = build_configmap(source, args, output, previous, times)
        requests_made = request_summary(source)
    new_entries = {entry.name: entry for entry in generated.entries}
    with times.step("diff"):
        changes = diff(previous.entries if previous else {}, new_entries)
    notes = [
        f"{code(name)} answered HTTP 451 from this location; its entry was carried over from the "
        "previous ConfigMap and marked EU-restricted."
        for name in generated.carried_over
    ]
    for name in generated.carried_over:
        github.annotate("warning", f"{name} answered HTTP 451; entry carried over, euRestricted")
    refused = len(changes.removed) > args.max_removals
    if refused:
        notes.insert(
            0,
            f"**Not written:** {len(changes.removed)} models would be removed, more "
            f"than the allowed {args.max_removals}.",
        )
    report_path = _report_path(args, output)
    if refused:
        _report(report_path, render_markdown(changes, new_entries, notes=notes))
        raise TooManyRemovals(
            f"refusing to write {output}: {len(changes.removed)} models would be removed "
            f"(more than --max-removals {args.max_removals}): {', '.join(changes.removed)}"
        )
    # The ConfigMap first, then the report that says what happened to it; a signal waits.
    with interrupts.deferred():
        try:
            with times.step("write"):
                written = write_atomically(output, generated.text)
        except OutputError as error:
            notes.insert(0, f"**Not written:** {escape(str(error))}")
            _report(report_path, render_markdown(changes, new_entries, notes=notes))
            raise
        _report(report_path, render_markdown(changes, new_entries, notes=notes))
    save_recording(source)
    log.info(
        "%s %s: %d models; %d added, %d removed, %d changed; report %s; %s; %s",
        "wrote" if written else "unchanged:",
        output,
        len(generated.entries),
        len(changes.added),
        len(changes.removed),
        len(changes.changed),
        report_path,
        requests_made,
        times.summary(),
    )
    return RunOutcome(changes, written)


def _report(path: Path, report: str) -> None:
    """The report as a file and as the job summary."""
    write_atomically(path, report)
    github.append_summary(report)
