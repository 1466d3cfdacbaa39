"""Progress and timing reports on stderr (through logging); stdout stays for results."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

log = logging.getLogger("nim_build")


class Progress:
    """Counts finished items and logs a line at every 10% step. Thread-safe."""

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._tenths_logged = 0
        self._lock = threading.Lock()

    def advance(self) -> None:
        with self._lock:
            self.done += 1
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
