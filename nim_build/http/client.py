"""`BoundedClient`: a pooled client whose every request is bounded (see nim_build.http)."""

from __future__ import annotations

import http.client
import io
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests
import urllib3
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_any,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from nim_build import __version__
from nim_build.progress import RetryNotices

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
    TimedOut,
    TlsFailed,
    TooLarge,
    TransportFailed,
    is_retryable,
)
from .heap import keep_large_blocks_on_mmap
from .inflight import Attempt, InFlight, TrackingAdapter
from .limits import HttpLimits, describe_size
from .retry import (
    AttemptCounter,
    NoCounter,
    WaitBudget,
    clear_frames,
    retry_after_seconds,
)

READ_CHUNK = 64 * 1024  # decoded bytes per read: one socket read, at most this much out
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HttpAnswer:
    """A complete answer: status, headers (case-insensitive) and the decoded body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class _StopBefore(stop_base):
    """A stop condition: the next wait would end past `until` (None: never)."""

    def __init__(self, until: float | None) -> None:
        self.until = until

    def __call__(self, state: RetryCallState) -> bool:
        return self.until is not None and time.monotonic() + state.upcoming_sleep >= self.until


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
        keep_large_blocks_on_mmap()  # freed answers leave RSS (see heap.py)
        self.limits = limits
        self.counter: AttemptCounter = counter or NoCounter()
        self.cancelled = threading.Event()
        self._budget = WaitBudget(limits.total_wait)
        self._notices = RetryNotices()
        self._in_flight = InFlight()
        self._session = requests.Session()
        adapter = TrackingAdapter(pool_connections=1, pool_maxsize=max(1, pool_size))
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
        self,
        method: str,
        url: str,
        *,
        max_body: int | None = None,
        until: float | None = None,
        **kwargs: Any,
    ) -> HttpAnswer:
        """One try: no redirects, a deadline from connect to last byte, a decoded-size cap.

        `until` (a `time.monotonic()` value) ends the attempt earlier than `limits.timeout`.
        """
        if self.cancelled.is_set():
            raise Cancelled(f"{method} {url}: cancelled")
        limits = self.limits
        deadline = time.monotonic() + limits.timeout
        if until is not None:
            deadline = min(deadline, until)
        timeouts = (min(limits.connect_timeout, limits.timeout), limits.timeout)
        with self._in_flight.track(deadline) as attempt:
            try:
                response = self._session.request(
                    method, url, timeout=timeouts, allow_redirects=False, stream=True, **kwargs
                )
            except requests.exceptions.InvalidHeader as error:
                raise CannotSend(
                    f"{method} {url}: not sent: a header value holds a line break or leading blank"
                ) from error
            except requests.RequestException as error:
                raise self._transport_error(error, method, url, attempt) from error
            except UnicodeEncodeError as error:  # http.client encodes header values as Latin-1
                raise CannotSend(
                    f"{method} {url}: not sent: a header value holds characters outside Latin-1"
                ) from error
            except (UnicodeError, urllib3.exceptions.LocationParseError) as error:
                # urllib3's IDNA check of the host (`a..b`, a 64-character label), not
                # wrapped by requests
                raise CannotSend(f"{method} {url}: not sent: not a usable host name") from error
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
        attempt: Attempt,
        cap: int,
    ) -> bytes:
        """The decoded body, read one socket read at a time with the deadline checked."""
        raw: urllib3.BaseHTTPResponse = response.raw
        # One growing buffer, not a list joined at the end: the join would hold the body twice.
        body = io.BytesIO()
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
                    return body.getvalue()
                size += len(chunk)
                if size > cap:
                    raise TooLarge(
                        f"{method} {url}: answer larger than the {describe_size(cap)} cap (decoded)"
                    )
                body.write(chunk)
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
        self, error: BaseException, method: str, url: str, attempt: Attempt
    ) -> HttpError:
        stopped = self.cancelled.is_set() or attempt.interrupted
        if isinstance(error, requests.ConnectTimeout) and not stopped:
            connect = min(self.limits.connect_timeout, self.limits.timeout)
            return ConnectTimedOut(
                f"{method} {url}: timed out (no connection within {connect:g} s)"
            )
        timeout_errors = (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)
        if stopped or isinstance(error, timeout_errors):
            return self._stopped(method, url)
        if isinstance(error, requests.exceptions.SSLError):
            return TlsFailed(f"{method} {url}: TLS failed ({_tls_reason(error)})")
        return _unusable(error, method, url) or _dropped(error, method, url)

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

        Raises the last failure (an `HttpError`) when attempts or the wait budget run out, or
        when the next wait would end past `until` (a `time.monotonic()` value), if given.
        """
        until: float | None = kwargs.get("until")

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
            stop=stop_any(
                stop_after_attempt(self.limits.attempts),
                _StopBefore(until),
                self._budget,  # last: it spends the budget when nothing else stops
            ),
            wait=self._wait,
            retry=retry_if_exception(is_retryable),
            before_sleep=self._before_sleep,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(once)
        except HttpError as error:
            clear_frames(error)
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
        if isinstance(error, HttpError):
            self._notices.retrying(str(error), _retry_reason(error), sleep)

    def _sleep(self, seconds: float) -> None:
        if self.cancelled.wait(seconds):
            raise Cancelled("cancelled while waiting to retry")


def _retry_reason(error: HttpError) -> str:
    """What went wrong, without the request: `HTTP 503`, `timed out`, `connection failed`."""
    if isinstance(error, RetryableStatus):
        return f"HTTP {error.status}"
    return "timed out" if isinstance(error, TimedOut) else "connection failed"


def _unusable(error: BaseException, method: str, url: str) -> HttpError | None:
    """A URL that cannot be asked, or an answer that is not HTTP: neither is retried."""
    unusable = (
        requests.exceptions.InvalidURL,
        requests.exceptions.MissingSchema,
        requests.exceptions.InvalidSchema,
    )
    if isinstance(error, unusable):
        return HttpError(f"{method} {url}: not a usable URL")
    not_http = _not_http(error)
    if not_http is not None:
        return NotHttp(f"{method} {url}: the answer is not HTTP ({not_http})")
    return None


def _dropped(error: BaseException, method: str, url: str) -> TransportFailed:
    """A connection that failed or dropped: worth another attempt."""
    if isinstance(
        error, requests.exceptions.ChunkedEncodingError | urllib3.exceptions.ProtocolError
    ):
        return TransportFailed(f"{method} {url}: answer cut off")
    return ConnectFailed(f"{method} {url}: connection failed")


def _causes(error: BaseException) -> Iterator[BaseException]:
    """`error`, its arguments that are errors, and their causes: urllib3 and requests wrap
    http.client's error in the arguments of their own (`ProtocolError('…', BadStatusLine)`)."""
    pending, seen = [error], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += [arg for arg in current.args if isinstance(arg, BaseException)]
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]


def _not_http(error: BaseException) -> str | None:
    """What http.client found wrong with the answer's head, or None for a connection failure."""
    for cause in _causes(error):
        if isinstance(cause, ConnectionError | http.client.IncompleteRead):
            return None  # RemoteDisconnected is a BadStatusLine too: a dropped connection
        if isinstance(cause, http.client.LineTooLong):
            return "a header or status line too long"
        if isinstance(cause, http.client.BadStatusLine):
            return "malformed status line"
        if isinstance(cause, http.client.HTTPException):
            text = str(cause)
            return "more than 100 header lines" if "100 headers" in text else "malformed head"
    return None


def _tls_reason(error: requests.exceptions.SSLError) -> str:
    text = str(error)
    for reason in ("CERTIFICATE_VERIFY_FAILED", "WRONG_VERSION_NUMBER", "hostname mismatch"):
        if reason in text:
            return reason.lower().replace("_", " ")
    return "handshake failed"


def user_agent() -> str:
    """`nim-build/<version>`, sent with every request."""
    return f"nim-build/{__version__}"  # not importlib.metadata: 20 ms at every start
