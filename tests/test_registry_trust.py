"""The registry client as an attacker sees it: where credentials go, endless tag pages,
hostile realms and tokens, a registry-wide failure, and refused inputs. Real servers only."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

import pytest

from nim_build.errors import InputFileError
from nim_build.http import HttpAnswer, HttpLimits
from nim_build.registry import (
    AuthFileError,
    Credentials,
    RegistryClient,
    RegistryError,
    RegistryLocation,
    RegistryWideError,
    TagBounds,
    credentials_allowed,
    load_credentials,
)
from nim_build.safe_text import redact, register_secret
from tests.conftest import CliResult
from tests.entries import real_shaped_entries
from tests.registry import (
    PASSWORD,
    USER,
    HostileRegistry,
    Registry,
    TokenEndpoint,
    TokenIssuer,
    hostile_servers,
    self_signed,
)
from tests.test_mirror import configmap_file

Run = Callable[..., CliResult]
Make = Callable[..., Any]
FAST = HttpLimits(attempts=2, backoff_base=0.01, backoff_max=0.02, timeout=5.0)
REPO = "nim/meta/llama"
CREDENTIALS = Credentials(USER, PASSWORD)


@pytest.fixture
def make_hostile() -> Iterator[Make]:
    yield from hostile_servers()


@pytest.fixture(autouse=True)
def _no_auth_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)


def client(
    server: HostileRegistry, credentials: Credentials | None = CREDENTIALS, **kwargs: Any
) -> RegistryClient:
    return RegistryClient(
        RegistryLocation.parse(server.host),
        credentials=credentials,
        plain_http=server.tls is None,
        limits=FAST,
        **kwargs,
    )


def bearer(realm: str) -> str:
    return f'Bearer realm="{realm}",service="hostile"'


# --------------------------------------------------------------------------- credential scope


def test_an_https_registry_never_sends_anything_to_a_plain_http_realm(
    make_hostile: Make, tmp_path: Path
) -> None:
    key, certificate = tmp_path / "tls.key", tmp_path / "tls.crt"
    self_signed(key, certificate)
    collector = make_hostile(TokenEndpoint)
    registry = make_hostile(
        HostileRegistry, challenge=bearer(f"{collector.url}/token"), tls=(key, certificate)
    )
    with pytest.raises(RegistryWideError, match="is plain HTTP while the registry is HTTPS"):
        client(registry, ca_file=certificate).tags(REPO)
    assert collector.seen == []  # not the credentials, not even an anonymous token request


def test_a_real_https_registry_whose_realm_is_plain_http_gets_no_credentials_there(
    make_registry: Callable[..., Registry], token_issuer: TokenIssuer
) -> None:
    # Distribution over TLS with `auth: token` at the issuer's http:// realm: a downgrade.
    registry = make_registry(tls=True, issuer=token_issuer)
    tags_client = RegistryClient(
        RegistryLocation.parse(registry.host),
        credentials=CREDENTIALS,
        ca_file=registry.ca_file,
        limits=FAST,
    )
    with pytest.raises(RegistryWideError, match="is plain HTTP while the registry is HTTPS"):
        tags_client.tags(REPO)
    assert token_issuer.scopes == []  # the issuer never saw the credentials


def test_a_plain_registry_sends_no_credentials_to_a_plain_realm_on_another_host(
    make_hostile: Make,
) -> None:
    collector = make_hostile(TokenEndpoint)
    elsewhere = f"http://localhost:{urlsplit(collector.url).port}/token"  # not 127.0.0.1
    registry = make_hostile(HostileRegistry, challenge=bearer(elsewhere))
    with pytest.raises(RegistryWideError, match=r"plain HTTP on another host .* refused"):
        client(registry).tags(REPO)
    assert collector.seen == []
    # Without credentials there is nothing to leak: an anonymous token is asked for.
    assert client(registry, credentials=None).tags(REPO) == ("1.0",)
    assert [authorization for _, authorization in collector.seen] == [None]


def test_a_plain_realm_on_the_plain_registrys_own_host_gets_the_credentials(
    make_hostile: Make,
) -> None:
    collector = make_hostile(TokenEndpoint)  # 127.0.0.1, another port: the same host
    registry = make_hostile(HostileRegistry, challenge=bearer(f"{collector.url}/token"))
    assert client(registry).tags(REPO) == ("1.0",)
    assert [authorization for _, authorization in collector.seen] == [
        "Basic bWlycm9yLWFkbWluOnMzY3JldC1wYTU1d29yZA=="  # USER:PASSWORD
    ]


@pytest.mark.parametrize(
    ("registry", "realm", "allowed"),
    [
        ("https://mirror:5000", "https://auth.example.com/token", True),  # as Docker Hub's
        ("http://mirror:5000", "https://auth.example.com/token", True),
        ("http://mirror:5000", "http://mirror:5001/token", True),
        ("http://mirror:5000", "http://auth.example.com/token", False),
    ],
)
def test_the_credential_rule(registry: str, realm: str, allowed: bool) -> None:
    assert credentials_allowed(urlsplit(registry), urlsplit(realm)) is allowed


def test_a_downgrading_realm_is_refused_whatever_its_host() -> None:
    with pytest.raises(RegistryWideError, match="plain HTTP while the registry is HTTPS"):
        credentials_allowed(urlsplit("https://mirror"), urlsplit("http://mirror/token"))


# --------------------------------------------------------------------------- realms and tokens


@pytest.mark.parametrize(
    ("realm", "message"),
    [
        ("http://[::1/token", "the Bearer realm 'http://[::1/token' is not a valid URL"),
        ("http://a..b/token", "host 'a..b' has an empty label"),
        (f"http://{'a' * 64}.example/token", "has a label of 64 characters (at most 63)"),
    ],
)
def test_an_unusable_realm_is_one_line(make_hostile: Make, realm: str, message: str) -> None:
    registry = make_hostile(HostileRegistry, challenge=bearer(realm))
    with pytest.raises(RegistryWideError, match=f"token for {REPO}: .*{re.escape(message)}"):
        client(registry).tags(REPO)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'["a", "token"]', "answer is a JSON list, not a JSON object"),
        (b'{"token": "abc\\r\\nX-Injected: 1"}', "the token holds characters an HTTP header"),
        ('{"token": "t\u00f6k\u20acn"}'.encode(), "the token holds characters an HTTP header"),
        (b'{"token": "%s"}' % (b"t" * 100_000), "the token is 100,000 characters long"),
    ],
)
def test_a_hostile_token_answer_is_one_accurate_line(
    make_hostile: Make, body: bytes, message: str
) -> None:
    collector = make_hostile(TokenEndpoint, body=body)
    registry = make_hostile(HostileRegistry, challenge=bearer(f"{collector.url}/token"))
    with pytest.raises(RegistryWideError, match=f"token for {REPO}: {re.escape(message)}"):
        client(registry).tags(REPO)
    assert len(registry.seen) == 1  # the token was never sent


# --------------------------------------------------------------------------- endless pages


def tags_page(tags: list[str], padding: int = 0) -> bytes:
    return json.dumps({"name": REPO, "tags": tags}).encode() + b" " * padding


def test_endless_pages_end_at_the_tag_bound(make_hostile: Make) -> None:
    registry = make_hostile(
        HostileRegistry, page=tags_page([f"t{n}" for n in range(1000)]), endless=True
    )
    with pytest.raises(RegistryError, match=f"{REPO}: tags/list goes on past 5,000 tags"):
        client(registry, bounds=TagBounds(tags=5000)).tags(REPO)
    assert len(registry.seen) == 6  # 5 pages read, the 6th refused before it is parsed


def test_endless_pages_end_at_the_byte_bound(make_hostile: Make) -> None:
    registry = make_hostile(HostileRegistry, page=tags_page(["1.0"], 1 << 20), endless=True)
    with pytest.raises(RegistryError, match=f"{REPO}: tags/list goes on past 3 MiB of tag"):
        client(registry, bounds=TagBounds(bytes=3 << 20)).tags(REPO)
    assert len(registry.seen) == 3


def test_endless_empty_pages_end_at_the_page_bound(make_hostile: Make) -> None:
    # Pages too small for the tag and byte bounds: the page count ends them, long before the
    # wall-time bound (minutes for each repository).
    registry = make_hostile(HostileRegistry, page=tags_page([]), endless=True)
    with pytest.raises(RegistryError, match=f"{REPO}: tags/list goes on past 50 pages"):
        client(registry, bounds=TagBounds(pages=50)).tags(REPO)
    assert len(registry.seen) == 50


def test_endless_pages_end_at_the_time_bound(make_hostile: Make) -> None:
    registry = make_hostile(HostileRegistry, endless=True, page_delay=0.2)
    started = time.monotonic()
    with pytest.raises(RegistryError, match=f"{REPO}: tags/list goes on past 1 s of paging"):
        client(registry, bounds=TagBounds(seconds=1.0)).tags(REPO)
    assert time.monotonic() - started < 2.0


def test_a_failed_repository_keeps_no_page(make_hostile: Make) -> None:
    # A run keeps one error per failed repository: its traceback must not hold a page (at
    # 186 repositories of 4 MiB pages that was 800 MiB).
    registry = make_hostile(HostileRegistry, page=tags_page(["1.0"], 1 << 20), endless=True)
    with pytest.raises(RegistryError) as raised:
        client(registry, bounds=TagBounds(bytes=2 << 20)).tags(REPO)
    held = [
        name
        for frame, _ in traceback.walk_tb(raised.value.__traceback__)
        for name, value in frame.f_locals.items()
        if len(value.body if isinstance(value, HttpAnswer) else b"") > 1 << 20
        or (isinstance(value, bytes) and len(value) > 1 << 20)
    ]
    assert held == []


def test_only_the_wanted_tags_are_kept_while_paging(make_hostile: Make) -> None:
    registry = make_hostile(HostileRegistry, page=tags_page(["1.0", "2.0", "junk"]))
    assert client(registry).tags(REPO, wanted={"2.0", "9.9"}) == ("2.0",)


def test_mirror_configmap_against_endless_pages_is_one_line_per_repository(
    run_cli: Run, make_hostile: Make, tmp_path: Path
) -> None:
    registry = make_hostile(
        HostileRegistry, page=tags_page([f"t{n}" for n in range(20_000)]), endless=True
    )
    configmap = configmap_file(tmp_path)
    result = run_cli(
        "mirror-configmap", str(configmap), "--registry", registry.host, "--plain-http"
    )
    assert result.code == 1
    assert "Traceback" not in result.err
    assert result.err.count("goes on past 100,000 tags") == len(real_shaped_entries())


# --------------------------------------------------------------------------- registry-wide


def test_a_registry_wide_failure_is_reported_once(
    run_cli: Run, make_registry: Callable[..., Registry], tmp_path: Path
) -> None:
    plain = make_registry()  # HTTP, asked over HTTPS: no --plain-http
    configmap = configmap_file(tmp_path)
    assert len(real_shaped_entries()) > 1
    result = run_cli("mirror-configmap", str(configmap), "--registry", plain.host)
    assert result.code == 1
    assert result.err.count("TLS failed") == 1, result.err
    assert "--plain-http talks HTTP" in result.error


def test_plain_http_to_an_https_registry_is_reported_once(
    run_cli: Run, make_registry: Callable[..., Registry], tmp_path: Path
) -> None:
    # The converse of a missing --plain-http: Distribution answers each request HTTP 400.
    https = make_registry(tls=True)
    configmap = configmap_file(tmp_path)
    result = run_cli("mirror-configmap", str(configmap), "--registry", https.host, "--plain-http")
    assert result.code == 1
    assert result.error == (
        f"nim-build: error: {https.host} talks HTTPS only (HTTP 400 to a plain HTTP "
        "request); drop --plain-http"
    )


def test_a_token_without_the_repositorys_scope_fails_that_repository_only(
    make_registry: Callable[..., Registry], token_issuer: TokenIssuer
) -> None:
    # Docker Hub, Quay and Distribution grant no access to a repository the credentials may
    # not pull (or that is missing): 401 insufficient_scope, though the credentials are good.
    registry = make_registry(issuer=token_issuer)
    token_issuer.denied.add(REPO)
    tags_client = RegistryClient(
        RegistryLocation.parse(registry.host),
        credentials=CREDENTIALS,
        plain_http=True,
        limits=FAST,
    )
    with pytest.raises(RegistryError, match="insufficient_scope") as raised:
        tags_client.tags(REPO)
    assert not isinstance(raised.value, RegistryWideError)
    assert "credentials refused" not in str(raised.value)
    assert tags_client.tags("nim/baai/bge") is None  # the run goes on: not mirrored


def test_a_registry_wide_failure_ends_later_requests_without_sending(
    make_hostile: Make,
) -> None:
    registry = make_hostile(HostileRegistry, challenge='Negotiate realm="x"')
    tags_client = client(registry)
    with pytest.raises(RegistryWideError, match="without a Basic or Bearer challenge") as first:
        tags_client.tags(REPO)
    with pytest.raises(RegistryWideError) as second:
        tags_client.tags("nim/baai/bge")
    assert second.value is first.value
    assert len(registry.seen) == 1


@pytest.mark.parametrize(
    ("status", "message"),
    [(500, "answered 500 after 2 attempts"), (302, "(redirect), not followed")],
)
def test_a_failing_token_endpoint_is_reported_once(
    run_cli: Run, make_hostile: Make, tmp_path: Path, status: int, message: str
) -> None:
    # Every repository asks the same realm: its failure is the registry's, said once.
    collector = make_hostile(TokenEndpoint, status=status)
    registry = make_hostile(HostileRegistry, challenge=bearer(f"{collector.url}/token"))
    configmap = configmap_file(tmp_path)
    result = run_cli(
        *("mirror-configmap", str(configmap), "--registry", registry.host, "--plain-http"),
        *("--attempts", "2"),
    )
    assert result.code == 1
    assert result.err.count("token for") == 1, result.err
    assert message in result.error


# --------------------------------------------------------------------------- refused inputs


def test_a_ca_file_that_is_not_pem_is_refused_before_any_request(
    run_cli: Run, make_hostile: Make, tmp_path: Path
) -> None:
    registry = make_hostile(HostileRegistry)
    configmap = configmap_file(tmp_path)
    result = run_cli(
        "mirror-configmap", str(configmap), "--registry", registry.host, "--ca-file", "/etc/passwd"
    )
    assert result.code == 1
    assert result.error == "nim-build: error: /etc/passwd: not a PEM certificate (--ca-file)"
    assert registry.seen == []
    with pytest.raises(InputFileError, match="not a PEM certificate"):
        client(registry, ca_file=Path("/etc/passwd"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_as_auth_file_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "auth.json"
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def load() -> None:
        try:
            load_credentials(RegistryLocation.parse("127.0.0.1:9"), fifo, environ={})
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - inspected below
            outcome.append(error)

    reader = threading.Thread(target=load, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # blocked in open(): give it a writer, so the thread can end
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(10)
        pytest.fail("reading a FIFO as the auth file blocked")
    assert isinstance(outcome[0], AuthFileError)
    assert str(outcome[0]) == f"{fifo}: not a regular file"
    configmap = configmap_file(tmp_path)
    done = subprocess.run(
        [
            *(sys.executable, "-m", "nim_build", "mirror-configmap", str(configmap)),
            *("--registry", "127.0.0.1:9", "--plain-http", "--authfile", str(fifo)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert f"{fifo}: not a regular file" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_key_echoed_in_another_case_is_redacted() -> None:
    key = "nvapi-Echoed-Back-0123456789abcdef"
    register_secret(key)
    assert redact(f"you sent {key.upper()} and {key.lower()}") == "you sent *** and ***"
    assert redact("typed NVAPI-unregistered-0123 here") == "typed nvapi-*** here"


def test_a_secret_echoed_percent_encoded_is_redacted() -> None:
    # A hostile registry can put what it was sent in a Link URL or an error body, escaped.
    key = "nvapi-Pct+Encoded/Echo-0123456789=="
    password = "p@ss word:with/specials"
    register_secret(key)
    register_secret(password)
    escaped = quote(key, safe="")
    assert redact(f"sent {escaped} and {escaped.lower()}.") == "sent *** and ***."
    assert redact(f"u={quote_plus(password)}&v={quote(password, safe='')}") == "u=***&v=***"
    # Unregistered, the whole of it still goes: not `nvapi-***%2Bdef…`.
    assert redact("typed nvapi-ab%2Bcd/ef.gh=, then") == "typed nvapi-***, then"
