"""A fake NGC API: a real HTTP server on 127.0.0.1, shaped on the captured answers.

The answers follow tests/data/ (catalog search, key check, repository metadata, the
empty-bodied 451), so the client under test speaks real HTTP to it: pooled connections,
timeouts and retries all run for real. Faults can be scripted per path or per model.

Also runnable for benchmarks (prints the URL, serves until killed):

    python -m tests.fake_ngc --models 186 --latency 0.05 --port 0
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import random
import re
import signal
import socket
import socketserver
import sys
import threading
import time
import zlib
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

# Captured NGC answers, copied into the repository (tests/data/PROVENANCE.md).
NGC_DATA = Path(__file__).resolve().parent / "data"
DEFAULT_KEY = "nvapi-test-key-0123456789"
KEY_PATH = "/v3/keys/get-caller-info"
CATALOG_PATH = "/v2/search/catalog/resources/CONTAINER"
_REPO_PATH = re.compile(r"^/v2/org/([^/]+)/team/([^/]+)/repos/([^/]+)$")
SCORED_SIZE = 2  # the `_scored` group repeats this many resources of each page
DROP = object()  # in `Fault.patch`: remove the field from the answer


# --------------------------------------------------------------------------- models


@dataclass
class FakeModel:
    """One NIM container as NGC knows it; mutable, so a test can change it between runs."""

    team: str
    repo: str
    org: str = "nim"
    display_name: str = ""
    short_description: str = ""
    tags: list[str] = field(default_factory=lambda: ["1.0.0", "1.0", "1", "latest"])
    latest_tag: str = "latest"
    updated_date: str = "2025-04-14T18:15:01.121Z"
    catalog_latest_tag: str | None = "1.0.0"  # None: resource without a latestTag attribute
    status: int = 200  # 451: EU-restricted; anything else is answered as is
    extras: dict[str, Any] = field(default_factory=dict)  # merged into the metadata answer

    def __post_init__(self) -> None:
        if not self.display_name:
            self.display_name = self.repo
        if not self.short_description:
            self.short_description = f"NVIDIA NIM for GPU accelerated {self.repo} inference"

    @property
    def resource_id(self) -> str:
        return f"{self.org}/{self.team}/{self.repo}"

    @property
    def namespace(self) -> str:
        return f"{self.org}/{self.team}"

    @property
    def path(self) -> str:
        """The metadata path, without the query."""
        return f"/v2/org/{self.org}/team/{self.team}/repos/{self.repo}"

    @property
    def pullable(self) -> bool:
        """Listed by the catalog with a latestTag, i.e. kept by the client."""
        return self.catalog_latest_tag is not None

    def contract(self, *, eu_restricted: bool = False) -> dict[str, Any]:
        """The ConfigMap entry the client should write for this model."""
        return {
            "name": self.repo,
            "displayName": self.display_name,
            "shortDescription": self.short_description,
            "namespace": self.namespace,
            "tags": list(self.tags),
            "latestTag": self.latest_tag,
            "updatedDate": self.updated_date,
            "euRestricted": eu_restricted,
        }

    def eu_entry(self) -> dict[str, str]:
        return {
            "name": self.repo,
            "resourceId": self.resource_id,
            "org": self.org,
            "team": self.team,
        }


def _load_capture(name: str) -> Any:
    try:
        return json.loads((NGC_DATA / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@cache
def _metadata_template() -> dict[str, Any]:
    captured = _load_capture("model_tags.json")
    if isinstance(captured, dict):
        return captured
    return {  # a smaller stand-in when the captures are not around (e.g. an sdist)
        "labels": ["NIM", "NVIDIA AI Enterprise Supported", "NVIDIA NIM"],
        "isMultiArchitecture": True,
        "isMultinodeEnabled": False,
        "logo": "https://assets.ngc.nvidia.com/products/api-catalog/images/nim.jpg",
        "manualScanEnabled": True,
        "systemLabels": ["signed images"],
        "isReadOnly": True,
        "productNames": ["nim-dev", "nv-ai-enterprise"],
        "hasSignedTag": True,
        "latestImageSize": 10397285394,
        "description": "# Overview\n\n" + "This container houses a NIM. " * 150,
        "sharedWithTeams": [],
        "scanEnabled": True,
        "publisher": "NVIDIA",
        "accessType": "LISTED",
        "showScanResults": True,
        "policyLabels": [],
    }


@cache
def _key_validation_body() -> bytes:
    captured = _load_capture("key_validation.json")
    body = captured if isinstance(captured, dict) else {"type": "PERSONAL_KEY", "user": {}}
    return json.dumps(body).encode()


def metadata_body(model: FakeModel) -> dict[str, Any]:
    """The 200 answer of `GET /v2/org/{org}/team/{team}/repos/{repo}` (~6 KB, like NGC's)."""
    body = copy.deepcopy(_metadata_template())
    body.update(
        {
            "name": model.repo,
            "displayName": model.display_name,
            "shortDescription": model.short_description,
            "namespace": model.namespace,
            "tags": list(model.tags),
            "latestTag": model.latest_tag,
            "updatedDate": model.updated_date,
            "sharedWithTeams": [model.namespace],
            "description": f"# {model.display_name} Overview\n\n{model.short_description}\n\n"
            + str(body.get("description", ""))[200:],
        }
    )
    return _patched(body, model.extras)


def _patched(body: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in patch.items():
        if value is DROP:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def catalog_resource(model: FakeModel, index: int = 0) -> dict[str, Any]:
    """One resource of the catalog search, shaped like catalog_search.json's."""
    attributes = []
    if model.catalog_latest_tag is not None:
        attributes.append({"key": "latestTag", "value": model.catalog_latest_tag})
    attributes += [
        {"key": "size", "value": str(9_000_000_000 + 7919 * index)},
        {"key": "hasSignedTag", "value": "true"},
        {"key": "oneClickDeploy", "value": "false"},
        {"key": "latestTagPushedDate", "value": model.updated_date},
    ]
    return {
        "orgName": model.org,
        "resourceId": model.resource_id,
        "labels": [
            {"values": ["NVIDIA AI Enterprise Supported", "NVIDIA NIM"], "key": "general"},
            {"values": ["signed images"], "key": "system"},
            {"values": ["true"], "key": "hasSignedTag"},
            {"values": ["NVIDIA"], "key": "publisher"},
            {"values": ["nim-dev", "nv-ai-enterprise"], "key": "productNames"},
        ],
        "sharedWithTeams": [model.namespace],
        "teamName": model.team,
        "msgTimestamp": 1762433427925,
        "dateModified": model.updated_date,
        "sharedWithOrgs": [],
        "description": model.short_description,
        "accessType": "LISTED",
        "dateCreated": "2025-01-08T19:55:20.151Z",
        "weightPopular": 1000.0 + index,
        "createdBy": "ump9hejl7s8kt8foag1jokg1ia",
        "displayName": model.display_name,
        "name": model.repo,
        "resourceType": "CONTAINER",
        "attributes": attributes,
    }


# --------------------------------------------------------------------------- model sets

_TEAMS: dict[str, tuple[str, ...]] = {
    "meta": ("llama-3.1", "llama-3.2", "llama-3.3", "llama-4", "codellama"),
    "nvidia": ("nemotron", "nv-embedqa", "cosmos", "parakeet", "nemoretriever"),
    "mistralai": ("mistral", "mixtral", "codestral"),
    "baai": ("bge-large", "bge-m3", "bge-reranker"),
    "google": ("gemma-2", "gemma-3", "codegemma"),
    "microsoft": ("phi-3", "phi-4"),
    "deepseek-ai": ("deepseek-r1", "deepseek-coder"),
    "qwen": ("qwen2.5", "qwen3"),
    "ibm": ("granite-3.0",),
    "snowflake": ("arctic-embed",),
}
_SIZES = ("1b", "3b", "7b", "8b", "13b", "70b", "405b")
_KINDS = ("instruct", "chat", "base", "embed", "reranker", "vision-instruct")
NON_ASCII_DESCRIPTION = "Mehrsprachiges Modell für Deutsch, 中文 und Español — très rapide"


def synthetic_models(
    n: int, *, seed: int = 0, missing_latest_tag_every: int = 0
) -> list[FakeModel]:
    """`n` distinct, realistic-looking models across several teams, in a shuffled order.

    A few descriptions hold non-ASCII text; with `missing_latest_tag_every=k`, every k-th
    resource lacks the catalog latestTag attribute (the client must leave it out).
    """
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    teams = sorted(_TEAMS)
    seen: set[str] = set()
    start = datetime(2024, 6, 1, tzinfo=UTC)
    models = []
    for index in range(n):
        team = teams[index % len(teams)]
        base = rng.choice(_TEAMS[team])
        repo = f"{base}-{rng.choice(_SIZES)}-{rng.choice(_KINDS)}"
        if repo in seen:
            repo = f"{repo}-v{index}"
        seen.add(repo)
        major, minor, patch = rng.randint(1, 2), rng.randint(0, 15), rng.randint(0, 9)
        tags = [f"{major}.{minor}.{patch}", f"{major}.{minor}", str(major)]
        if rng.random() < 0.8:
            tags.append("latest")
        when = start + timedelta(seconds=rng.randint(0, 600 * 86400))
        description = f"NVIDIA NIM for GPU accelerated {repo} inference"
        if index % 7 == 3:
            description = f"{NON_ASCII_DESCRIPTION} ({repo})"
        no_tag = missing_latest_tag_every and index % missing_latest_tag_every == 0
        models.append(
            FakeModel(
                team=team,
                repo=repo,
                display_name=repo.replace("-", " ").title(),
                short_description=description,
                tags=tags,
                latest_tag=rng.choice(["latest", str(major), tags[0]]),
                updated_date=when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{rng.randint(0, 999):03d}Z",
                catalog_latest_tag=None if no_tag else tags[0],
            )
        )
    rng.shuffle(models)  # the real catalog comes in score order, not by name
    return models


EU_RESTRICTED_CAPTURED = (
    "llama-3.2-11b-vision-instruct",
    "llama-4-maverick-17b-128e-instruct",
    "llama-4-scout-17b-16e-instruct",
    "llama-3.2-90b-vision-instruct",
)


def models_from_captures(*, eu: bool = False) -> list[FakeModel]:
    """A handful of models taken from the captured answers.

    `eu=True`: the four models of nim_eu_restricted.json answer 451, as seen from the EU.
    """
    tags = _load_capture("model_tags.json") or {}
    models = [
        FakeModel(
            team="meta",
            repo="llama-3.1-8b-instruct",
            display_name=tags.get("displayName", "Llama-3.1-8B-Instruct"),
            short_description=tags.get(
                "shortDescription",
                "NVIDIA NIM for GPU accelerated Llama-3.1-8B-Instruct inference through "
                "OpenAI compatible APIs",
            ),
            tags=list(tags.get("tags", ["1.15.5", "1.15", "1", "latest"])),
            latest_tag=tags.get("latestTag", "latest"),
            updated_date=tags.get("updatedDate", "2026-02-04T19:47:27.380Z"),
            catalog_latest_tag="1.15.5",
        ),
        # docs/reference.md's example entry, field for field.
        FakeModel(
            team="baai",
            repo="bge-large-zh-v1-5",
            short_description="NVIDIA NIM for GPU accelerated BAAI/bge-large-zh-v1.5 inference",
            tags=["1.5", "latest", "1.5.0"],
            latest_tag="1.5.0",
            updated_date="2025-04-14T18:15:01.121Z",
            catalog_latest_tag="1.5.0",
        ),
    ]
    catalog = _load_capture("catalog_search.json") or {}
    for group in catalog.get("results", []):
        if group.get("groupValue") != "CONTAINER":
            continue
        for raw in group.get("resources", []):
            org, team, repo = raw["resourceId"].split("/")
            attributes = {a["key"]: a["value"] for a in raw.get("attributes", [])}
            latest = attributes.get("latestTag")
            models.append(
                FakeModel(
                    org=org,
                    team=team,
                    repo=repo,
                    display_name=raw.get("displayName", repo),
                    short_description=raw.get("description", ""),
                    tags=[latest, "latest"] if latest else ["latest"],
                    latest_tag="latest",
                    updated_date=attributes.get("latestTagPushedDate", "2025-09-08T19:58:53.408Z"),
                    catalog_latest_tag=latest,
                )
            )
    for repo in EU_RESTRICTED_CAPTURED:
        models.append(
            FakeModel(
                team="meta",
                repo=repo,
                tags=["1.8.0", "1.8", "1", "latest"],
                latest_tag="1",
                catalog_latest_tag="1.8.0",
                status=451 if eu else 200,
            )
        )
    return models


def default_models(*, eu: bool = False) -> list[FakeModel]:
    """The captured models, one with non-ASCII text and one without a catalog latestTag."""
    return [
        *models_from_captures(eu=eu),
        FakeModel(
            team="baai",
            repo="bge-m3",
            display_name="BGE-M3 (mehrsprachig, 中文)",
            short_description=NON_ASCII_DESCRIPTION,
            tags=["1.0.1", "1.0", "latest"],
            latest_tag="latest",
            catalog_latest_tag="1.0.1",
        ),
        FakeModel(team="nvidia", repo="nim-internal-preview", catalog_latest_tag=None),
    ]


# --------------------------------------------------------------------------- faults


@dataclass(frozen=True)
class Fault:
    """One scripted answer, served instead of (or before) the normal one.

    `status=None` with no `body`: the normal answer (after `delay`, with `patch` applied).
    """

    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None  # raw body, sent as is
    patch: Mapping[str, Any] = field(default_factory=dict)  # fields set in (DROP: removed from)
    drop: bool = False  # close the connection without answering
    delay: float = 0.0  # seconds to wait before answering (e.g. past the read timeout)
    drip: float = 0.0  # > 0: send headers, then one byte of body every `drip` s, forever
    drip_headers: bool = False  # with `drip`: drip the header block instead of the body

    @classmethod
    def http(
        cls, status: int, *, retry_after: str | float | None = None, body: bytes | None = None
    ) -> Fault:
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        return cls(status=status, headers=headers, body=body)

    @classmethod
    def malformed_json(cls) -> Fault:
        return cls(status=200, body=b"{not json")

    @classmethod
    def fields(cls, **patch: Any) -> Fault:
        """The normal answer with some fields replaced (e.g. `tags="1.5"`)."""
        return cls(patch=patch)

    @classmethod
    def without(cls, *names: str) -> Fault:
        """The normal answer without some fields."""
        return cls(patch=dict.fromkeys(names, DROP))

    @classmethod
    def dropped(cls) -> Fault:
        return cls(drop=True)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        return cls(delay=seconds)

    @classmethod
    def redirect(cls, status: int, location: str) -> Fault:
        return cls(status=status, headers={"Location": location}, body=b"")

    @classmethod
    def dripping(cls, interval: float = 1.0, *, in_headers: bool = False) -> Fault:
        """Headers, then a byte every `interval` seconds until the server stops."""
        return cls(status=200, drip=interval, drip_headers=in_headers)

    @classmethod
    def gzip_bomb(cls, decoded_size: int = 1 << 30) -> Fault:
        """A small gzip body (~1/1000 of `decoded_size`) that unpacks to that many zeros."""
        return cls(status=200, headers={"Content-Encoding": "gzip"}, body=gzip_zeros(decoded_size))

    @classmethod
    def nested_json(cls, depth: int = 200_000) -> Fault:
        return cls(status=200, body=b"[" * depth + b"]" * depth)


@cache
def gzip_zeros(size: int) -> bytes:
    """`size` zero bytes, gzip-compressed a MiB at a time (never held uncompressed)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    steps = range(0, size, len(block))
    parts = [packer.compress(block[: min(len(block), size - done)]) for done in steps]
    return b"".join([*parts, packer.flush()])


# --------------------------------------------------------------------------- requests log


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    time: float  # time.monotonic() on arrival
    status: int | None = None  # None: no answer (dropped, or still in progress)

    def __iter__(self) -> Iterator[Any]:  # (method, path, query, headers, body)
        return iter((self.method, self.path, self.query, self.headers, self.body))

    @property
    def catalog_query(self) -> dict[str, Any]:
        """The decoded `q` parameter of a catalog search."""
        value: dict[str, Any] = json.loads(self.query["q"])
        return value


# --------------------------------------------------------------------------- server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeNgc

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up mid-answer (as a bounded client does) is not worth a traceback."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn): needless, slow offline.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a pooled client expects
    # Headers and body leave in one segment: no Nagle / delayed-ACK stalls (~40 ms each).
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log."""

    def do_GET(self) -> None:
        self.server.fake._handle(self)

    def do_POST(self) -> None:
        self.server.fake._handle(self)

    def send(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        headers = dict(headers or {})
        length = headers.pop("Content-Length", None)
        try:
            self.send_response(status)
            if body:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", length or str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:  # the client gave up (read timeout): nothing to answer to
            self.close_connection = True
        if length is not None:  # a lying Content-Length: the client sees the end here
            self.drop()

    def drip(self, interval: float, stopping: threading.Event, *, in_headers: bool) -> None:
        """A byte every `interval` seconds until the client leaves or the server stops."""
        self.close_connection = True
        try:
            if in_headers:
                self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            else:
                self.send_response(200)
                self.send_header("Content-Length", str(1 << 40))
                self.end_headers()
            self.wfile.flush()
            while not stopping.wait(interval):
                self.wfile.write(b"a" if in_headers else b" ")
                self.wfile.flush()
        except OSError:
            return

    def drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _error_body(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    code = phrase.upper().replace(" ", "_").replace("-", "_")
    return json.dumps({"requestStatus": {"statusCode": code, "statusDescription": phrase}}).encode()


class FakeNgc:
    """The fake NGC server. Use as a context manager, or `start()` / `stop()`."""

    def __init__(
        self,
        models: Iterable[FakeModel] = (),
        *,
        valid_keys: Iterable[str] = (DEFAULT_KEY,),
        latency: float = 0.0,
        page_size_cap: int | None = None,
        port: int = 0,
        scored_only: Sequence[FakeModel] = (),
    ) -> None:
        self.valid_keys = frozenset(valid_keys)
        self.latency = latency
        self.page_size_cap = page_size_cap
        self.scored_only = list(scored_only)  # resources only in the `_scored` group
        self.catalog_overrides: dict[str, Any] = {}  # merged into every catalog page
        self.pages_served: dict[int, int] = {}  # asked page -> page whose resources are sent
        self.standing_faults: dict[str, Fault] = {}  # path prefix -> fault for every request
        self._port = port
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._faults: dict[str, deque[Fault]] = {}
        self._requests: list[RecordedRequest] = []
        self._in_flight = 0
        self.max_in_flight = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.models: list[FakeModel] = []
        self._index: dict[tuple[str, str, str], FakeModel] = {}
        self.set_models(models)

    # -- life cycle

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", self._port), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes handlers sleeping on latency or a slow fault
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("fake NGC is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- set-up

    def set_models(self, models: Iterable[FakeModel]) -> None:
        with self._lock:
            self.models = list(models)
            self._index = {(m.org, m.team, m.repo): m for m in self.models}

    def model(self, repo: str) -> FakeModel:
        matches = [m for m in self.models if repo in (m.repo, m.resource_id)]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} models match {repo!r}")
        return matches[0]

    def _target_path(self, target: str | FakeModel) -> str:
        if isinstance(target, FakeModel):
            return target.path
        if target.startswith("/"):
            return target
        return self.model(target).path

    def fail(self, target: str | FakeModel, faults: Iterable[Fault]) -> None:
        """Serve `faults`, in order, to the next requests for `target` (then answer normally).

        `target`: a model, its repo name or resource id, or a path such as CATALOG_PATH.
        """
        path = self._target_path(target)
        with self._lock:
            self._faults.setdefault(path, deque()).extend(faults)

    def fail_always(self, path_prefix: str, fault: Fault) -> None:
        """Serve `fault` to every request whose path starts with `path_prefix` (e.g. "/")."""
        with self._lock:
            self.standing_faults[path_prefix] = fault

    def _standing_fault(self, path: str) -> Fault | None:
        for prefix, fault in self.standing_faults.items():
            if path.startswith(prefix):
                return fault
        return None

    def pending_faults(self, target: str | FakeModel) -> int:
        path = self._target_path(target)
        with self._lock:
            return len(self._faults.get(path, ()))

    # -- request log

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._requests)

    def count(self, prefix: str = "") -> int:
        """Requests whose path starts with `prefix`."""
        with self._lock:
            return sum(1 for r in self._requests if r.path.startswith(prefix))

    def requests_for(self, target: str | FakeModel) -> list[RecordedRequest]:
        path = self._target_path(target)
        with self._lock:
            return [r for r in self._requests if r.path == path]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()
            self.max_in_flight = 0

    # -- serving

    def _handle(self, handler: _Handler) -> None:
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        record = RecordedRequest(
            method=handler.command,
            path=url.path,
            query={k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()},
            headers=dict(handler.headers.items()),
            body=body,
            time=time.monotonic(),
        )
        with self._lock:
            self._requests.append(record)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            queue = self._faults.get(url.path)
            fault = queue.popleft() if queue else self._standing_fault(url.path)
        try:
            if self.latency:
                self._stopping.wait(self.latency)
            if fault is not None and fault.delay:
                self._stopping.wait(fault.delay)
            if fault is not None and fault.drop:
                handler.drop()
                return
            if fault is not None and fault.drip:
                handler.drip(fault.drip, self._stopping, in_headers=fault.drip_headers)
                return
            if fault is not None and (fault.status is not None or fault.body is not None):
                status = fault.status if fault.status is not None else 200
                payload = fault.body if fault.body is not None else _error_body(status)
                if status == 451 and fault.body is None:
                    payload = b""
                headers: Mapping[str, str] = fault.headers
            else:
                status, payload, headers = self._answer(record, fault)
            record.status = status
            handler.send(status, payload, headers)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _authorized(self, record: RecordedRequest) -> str | None:
        authorization = record.headers.get("Authorization", "")
        scheme, _, key = authorization.partition(" ")
        return key if scheme == "Bearer" and key in self.valid_keys else None

    def _answer(
        self, record: RecordedRequest, fault: Fault | None
    ) -> tuple[int, bytes, Mapping[str, str]]:
        patch = fault.patch if fault is not None else {}
        if record.path == KEY_PATH:
            return self._key_check(record)
        if record.path == CATALOG_PATH:
            return self._catalog(record, patch)
        return self._repository(record, patch)

    def _key_check(self, record: RecordedRequest) -> tuple[int, bytes, Mapping[str, str]]:
        if record.method != "POST":
            return 405, _error_body(405), {}
        key = self._authorized(record)
        form = parse_qs(record.body.decode("utf-8", "replace"))
        if key is None or form.get("credentials") != [key]:
            return 401, _error_body(401), {}
        return 200, _key_validation_body(), {}

    def _repository(
        self, record: RecordedRequest, patch: Mapping[str, Any]
    ) -> tuple[int, bytes, Mapping[str, str]]:
        match = _REPO_PATH.match(record.path)
        model = None
        if match is None:
            status = 404
        elif record.method != "GET":
            status = 405
        elif self._authorized(record) is None:
            status = 401
        else:
            with self._lock:
                model = self._index.get((match[1], match[2], match[3]))
            status = 404 if model is None else model.status
        if status == 451:
            return 451, b"", {}  # NGC answers 451 with an empty body
        if status != 200 or model is None:
            return status, _error_body(status), {}
        body = _patched(metadata_body(model), patch)
        return 200, json.dumps(body, ensure_ascii=False).encode(), {}

    def _catalog(
        self, record: RecordedRequest, patch: Mapping[str, Any]
    ) -> tuple[int, bytes, Mapping[str, str]]:
        try:
            query = json.loads(record.query["q"])
            page, asked = int(query["page"]), int(query["pageSize"])
        except (KeyError, ValueError, TypeError):
            return 400, _error_body(400), {}
        size = max(1, min(asked, self.page_size_cap or asked))
        with self._lock:
            models = list(self.models)
        start = self.pages_served.get(page, page) * size
        on_page = [
            catalog_resource(m, start + i) for i, m in enumerate(models[start : start + size])
        ]
        scored = on_page[:SCORED_SIZE] + [catalog_resource(m) for m in self.scored_only]
        body: dict[str, Any] = {
            "resultTotal": len(models),
            "resultPageTotal": math.ceil(len(models) / size),
            "params": {
                "orderBy": [{"field": "score", "value": "DESC"}],
                "queryFields": ["all", "name", "publisher", "builtBy", "displayName"],
                "scoredSize": SCORED_SIZE,
                "pageSize": size,
                "page": page,
                "filters": [
                    {"field": "orgName", "value": "nim"},
                    {"field": "resourceType", "value": "container"},
                ],
                "query": "*:*",
                "groupBy": "resourceType",
            },
            "results": [
                {"totalCount": len(scored), "groupValue": "_scored", "resources": scored},
                {"totalCount": len(models), "groupValue": "CONTAINER", "resources": on_page},
            ],
        }
        body = _patched(_patched(body, self.catalog_overrides), patch)
        return 200, json.dumps(body, ensure_ascii=False).encode(), {}


# --------------------------------------------------------------------------- script


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake NGC API on 127.0.0.1.")
    parser.add_argument("--models", type=int, default=186, help="synthetic models to serve")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--restricted", type=int, default=0, help="models answering 451")
    parser.add_argument("--page-size-cap", type=int, default=None)
    args = parser.parse_args(argv)
    models = synthetic_models(args.models, seed=args.seed)
    for model in models[: args.restricted]:
        model.status = 451
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    fake = FakeNgc(models, latency=args.latency, page_size_cap=args.page_size_cap, port=args.port)
    with fake:
        print(fake.url, flush=True)
        while not stop.wait(0.5):
            pass


if __name__ == "__main__":
    main()
