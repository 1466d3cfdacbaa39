"""Bounded HTTP: requests that cannot hang, grow without bound, or follow a redirect.

A reusable layer over requests + urllib3 + tenacity, free of NGC specifics, in five parts:
errors (the HttpError family), limits (HttpLimits), retry (Retry-After, the wait budget),
inflight (attempts in flight and their watchdog) and client (BoundedClient). Each name is
loaded on first use: errors and limits need no third-party library.


- `HttpLimits` (frozen): the whole-attempt deadline (`timeout`, connect to last byte), the
  connect timeout, attempts per request, backoff, the cap on one `Retry-After` wait, the cap
  on the total time a client may spend waiting between attempts, and the default cap on a
  body's *decoded* size.
- `BoundedClient(limits)`: one pooled session that never follows redirects.
  `client.request(method, url, ...)` retries 429/5xx and transport failures and returns an
  `HttpAnswer` (status, headers, body bytes); `client.attempt(...)` is one try, no retries.
  `client.close()` cancels: requests in flight are interrupted (their sockets shut down),
  retries stop, and worker threads return within moments. A deadline is enforced in every
  phase: the socket timeout is `min(remaining, timeout)` before each read, the body is read
  one socket read at a time, and a watchdog shuts down a connection whose attempt is past
  its deadline (a server that drips headers or compressed padding).
- `HttpError` and its subclasses, raised `from` the requests/urllib3 error; each message is
  one line naming the method and URL (never headers or bodies, which may hold credentials).
"""

from __future__ import annotations

from nim_build.lazy import load_export

TYPE_CHECKING = False  # no `typing` import at start
if TYPE_CHECKING:
    from typing import Any

    from .client import READ_CHUNK, BoundedClient, HttpAnswer, user_agent
    from .errors import (
        BadEncoding,
        Cancelled,
        CannotSend,
        ConnectFailed,
        ConnectTimedOut,
        HttpError,
        NotHttp,
        Redirected,
        RetryableStatus,
        RetryBudgetSpent,
        TimedOut,
        TlsFailed,
        TooLarge,
        TransportFailed,
        describe_failure,
        is_retryable,
    )
    from .inflight import WATCHDOG_PERIOD
    from .limits import HttpLimits, MiB
    from .retry import AttemptCounter, clear_frames, retry_after_seconds

# name -> submodule. Loaded on first use (PEP 562): the light parts (errors, limits) are
# imported without requests, urllib3 or tenacity, so a command's options load none of them.
_EXPORTS = {
    "AttemptCounter": ".retry",
    "BadEncoding": ".errors",
    "BoundedClient": ".client",
    "Cancelled": ".errors",
    "CannotSend": ".errors",
    "ConnectFailed": ".errors",
    "ConnectTimedOut": ".errors",
    "HttpAnswer": ".client",
    "HttpError": ".errors",
    "HttpLimits": ".limits",
    "MiB": ".limits",
    "NotHttp": ".errors",
    "READ_CHUNK": ".client",
    "Redirected": ".errors",
    "RetryBudgetSpent": ".errors",
    "RetryableStatus": ".errors",
    "TimedOut": ".errors",
    "TlsFailed": ".errors",
    "TooLarge": ".errors",
    "TransportFailed": ".errors",
    "WATCHDOG_PERIOD": ".inflight",
    "clear_frames": ".retry",
    "describe_failure": ".errors",
    "is_retryable": ".errors",
    "retry_after_seconds": ".retry",
    "user_agent": ".client",
}

__all__ = [
    "READ_CHUNK",
    "WATCHDOG_PERIOD",
    "AttemptCounter",
    "BadEncoding",
    "BoundedClient",
    "Cancelled",
    "CannotSend",
    "ConnectFailed",
    "ConnectTimedOut",
    "HttpAnswer",
    "HttpError",
    "HttpLimits",
    "MiB",
    "NotHttp",
    "Redirected",
    "RetryBudgetSpent",
    "RetryableStatus",
    "TimedOut",
    "TlsFailed",
    "TooLarge",
    "TransportFailed",
    "clear_frames",
    "describe_failure",
    "is_retryable",
    "retry_after_seconds",
    "user_agent",
]


def __getattr__(name: str) -> Any:
    return load_export(__name__, _EXPORTS, name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
