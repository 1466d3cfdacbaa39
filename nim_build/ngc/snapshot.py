"""Recorded NGC answers: record a live run, replay it later without network or key.

A snapshot holds the final answer to every request a run made: its status and, of its JSON
body, only the fields the pipeline reads (steps/catalog.py, steps/metadata.py), so whatever a
server pads its answers with is not kept. It never holds the key (an answer that echoes it is
stored redacted), nor the key check's body (it describes the key's owner), nor a hidden or
control character (each is a JSON escape). A snapshot that would be larger than a replay reads
(inputs.MAX_INPUT_CHARS) is refused, never written: what is recorded always replays.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from nim_build.atomic import write_atomically
from nim_build.errors import InputFileError
from nim_build.inputs import MAX_INPUT_CHARS, read_json
from nim_build.models import CONTRACT_FIELDS
from nim_build.ngc.errors import SnapshotError
from nim_build.ngc.source import Answer, NgcSource, SourceStats
from nim_build.safe_text import escape_json_text, redact, redact_json

FORMAT = "nim-build-snapshot/1"
FORMAT_FIELD = f'"format": "{FORMAT}"'  # as json.dumps writes it: the second line of a snapshot
# The fields each answer is read for. A catalog page (steps/catalog.py): its counts, the
# page it answers, and per CONTAINER resource its id, display name and latestTag attribute.
_CATALOG_FIELDS = ("params", "resultTotal", "resultPageTotal", "results")
_GROUP_FIELDS = ("groupValue", "resources")
_RESOURCE_FIELDS = ("resourceId", "displayName", "attributes")
_ATTRIBUTE_FIELDS = ("key", "value")
_CATALOG_GROUP = "CONTAINER"  # the group steps/catalog.py reads; others are not recorded
_LATEST_TAG = "latestTag"
# A model's metadata (steps/metadata.py): the contract fields but euRestricted (the EU list's).
_MODEL_FIELDS = tuple(name for name in CONTRACT_FIELDS if name != "euRestricted")


def _catalog_key(page: int, page_size: int) -> str:
    return f"{page}/{page_size}"


def _pick(value: Any, fields: tuple[str, ...]) -> Any:
    """Of an object, the `fields` it has; anything else as it is (the reader refuses it)."""
    if not isinstance(value, dict):
        return value
    return {name: value[name] for name in fields if name in value}


def _picked_list(value: Any, pick: Any) -> Any:
    return [pick(item) for item in value] if isinstance(value, list) else value


def _catalog_resource(raw: Any) -> Any:
    resource = _pick(raw, _RESOURCE_FIELDS)
    if isinstance(resource, dict) and isinstance(resource.get("attributes"), list):
        resource["attributes"] = [
            _pick(attribute, _ATTRIBUTE_FIELDS)
            for attribute in resource["attributes"]
            if isinstance(attribute, dict) and attribute.get("key") == _LATEST_TAG
        ]
    return resource


def _catalog_group(raw: Any) -> Any:
    group = _pick(raw, _GROUP_FIELDS)
    if isinstance(group, dict):
        group["resources"] = _picked_list(group.get("resources"), _catalog_resource)
    return group


def catalog_fields(body: Any) -> Any:
    """Of a catalog page, what steps/catalog.py reads."""
    page = _pick(body, _CATALOG_FIELDS)
    if not isinstance(page, dict):
        return page
    if isinstance(page.get("params"), dict):
        page["params"] = _pick(page["params"], ("page",))
    if isinstance(page.get("results"), list):
        page["results"] = [
            _catalog_group(group)
            for group in page["results"]
            if isinstance(group, dict) and group.get("groupValue") == _CATALOG_GROUP
        ]
    return page


def model_fields(body: Any) -> Any:
    """Of a model's metadata, what steps/metadata.py reads."""
    return _pick(body, _MODEL_FIELDS)


def _encode(answer: Answer, fields: Any) -> dict[str, Any]:
    return {"status": answer.status, "body": redact_json(fields(answer.body))}


def _size(encoded: dict[str, Any]) -> int:
    """Characters an answer takes in the snapshot, before escapes."""
    return len(json.dumps(encoded, ensure_ascii=False))


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
        self._chars = 0  # recorded so far; past MAX_INPUT_CHARS the answers are dropped
        self._too_large = False

    def __repr__(self) -> str:
        return f"RecordingSource({self.inner!r}, {str(self.path)!r})"

    def check_key(self) -> Answer:
        answer = self.inner.check_key()
        with self._lock:
            self._key_check = {"status": answer.status, "body": None}
        return answer

    def catalog_page(self, page: int, page_size: int) -> Answer:
        answer = self.inner.catalog_page(page, page_size)
        self._keep(self._catalog, _catalog_key(page, page_size), _encode(answer, catalog_fields))
        return answer

    def repository(self, resource_id: str) -> Answer:
        answer = self.inner.repository(resource_id)
        self._keep(self._repositories, redact(resource_id), _encode(answer, model_fields))
        return answer

    def _keep(self, section: dict[str, Any], key: str, encoded: dict[str, Any]) -> None:
        size = _size(encoded)
        with self._lock:
            if key in section:  # asked again (a retry by the caller): the last answer counts
                self._chars -= _size(section.pop(key))
            self._chars += size
            if self._chars > MAX_INPUT_CHARS:
                # Memory stays bounded: nothing more is kept, and `save` refuses.
                self._too_large = True
                self._catalog.clear()
                self._repositories.clear()
            if not self._too_large:
                section[key] = encoded

    def close(self) -> None:
        self.inner.close()

    def save(self) -> None:
        """Write the snapshot atomically; the same answers give the same file.

        The format marker comes first, so the file says what it is in its first line (an
        output check recognises it there); the answers follow, sorted.
        """
        with self._lock:
            text = None if self._too_large else self._render()
        if text is None or len(text) > MAX_INPUT_CHARS:
            raise SnapshotError(
                f"--record {self.path}: the answers would take more than "
                f"{MAX_INPUT_CHARS >> 20} Mi characters, more than --from-snapshot reads; "
                "not recorded"
            )
        write_atomically(self.path, text)

    def _render(self) -> str:
        document = {
            "format": FORMAT,
            "keyCheck": self._key_check,
            "catalog": dict(sorted(self._catalog.items())),
            "repositories": dict(sorted(self._repositories.items())),
        }
        return escape_json_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
