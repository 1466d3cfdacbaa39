"""Bounded HTTP: requests that cannot hang, grow without bound, or follow a redirect.

A reusable layer over requests + urllib3 + tenacity, free of NGC specifics, in four parts:
errors (the HttpError family), retry (limits, Retry-After, the wait budget), inflight
(attempts in flight and their watchdog) and client (BoundedClient).


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
from .retry import AttemptCounter, HttpLimits, MiB, clear_frames, retry_after_seconds

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
