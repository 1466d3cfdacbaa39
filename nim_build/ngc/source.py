"""The interface every NGC source implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from nim_build.stats import RequestStats

DEFAULT_API_URL = "https://api.ngc.nvidia.com"


@dataclass(frozen=True)
class Answer:
    """One final answer: HTTP status and decoded JSON body (None when empty)."""

    status: int
    body: Any = None


# The NGC source's name for the shared counters.
SourceStats = RequestStats


class NgcSource(Protocol):
    """Where NGC answers come from. Methods are safe to call from several threads."""

    stats: SourceStats

    def check_key(self) -> Answer:
        """`POST /v3/keys/get-caller-info`: does NGC take the key? Call it first.

        Returns an `Answer` with the status only (`body` is None: it describes the key's
        owner). 200: the key is taken. Any other final status (401, 403, ...) is returned,
        not raised: the caller decides; the CLI stops with `KeyRefused`. 429 and 5xx answers
        are retried within the source's `RetryPolicy` first. Raises `RequestFailed` when no
        usable answer came: connection, TLS or timeout failures after the last attempt, a
        redirect (never followed) or an answer over 1 MiB. A `SnapshotSource` returns the
        recorded status, or raises `SnapshotError` when none was recorded.
        """
        ...

    def catalog_page(self, page: int, page_size: int) -> Answer:
        """One page of the NIM catalog search."""
        ...

    def repository(self, resource_id: str) -> Answer:
        """Metadata of one container repository, `resource_id` = `org/team/repo`."""
        ...

    def close(self) -> None:
        """Release connections, flush recordings."""
        ...
