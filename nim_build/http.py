"""Bounded HTTP: requests that cannot hang, grow without bound, or follow a redirect.

A reusable layer over requests + urllib3 + tenacity, free of NGC specifics:

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

import contextlib
import email.utils
import logging
import re
import socket
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import requests
import urllib3
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_any,
    wait_random_exponential,
)
from tenacity.stop import stop_base
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from nim_build import __version__
from nim_build.errors import NimBuildError
from nim_build.wording import plural

MiB = 1 << 20
READ_CHUNK = 64 * 1024  # decoded bytes per read: one socket read, at most this much out
WATCHDOG_PERIOD = 0.25  # seconds between the watchdog's looks at attempts in flight
_DELAY_SECONDS = re.compile(r"[0-9]+", re.ASCII)  # Retry-After: delay-seconds = 1*DIGIT
log = logging.getLogger(__name__)


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


# --------------------------------------------------------------------------- errors


class HttpError(NimBuildError):
    """A request that gave no usable answer; `str()` is one line naming method and URL."""

    retryable = False


class Redirected(HttpError):
    """A 3xx answer: never followed (a redirect would re-send credentials elsewhere)."""


class TooLarge(HttpError):
    """The decoded body went past its cap."""


class BadEncoding(HttpError):
    """The body could not be decoded (Content-Encoding)."""


class Cancelled(HttpError):
    """The client was closed (e.g. Ctrl-C) while the request was in flight or waiting."""


class TransportFailed(HttpError):
    """Refused or dropped connection, or a body cut off: worth another attempt."""

    retryable = True


class TlsFailed(HttpError):
    """The TLS handshake failed (an untrusted certificate will not verify on a retry either)."""


class TimedOut(TransportFailed):
    """No complete answer within the attempt's deadline."""


class RetryableStatus(HttpError):
    """An answer worth asking again for (429 or 5xx); `retry_after` in seconds if usable."""

    retryable = True

    def __init__(self, message: str, status: int, retry_after: float | None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class RetryBudgetSpent(HttpError):
    """The client's total retry-wait budget is used up: the last failure stands."""


def is_retryable(error: BaseException) -> bool:
    return isinstance(error, HttpError) and error.retryable


def describe_failure(error: HttpError, attempts: int) -> str:
    """The error, and for a retried one how often it was tried: `… after 5 attempts`."""
    return f"{error} after {plural(attempts, 'attempt')}" if error.retryable else str(error)


# --------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class HttpAnswer:
    """A complete answer: status, headers (case-insensitive) and the decoded body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def retry_after_seconds(value: str | None, cap: float, now: float | None = None) -> float | None:
    """`Retry-After` as seconds in [0, cap]; None when absent or unparseable.

    delay-seconds are digits only (so `1e308`, `nan`, `-1` are unparseable); an HTTP date
    whose fields overflow (year 99999, hour 99) is unparseable too, not a crash.
    """
    if not value:
        return None
    value = value.strip()
    if _DELAY_SECONDS.fullmatch(value):
        return min(float(cap), float(value))  # float() of a huge digit string is inf
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    seconds = when - (time.time() if now is None else now)
    return min(float(cap), max(0.0, seconds))


# --------------------------------------------------------------------------- in flight


_current = threading.local()  # the `_Attempt` this thread is making, if any


@dataclass(eq=False)
class _Attempt:
    """One attempt in flight: its deadline and the connection it is using."""

    deadline: float
    connection: HTTPConnection | None = None
    interrupted: bool = False

    def interrupt(self) -> None:
        """Wake a thread blocked on this attempt's socket (connect is bounded by its timeout)."""
        sock = getattr(self.connection, "sock", None)
        if sock is None:  # not connected yet: the watchdog tries again on its next look
            return
        self.interrupted = True
        with contextlib.suppress(OSError):
            # The base class's shutdown: on a TLS socket, leave the TLS state alone.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _bind_to_current_attempt(connection: HTTPConnection) -> None:
    """Tie a connection to the attempt of the thread about to send on it."""
    attempt: _Attempt | None = getattr(_current, "attempt", None)
    if attempt is not None:
        attempt.connection = connection


class _TrackedHTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _bind_to_current_attempt(self)
        super().request(*args, **kwargs)


class _TrackedHTTPSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _bind_to_current_attempt(self)
        super().request(*args, **kwargs)


class _TrackedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _TrackedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


_TRACKED_POOLS: dict[str, type[HTTPConnectionPool]] = {
    "http": _TrackedHTTPPool,
    "https": _TrackedHTTPSPool,
}


class _TrackingAdapter(HTTPAdapter):
    """An adapter whose connections can be found (and shut down) while in use."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_TRACKED_POOLS)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS pools have classes of their own
            manager.pool_classes_by_scheme = dict(_TRACKED_POOLS)
        return manager


class _InFlight:
    """The attempts in flight; a daemon watchdog interrupts those past their deadline."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._attempts: set[_Attempt] = set()
        self._watchdog: threading.Thread | None = None
        self._stop = threading.Event()

    @contextlib.contextmanager
    def track(self, deadline: float) -> Iterator[_Attempt]:
        attempt = _Attempt(deadline)
        with self._lock:
            self._attempts.add(attempt)
            if self._watchdog is None:
                self._watchdog = threading.Thread(
                    target=self._watch, name="http-watchdog", daemon=True
                )
                self._watchdog.start()
        _current.attempt = attempt
        try:
            yield attempt
        finally:
            _current.attempt = None
            with self._lock:
                self._attempts.discard(attempt)

    def interrupt_all(self) -> None:
        self._stop.set()
        with self._lock:
            attempts = list(self._attempts)
        for attempt in attempts:
            attempt.interrupt()

    def _watch(self) -> None:
        while not self._stop.wait(WATCHDOG_PERIOD):
            now = time.monotonic()
            with self._lock:
                late = [a for a in self._attempts if a.deadline < now and not a.interrupted]
            for attempt in late:
                attempt.interrupt()


# --------------------------------------------------------------------------- the client


class AttemptCounter(Protocol):
    """Where a client counts attempts and retries (e.g. a run's statistics)."""

    def count_request(self) -> None: ...

    def count_retry(self) -> None: ...


class _NoCounter:
    def count_request(self) -> None:
        """Not counted."""

    def count_retry(self) -> None:
        """Not counted."""


class _WaitBudget(stop_base):
    """A stop condition: the next wait must fit in what all requests may still wait in total.

    Shared by a client's threads. When spent, the last failure is raised as RetryBudgetSpent
    and the log says so once.
    """

    def __init__(self, seconds: float) -> None:
        self.total = self.left = seconds
        self._noticed = False
        self._lock = threading.Lock()

    def __call__(self, state: RetryCallState) -> bool:
        with self._lock:
            if state.upcoming_sleep <= self.left:
                self.left -= state.upcoming_sleep
                return False
            self.left, noticed, self._noticed = 0.0, self._noticed, True
        if not noticed:
            log.warning(
                "warning: the %g s budget for waiting between retries is spent; "
                "failing requests are no longer retried",
                self.total,
            )
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, HttpError):
            raise RetryBudgetSpent(f"{error}; not retried: the retry-wait budget is spent") from (
                error
            )
        return True


def _status_line(status: int, method: str, url: str) -> str:
    return f"{method} {url} answered {status}"


class BoundedClient:
    """A pooled HTTP client whose every request is bounded by `limits`. Thread-safe.

    `request(..., retry_statuses=...)` says which answers are retried (default: 429 and
    5xx); `counter` counts attempts and retries. `close()` cancels whatever is in flight.
    """

    def __init__(
        self,
        limits: HttpLimits,
        *,
        pool_size: int = 16,
        headers: Mapping[str, str] | None = None,
        counter: AttemptCounter | None = None,
    ) -> None:
        self.limits = limits
        self.counter: AttemptCounter = counter or _NoCounter()
        self.cancelled = threading.Event()
        self._budget = _WaitBudget(limits.total_wait)
        self._in_flight = _InFlight()
        self._session = requests.Session()
        adapter = _TrackingAdapter(pool_connections=1, pool_maxsize=max(1, pool_size))
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers.update(headers or {})

    def close(self) -> None:
        """Cancel requests in flight and retries, then release connections."""
        self.cancelled.set()
        self._in_flight.interrupt_all()
        self._session.close()

    # -- one attempt

    def attempt(
        self, method: str, url: str, *, max_body: int | None = None, **kwargs: Any
    ) -> HttpAnswer:
        """One try: no redirects, a deadline from connect to last byte, a decoded-size cap."""
        if self.cancelled.is_set():
            raise Cancelled(f"{method} {url}: cancelled")
        limits = self.limits
        deadline = time.monotonic() + limits.timeout
        timeouts = (min(limits.connect_timeout, limits.timeout), limits.timeout)
        with self._in_flight.track(deadline) as attempt:
            try:
                response = self._session.request(
                    method, url, timeout=timeouts, allow_redirects=False, stream=True, **kwargs
                )
            except requests.RequestException as error:
                raise self._transport_error(error, method, url, attempt) from error
            with response:
                if 300 <= response.status_code < 400:
                    raise Redirected(
                        f"{_status_line(response.status_code, method, url)} (redirect), "
                        "not followed"
                    )
                body = self._read_body(response, method, url, attempt, max_body or limits.max_body)
            return HttpAnswer(response.status_code, response.headers, body)

    def _read_body(
        self,
        response: requests.Response,
        method: str,
        url: str,
        attempt: _Attempt,
        cap: int,
    ) -> bytes:
        """The decoded body, read one socket read at a time with the deadline checked."""
        raw: urllib3.BaseHTTPResponse = response.raw
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                remaining = attempt.deadline - time.monotonic()
                if self.cancelled.is_set() or remaining <= 0:
                    raise self._stopped(method, url)
                sock = getattr(raw.connection, "sock", None)
                if sock is not None:
                    sock.settimeout(min(remaining, self.limits.timeout))
                chunk = raw.read1(READ_CHUNK, decode_content=True)
                if not chunk:
                    return b"".join(chunks)
                size += len(chunk)
                if size > cap:
                    raise TooLarge(
                        f"{method} {url}: answer larger than the {_size(cap)} cap (decoded)"
                    )
                chunks.append(chunk)
        except urllib3.exceptions.DecodeError as error:
            raise BadEncoding(f"{method} {url}: answer could not be decoded") from error
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise self._transport_error(error, method, url, attempt) from error

    def _stopped(self, method: str, url: str) -> HttpError:
        if self.cancelled.is_set():
            return Cancelled(f"{method} {url}: cancelled")
        return TimedOut(
            f"{method} {url}: timed out (no complete answer within {self.limits.timeout:g} s)"
        )

    def _transport_error(
        self, error: BaseException, method: str, url: str, attempt: _Attempt
    ) -> HttpError:
        stopped = self.cancelled.is_set() or attempt.interrupted
        if isinstance(error, requests.ConnectTimeout) and not stopped:
            connect = min(self.limits.connect_timeout, self.limits.timeout)
            return TimedOut(f"{method} {url}: timed out (no connection within {connect:g} s)")
        timeout_errors = (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)
        if stopped or isinstance(error, timeout_errors):
            return self._stopped(method, url)
        if isinstance(error, requests.exceptions.SSLError):
            return TlsFailed(f"{method} {url}: TLS failed ({_tls_reason(error)})")
        unusable = (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
        )
        if isinstance(error, unusable):
            return HttpError(f"{method} {url}: not a usable URL")
        if isinstance(
            error, requests.exceptions.ChunkedEncodingError | urllib3.exceptions.ProtocolError
        ):
            return TransportFailed(f"{method} {url}: answer cut off")
        return TransportFailed(f"{method} {url}: connection failed")

    # -- retries

    def request(
        self,
        method: str,
        url: str,
        *,
        retry_statuses: frozenset[int] | None = None,
        **kwargs: Any,
    ) -> HttpAnswer:
        """`attempt` until an answer that is not retried, within attempts and wait budget.

        Raises the last failure (an `HttpError`) when attempts or the wait budget run out.
        """

        def once() -> HttpAnswer:
            self.counter.count_request()
            answer = self.attempt(method, url, **kwargs)
            retried = (
                answer.status == 429 or answer.status >= 500
                if retry_statuses is None
                else answer.status in retry_statuses
            )
            if retried:
                raise RetryableStatus(
                    _status_line(answer.status, method, url),
                    answer.status,
                    retry_after_seconds(
                        answer.headers.get("Retry-After"), self.limits.retry_after_cap
                    ),
                )
            return answer

        retrying = Retrying(
            stop=stop_any(stop_after_attempt(self.limits.attempts), self._budget),
            wait=self._wait,
            retry=retry_if_exception(is_retryable),
            before_sleep=self._before_sleep,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(once)
        except HttpError as error:
            _clear_frames(error)
            raise

    def _wait(self, state: RetryCallState) -> float:
        """A server's Retry-After (already capped), else jittered exponential backoff."""
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RetryableStatus) and error.retry_after is not None:
            return error.retry_after
        backoff = wait_random_exponential(
            multiplier=self.limits.backoff_base, max=self.limits.backoff_max
        )
        return float(backoff(state))

    def _before_sleep(self, state: RetryCallState) -> None:
        self.counter.count_retry()
        error = state.outcome.exception() if state.outcome else None
        sleep = state.next_action.sleep if state.next_action else 0.0
        log.debug("%s; retry %d in %.2f s", error, state.attempt_number, sleep)

    def _sleep(self, seconds: float) -> None:
        if self.cancelled.wait(seconds):
            raise Cancelled("cancelled while waiting to retry")


def _clear_frames(error: BaseException) -> None:
    """Drop the locals (bodies, decoders) of the frames an error's tracebacks hold.

    Tenacity keeps the error in a reference cycle with those frames, so they would live until
    the cycle collector runs: with many failing answers in a row, many megabytes.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if current.__traceback__ is not None:
            traceback.clear_frames(current.__traceback__)
        current = current.__cause__ or current.__context__


def _tls_reason(error: requests.exceptions.SSLError) -> str:
    text = str(error)
    for reason in ("CERTIFICATE_VERIFY_FAILED", "WRONG_VERSION_NUMBER", "hostname mismatch"):
        if reason in text:
            return reason.lower().replace("_", " ")
    return "handshake failed"


def user_agent() -> str:
    """`nim-build/<version>`, sent with every request."""
    return f"nim-build/{__version__}"  # not importlib.metadata: 20 ms at every start


def _size(count: int) -> str:
    return f"{count // MiB} MiB" if count % MiB == 0 else f"{count:,} bytes"
