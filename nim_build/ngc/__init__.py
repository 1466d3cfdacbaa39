"""The NGC source: one interface, a live HTTP implementation and a recorded snapshot.

Steps only talk to `NgcSource`, so a test, a replay and a production run share one code path.
"""

from nim_build.ngc.errors import KeyRefused, NgcError, RequestFailed, SnapshotError
from nim_build.ngc.keys import KEY_PREFIX, load_api_key
from nim_build.ngc.live import DEFAULT_API_URL, LiveSource, RetryPolicy
from nim_build.ngc.snapshot import RecordingSource, SnapshotSource
from nim_build.ngc.source import Answer, NgcSource, SourceStats

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
