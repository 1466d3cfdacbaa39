"""`nim-build run`: the release pipeline — generate, validate, diff, guard, write, report."""

from __future__ import annotations

import argparse
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from nim_build import github, interrupts
from nim_build.atomic import output_lock, write_atomically
from nim_build.errors import NimBuildError, OutputError, itemize
from nim_build.outputs import OutputKind, check_distinct, check_output
from nim_build.progress import StepTimes
from nim_build.steps.diff import Diff, diff
from nim_build.steps.report import TITLE, code, escape, render_failure, render_markdown
from nim_build.steps.validate import ValidationFailed
from nim_build.wording import plural

from ._configmaps import CONFIGMAP_OUTPUT, read_previous
from ._metadata import labels
from ._source import (
    annotation_text,
    default_path,
    inputs_of,
    int_between,
    open_source,
    output_path,
    request_summary,
    save_recording,
    written_or_read,
)
from .generate import (
    CONFIGMAP_NAME,
    Generated,
    MetadataFailed,
    build_configmap,
    load_eu_list,
)
from .generate import add_arguments as add_generate_arguments

log = logging.getLogger("nim_build")
DEFAULT_MAX_REMOVALS = 5
# What --report may replace: a report, whose first line is its title.
REPORT_OUTPUT = OutputKind("a nim-build report", lambda head: head.startswith(f"## {TITLE}\n"))


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


class RunStopped(NimBuildError):
    """A change was computed, then the run stopped; `outcome` says what was written."""

    def __init__(self, message: str, outcome: RunOutcome, details: tuple[str, ...] = ()) -> None:
        super().__init__(message, details)
        self.outcome = outcome


class TooManyRemovals(RunStopped):
    """The change would delete more models than allowed: likely a partial catalog answer."""


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
        type=int_between(0),
        default=DEFAULT_MAX_REMOVALS,
        metavar="N",
        help="refuse to write when more models than this would be removed (default: %(default)s)",
    )


def _report_path(args: argparse.Namespace, output: Path) -> Path:
    """--report, else next to the output (whose folder was checked); before any request."""
    report: Path | None = args.report
    path = report or _default_report(output)
    check_output(
        path, "--report", create_folders=report is None, kind=REPORT_OUTPUT, inputs=inputs_of(args)
    )
    check_distinct({"--output": output, "--report": path, **written_or_read(args)})
    return path


def _default_report(output: Path) -> Path:
    return output.with_name(f"{output.stem}.report.md")


def run(args: argparse.Namespace) -> int:
    output = default_path(args, args.output, CONFIGMAP_NAME)
    github.check_files(
        {
            "--output": output,
            "--report": args.report or _default_report(output),
            **inputs_of(args),
            **written_or_read(args),
        }
    )
    try:
        labels(args)  # a bad --label: before any request
        output = output_path(args, args.output, CONFIGMAP_NAME, CONFIGMAP_OUTPUT)
        report_path = _report_path(args, output)
        # One run at a time from reading the current file to writing the report about it.
        with output_lock(output):
            outcome = _run(args, output, report_path)
    except NimBuildError as error:
        github.annotate("error", annotation_text(error))
        stopped = error.outcome if isinstance(error, RunStopped) else RunOutcome(Diff(), False)
        github.set_outputs(stopped.outputs())
        raise
    github.set_outputs(outcome.outputs())
    return 0


def _publish(report_path: Path, report: str) -> None:
    """The report to its file and to the job summary: on every outcome after the key check."""
    write_atomically(report_path, report)
    github.append_summary(report)


def _publish_why(report_path: Path, report: str) -> None:
    """`_publish` for a run that is failing anyway: the failure stays the error, not this."""
    try:
        _publish(report_path, report)
    except OutputError as error:
        log.warning("the report was not written either: %s", error)


def _failure_report(error: NimBuildError) -> str:
    """Why nothing was written: the failed models, the validation problems, or the cause."""
    if isinstance(error, MetadataFailed):
        return render_failure(
            f"{plural(len(error.failures), 'model')} failed; the ConfigMap was left as it was.",
            sorted((failure.resource_id, failure.reason) for failure in error.failures),
        )
    if isinstance(error, ValidationFailed):
        return render_failure(
            "the new ConfigMap failed validation "
            f"({plural(len(error.problems), 'problem')}); the previous one was left as it was.",
            [(p.model or "(the ConfigMap)", f"{p.path}: {p.message}") for p in error.problems],
            columns=("Model", "Problem"),
        )
    return render_failure(f"{escape(str(error))}; the ConfigMap was left as it was.")


def _notes(generated: Generated) -> list[str]:
    notes = [
        f"{code(name)} answered HTTP 451 from this location; its entry was carried over from the "
        "previous ConfigMap and marked EU-restricted."
        for name in generated.carried_over
    ]
    if generated.eu_list_unknown:
        names = ", ".join(map(code, generated.eu_list_unknown))
        notes.append(f"The EU list names models the catalog does not list: {names}.")
    return notes


def _run(args: argparse.Namespace, output: Path, report_path: Path) -> RunOutcome:
    times = StepTimes()
    previous = read_previous(output, strict=True, name=args.name)
    eu_list = load_eu_list(args)
    key_accepted = threading.Event()
    with open_source(args) as source:
        try:
            generated = build_configmap(
                source,
                args,
                output,
                previous,
                times,
                eu_list=eu_list,
                key_accepted=key_accepted.set,
            )
        except NimBuildError as error:
            if key_accepted.is_set():  # a refused key is no change to report
                _publish_why(report_path, _failure_report(error))
            raise
        requests_made = request_summary(source)
    new_entries = {entry.name: entry for entry in generated.entries}
    with times.step("diff"):
        changes = diff(previous.entries if previous else {}, new_entries)
    notes = _notes(generated)
    for name in generated.carried_over:
        github.annotate("warning", f"{name} answered HTTP 451; entry carried over, euRestricted")
    refused = len(changes.removed) > args.max_removals
    if refused:
        notes.insert(
            0,
            f"**Not written:** {plural(len(changes.removed), 'model')} would be removed, more "
            f"than the allowed {args.max_removals}.",
        )
    if refused:
        _publish_why(report_path, render_markdown(changes, new_entries, notes=notes))
        listed, details = itemize(changes.removed)
        raise TooManyRemovals(
            f"refusing to write {output}: {plural(len(changes.removed), 'model')} would be "
            f"removed (more than --max-removals {args.max_removals}): {listed}",
            RunOutcome(changes, written=False),
            details,
        )
    # The ConfigMap first, then the report that says what happened to it; a signal waits.
    with interrupts.deferred():
        try:
            with times.step("write"):
                written = write_atomically(output, generated.text)
            if written and previous is not None and changes.is_empty:
                notes.append(
                    "No model changed, but the ConfigMap did: its metadata (namespace, labels) "
                    "or its layout differs from the previous one."
                )
        except OutputError as error:
            notes.insert(0, f"**Not written:** {escape(str(error))}")
            _publish_why(report_path, render_markdown(changes, new_entries, notes=notes))
            raise RunStopped(str(error), RunOutcome(changes, written=False)) from error
        try:
            _publish(report_path, render_markdown(changes, new_entries, notes=notes))
        except OutputError as error:  # the ConfigMap is written: the outputs must say so
            raise RunStopped(str(error), RunOutcome(changes, written)) from error
    save_recording(source)
    log.info(
        "%s %s: %s; %d added, %d removed, %d changed; report %s; %s; %s",
        "wrote" if written else "unchanged:",
        output,
        plural(len(generated.entries), "model"),
        len(changes.added),
        len(changes.removed),
        len(changes.changed),
        report_path,
        requests_made,
        times.summary(),
    )
    return RunOutcome(changes, written)
