"""Run one remote look-up per model in a bounded thread pool."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from nim_build.models import ModelFailure, Resource
from nim_build.ngc.errors import NgcError
from nim_build.ngc.source import Answer, NgcSource
from nim_build.progress import Progress

Item = TypeVar("Item")
Result = TypeVar("Result")


def map_bounded(
    work: Callable[[Item], Result],
    items: Sequence[Item],
    *,
    concurrency: int,
    label: str,
) -> list[Result]:
    """`work` over `items` with at most `concurrency` in flight; results in input order.

    `work` must not raise for an expected per-item failure: it returns it as a value, so
    one bad model never hides the others.
    """
    progress = Progress(label, len(items))
    interrupted = threading.Event()

    def tracked(item: Item) -> Result:
        try:
            return work(item)
        finally:
            if not interrupted.is_set():  # cancelled requests are not progress
                progress.advance()

    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="ngc")
    try:
        results = list(pool.map(tracked, items))
    except BaseException:
        interrupted.set()
        # Ctrl-C: return at once; closing the source interrupts the requests still in flight.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return results


def ask_repository(source: NgcSource, resource: Resource) -> Answer | ModelFailure:
    """The final answer for one model, or its failure after the source's retries."""
    try:
        return source.repository(resource.resource_id)
    except NgcError as error:
        reason = str(error).removeprefix(f"{resource.resource_id}: ")
        return ModelFailure(resource.resource_id, reason)
