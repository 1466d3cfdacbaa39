"""The live NGC source: NGC's endpoints over the bounded HTTP client (nim_build.http)."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

from nim_build.http import (
    BoundedClient,
    HttpError,
    HttpLimits,
    MiB,
    describe_failure,
    user_agent,
)
from nim_build.inputs import NestedTooDeeply, nested_deeper_than, parse_json
from nim_build.ngc.errors import RequestFailed
from nim_build.ngc.keys import check_api_key
from nim_build.ngc.source import Answer, SourceStats
from nim_build.urls import check_api_url

CATALOG_QUERY = "orgName:nim"
# Caps on one answer, decoded. Answers are parsed after download, and JSON can take ~25x its
# size in memory, so a cap also bounds how many values an answer may hold (a count of the
# separators, cheap to take): with 16 models in flight a run stays far under 512 MiB.
MODEL_ANSWER_CAP = 1 * MiB  # a real one is ~6 KB with ~200 JSON values
MODEL_ANSWER_VALUES = 50_000
KEY_CHECK_CAP = 1 * MiB  # only the status is kept
CATALOG_PAGE_CAP = 16 * MiB  # a real page of 1000 models is ~1.1 MB with ~100,000 values
CATALOG_PAGE_VALUES = 1_000_000
# A catalog page nests 8 deep; json.loads takes ~1,000 levels, redacting and recording do not.
MAX_ANSWER_DEPTH = 64
log = logging.getLogger(__name__)

# The NGC source's name for the client's limits (`timeout` is the whole attempt).
RetryPolicy = HttpLimits


def _path_segment(value: str, resource_id: str) -> str:
    """One percent-encoded path segment; `.` and `..` would climb the path, so never sent."""
    if value in ("", ".", ".."):
        raise RequestFailed(f"resource id {resource_id!r} is not org/team/repo; not requested")
    return quote(value, safe="")


def _json_values(body: bytes) -> int:
    """An upper bound on the values `json.loads(body)` would create."""
    return 1 + sum(body.count(separator) for separator in (b",", b":", b"[", b"{"))


class LiveSource:
    """Talks to the NGC API over HTTPS. Thread-safe; size `concurrency` to the worker pool.

    Every request is bounded by `policy` (see nim_build.http): no redirects, a deadline per
    attempt, capped answers, a total retry-wait budget; `close()` cancels what is in flight.
    """

    def __init__(
        self,
        api_url: str,
        api_key: str,
        *,
        concurrency: int = 16,
        policy: RetryPolicy | None = None,
    ) -> None:
        # Checked as the CLI checks them (a library user may skip load_api_key): one-line
        # UrlError / KeyFormatError, before any request; the key is registered for redaction.
        self.api_url = check_api_url(api_url).rstrip("/")
        self._api_key = check_api_key(api_key)
        self.policy = policy or RetryPolicy()
        self.stats = SourceStats()
        self._client = BoundedClient(
            self.policy,
            pool_size=concurrency,
            headers={"Accept": "application/json", "User-Agent": user_agent()},
            counter=self.stats,
        )

    def __repr__(self) -> str:  # never show the key, even in a debugger
        return f"LiveSource({self.api_url!r})"

    def check_key(self) -> Answer:
        # The answer describes the key's owner (name, e-mail): keep only the status.
        answer = self._send(
            "POST",
            "/v3/keys/get-caller-info",
            "key check",
            max_body=KEY_CHECK_CAP,
            headers={
                "Authorization": f"Bearer {self._api_key}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            data={"credentials": self._api_key},
        )
        return Answer(answer.status)

    def catalog_page(self, page: int, page_size: int) -> Answer:
        query = json.dumps({"query": CATALOG_QUERY, "page": page, "pageSize": page_size})
        return self._send(
            "GET",
            "/v2/search/catalog/resources/CONTAINER",
            f"catalog page {page}",
            max_body=CATALOG_PAGE_CAP,
            max_values=CATALOG_PAGE_VALUES,
            params={"q": query},
        )

    def repository(self, resource_id: str) -> Answer:
        parts = resource_id.split("/")
        if len(parts) != 3:
            raise RequestFailed(f"resource id {resource_id!r} is not org/team/repo; not requested")
        org, team, repo = (_path_segment(part, resource_id) for part in parts)
        return self._send(
            "GET",
            f"/v2/org/{org}/team/{team}/repos/{repo}",
            resource_id,
            max_body=MODEL_ANSWER_CAP,
            max_values=MODEL_ANSWER_VALUES,
            params={"resolve-labels": "true"},
            headers={"Authorization": f"Bearer {self._api_key}"},
        )

    def close(self) -> None:
        """Cancel requests in flight (Ctrl-C while workers wait) and release connections."""
        self._client.close()

    def _send(
        self,
        method: str,
        path: str,
        description: str,
        *,
        max_body: int,
        max_values: int | None = None,
        **kwargs: Any,
    ) -> Answer:
        """The final answer; the body is decoded only when `max_values` is given."""
        url = self.api_url + path
        try:
            answer = self._client.request(method, url, max_body=max_body, **kwargs)
        except HttpError as error:
            failure = describe_failure(error, self.policy.attempts)
            raise RequestFailed(f"{description}: {failure}") from error
        if max_values is None or answer.status != 200:
            return Answer(answer.status)
        if _json_values(answer.body) > max_values:
            raise RequestFailed(
                f"{description}: answer from {url} holds more than {max_values:,} JSON values"
            )
        try:
            body = parse_json(answer.body)
        except NestedTooDeeply as error:
            raise RequestFailed(f"{description}: answer from {url} is nested too deeply") from error
        except ValueError as error:  # includes bad UTF-8
            raise RequestFailed(f"{description}: malformed JSON in the answer from {url}") from (
                error
            )
        if nested_deeper_than(body, MAX_ANSWER_DEPTH):
            raise RequestFailed(f"{description}: answer from {url} is nested too deeply")
        return Answer(200, body)
