"""The one place registry HTTP goes through: pooled session, deadlines, size cap, retries.

Kept in one class so it can later move onto the project's shared HTTP helper unchanged in
behaviour: no redirects, connect/read timeouts plus a total deadline per attempt, bodies
streamed under a size cap, tenacity retries on 429, 5xx, dropped connections and timeouts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
)

# The NGC client's policy and helpers: same retries and backoff for both subsystems.
from nim_build.ngc.live import (
    _TRANSPORT_ERRORS,
    RetryableStatus,
    RetryPolicy,
    _describe,
    _retry_after_seconds,
    _user_agent,
    retry_wait,
)
from nim_build.ngc.source import SourceStats

from .errors import RegistryError

log = logging.getLogger(__name__)
BODY_LIMIT = 4 * 1024 * 1024  # a tags page of 1000 tags is ~30 KB; anything near this is wrong
ATTEMPT_DEADLINE = 60.0  # seconds for one attempt, connect to last byte
_CHUNK = 64 * 1024


def _tls_reason(error: requests.exceptions.SSLError) -> str:
    text = str(error)
    for reason in ("CERTIFICATE_VERIFY_FAILED", "WRONG_VERSION_NUMBER", "hostname mismatch"):
        if reason in text:
            return reason.lower().replace("_", " ")
    return "handshake failed"


def _chunks(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives: one socket read per chunk, so a deadline is checked in between.

    (`iter_content` waits for a full chunk, which a server dripping bytes never sends.)
    """
    read1 = getattr(response.raw, "read1", None)  # urllib3 >= 2
    if read1 is None:
        yield from response.iter_content(_CHUNK)
        return
    while chunk := read1(_CHUNK, decode_content=True):
        yield chunk


class DeadlineExceeded(requests.Timeout):
    """One attempt took longer than its total deadline (a slow drip of bytes)."""


@dataclass(frozen=True)
class Reply:
    """A final answer: status, headers and the whole (capped) body."""

    status: int
    headers: CaseInsensitiveDict[str]
    body: bytes


class Transport:
    """GET with the house rules. Thread-safe; size `concurrency` to the worker pool."""

    def __init__(
        self,
        *,
        concurrency: int = 16,
        policy: RetryPolicy | None = None,
        verify: bool | str = True,
        body_limit: int = BODY_LIMIT,
        deadline: float = ATTEMPT_DEADLINE,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.stats = SourceStats()
        self.body_limit = body_limit
        self.deadline = deadline
        self._session = requests.Session()
        # Passed per request: a session's `verify` loses to $REQUESTS_CA_BUNDLE, --ca-file must not.
        self._verify = verify
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(1, concurrency), max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers.update({"User-Agent": _user_agent()})

    def close(self) -> None:
        self._session.close()

    def get(self, url: str, description: str, headers: Mapping[str, str] | None = None) -> Reply:
        """The final answer to GET `url`; RegistryError naming `description` when it fails."""
        retrying = Retrying(
            stop=stop_after_attempt(self.policy.attempts),
            wait=self._wait,
            # A certificate that does not verify will not verify on the next attempt either.
            retry=retry_if_exception_type((RetryableStatus, *_TRANSPORT_ERRORS))
            & retry_if_not_exception_type(requests.exceptions.SSLError),
            before_sleep=lambda state: self._before_sleep(state, description),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    self.stats.count_request()
                    return self._attempt(url, description, headers or {})
        except requests.exceptions.SSLError as error:
            raise RegistryError(
                f"{description}: TLS failed ({_tls_reason(error)}); --ca-file PATH trusts a "
                "private CA, --plain-http talks HTTP"
            ) from error
        except (RetryableStatus, *_TRANSPORT_ERRORS) as error:
            raise RegistryError(
                f"{description}: {_describe(error)} after {self.policy.attempts} attempts"
            ) from error
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    def _attempt(self, url: str, description: str, headers: Mapping[str, str]) -> Reply:
        start = time.monotonic()
        timeout = (self.policy.connect_timeout, self.policy.read_timeout)
        with self._session.get(
            url,
            headers=dict(headers),
            timeout=timeout,
            verify=self._verify,
            stream=True,
            allow_redirects=False,
        ) as response:
            if response.status_code == 429 or response.status_code >= 500:
                raise RetryableStatus(response.status_code, _retry_after_seconds(response))
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self.body_limit:
                raise self._too_large(description)
            body = bytearray()
            for chunk in _chunks(response):
                body += chunk
                if len(body) > self.body_limit:
                    raise self._too_large(description)
                if time.monotonic() - start > self.deadline:
                    raise DeadlineExceeded(f"no complete answer within {self.deadline:g} s")
            return Reply(response.status_code, response.headers, bytes(body))

    def _too_large(self, description: str) -> RegistryError:
        return RegistryError(f"{description}: answer larger than {self.body_limit:,} bytes")

    def _wait(self, state: RetryCallState) -> float:
        return retry_wait(self.policy, state)

    def _before_sleep(self, state: RetryCallState, description: str) -> None:
        self.stats.count_retry()
        error = state.outcome.exception() if state.outcome else None
        log.debug(
            "%s: %s, retry %d",
            description,
            _describe(error) if error else "?",
            state.attempt_number,
        )
