"""The NGC source: one interface, a live HTTP implementation and a recorded snapshot.

Steps only talk to `NgcSource`, so a test, a replay and a production run share one code path.
"""

from __future__ import annotations

from nim_build.lazy import load_export
from nim_build.ngc.errors import KeyRefused, NgcError, RequestFailed, SnapshotError
from nim_build.ngc.keys import KEY_PREFIX, load_api_key
from nim_build.ngc.snapshot import RecordingSource, SnapshotSource
from nim_build.ngc.source import DEFAULT_API_URL, Answer, NgcSource, SourceStats

TYPE_CHECKING = False  # no `typing` import at start
if TYPE_CHECKING:
    from typing import Any

    from nim_build.ngc.live import LiveSource, RetryPolicy

# The live source loads requests, urllib3 and tenacity: on first use (PEP 562), so that the
# NGC commands' options (and the steps, which see only NgcSource) load none of them.
_LIVE = {"LiveSource": "nim_build.ngc.live", "RetryPolicy": "nim_build.ngc.live"}

__all__ = [
    "DEFAULT_API_URL",
    "KEY_PREFIX",
    "Answer",
    "KeyRefused",
    "LiveSource",
    "NgcError",
    "NgcSource",
    "RecordingSource",
    "RequestFailed",
    "RetryPolicy",
    "SnapshotError",
    "SnapshotSource",
    "SourceStats",
    "load_api_key",
]


def __getattr__(name: str) -> Any:
    return load_export(__name__, _LIVE, name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
