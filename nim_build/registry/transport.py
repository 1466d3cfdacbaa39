"""The one place registry HTTP goes through: the bounded client NGC calls use too.

No redirects, a deadline per attempt from connect to last byte, bodies capped by their decoded
size, tenacity retries on 429, 5xx, dropped connections and timeouts within a total wait
budget (nim_build.http). This module only turns that client's errors into RegistryErrors
naming the repository, with a hint where the fix is an option, and tells a failure of the
registry itself (RegistryWideError: TLS, no connection, not HTTP) from one of a repository.
"""

from __future__ import annotations

from collections.abc import Mapping

from nim_build.http import (
    BoundedClient,
    CannotSend,
    ConnectFailed,
    HttpAnswer,
    HttpError,
    HttpLimits,
    NotHttp,
    TlsFailed,
    describe_failure,
    user_agent,
)
from nim_build.stats import RequestStats

from .errors import RegistryError, RegistryWideError

BODY_LIMIT = 4 * 1024 * 1024  # a tags page of 1000 tags is ~30 KB; anything near this is wrong
Reply = HttpAnswer


class Transport:
    """GET with the house rules. Thread-safe; size `concurrency` to the worker pool."""

    def __init__(
        self,
        *,
        concurrency: int = 16,
        limits: HttpLimits | None = None,
        verify: bool | str = True,
        body_limit: int = BODY_LIMIT,
    ) -> None:
        self.limits = limits or HttpLimits()
        self.stats = RequestStats()
        self.body_limit = body_limit
        # Passed per request: a session's `verify` loses to $REQUESTS_CA_BUNDLE, --ca-file must not.
        self._verify = verify
        self._client = BoundedClient(
            self.limits,
            pool_size=concurrency,
            headers={"User-Agent": user_agent()},
            counter=self.stats,
        )

    def close(self) -> None:
        """Cancel requests in flight (Ctrl-C) and release connections."""
        self._client.close()

    def get(
        self,
        url: str,
        description: str,
        headers: Mapping[str, str] | None = None,
        *,
        until: float | None = None,
    ) -> Reply:
        """The final answer to GET `url`; RegistryError naming `description` when it fails.

        RegistryWideError when the failure is the registry's, not the path's: TLS, or no
        connection at all. `until` (a `time.monotonic()` value) ends the request early.
        """
        try:
            return self._client.request(
                "GET",
                url,
                headers=dict(headers or {}),
                verify=self._verify,
                max_body=self.body_limit,
                until=until,
            )
        except TlsFailed as error:
            raise RegistryWideError(
                f"{description}: {error}; --ca-file PATH trusts a private CA, --plain-http "
                "talks HTTP"
            ) from error
        except HttpError as error:
            failure = describe_failure(error, self.limits.attempts)
            # A connection that failed until the retry budget ran out, or a server that does
            # not speak HTTP, is the registry's.
            wide = isinstance(error, ConnectFailed | CannotSend | NotHttp) or isinstance(
                error.__cause__, ConnectFailed
            )
            raise (RegistryWideError if wide else RegistryError)(
                f"{description}: {failure}"
            ) from error
