"""How long, how often, how much: a client's limits, Retry-After, and the shared wait budget."""

from __future__ import annotations

import email.utils
import logging
import re
import threading
import time
import traceback
from typing import Protocol

from tenacity import RetryCallState
from tenacity.stop import stop_base

from .errors import HttpError, RetryBudgetSpent

_DELAY_SECONDS = re.compile(r"[0-9]+", re.ASCII)  # Retry-After: delay-seconds = 1*DIGIT
log = logging.getLogger(__name__)


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


class AttemptCounter(Protocol):
    """Where a client counts attempts and retries (e.g. a run's statistics)."""

    def count_request(self) -> None: ...

    def count_retry(self) -> None: ...


class NoCounter:
    def count_request(self) -> None:
        """Not counted."""

    def count_retry(self) -> None:
        """Not counted."""


class WaitBudget(stop_base):
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


def clear_frames(error: BaseException) -> None:
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
