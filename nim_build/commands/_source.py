"""Options and set-up shared by the commands that talk to NGC (detect-eu, generate, run)."""

from __future__ import annotations

import argparse
import logging
import math
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nim_build.commands import DEPRECATION_NOTES
from nim_build.errors import INLINE_ITEMS, LISTED_ABOVE, NimBuildError, UsageError
from nim_build.http.errors import TlsFailed, TransportFailed
from nim_build.http.limits import HttpLimits
from nim_build.inputs import MAX_INPUT_CHARS
from nim_build.models import Catalog, ModelFailure
from nim_build.ngc import (
    DEFAULT_API_URL,
    KeyRefused,
    NgcSource,
    RecordingSource,
    RequestFailed,
    SnapshotSource,
    load_api_key,
)
from nim_build.ngc.snapshot import FORMAT_FIELD
from nim_build.outputs import OutputKind, check_distinct, check_output
from nim_build.progress import StepTimes
from nim_build.resources import demo_snapshot_path
from nim_build.steps.catalog import OnPage, fetch_catalog
from nim_build.urls import check_api_url
from nim_build.wording import plural

log = logging.getLogger("nim_build")
API_URL_ENV = "NGC_API_URL"
# Demo outputs stay out of generated/, which holds only what live runs commit.
DEMO_DIR = Path("build/demo")
KEY_ARGUMENT_WARNING = (
    "the API key given as an argument is visible to other users in `ps` and stays in shell "
    "history; use $NGC_API_KEY or --api-key-file instead"
)


MAX_CONCURRENCY = 64  # the fastest measured (docs/benchmarks.md); more threads invite 429s
MAX_ATTEMPTS = 20
MAX_TIMEOUT = 3600.0  # seconds; far beyond any real answer, well inside what sockets accept
# What --record may replace: a snapshot, a JSON object marked in its second line (further in,
# in the sorted layout of earlier versions, up to the largest snapshot a replay reads). A file
# that only quotes the marker (a test, these docs) is not one.
SNAPSHOT_OUTPUT = OutputKind(
    "a nim-build snapshot",
    lambda head: head.lstrip().startswith("{") and FORMAT_FIELD in head,
    marker=FORMAT_FIELD.encode(),
    scan_limit=4 * MAX_INPUT_CHARS,
    opens_with="{",
)


def int_between(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high], with a message a user can act on."""
    bound = f"from {low} to {high}" if high is not None else f"{low} or more"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a whole number {bound}, got {text!r}"
            ) from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {bound}, not {value}")
        return value

    return parse


def timeout_seconds(text: str) -> float:
    """An argparse type: seconds, more than 0 and finite (nan and inf are not timeouts)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or not 0 < value <= MAX_TIMEOUT:
        raise argparse.ArgumentTypeError(
            f"must be more than 0 and at most {MAX_TIMEOUT:g} seconds, not {text}"
        )
    return value


def api_url(text: str) -> str:
    """An argparse type for --api-url."""
    try:
        return check_api_url(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """The key, the API and how hard to try: the same on every NGC command."""
    parser.add_argument(
        "api_key",
        nargs="?",
        metavar="API_KEY",
        help="personal NGC key (nvapi-...), for scripts written for nim_metadata.sh; "
        "visible in `ps` and shell history, so prefer $NGC_API_KEY or --api-key-file",
    )
    parser.add_argument(
        "--api-key-file",
        type=Path,
        metavar="PATH",
        help="read the key from a file (e.g. a mounted secret)",
    )
    parser.add_argument(
        "--api-url",
        type=api_url,
        metavar="URL",
        help=f"NGC API base URL (default: ${API_URL_ENV} or {DEFAULT_API_URL})",
    )
    add_request_arguments(parser)
    replay = parser.add_mutually_exclusive_group()
    replay.add_argument(
        "--from-snapshot",
        type=Path,
        metavar="PATH",
        help="replay answers recorded with --record instead of calling NGC (no key needed)",
    )
    replay.add_argument(
        "--demo",
        action="store_true",
        help="replay the snapshot bundled with nim-build; outputs go to build/demo/",
    )
    parser.add_argument(
        "--record",
        type=Path,
        metavar="PATH",
        help="save every answer this run receives to a snapshot file (never the key)",
    )


def add_request_arguments(parser: argparse.ArgumentParser) -> None:
    """How many requests at once and how hard to try each: NGC and registry commands alike."""
    parser.add_argument(
        "--concurrency",
        type=int_between(1, MAX_CONCURRENCY),
        default=16,
        metavar="N",
        help=f"requests in flight at once, 1 to {MAX_CONCURRENCY} (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=timeout_seconds,
        default=HttpLimits.timeout,
        metavar="SECONDS",
        help="deadline of each attempt, connect to last byte (default: %(default)s)",
    )
    parser.add_argument(
        "--attempts",
        type=int_between(1, MAX_ATTEMPTS),
        default=HttpLimits.attempts,
        metavar="N",
        help=f"tries per request before it counts as failed, 1 (no retry) to {MAX_ATTEMPTS} "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--retries",
        type=int_between(1, MAX_ATTEMPTS),
        dest="attempts",
        action=DeprecatedAlias,
        metavar="N",
        help=argparse.SUPPRESS,  # deprecated spelling of --attempts (it always counted those)
    )


class DeprecatedAlias(argparse.Action):
    """Stores like the option it stands for, and says once per run that it is deprecated."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        # Logging is not set up while parsing: the CLI logs these once it is (once each).
        replacement = "--" + self.dest.replace("_", "-")
        notes: set[str] = getattr(namespace, DEPRECATION_NOTES, set())
        notes.add(f"{option_string} is deprecated; use {replacement} (same meaning)")
        setattr(namespace, DEPRECATION_NOTES, notes)
        setattr(namespace, self.dest, values)


def live_api_url(args: argparse.Namespace) -> str:
    """--api-url, else $NGC_API_URL, else NGC; a bad environment value is a usage error."""
    if args.api_url:
        return str(args.api_url)
    from_environment = os.environ.get(API_URL_ENV)
    if not from_environment:
        return DEFAULT_API_URL
    try:
        return check_api_url(from_environment)
    except ValueError as error:
        raise UsageError(f"${API_URL_ENV}: {error}") from None


@contextmanager
def open_source(args: argparse.Namespace) -> Iterator[NgcSource]:
    """The NGC source the options ask for; the key is loaded (and format-checked) here."""
    if args.record and (args.demo or args.from_snapshot):
        raise UsageError("--record records a live run; it cannot be combined with a replay")
    if args.record:
        check_output(args.record, "--record", kind=SNAPSHOT_OUTPUT, inputs=inputs_of(args))
    if args.api_key:  # in `ps` and the history already, whether a replay uses it or not
        log.warning(KEY_ARGUMENT_WARNING)
    source: NgcSource
    if args.demo:
        source = SnapshotSource(demo_snapshot_path())
    elif args.from_snapshot:
        source = SnapshotSource(args.from_snapshot)
    else:
        url = live_api_url(args)
        key = load_api_key(args.api_key, args.api_key_file)
        from nim_build.ngc.live import LiveSource, RetryPolicy  # requests: only to send

        policy = RetryPolicy(attempts=args.attempts, timeout=args.timeout)
        source = LiveSource(url, key, concurrency=args.concurrency, policy=policy)
    if args.record:
        source = RecordingSource(source, args.record)
    try:
        yield source
    finally:
        source.close()


def save_recording(source: NgcSource) -> None:
    """Write the `--record` snapshot: called last, so a failed run keeps the old one."""
    if isinstance(source, RecordingSource):
        source.save()


def default_path(args: argparse.Namespace, given: Path | None, name: str) -> Path:
    """An output's path: as given, else under generated/ (build/demo/ for --demo)."""
    if given is not None:
        return given
    return (DEMO_DIR if args.demo else Path("generated")) / name


def output_path(args: argparse.Namespace, given: Path | None, name: str, kind: OutputKind) -> Path:
    """`default_path`, checked before any request (a default folder is created when written).

    It must hold nothing or a `kind` file, and be no input of the run; --record and
    --eu-restricted must not name the same file: it would silently be replaced.
    """
    path = default_path(args, given, name)
    check_output(path, "--output", create_folders=given is None, kind=kind, inputs=inputs_of(args))
    check_distinct({"--output": path, **written_or_read(args)})
    return path


def inputs_of(args: argparse.Namespace) -> dict[str, Path | None]:
    """The files an NGC command reads, by option: no output may be one of them."""
    return {
        "--eu-restricted": getattr(args, "eu_restricted", None),
        "--from-snapshot": args.from_snapshot,
        "--api-key-file": args.api_key_file,
    }


def written_or_read(args: argparse.Namespace) -> dict[str, Path | None]:
    """The files besides --output (and --report) that a run writes or reads, by option."""
    return {"--record": args.record, "--eu-restricted": getattr(args, "eu_restricted", None)}


def _api_location(source: NgcSource) -> str:
    """Where a source's answers come from, for an error about reaching it."""
    inner = getattr(source, "inner", source)
    return str(getattr(inner, "api_url", None) or getattr(inner, "path", "the NGC source"))


def check_key_and_list(
    source: NgcSource,
    times: StepTimes,
    *,
    on_page: OnPage | None = None,
    key_accepted: Callable[[], None] | None = None,
) -> Catalog:
    """The key check and the catalog at once: the first two steps of every NGC command.

    The catalog search needs no key, so page 0 is asked while the key is checked. A refused
    key still wins: its error is raised, whatever the catalog answered. `key_accepted` is
    called once the key is taken, before the catalog is awaited; `on_page` sees each page's
    resources as it arrives (see fetch_catalog).
    """
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalog")
    try:
        catalog = pool.submit(list_catalog, source, times, on_page=on_page)
        check_key(source, times)
        if key_accepted is not None:
            key_accepted()
        return catalog.result()
    finally:
        # On an error (a refused key, Ctrl-C) return at once: closing the source ends the
        # catalog request in flight.
        pool.shutdown(wait=False, cancel_futures=True)


def check_key(source: NgcSource, times: StepTimes) -> None:
    """The first request: KeyRefused unless NGC takes the key."""
    try:
        with times.step("key check"):
            answer = source.check_key()
    except RequestFailed as error:
        if not isinstance(error.__cause__, TransportFailed | TlsFailed):
            raise  # an answer came (too large, malformed, a redirect): its message says which
        # The first request, and no answer: say where it went.
        raise RequestFailed(f"cannot reach {_api_location(source)}: {error}") from error
    if answer.status != 200:
        raise KeyRefused(f"NGC refused the API key (HTTP {answer.status})")


def list_catalog(source: NgcSource, times: StepTimes, *, on_page: OnPage | None = None) -> Catalog:
    """The catalog, checked whole (see steps/catalog.py)."""
    with times.step("catalog"):
        catalog = fetch_catalog(source, on_page=on_page)
    log.info(
        "catalog: %s on %s; %d without latestTag left out",
        plural(len(catalog.resources), "model"),
        plural(catalog.pages, "page"),
        len(catalog.without_latest_tag),
    )
    for resource_id in catalog.without_latest_tag:
        log.debug("left out (no latestTag): %s", resource_id)
    return catalog


def request_summary(source: NgcSource) -> str:
    stats = source.stats
    return f"{plural(stats.requests, 'request')}, {plural(stats.retries, 'retry', 'retries')}"


def failure_report(failures: Sequence[ModelFailure]) -> tuple[str, tuple[str, ...]]:
    """A few failures inline ("a (HTTP 503); b (HTTP 404)"); more one per line, as details.

    Returns the tail of the error line and the detail lines printed above it.
    """
    ordered = sorted(failures, key=lambda f: f.resource_id)
    if len(ordered) <= INLINE_ITEMS:
        return "; ".join(map(str, ordered)), ()
    return LISTED_ABOVE, tuple(f"  {f.resource_id}: {f.reason}" for f in ordered)


def annotation_text(error: NimBuildError) -> str:
    """The error for a CI annotation, where nothing is printed above it."""
    text = str(error)
    if error.details and text.endswith(LISTED_ABOVE):
        return text.removesuffix(LISTED_ABOVE) + "each listed in the log and the report"
    return text
