"""Progress and timing reports on stderr (through logging); stdout stays for results."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

log = logging.getLogger("nim_build")


_REDRAW_EVERY = 0.1  # seconds between redraws of the terminal line
_active_line: Progress | None = None  # the progress line on the terminal, if one is drawn
_line_lock = threading.Lock()


def _terminal() -> TextIO | None:
    """stderr when a person watches it (a TTY) and progress is shown at all (not -q)."""
    stream = sys.stderr
    interactive = stream.isatty() if hasattr(stream, "isatty") else False
    return stream if interactive and log.isEnabledFor(logging.INFO) else None


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    return f"{seconds // 60:.0f} min {seconds % 60:02.0f} s"


class Progress:
    """Counts finished items. Thread-safe.

    On a terminal: one line, redrawn in place, with count, rate and time left. Elsewhere (CI
    logs, files): a log line at every 10% step, which reads well in a log.
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
            if tenths > self._tenths_logged:
                self._tenths_logged = tenths
                log.info(
                    "%s: %d/%d (%d%%)",
                    self.label,
                    self.done,
                    self.total,
                    self.done * 100 // max(1, self.total),
                )

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
