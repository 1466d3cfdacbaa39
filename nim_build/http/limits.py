"""A client's limits in one value. No third-party import: the CLI reads the defaults for its
options' help while parsing, before any HTTP library is loaded."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1 << 20


def describe_size(count: int) -> str:
    """A byte bound for a message: `4 MiB`, or `1,234 bytes` when not whole mebibytes."""
    return f"{count // MiB} MiB" if count % MiB == 0 else f"{count:,} bytes"


@dataclass(frozen=True)
class HttpLimits:
    """How long, how often and how much: every bound of a client, in one value."""

    timeout: float = 30.0  # seconds per attempt, connect to last byte
    connect_timeout: float = 5.0  # part of `timeout`, not added to it
    attempts: int = 5
    backoff_base: float = 0.5  # seconds; full jitter, doubling per attempt
    backoff_max: float = 8.0
    retry_after_cap: float = 30.0  # never sleep longer than this on a server's Retry-After
    total_wait: float = 120.0  # seconds all requests of a client may spend waiting to retry
    max_body: int = 1 * MiB  # decoded bytes; per request it can be set lower or higher
