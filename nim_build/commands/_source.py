"""Options and set-up shared by the commands that talk to NGC (detect-eu, generate, run)."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from nim_build.errors import UsageError
from nim_build.models import Catalog, ModelFailure
from nim_build.ngc import (
    DEFAULT_API_URL,
    KeyRefused,
    LiveSource,
    NgcSource,
    RecordingSource,
    RetryPolicy,
    SnapshotSource,
    load_api_key,
)
from nim_build.progress import StepTimes
from nim_build.resources import demo_snapshot_path
from nim_build.steps.catalog import fetch_catalog

log = logging.getLogger("nim_build")
# Demo outputs stay out of generated/, which holds only what live runs commit.
DEMO_DIR = Path("build/demo")


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """The key, the API and how hard to try: the same on every NGC command."""
    parser.add_argument(
        "api_key",
        nargs="?",
        metavar="API_KEY",
        help="personal NGC key (nvapi-...); default: --api-key-file or $NGC_API_KEY",
    )
    parser.add_argument(
        "--api-key-file",
        type=Path,
        metavar="PATH",
        help="read the key from a file (e.g. a mounted secret)",
    )
    parser.add_argument(
        "--api-url",
        default=os.environ.get("NGC_API_URL") or DEFAULT_API_URL,
        metavar="URL",
        help="NGC API base URL (default: $NGC_API_URL or %(default)s)",
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
        type=positive_int,
        default=16,
        metavar="N",
        help="requests in flight at once (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=RetryPolicy.read_timeout,
        metavar="SECONDS",
        help="read timeout per request (default: %(default)s)",
    )
    parser.add_argument(
        "--retries",
        type=positive_int,
        default=RetryPolicy.attempts,
        metavar="N",
        help="attempts per request before it counts as failed (default: %(default)s)",
    )


@contextmanager
def open_source(args: argparse.Namespace) -> Iterator[NgcSource]:
    """The NGC source the options ask for; the key is loaded (and format-checked) here."""
    if args.record and (args.demo or args.from_snapshot):
        raise UsageError("--record records a live run; it cannot be combined with a replay")
    source: NgcSource
    if args.demo:
        source = SnapshotSource(demo_snapshot_path())
    elif args.from_snapshot:
        source = SnapshotSource(args.from_snapshot)
    else:
        key = load_api_key(args.api_key, args.api_key_file)
        policy = RetryPolicy(attempts=args.retries, read_timeout=args.timeout)
        source = LiveSource(args.api_url, key, concurrency=args.concurrency, policy=policy)
    if args.record:
        source = RecordingSource(source, args.record)
    try:
        yield source
    finally:
        source.close()


def default_path(args: argparse.Namespace, given: Path | None, name: str) -> Path:
    """An output's path: as given, else under generated/ (build/demo/ for --demo)."""
    if given is not None:
        return given
    return (DEMO_DIR if args.demo else Path("generated")) / name


def check_key_and_list(source: NgcSource, times: StepTimes) -> Catalog:
    """Key check, then the catalog: the first two steps of every NGC command."""
    with times.step("key check"):
        answer = source.check_key()
    if answer.status != 200:
        raise KeyRefused(f"NGC refused the API key (HTTP {answer.status})")
    with times.step("catalog"):
        catalog = fetch_catalog(source)
    log.info(
        "catalog: %d models on %d page(s); %d without latestTag left out",
        len(catalog.resources),
        catalog.pages,
        len(catalog.without_latest_tag),
    )
    for resource_id in catalog.without_latest_tag:
        log.debug("left out (no latestTag): %s", resource_id)
    return catalog


def request_summary(source: NgcSource) -> str:
    return f"{source.stats.requests} requests, {source.stats.retries} retries"


def failure_list(failures: Sequence[ModelFailure]) -> str:
    """Every failed model with its reason, on one line."""
    return "; ".join(str(failure) for failure in sorted(failures, key=lambda f: f.resource_id))
