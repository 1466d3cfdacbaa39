"""The HTTP error family: each message is one line naming the method and URL.

Raised `from` the requests/urllib3 error; never headers or bodies, which may hold credentials.
"""

from __future__ import annotations

from nim_build.errors import NimBuildError
from nim_build.wording import plural


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


class ConnectFailed(TransportFailed):
    """No connection at all (refused, unreachable, no answer to connect): the host, not a path."""


class NotHttp(HttpError):
    """What came back is not an HTTP answer (a garbage status line, too many or too long
    header lines): another attempt would get the same, so it is not retried."""


class CannotSend(HttpError):
    """The request itself cannot be sent: a header value with CR/LF or characters outside
    Latin-1, or a host name no resolver takes. Nothing left the process."""


class TlsFailed(HttpError):
    """The TLS handshake failed (an untrusted certificate will not verify on a retry either)."""


class TimedOut(TransportFailed):
    """No complete answer within the attempt's deadline."""


class ConnectTimedOut(TimedOut, ConnectFailed):
    """No connection within the connect timeout."""


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
