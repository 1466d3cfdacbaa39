"""`nim-build generate`: fetch every model's metadata into the nim-models-data ConfigMap."""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from nim_build.atomic import output_lock, write_atomically
from nim_build.errors import InputFileError, NimBuildError, itemize
from nim_build.inputs import read_text
from nim_build.models import Catalog, ConfigMapData, EuRestriction, ModelEntry, ModelFailure
from nim_build.ngc.source import NgcSource
from nim_build.outputs import HEAD_BYTES, check_distinct
from nim_build.progress import StepTimes
from nim_build.resources import demo_eu_list_path
from nim_build.safe_text import REDACTED
from nim_build.steps.catalog import ensure_unique_names
from nim_build.steps.configmap import CONFIGMAP_NAME as SHIPPED_NAME
from nim_build.steps.configmap import SizeBudget, configmap_data, configmap_labels, render_data
from nim_build.steps.eu import parse_eu_list
from nim_build.steps.metadata import MetadataFetch
from nim_build.steps.validate import ValidationFailed, validate_entries, validate_eu_list_text
from nim_build.wording import plural

from ._configmaps import CONFIGMAP_OUTPUT, read_previous, what_it_holds
from ._metadata import add_metadata_arguments, labels
from ._source import (
    add_source_arguments,
    check_key_and_list,
    failure_report,
    open_source,
    output_path,
    request_summary,
    save_recording,
    written_or_read,
)
from ._stdio import STDIO, is_stdio, output_name, write_stdout

log = logging.getLogger("nim_build")
CONFIGMAP_NAME = "nim-models-data.yaml"
DEFAULT_EU_LIST = Path("generated/nim_eu_restricted.json")


class MetadataFailed(NimBuildError):
    """Some models' metadata could not be had: nothing is written."""

    def __init__(self, message: str, failures: tuple[ModelFailure, ...]) -> None:
        listed, details = failure_report(failures)
        super().__init__(f"{message}: {listed}", details)
        self.failures = failures


@dataclass(frozen=True)
class Generated:
    """What a generate run produced, before it is written."""

    catalog: Catalog
    entries: tuple[ModelEntry, ...]
    carried_over: tuple[str, ...]
    text: str
    eu_list_unknown: tuple[str, ...] = ()  # EU list entries the catalog does not hold


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output",
        type=Path,
        metavar="PATH",
        help=f"ConfigMap to write (default: generated/{CONFIGMAP_NAME}); - writes stdout",
    )
    parser.add_argument(
        "--eu-restricted",
        type=Path,
        metavar="PATH",
        help=f"EU list from detect-eu (default: {DEFAULT_EU_LIST}; a warning if missing)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_output_arguments(parser)
    add_metadata_arguments(parser, default_name=SHIPPED_NAME)
    add_source_arguments(parser)


def _eu_list_path(args: argparse.Namespace) -> Path | None:
    """The EU list named, bundled (--demo) or default; None when the default is missing."""
    if args.eu_restricted is not None:
        return Path(args.eu_restricted)
    if args.demo:
        return demo_eu_list_path()
    if not DEFAULT_EU_LIST.exists():
        log.warning(
            "no EU list at %s (run detect-eu from the EU); every model gets "
            "euRestricted: false unless carried over",
            DEFAULT_EU_LIST,
        )
        return None
    return DEFAULT_EU_LIST


def load_eu_list(args: argparse.Namespace) -> tuple[EuRestriction, ...]:
    """The EU list; what `nim-build validate` would find wrong in it is a warning."""
    path = _eu_list_path(args)
    if path is None:
        return ()
    # Errors name the option when it chose the file (not the default or --demo's list).
    option = "--eu-restricted " if args.eu_restricted is not None else ""
    try:
        text = read_text(path)
        # By its first lines: an EU list is not parsed as YAML (nor ruamel loaded) to know.
        if CONFIGMAP_OUTPUT.recognise(text[:HEAD_BYTES]):
            if what_it_holds(text) == "ours":
                raise InputFileError(f"{path}: a nim-models-data ConfigMap, not an EU list")
            raise InputFileError(f"{path}: a ConfigMap, not an EU list")  # --name, another app's
        # Structure errors fail in parse_eu_list; the rest (order, consistency) `validate`
        # would refuse, but the list still says which models are restricted: warn, go on.
        eu_list = parse_eu_list(text, str(path))
    except InputFileError as error:
        raise InputFileError(f"{option}{error}") from error
    for problem in validate_eu_list_text(text, str(path)):
        log.warning("%s: %s", path, problem)
    return eu_list


def unknown_eu_entries(eu_list: tuple[EuRestriction, ...], catalog: Catalog) -> tuple[str, ...]:
    """EU list entries naming models the catalog does not list (renamed or gone)."""
    known = {r.resource_id for r in catalog.resources} | set(catalog.without_latest_tag)
    return tuple(sorted(r.resource_id for r in eu_list if r.resource_id not in known))


def carry_over(
    unavailable: tuple[str, ...], previous: ConfigMapData | None, output: Path
) -> tuple[ModelEntry, ...]:
    """Entries for models that answered 451, from the previous ConfigMap, EU-restricted."""
    known = previous.entries if previous else {}
    missing = sorted(name for name in unavailable if name not in known)
    if missing:
        where = "(--output - has no previous ConfigMap)" if is_stdio(output) else f"in {output}"
        raise MetadataFailed(
            f"{plural(len(missing), 'model')} answered HTTP 451 (unavailable from this "
            f"location) and {'has' if len(missing) == 1 else 'have'} no previous entry "
            f"{where} to carry over",
            tuple(
                ModelFailure(name, "HTTP 451 here, no previous entry to carry over")
                for name in missing
            ),
        )
    return tuple(replace(known[name], eu_restricted=True) for name in unavailable)


def build_configmap(
    source: NgcSource,
    args: argparse.Namespace,
    output: Path,
    previous: ConfigMapData | None,
    times: StepTimes,
    *,
    eu_list: tuple[EuRestriction, ...] | None = None,
    key_accepted: Callable[[], None] | None = None,
) -> Generated:
    """Key check and catalog at once → metadata, page by page → carry-over → render → check.

    Writes nothing. Each catalog page's metadata requests start as soon as the page is read
    and the key is accepted; a refused key sends none. The rendered size is counted as
    entries arrive: once it must pass 1 MiB the run stops (ConfigMapTooLarge).
    """
    if eu_list is None:
        eu_list = load_eu_list(args)
    restricted = frozenset(r.resource_id for r in eu_list)
    fetch = MetadataFetch(
        source,
        eu_restricted=restricted,
        concurrency=args.concurrency,
        budget=SizeBudget(str(output)),
    )
    # The YAML emitter and parser load while the first requests wait for their answers.
    threading.Thread(target=_prepare_rendering, name="prepare", daemon=True).start()
    with fetch:

        def accepted() -> None:
            fetch.open()
            if key_accepted is not None:
                key_accepted()

        catalog = check_key_and_list(source, times, on_page=fetch.submit, key_accepted=accepted)
        ensure_unique_names(catalog.resources)
        unknown = unknown_eu_entries(eu_list, catalog)
        if unknown:
            tail, details = itemize(unknown)  # a long list one per line, like failed models
            for line in details:
                log.warning("%s", line.strip())
            log.warning(
                "the EU list names %s not in the catalog (renamed or gone?): %s",
                plural(len(unknown), "model"),
                tail,
            )
        with times.step("metadata"):
            result = fetch.result(catalog.resources)
    if result.failures:
        raise MetadataFailed(
            f"{plural(len(result.failures), 'model')} failed, {output_name(output)} not written",
            result.failures,
        )
    unavailable = tuple(sorted(r.name for r in result.unavailable))
    carried = carry_over(unavailable, previous, output)
    for name in unavailable:
        log.warning("%s answered HTTP 451 here; carried over from %s", name, output)
    entries = tuple(sorted((*result.entries, *carried), key=lambda e: e.name))
    with times.step("validate"):
        text = checked_configmap(result.entries, entries, output_name(output), args)
    return Generated(catalog, entries, unavailable, text, unknown)


def _prepare_rendering() -> None:
    """Import what rendering and checking the ConfigMap need (~20 ms of a 0.3 s run)."""
    import nim_build.steps.validate.configmap  # noqa: F401 - imported for its side effect
    from nim_build.steps.configmap import yaml_dumper

    yaml_dumper()


def checked_configmap(
    fetched: tuple[ModelEntry, ...],
    entries: tuple[ModelEntry, ...],
    source: str,
    args: argparse.Namespace,
) -> str:
    """The ConfigMap text for `entries`, checked once: every fetched entry against the schema
    and the image rules, then the envelope and size of the text (carried-over entries were
    checked when the previous file was read). ValidationFailed lists every problem."""
    from nim_build.steps.validate.configmap import check_rendered, validate_configmap_text

    data = configmap_data(entries)
    text = render_data(
        data,
        name=args.name,
        namespace=args.namespace,
        labels=configmap_labels(args.name, labels(args)),
    )
    if any(REDACTED in value for value in data.values()):
        # A value was redacted after it was checked: check the text itself, as written.
        problems = validate_configmap_text(text, source)
    else:
        problems = (*validate_entries(fetched), *check_rendered(text, data, source))
    if problems:
        raise ValidationFailed(problems)
    return text


def run(args: argparse.Namespace) -> int:
    labels(args)  # a bad --label fails before any request
    if is_stdio(args.output):  # nothing on disk: no lock, no previous ConfigMap
        check_distinct(written_or_read(args))
        return _generate(args, Path(STDIO))
    output = output_path(args, args.output, CONFIGMAP_NAME, CONFIGMAP_OUTPUT)
    # One run at a time from reading the current file (for carry-over) to writing the new one.
    with output_lock(output):
        return _generate(args, output)


def _write(output: Path, text: str) -> bool:
    """The ConfigMap to its file (atomically; False: unchanged) or to stdout (`-`)."""
    if not is_stdio(output):
        return write_atomically(output, text)
    write_stdout(text)
    return True


def _generate(args: argparse.Namespace, output: Path) -> int:
    times = StepTimes()
    # stdout holds no previous ConfigMap: a model answering 451 has nothing to carry over.
    previous = None if is_stdio(output) else read_previous(output, strict=False, name=args.name)
    with open_source(args) as source:
        generated = build_configmap(source, args, output, previous, times)
        requests_made = request_summary(source)
    with times.step("write"):
        written = _write(output, generated.text)
    save_recording(source)
    restricted = sum(1 for e in generated.entries if e.eu_restricted)
    log.info(
        "%s %s: %s (%d EU-restricted, %d carried over); %s; %s",
        "wrote" if written else "unchanged:",
        output_name(output),
        plural(len(generated.entries), "model"),
        restricted,
        len(generated.carried_over),
        requests_made,
        times.summary(),
    )
    return 0
