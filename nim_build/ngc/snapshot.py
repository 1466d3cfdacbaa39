"""Recorded NGC answers: record a live run, replay it later without network or key.

A snapshot holds the final answer to every request a run made (status and JSON body),
never the key (an answer that echoes it is stored redacted) and never the key check's body
(it describes the key's owner).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from nim_build.atomic import write_atomically
from nim_build.errors import InputFileError
from nim_build.inputs import read_json
from nim_build.ngc.errors import SnapshotError
from nim_build.ngc.source import Answer, NgcSource, SourceStats
from nim_build.safe_text import escape_json_text, redact, redact_json

FORMAT = "nim-build-snapshot/1"


def _catalog_key(page: int, page_size: int) -> str:
    return f"{page}/{page_size}"


def _encode(answer: Answer) -> dict[str, Any]:
    return {"status": answer.status, "body": redact_json(answer.body)}


class SnapshotSource:
    """Replays a snapshot file; a request it holds no answer for is an error naming it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stats = SourceStats()
        try:
            document = read_json(path)
        except InputFileError as error:
            raise SnapshotError(f"snapshot {error}") from error
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise SnapshotError(f"snapshot {path}: not a {FORMAT} file")
        self._document = document

    def __repr__(self) -> str:
        return f"SnapshotSource({str(self.path)!r})"

    def check_key(self) -> Answer:
        return self._lookup("keyCheck", None, "the key check")

    def catalog_page(self, page: int, page_size: int) -> Answer:
        return self._lookup("catalog", _catalog_key(page, page_size), f"catalog page {page}")

    def repository(self, resource_id: str) -> Answer:
        return self._lookup("repositories", resource_id, resource_id)

    def close(self) -> None:
        """Nothing to release."""

    def _lookup(self, section: str, key: str | None, description: str) -> Answer:
        self.stats.count_request()
        entry = self._document.get(section)
        if key is not None:
            entry = entry.get(key) if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not isinstance(entry.get("status"), int):
            raise SnapshotError(f"snapshot {self.path} holds no answer for {description}")
        return Answer(entry["status"], entry.get("body"))


class RecordingSource:
    """Passes requests to another source and keeps every answer; `save` writes them to `path`.

    Nothing is written on `close`: a caller saves only a run that succeeded, so a failed or
    interrupted run never replaces a good snapshot with a partial one.
    """

    def __init__(self, inner: NgcSource, path: Path) -> None:
        self.inner = inner
        self.path = path
        self.stats = inner.stats
        self._lock = threading.Lock()
        self._key_check: dict[str, Any] | None = None
        self._catalog: dict[str, Any] = {}
        self._repositories: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"RecordingSource({self.inner!r}, {str(self.path)!r})"

    def check_key(self) -> Answer:
        answer = self.inner.check_key()
        with self._lock:
            self._key_check = {"status": answer.status, "body": None}
        return answer

    def catalog_page(self, page: int, page_size: int) -> Answer:
        answer = self.inner.catalog_page(page, page_size)
        with self._lock:
            self._catalog[_catalog_key(page, page_size)] = _encode(answer)
        return answer

    def repository(self, resource_id: str) -> Answer:
        answer = self.inner.repository(resource_id)
        with self._lock:
            self._repositories[redact(resource_id)] = _encode(answer)
        return answer

    def close(self) -> None:
        self.inner.close()

    def save(self) -> None:
        """Write the snapshot atomically (sorted: the same answers give the same file)."""
        with self._lock:
            document = {
                "format": FORMAT,
                "keyCheck": self._key_check,
                "catalog": self._catalog,
                "repositories": self._repositories,
            }
            text = json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        write_atomically(self.path, escape_json_text(text))
