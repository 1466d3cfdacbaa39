"""The live NGC source: one pooled requests Session, timeouts, tenacity retries."""

from __future__ import annotations

import email.utils
import json
import logging
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from nim_build.ngc.errors import RequestFailed
from nim_build.ngc.source import Answer, SourceStats

DEFAULT_API_URL = "https://api.ngc.nvidia.com"
CATALOG_QUERY = "orgName:nim"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one request before it counts as failed."""

    attempts: int = 5
    backoff_base: float = 0.5  # seconds; full jitter, doubling per attempt
    backoff_max: float = 8.0
    retry_after_cap: float = 30.0  # never sleep longer than this on a server's Retry-After
    connect_timeout: float = 5.0
    read_timeout: float = 30.0


class RetryableStatus(Exception):
    """An answer worth asking again for: 429 or 5xx."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


# Transport failures worth a retry: refused/dropped connections, timeouts, truncated bodies.
_TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


def _retry_after_seconds(response: requests.Response) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def retry_wait(policy: RetryPolicy, state: RetryCallState) -> float:
    """Honour a server's Retry-After (capped); otherwise jittered exponential backoff."""
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, RetryableStatus) and error.retry_after is not None:
        return min(error.retry_after, policy.retry_after_cap)
    backoff = wait_random_exponential(multiplier=policy.backoff_base, max=policy.backoff_max)
    return float(backoff(state))


def _describe(error: BaseException) -> str:
    """A short reason for a failure, without URLs or headers."""
    if isinstance(error, RetryableStatus):
        return f"HTTP {error.status}"
    if isinstance(error, requests.Timeout):
        return "timed out"
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return "answer cut off"
    if isinstance(error, requests.ConnectionError):
        return "connection failed"
    return type(error).__name__


def _user_agent() -> str:
    try:
        return f"nim-build/{version('nim-build')}"
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "nim-build"


class LiveSource:
    """Talks to the NGC API over HTTPS. Thread-safe; size `concurrency` to the worker pool."""

    def __init__(
        self,
        api_url: str,
        api_key: str,
        *,
        concurrency: int = 16,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.stats = SourceStats()
        self._api_key = api_key
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(1, concurrency), max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers.update({"Accept": "application/json", "User-Agent": _user_agent()})

    def __repr__(self) -> str:  # never show the key, even in a debugger
        return f"LiveSource({self.api_url!r})"

    def check_key(self) -> Answer:
        # The answer describes the key's owner (name, e-mail): keep only the status.
        answer = self._send(
            "POST",
            "/v3/keys/get-caller-info",
            "key check",
            headers={
                "Authorization": f"Bearer {self._api_key}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            data={"credentials": self._api_key},
            decode=False,
        )
        return Answer(answer.status)

    def catalog_page(self, page: int, page_size: int) -> Answer:
        query = json.dumps({"query": CATALOG_QUERY, "page": page, "pageSize": page_size})
        return self._send(
            "GET",
            "/v2/search/catalog/resources/CONTAINER",
            f"catalog page {page}",
            params={"q": query},
        )

    def repository(self, resource_id: str) -> Answer:
        org, team, repo = resource_id.split("/")
        return self._send(
            "GET",
            f"/v2/org/{org}/team/{team}/repos/{repo}",
            resource_id,
            params={"resolve-labels": "true"},
            headers={"Authorization": f"Bearer {self._api_key}"},
        )

    def close(self) -> None:
        self._session.close()

    def _wait(self, state: RetryCallState) -> float:
        return retry_wait(self.policy, state)

    def _before_sleep(self, state: RetryCallState, description: str) -> None:
        self.stats.count_retry()
        error = state.outcome.exception() if state.outcome else None
        sleep = state.next_action.sleep if state.next_action else 0.0
        log.debug(
            "%s: %s, retry %d in %.2f s",
            description,
            _describe(error) if error else "?",
            state.attempt_number,
            sleep,
        )

    def _send(
        self,
        method: str,
        path: str,
        description: str,
        *,
        decode: bool = True,
        **kwargs: Any,
    ) -> Answer:
        retrying = Retrying(
            stop=stop_after_attempt(self.policy.attempts),
            wait=self._wait,
            retry=retry_if_exception_type((RetryableStatus, *_TRANSPORT_ERRORS)),
            before_sleep=lambda state: self._before_sleep(state, description),
            reraise=True,
        )
        timeout = (self.policy.connect_timeout, self.policy.read_timeout)
        try:
            for attempt in retrying:
                with attempt:
                    self.stats.count_request()
                    response = self._session.request(
                        method, self.api_url + path, timeout=timeout, **kwargs
                    )
                    if response.status_code == 429 or response.status_code >= 500:
                        raise RetryableStatus(response.status_code, _retry_after_seconds(response))
                    return self._answer(response, description, decode=decode)
        except (RetryableStatus, *_TRANSPORT_ERRORS) as error:
            raise RequestFailed(
                f"{description}: {_describe(error)} after {self.policy.attempts} attempts"
            ) from error
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    @staticmethod
    def _answer(response: requests.Response, description: str, *, decode: bool) -> Answer:
        if not decode or response.status_code != 200:
            return Answer(response.status_code)
        try:
            return Answer(200, response.json())
        except ValueError as error:
            raise RequestFailed(f"{description}: malformed JSON in the answer") from error
