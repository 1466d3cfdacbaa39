"""`nim-build detect-eu`: which models answer HTTP 451 from here (run it from the EU)."""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path

from nim_build.atomic import write_atomically
from nim_build.errors import NimBuildError
from nim_build.outputs import OutputKind
from nim_build.progress import StepTimes
from nim_build.steps.eu import probe_eu, render_eu_list
from nim_build.steps.validate import ValidationFailed, validate_eu_list_text
from nim_build.wording import plural

from ._source import (
    add_source_arguments,
    check_key_and_list,
    failure_report,
    open_source,
    output_path,
    request_summary,
    save_recording,
)

log = logging.getLogger("nim_build")
EU_LIST_NAME = "nim_eu_restricted.json"
# What --output may replace: an EU list (steps/eu.py's render_eu_list), a JSON array that is
# empty or opens with an entry's field: not any array (a list of numbers, of users, ...).
_EU_LIST_START = re.compile(r'\s*\[\s*(\]|\{\s*"(name|resourceId|org|team)"\s*:)')
EU_LIST_OUTPUT = OutputKind(
    "an EU list (a JSON array of models)", lambda head: bool(_EU_LIST_START.match(head))
)


class ProbeFailed(NimBuildError):
    """Some models could not be probed: an incomplete EU list is worse than none."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output",
        type=Path,
        metavar="PATH",
        help=f"where to write the EU list (default: generated/{EU_LIST_NAME})",
    )
    add_source_arguments(parser)


def run(args: argparse.Namespace) -> int:
    output = output_path(args, args.output, EU_LIST_NAME, EU_LIST_OUTPUT)
    times = StepTimes()
    with open_source(args) as source:
        catalog = check_key_and_list(source, times)
        with times.step("probe"):
            result = probe_eu(source, catalog.resources, concurrency=args.concurrency)
        requests_made = request_summary(source)
    log.info(
        "detect-eu: %d accessible, %d restricted, %d failed",
        result.accessible,
        len(result.restricted),
        len(result.failures),
    )
    if result.failures:
        listed, details = failure_report(result.failures)
        raise ProbeFailed(
            f"{plural(len(result.failures), 'model')} could not be probed, {output} not "
            f"written: {listed}",
            details,
        )
    text = render_eu_list(result.restricted)
    problems = validate_eu_list_text(text, str(output))
    if problems:
        raise ValidationFailed(problems)
    with times.step("write"):
        # The default generated/ is made when missing; a folder the user named was checked.
        written = write_atomically(output, text, create_parents=args.output is None)
    save_recording(source)
    state = "wrote" if written else "unchanged:"
    log.info(
        "%s %s (%d restricted); %s; %s",
        state,
        output,
        len(result.restricted),
        requests_made,
        times.summary(),
    )
    return 0
