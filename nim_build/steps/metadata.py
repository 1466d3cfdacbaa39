"""Step 2b: fetch each model's metadata and keep the eight contract fields."""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any

from nim_build.models import MetadataResult, ModelEntry, ModelFailure, Resource
from nim_build.ngc.source import NgcSource
from nim_build.progress import Progress
from nim_build.steps.configmap import ConfigMapTooLarge, SizeBudget
from nim_build.steps.eu import UNAVAILABLE_FOR_LEGAL_REASONS
from nim_build.steps.pool import ask_repository
from nim_build.steps.validate.messages import as_json, kind_of

Outcome = ModelEntry | ModelFailure | Resource


class MalformedAnswer(Exception):
    """The metadata answer lacks a field or has one of the wrong type."""


def _string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        kind = "missing" if value is None else f"{kind_of(value)}, not a string"
        raise MalformedAnswer(f"$.{name} is {kind}")
    return value


def _tags(body: dict[str, Any]) -> tuple[str, ...]:
    tags = body.get("tags")
    if not isinstance(tags, list):
        kind = "missing" if tags is None else f"{kind_of(tags)}, not an array"
        raise MalformedAnswer(f"$.tags is {kind}")
    for index, tag in enumerate(tags):
        if not isinstance(tag, str):
            raise MalformedAnswer(f"$.tags[{index}] is {kind_of(tag)}, not a string")
    return tuple(tags)


def parse_metadata(resource: Resource, body: Any, *, eu_restricted: bool) -> ModelEntry:
    """The contract entry from one metadata answer; MalformedAnswer names the bad field."""
    if not isinstance(body, dict):
        raise MalformedAnswer("answer is not a JSON object")
    entry = ModelEntry(
        name=_string(body, "name"),
        display_name=_string(body, "displayName"),
        short_description=_string(body, "shortDescription"),
        namespace=_string(body, "namespace"),
        tags=_tags(body),
        latest_tag=_string(body, "latestTag"),
        updated_date=_string(body, "updatedDate"),
        eu_restricted=eu_restricted,
    )
    # The image is nvcr.io/{namespace}/{name}: an answer for another repo would ship a wrong one.
    expected_namespace = f"{resource.org}/{resource.team}"
    if entry.name != resource.repo or entry.namespace != expected_namespace:
        answered = as_json(f"{entry.namespace}/{entry.name}")  # quoted, cut: it is API text
        raise MalformedAnswer(f"answer is for {answered}, not {resource.resource_id}")
    return entry


def _fetch_one(
    source: NgcSource, resource: Resource, eu_restricted: Collection[str]
) -> ModelEntry | ModelFailure | Resource:
    """The entry, a failure, or the resource itself when it answered 451."""
    answer = ask_repository(source, resource)
    if isinstance(answer, ModelFailure):
        return answer
    if answer.status == UNAVAILABLE_FOR_LEGAL_REASONS:
        return resource
    if answer.status != 200:
        return ModelFailure(resource.resource_id, f"HTTP {answer.status}")
    try:
        return parse_metadata(
            resource, answer.body, eu_restricted=resource.resource_id in eu_restricted
        )
    except MalformedAnswer as error:
        return ModelFailure(resource.resource_id, f"malformed answer: {error}")


class MetadataFetch:
    """Metadata fetched as resources are handed in, at most `concurrency` requests at once.

    The CLI hands in each catalog page as it arrives, so the metadata requests of page 0 run
    while the other pages are read. No request is sent before `open()` (the key was
    accepted); leaving the block without it sends none. With a `budget`, each entry is counted
    as it arrives, and the first that passes the 1 MiB limit stops the rest: `result()` raises
    ConfigMapTooLarge instead of making requests for a ConfigMap that cannot be written.
    """

    def __init__(
        self,
        source: NgcSource,
        *,
        eu_restricted: Collection[str] = frozenset(),
        concurrency: int = 16,
        budget: SizeBudget | None = None,
    ) -> None:
        self._source = source
        self._eu_restricted = eu_restricted
        self._budget = budget
        self._pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="ngc")
        self._futures: dict[str, Future[Outcome | None]] = {}
        self._progress = Progress("fetch metadata", 0)
        self._opened = threading.Event()
        self._stopped = threading.Event()  # nothing more is asked (interrupt, budget, refusal)
        self._stop_cause: BaseException | None = None

    def __enter__(self) -> MetadataFetch:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if error is not None:
            # Return at once (Ctrl-C, a refused key): queued requests are dropped, and closing
            # the source interrupts those in flight.
            self._stopped.set()
            self._opened.set()
            self._pool.shutdown(wait=False, cancel_futures=True)
        else:
            self._pool.shutdown()

    def submit(self, resources: Iterable[Resource]) -> None:
        """Queue the metadata requests of `resources` (each resource once)."""
        new = {r.resource_id: r for r in resources if r.resource_id not in self._futures}
        self._progress.total += len(new)  # before any of them can finish
        for resource_id, resource in new.items():
            self._futures[resource_id] = self._pool.submit(self._fetch, resource)

    def open(self) -> None:
        """Let the queued requests go (the key check accepted the key)."""
        self._opened.set()

    def result(self, resources: Sequence[Resource]) -> MetadataResult:
        """The outcome of every resource in `resources` (queued now if it was not yet)."""
        self.submit(resources)
        self.open()
        outcomes = [self._futures[resource.resource_id].result() for resource in resources]
        if self._stop_cause is not None:
            raise self._stop_cause
        return _gathered([outcome for outcome in outcomes if outcome is not None])

    def _fetch(self, resource: Resource) -> Outcome | None:
        self._opened.wait()
        if self._stopped.is_set():
            return None
        try:
            outcome = _fetch_one(self._source, resource, self._eu_restricted)
        finally:
            if not self._stopped.is_set():  # cancelled requests are not progress
                self._progress.advance()
        if isinstance(outcome, ModelEntry) and self._budget is not None:
            try:
                self._budget.add(outcome)
            except ConfigMapTooLarge as error:
                if not self._stopped.is_set():
                    self._stop_cause = error
                    self._stopped.set()
        return outcome


def fetch_metadata(
    source: NgcSource,
    resources: Sequence[Resource],
    *,
    eu_restricted: Collection[str] = frozenset(),
    concurrency: int = 16,
) -> MetadataResult:
    """Metadata of every resource; `eu_restricted` holds resource ids from the EU list."""
    with MetadataFetch(source, eu_restricted=eu_restricted, concurrency=concurrency) as fetch:
        return fetch.result(resources)


def _gathered(outcomes: Sequence[Outcome]) -> MetadataResult:
    return MetadataResult(
        entries=tuple(
            sorted((o for o in outcomes if isinstance(o, ModelEntry)), key=lambda e: e.name)
        ),
        unavailable=tuple(o for o in outcomes if isinstance(o, Resource)),
        failures=tuple(o for o in outcomes if isinstance(o, ModelFailure)),
    )
