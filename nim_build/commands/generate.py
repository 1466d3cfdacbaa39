"""`nim-build generate`: fetch every model's metadata into the nim-models-data ConfigMap."""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass, replace
from pathlib import Path

from nim_build.atomic import output_lock, write_atomically
from nim_build.errors import NimBuildError
from nim_build.inputs import read_text
from nim_build.models import Catalog, ConfigMapData, EuRestriction, ModelEntry
from nim_build.ngc import NgcSource
from nim_build.progress import StepTimes
from nim_build.resources import demo_eu_list_path
from nim_build.steps.catalog import ensure_unique_names
from nim_build.steps.configmap import ConfigMapError, parse_configmap, render_configmap
from nim_build.steps.eu import read_eu_list
from nim_build.steps.metadata import fetch_metadata
from nim_build.steps.validate import ValidationFailed, validate_configmap_text

from ._source import (
    add_source_arguments,
    check_key_and_list,
    default_path,
    failure_list,
    open_source,
    request_summary,
    save_recording,
)

log = logging.getLogger("nim_build")
CONFIGMAP_NAME = "nim-models-data.yaml"
DEFAULT_EU_LIST = Path("generated/nim_eu_restricted.json")


class MetadataFailed(NimBuildError):
    """Some models' metadata could not be had: nothing is written."""


@dataclass(frozen=True)
class Generated:
    """What a generate run produced, before it is written."""

    catalog: Catalog
    entries: tuple[ModelEntry, ...]
    carried_over: tuple[str, ...]
    text: str


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output",
        type=Path,
        metavar="PATH",
        help=f"ConfigMap to write (default: generated/{CONFIGMAP_NAME})",
    )
    parser.add_argument(
        "--eu-restricted",
        type=Path,
        metavar="PATH",
        help=f"EU list from detect-eu (default: {DEFAULT_EU_LIST}; a warning if missing)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_output_arguments(parser)
    add_source_arguments(parser)


def load_eu_list(args: argparse.Namespace) -> tuple[EuRestriction, ...]:
    """The EU list named, bundled (--demo) or default; only a missing default is forgiven."""
    if args.eu_restricted is not None:
        return read_eu_list(args.eu_restricted)
    if args.demo:
        return read_eu_list(demo_eu_list_path())
    if not DEFAULT_EU_LIST.exists():
        log.warning(
            "warning: no EU list at %s (run detect-eu from the EU); every model gets "
            "euRestricted: false unless carried over",
            DEFAULT_EU_LIST,
        )
        return ()
    return read_eu_list(DEFAULT_EU_LIST)


def read_previous(output: Path, *, strict: bool) -> ConfigMapData | None:
    """The ConfigMap currently at `output`, if any.

    Strict callers (run, which diffs against it) fail on a broken file; generate only needs it
    to carry over 451 answers, so it warns and goes on without it.
    """
    if not output.exists():
        return None
    text = read_text(output)
    try:
        return parse_configmap(text, str(output))
    except ConfigMapError as error:
        if strict:
            raise
        log.warning("warning: previous ConfigMap ignored: %s", error)
        return None


def carry_over(
    unavailable: tuple[str, ...], previous: ConfigMapData | None, output: Path
) -> tuple[ModelEntry, ...]:
    """Entries for models that answered 451, from the previous ConfigMap, EU-restricted."""
    known = previous.entries if previous else {}
    missing = [name for name in unavailable if name not in known]
    if missing:
        raise MetadataFailed(
            f"{len(missing)} model(s) answered HTTP 451 (unavailable from this location) and "
            f"have no previous entry in {output} to carry over: {', '.join(sorted(missing))}"
        )
    return tuple(replace(known[name], eu_restricted=True) for name in unavailable)


def build_configmap(
    source: NgcSource,
    args: argparse.Namespace,
    output: Path,
    previous: ConfigMapData | None,
    times: StepTimes,
) -> Generated:
    """Key check → catalog → metadata → carry-over → render → validate. Writes nothing."""
    eu_list = load_eu_list(args)
    catalog = check_key_and_list(source, times)
    ensure_unique_names(catalog.resources)
    with times.step("metadata"):
        result = fetch_metadata(
            source,
            catalog.resources,
            eu_restricted=frozenset(r.resource_id for r in eu_list),
            concurrency=args.concurrency,
        )
    if result.failures:
        raise MetadataFailed(
            f"{len(result.failures)} model(s) failed, nothing written: "
            + failure_list(result.failures)
        )
    unavailable = tuple(sorted(r.name for r in result.unavailable))
    carried = carry_over(unavailable, previous, output)
    for name in unavailable:
        log.warning("warning: %s answered HTTP 451 here; carried over from %s", name, output)
    entries = tuple(sorted((*result.entries, *carried), key=lambda e: e.name))
    with times.step("validate"):
        text = render_configmap(entries)
        problems = validate_configmap_text(text, str(output))
    if problems:
        raise ValidationFailed(problems)
    return Generated(catalog, entries, unavailable, text)


def run(args: argparse.Namespace) -> int:
    output = default_path(args, args.output, CONFIGMAP_NAME)
    # One run at a time from reading the current file (for carry-over) to writing the new one.
    with output_lock(output):
        return _generate(args, output)


def _generate(args: argparse.Namespace, output: Path) -> int:
    times = StepTimes()
    previous = read_previous(output, strict=False)
    with open_source(args) as source:
        generated = build_configmap(source, args, output, previous, times)
        requests_made = request_summary(source)
    with times.step("write"):
        written = write_atomically(output, generated.text)
    save_recording(source)
    restricted = sum(1 for e in generated.entries if e.eu_restricted)
    log.info(
        "%s %s: %d models (%d EU-restricted, %d carried over); %s; %s",
        "wrote" if written else "unchanged:",
        output,
        len(generated.entries),
        restricted,
        len(generated.carried_over),
        requests_made,
        times.summary(),
    )
    return 0
