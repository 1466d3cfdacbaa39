"""Attempts in flight: their deadlines, the connections they use, and a watchdog.

The tracked pools bind each connection to the attempt of the thread sending on it, so that
`close()` (Ctrl-C) or the watchdog (an attempt past its deadline) can shut its socket down and
wake the thread blocked on it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

WATCHDOG_PERIOD = 0.25  # seconds between the watchdog's looks at attempts in flight

_current = threading.local()  # the `Attempt` this thread is making, if any


@dataclass(eq=False)
class Attempt:
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
    attempt: Attempt | None = getattr(_current, "attempt", None)
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


class TrackingAdapter(HTTPAdapter):
    """An adapter whose connections can be found (and shut down) while in use."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_TRACKED_POOLS)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS pools have classes of their own
            manager.pool_classes_by_scheme = dict(_TRACKED_POOLS)
        return manager


class InFlight:
    """The attempts in flight; a daemon watchdog interrupts those past their deadline."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._attempts: set[Attempt] = set()
        self._watchdog: threading.Thread | None = None
        self._stop = threading.Event()

    @contextlib.contextmanager
    def track(self, deadline: float) -> Iterator[Attempt]:
        attempt = Attempt(deadline)
        with self._lock:
            self._attempts.add(attempt)
            if self._watchdog is None:  # none yet, or it ended (closed, nothing in flight)
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
        """Interrupt every attempt, and from now on each one as soon as it is connected."""
        self._stop.set()
        with self._lock:
            attempts = list(self._attempts)
        for attempt in attempts:
            attempt.interrupt()

    def _watch(self) -> None:
        # After interrupt_all, an attempt still connecting then (another thread, past its
        # cancelled check) is interrupted on a later look, not left to run to its deadline.
        while True:
            if self._stop.is_set():
                time.sleep(WATCHDOG_PERIOD)
            else:
                self._stop.wait(WATCHDOG_PERIOD)
            closed, now = self._stop.is_set(), time.monotonic()
            with self._lock:
                if closed and not self._attempts:
                    self._watchdog = None  # the next attempt starts another
                    return
                late = [
                    a for a in self._attempts if not a.interrupted and (closed or a.deadline < now)
                ]
            for attempt in late:
                attempt.interrupt()
