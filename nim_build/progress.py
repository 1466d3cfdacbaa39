"""Progress and timing reports on stderr (through logging); stdout stays for results."""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

from nim_build.wording import plural

log = logging.getLogger("nim_build")


_REDRAW_EVERY = 0.1  # seconds between redraws of the terminal line
# Nothing is shown for a run that ends sooner: a line per 10% of a 0.2 s run is noise.
QUIET_START = 1.0  # seconds
_active_line: Progress | None = None  # the progress line on the terminal, if one is drawn
_line_lock = threading.Lock()


def _terminal() -> TextIO | None:
    """stderr when a person watches it (a TTY that understands escape codes, so not
    TERM=dumb) and progress is shown at all (not -q)."""
    stream = sys.stderr
    interactive = stream.isatty() if hasattr(stream, "isatty") else False
    capable = os.environ.get("TERM") != "dumb"
    return stream if interactive and capable and log.isEnabledFor(logging.INFO) else None


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    return f"{seconds // 60:.0f} min {seconds % 60:02.0f} s"


class Progress:
    """Counts finished items. Thread-safe.

    On a terminal: one line, redrawn in place, with count, rate and time left. Elsewhere (CI
    logs, files, TERM=dumb): a log line at every 10% step, which reads well in a log. Either
    starts after QUIET_START seconds: a run that ends sooner shows no progress at all.
    """

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._tenths_logged = 0
        self._lock = threading.Lock()
        self._terminal = _terminal()
        self._start = time.monotonic()
        self._drawn_at = -_REDRAW_EVERY

    def advance(self) -> None:
        with self._lock:
            self.done += 1
            if self._terminal is not None:
                self._draw(self._terminal)
                return
            tenths = self.done * 10 // self.total if self.total else 10
            if tenths > self._tenths_logged and self._elapsed() >= QUIET_START:
                self._tenths_logged = tenths
                log.info(
                    "%s: %d/%d (%d%%)",
                    self.label,
                    self.done,
                    self.total,
                    self.done * 100 // max(1, self.total),
                )

    def _elapsed(self) -> float:
        return time.monotonic() - self._start

    def line(self, now: float) -> str:
        """`label: done/total (pct), rate/s, ETA` (`, in` elapsed time once finished)."""
        elapsed = max(now - self._start, 1e-9)
        rate = self.done / elapsed
        percent = self.done * 100 // max(1, self.total)
        text = f"{self.label}: {self.done}/{self.total} ({percent}%), {rate:.1f}/s"
        if self.done >= self.total:
            return f"{text}, in {_duration(elapsed)}"
        return f"{text}, ETA {_duration((self.total - self.done) / rate)}"

    def _draw(self, stream: TextIO) -> None:
        global _active_line  # noqa: PLW0603 - one terminal, one line at a time
        now = time.monotonic()
        finished = self.done >= self.total
        if now - self._start < QUIET_START:
            return  # a quick run: no line at all (nothing was drawn yet to finish)
        if not finished and now - self._drawn_at < _REDRAW_EVERY:
            return
        self._drawn_at = now
        with _line_lock:
            # \r back to the line start, \x1b[K erases what a longer earlier line left.
            stream.write(f"\r{self.line(now)}\x1b[K" + ("\n" if finished else ""))
            stream.flush()
            _active_line = None if finished else self


def clear_line() -> None:
    """Erase an unfinished progress line, so a log message starts on a clean line."""
    with _line_lock:
        if _active_line is not None and _active_line._terminal is not None:
            _active_line._terminal.write("\r\x1b[K")


class LogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stderr handler that erases the progress line first; the next advance redraws it."""

    def emit(self, record: logging.LogRecord) -> None:
        clear_line()
        super().emit(record)


RETRY_NOTICE_EVERY = 10.0  # seconds: at most one "retrying" notice this often


class RetryNotices:
    """Says that requests are being retried, without -v: at most one notice every
    RETRY_NOTICE_EVERY seconds, counting the retries since the previous one, with the latest
    failure and the next wait. INFO, so -q hides them; -v shows each retry instead (DEBUG), so
    they are left out then. Thread-safe: one per client, shared by its workers.

    A wave starts with a retry after a quiet spell (no retry for RETRY_NOTICE_EVERY seconds):
    its first retry is noticed at once, so a failing server is never minutes of silence.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since: float | None = None  # when the last notice was given
        self._last_retry = -math.inf
        self._reasons: Counter[str] = Counter()  # retries since the last notice, by reason

    def retrying(self, failure: str, reason: str, wait: float) -> None:
        """One retry: `failure` (one line naming the request), `reason` (`HTTP 503`), `wait`
        (seconds until the next try)."""
        now = time.monotonic()
        with self._lock:
            new_wave = now - self._last_retry >= RETRY_NOTICE_EVERY
            self._last_retry = now
            self._reasons[reason] += 1
            if not new_wave and self._since is not None and now - self._since < RETRY_NOTICE_EVERY:
                return
            since, self._since = self._since, now
            reasons, self._reasons = self._reasons, Counter()
        if log.isEnabledFor(logging.DEBUG):
            return  # -v: each retry has its own line
        if new_wave or since is None:
            log.info(
                "retrying failed requests (-v shows each): %s; next try in %s", failure, _wait(wait)
            )
            return
        counts = ", ".join(f"{name}: {count}" for name, count in reasons.most_common())
        log.info(
            "still retrying: %s in the last %s (%s), latest %s; next try in %s",
            plural(reasons.total(), "retry", "retries"),
            _duration(now - since),
            counts,
            failure,
            _wait(wait),
        )


def _wait(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else _duration(seconds)


@dataclass
class StepTimes:
    """Wall time of each pipeline step, in the order they ran."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def summary(self) -> str:
        parts = [f"{name} {seconds:.2f} s" for name, seconds in self.seconds.items()]
        total = sum(self.seconds.values())
        return ", ".join([*parts, f"total {total:.2f} s"])
