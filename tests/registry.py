"""Real OCI registries for the air-gap tests: CNCF Distribution, skopeo, and a fault proxy.

`Registry` runs Debian's `docker-registry` (CNCF Distribution) on 127.0.0.1 with storage in a
temp folder, optionally behind htpasswd basic auth. Images are pushed with `skopeo copy` from
an OCI layout built here (one tiny layer), or with `push_image` over the Distribution API when
a test needs many tags fast. `TokenIssuer` is the token service of a registry
configured with `auth: token` (the `WWW-Authenticate: Bearer realm=…` flow). `RegistryProxy`
is a real HTTP server in front of a registry that answers chosen repositories with an error
status, or pages tags/list.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import io
import json
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

REGISTRY_BINARY = "docker-registry"
USER, PASSWORD = "mirror-admin", "s3cret-pa55word"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
SERVICE, ISSUER = "nim-test-registry", "nim-test-issuer"
_TAGS_PATH = re.compile(r"^/v2/(.+)/tags/list$")


def needs(binary: str, package: str) -> None:
    """Skip the test, saying which Debian package to install, when `binary` is missing."""
    if shutil.which(binary) is None:
        pytest.skip(f"needs the Debian package {package} (apt-get install {package})")


def self_signed(key: Path, certificate: Path) -> None:
    """An RSA key and a self-signed certificate for 127.0.0.1 (openssl)."""
    needs("openssl", "openssl")
    key.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(certificate)),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --------------------------------------------------------------------------- images


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class TinyImage:
    """One tiny image: a layer of one file, its config and manifest (OCI media types)."""

    layer: bytes
    config: bytes
    manifest: bytes

    @classmethod
    def build(cls, payload: bytes = b"hello from a NIM test image\n") -> TinyImage:
        tar_stream = io.BytesIO()
        with tarfile.open(fileobj=tar_stream, mode="w") as tar:
            info = tarfile.TarInfo("hello.txt")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        layer = gzip.compress(tar_stream.getvalue(), mtime=0)
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": [_sha256(tar_stream.getvalue())]},
                "config": {},
            }
        ).encode()
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": MANIFEST_TYPE,
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": _sha256(config),
                    "size": len(config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": _sha256(layer),
                        "size": len(layer),
                    }
                ],
            }
        ).encode()
        return cls(layer, config, manifest)

    def write_layout(self, folder: Path, tag: str = "v1") -> Path:
        """An OCI image layout on disk (`oci:FOLDER:TAG` for skopeo)."""
        blobs = folder / "blobs" / "sha256"
        blobs.mkdir(parents=True, exist_ok=True)
        for blob in (self.layer, self.config, self.manifest):
            (blobs / _sha256(blob).removeprefix("sha256:")).write_bytes(blob)
        (folder / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        index = {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": MANIFEST_TYPE,
                    "digest": _sha256(self.manifest),
                    "size": len(self.manifest),
                    "annotations": {"org.opencontainers.image.ref.name": tag},
                }
            ],
        }
        (folder / "index.json").write_text(json.dumps(index))
        return folder


def push_image(
    session: requests.Session, base_url: str, repository: str, tags: Sequence[str], image: TinyImage
) -> int:
    """Push `image` under every tag over the Distribution API; returns requests made."""
    made = 0
    for blob in (image.layer, image.config):
        started = session.post(f"{base_url}/v2/{repository}/blobs/uploads/", timeout=30)
        started.raise_for_status()
        location = urljoin(base_url, started.headers["Location"])
        separator = "&" if "?" in location else "?"
        done = session.put(
            f"{location}{separator}digest={_sha256(blob)}",
            data=blob,
            headers={"Content-Type": "application/octet-stream"},
            timeout=30,
        )
        done.raise_for_status()
        made += 2
    for tag in tags:
        put = session.put(
            f"{base_url}/v2/{repository}/manifests/{tag}",
            data=image.manifest,
            headers={"Content-Type": MANIFEST_TYPE},
            timeout=30,
        )
        put.raise_for_status()
        made += 1
    return made


def skopeo_copy(source: str, destination: str, *, dest_creds: str | None = None) -> None:
    """`skopeo copy` over plain HTTP between 127.0.0.1 registries (or from an OCI layout)."""
    needs("skopeo", "skopeo")
    command = ["skopeo", "--insecure-policy", "copy", "--quiet"]
    command += ["--src-tls-verify=false", "--dest-tls-verify=false"]
    if source.startswith("oci:"):
        command.remove("--src-tls-verify=false")
    if dest_creds:
        command += ["--dest-creds", dest_creds]
    done = subprocess.run(
        [*command, source, destination], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"skopeo copy {source} {destination} failed:\n{done.stderr}"


# --------------------------------------------------------------------------- registry


@dataclass
class Registry:
    """A CNCF Distribution registry on 127.0.0.1, storage under `root`."""

    root: Path
    htpasswd: bool = False
    tls: bool = False  # HTTPS with a self-signed certificate for 127.0.0.1 (`ca_file`)
    issuer: TokenIssuer | None = None  # `auth: token`: Bearer tokens from this issuer
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    @property
    def ca_file(self) -> Path:
        return self.root / "tls.crt"

    @property
    def creds(self) -> str | None:
        return f"{USER}:{PASSWORD}" if self.htpasswd or self.issuer else None

    def session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # else $REQUESTS_CA_BUNDLE would override `verify`
        session.verify = str(self.ca_file) if self.tls else True
        if self.htpasswd:
            session.auth = (USER, PASSWORD)
        return session

    def _config(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        lines = [
            "version: 0.1",
            "log: {level: error, accesslog: {disabled: true}}",
            f"storage: {{filesystem: {{rootdirectory: {self.root / 'data'}}}}}",
            f"http: {{addr: '127.0.0.1:{self.port}', secret: not-a-secret-test-only}}",
        ]
        if self.htpasswd:
            import bcrypt  # the test extra; cost 4 keeps each request cheap

            digest = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
            (self.root / "htpasswd").write_text(f"{USER}:{digest}\n")
            lines.append(f"auth: {{htpasswd: {{realm: nim-test, path: {self.root / 'htpasswd'}}}}}")
        if self.issuer:
            lines.append(
                f"auth: {{token: {{realm: '{self.issuer.url}/token', service: {SERVICE}, "
                f"issuer: {ISSUER}, rootcertbundle: {self.issuer.certificate}}}}}"
            )
        if self.tls:
            if not self.ca_file.exists():
                self_signed(self.root / "tls.key", self.ca_file)
            lines[3] = (
                f"http: {{addr: '127.0.0.1:{self.port}', secret: not-a-secret-test-only, "
                f"tls: {{certificate: {self.ca_file}, key: {self.root / 'tls.key'}}}}}"
            )
        config = self.root / "config.yml"
        config.write_text("\n".join(lines) + "\n")
        return config

    def start(self) -> Registry:
        needs(REGISTRY_BINARY, "docker-registry")
        for _ in range(5):  # a free port can be taken between probing and binding
            self.port = free_port()
            config = self._config()
            log = (self.root / "registry.log").open("ab")
            with log:
                self.process = subprocess.Popen(
                    [REGISTRY_BINARY, "serve", str(config)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            if self._ready():
                return self
            self.stop()
        raise RuntimeError(f"docker-registry did not start; see {self.root / 'registry.log'}")

    def _ready(self, within: float = 20.0) -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            with contextlib.suppress(requests.RequestException):
                verify = str(self.ca_file) if self.tls else True
                answer = requests.get(f"{self.url}/v2/", timeout=1, verify=verify)
                if answer.status_code in (200, 401):
                    return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def make_registry(tmp_path: Path) -> Iterator[Callable[..., Registry]]:
    """`make_registry(htpasswd=False)`: a started registry, always stopped after the test."""
    started: list[Registry] = []

    def make(**kwargs: Any) -> Registry:
        registry = Registry(tmp_path / f"registry-{len(started)}", **kwargs)
        started.append(registry)
        return registry.start()

    yield make
    for registry in started:
        registry.stop()


def auth_file(folder: Path, host: str, user: str = USER, password: str = PASSWORD) -> Path:
    """A containers auth.json with credentials for `host`."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    path = folder / "auth.json"
    path.write_text(json.dumps({"auths": {host: {"auth": token}}}))
    return path


# --------------------------------------------------------------------------- servers


class _LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 whose GETs go to `_handle`."""

    _server: ThreadingHTTPServer | None = None

    @property
    def host(self) -> str:
        assert self._server is not None
        return f"127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def serve(self, tls: tuple[Path, Path] | None = None) -> None:
        """Serve on a free port; over TLS with `tls` = (key, certificate)."""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                owner._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certfile=tls[1], keyfile=tls[0])
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenIssuer(_LoopbackServer):
    """A token service for a registry configured with `auth: token` (docker token spec).

    `GET /token?service=…&scope=…` with `USER:PASSWORD` answers a JWT (RS256, signed with
    openssl, certificate in `x5c`) granting the requested actions; the registry trusts it
    through `rootcertbundle`.
    """

    folder: Path
    scopes: list[str] = field(default_factory=list)
    denied: set[str] = field(default_factory=set)  # repositories granted nothing, as Docker Hub
    _x5c: str = ""

    @property
    def certificate(self) -> Path:
        return self.folder / "issuer.crt"

    def start(self) -> TokenIssuer:
        self_signed(self.folder / "issuer.key", self.certificate)
        der = subprocess.run(
            ["openssl", "x509", "-in", str(self.certificate), "-outform", "DER"],
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout
        self._x5c = base64.b64encode(der).decode()
        self.serve()
        return self

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        query = parse_qs(urlsplit(handler.path).query)
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if handler.headers.get("Authorization") != expected or query.get("service") != [SERVICE]:
            self._reply(handler, 401, b'{"details":"bad credentials"}')
            return
        access = []
        for scope in query.get("scope", []):
            self.scopes.append(scope)
            kind, name, actions = scope.split(":")
            if name not in self.denied:
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
        token = self._sign({"iss": ISSUER, "sub": USER, "aud": SERVICE, "access": access})
        self._reply(handler, 200, json.dumps({"token": token, "expires_in": 300}).encode())

    def _sign(self, claims: dict[str, Any]) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        now = int(time.time())
        claims = {**claims, "iat": now, "nbf": now - 10, "exp": now + 300}
        claims["jti"] = secrets.token_hex(8)
        signed = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.folder / "issuer.key")],
            input=signed.encode(),
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout
        return f"{signed}.{_b64url(signature)}"


@pytest.fixture
def token_issuer(tmp_path: Path) -> Iterator[TokenIssuer]:
    issuer = TokenIssuer(tmp_path / "issuer").start()
    yield issuer
    issuer.stop()


# --------------------------------------------------------------------------- proxy


@dataclass
class RegistryProxy(_LoopbackServer):
    """A real HTTP server in front of a registry: scripted errors and spec paging.

    `fail` answers a repository's tags/list with a status, `fail_times` times (None: always).
    `page_size` pages tags/list as the distribution spec says (`n`, `last`, `Link: <…>;
    rel="next"`): Debian's Distribution 2.8 ignores `n` on tags/list and answers in one page.
    """

    upstream: str
    fail: dict[str, int] = field(default_factory=dict)
    fail_times: int | None = None
    upstream_auth: tuple[str, str] | None = None
    page_size: int | None = None
    latency: float = 0.0  # seconds added to every answer (benchmarks: a registry far away)
    next_origin: str = ""  # pages' Link points at this origin instead (a hostile registry)
    drip: float = 0.0  # answer tags/list one byte every `drip` seconds (a stalled registry)
    seen: list[str] = field(default_factory=list)
    _failed: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> RegistryProxy:
        self.serve()
        return self

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        with self._lock:
            self.seen.append(handler.path)
        time.sleep(self.latency)
        match = _TAGS_PATH.match(parts.path)
        repository = match.group(1) if match else ""
        if repository in self.fail and self._should_fail(repository):
            self._reply(handler, self.fail[repository], b'{"errors":[]}')
            return
        if match and self.drip:
            self._drip(handler)
            return
        if match and self.page_size:
            self._page(handler, repository, parse_qs(parts.query))
            return
        answer = requests.get(
            self.upstream + handler.path,
            auth=self.upstream_auth,
            allow_redirects=False,
            timeout=30,
        )
        headers = {
            name.replace("-", "_"): answer.headers[name]
            for name in ("Content-Type", "Link", "Docker-Distribution-Api-Version")
            if name in answer.headers
        }
        self._reply(handler, answer.status_code, answer.content, **headers)

    def _page(
        self, handler: BaseHTTPRequestHandler, repository: str, query: dict[str, list[str]]
    ) -> None:
        assert self.page_size is not None
        answer = requests.get(
            f"{self.upstream}/v2/{repository}/tags/list", auth=self.upstream_auth, timeout=30
        )
        if answer.status_code != 200:
            self._reply(handler, answer.status_code, answer.content)
            return
        tags = sorted(answer.json()["tags"])
        size = min(int((query.get("n") or ["1000"])[0]), self.page_size)
        last = (query.get("last") or [""])[0]
        rest = [tag for tag in tags if tag > last] if last else tags
        page = rest[:size]
        body = json.dumps({"name": repository, "tags": page}).encode()
        headers = {"Content_Type": "application/json"}
        if len(rest) > size:
            target = f"{self.next_origin}/v2/{repository}/tags/list?n={size}&last={page[-1]}"
            headers["Link"] = f'<{target}>; rel="next"'
        self._reply(handler, 200, body, **headers)

    def _drip(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        with contextlib.suppress(OSError):  # the client gives up first
            for _ in range(1000):
                handler.wfile.write(b" ")
                handler.wfile.flush()
                time.sleep(self.drip)

    def _should_fail(self, repository: str) -> bool:
        with self._lock:
            count = self._failed.get(repository, 0)
            if self.fail_times is not None and count >= self.fail_times:
                return False
            self._failed[repository] = count + 1
            return True


@pytest.fixture
def make_proxy() -> Iterator[Callable[..., RegistryProxy]]:
    """`make_proxy(upstream, fail=…, page_size=…)`: a started proxy, stopped after the test."""
    started: list[RegistryProxy] = []

    def make(upstream: str, **kwargs: Any) -> RegistryProxy:
        proxy = RegistryProxy(upstream, **kwargs).start()
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        proxy.stop()


# --------------------------------------------------------------------------- hostile


@dataclass
class TokenEndpoint(_LoopbackServer):
    """A token realm that answers every request with `status` and `body` and keeps what it
    was sent."""

    body: bytes = b'{"token": "a-token"}'
    status: int = 200
    seen: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Authorization)

    def start(self) -> TokenEndpoint:
        self.serve()
        return self

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        self.seen.append((handler.path, handler.headers.get("Authorization")))
        self._reply(handler, self.status, self.body, Content_Type="application/json")


@dataclass
class HostileRegistry(_LoopbackServer):
    """A registry that is not one: scripted challenges and endless tag pages.

    Without an `Authorization` header, tags/list answers 401 with `challenge` (if set).
    Otherwise it answers `page` (bytes) with a `Link: next` to another page, forever, when
    `endless`; else `{"tags": ["1.0"]}`. `page_delay` slows each page. `tls` = (key, cert).
    """

    challenge: str | None = None
    page: bytes = b'{"name": "r", "tags": ["1.0"]}'
    endless: bool = False
    page_delay: float = 0.0
    tls: tuple[Path, Path] | None = None
    seen: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Authorization)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def start(self) -> HostileRegistry:
        self.serve(self.tls)
        return self

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        authorization = handler.headers.get("Authorization")
        with self._lock:
            self.seen.append((handler.path, authorization))
            served = len(self.seen)
        parts = urlsplit(handler.path)
        if self.challenge and not authorization:
            self._reply(handler, 401, b"{}", WWW_Authenticate=self.challenge)
            return
        time.sleep(self.page_delay)
        headers = {"Content_Type": "application/json"}
        if self.endless:
            headers["Link"] = f'<{parts.path}?n=1000&last=p{served}>; rel="next"'
        self._reply(handler, 200, self.page, **headers)


def hostile_servers() -> Iterator[Callable[..., Any]]:
    """For a fixture: `make(HostileRegistry, challenge=…)`, `make(TokenEndpoint, body=…)`;
    every server started is stopped when the generator resumes."""
    started: list[_LoopbackServer] = []

    def make(kind: type[Any], **kwargs: Any) -> Any:
        server = kind(**kwargs).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
