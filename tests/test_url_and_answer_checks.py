"""One accurate line for what cannot be asked or is not an answer: bad URLs and host names
(options, environment, library), answers that are not HTTP, and headers that cannot be sent."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nim_build.http import BoundedClient, CannotSend, HttpLimits, NotHttp
from nim_build.ngc import KeyRefused, LiveSource, RequestFailed, RetryPolicy
from nim_build.urls import UrlError
from tests.conftest import API_KEY, CliResult
from tests.test_mirror import configmap_file

Run = Callable[..., CliResult]
LONG_LABEL = "a" * 64
FAST = RetryPolicy(attempts=3, backoff_base=0.01, backoff_max=0.02, timeout=5.0)


class RawServer:
    """A TCP server on 127.0.0.1 that answers every connection with `answer`, as is."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.connections = 0
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self.connections += 1
            with connection:
                received = b""
                while b"\r\n\r\n" not in received:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    received += chunk
                connection.sendall(self.answer)

    def close(self) -> None:
        self._socket.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[[bytes], RawServer]]:
    started: list[RawServer] = []

    def make(answer: bytes) -> RawServer:
        started.append(RawServer(answer))
        return started[-1]

    yield make
    for server in started:
        server.close()


# --------------------------------------------------------------------------- URLs and hosts


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://a..b", "host 'a..b' has an empty label"),
        (f"https://{LONG_LABEL}.example", "has a label of 64 characters (at most 63)"),
        ("http://[::1", "is not a valid URL"),
        ("http://[::zz]/", "is not a valid URL"),
    ],
)
def test_a_bad_api_url_is_one_usage_line(run_cli: Run, url: str, message: str) -> None:
    result = run_cli("generate", API_KEY, "--api-url", url)
    assert result.code == 2
    assert "Traceback" not in result.err
    assert result.error.startswith("nim-build: error: argument --api-url: ")
    assert message in result.error


def test_a_bad_ngc_api_url_variable_is_one_usage_line(
    run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NGC_API_URL", f"https://{LONG_LABEL}.example")
    result = run_cli("generate", API_KEY)
    assert result.code == 2
    assert result.error.startswith("nim-build: error: $NGC_API_URL: ")
    assert "has a label of 64 characters (at most 63)" in result.error


def test_a_bad_registry_host_is_one_usage_line(run_cli: Run, tmp_path: Path) -> None:
    configmap = configmap_file(tmp_path)
    for command in ("mirror-configmap", "mirror-list"):
        result = run_cli(command, str(configmap), "--registry", f"{LONG_LABEL}.example:5000/x")
        assert result.code == 2
        assert "has a label of 64 characters (at most 63)" in result.error


def test_a_live_source_checks_its_url_and_key_like_the_cli() -> None:
    with pytest.raises(UrlError, match=r"host 'a\.\.b' has an empty label"):
        LiveSource("http://a..b", API_KEY)
    with pytest.raises(KeyRefused, match="is not a personal NGC key"):
        LiveSource("http://127.0.0.1:9", "legacy-key-0123456789")
    with pytest.raises(KeyRefused, match="no spaces, control or non-ASCII"):
        LiveSource("http://127.0.0.1:9", "nvapi-with\r\nnewline")


# --------------------------------------------------------------------------- not HTTP


TOO_MANY_HEADERS = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: 1\r\n" * 101 + b"Content-Length: 0\r\n\r\n"
GARBAGE = b"SSH-2.0-OpenSSH_9.6\r\n\r\n"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (TOO_MANY_HEADERS, "more than 100 header lines"),
        (GARBAGE, "malformed status line"),
        (b"HTTP/1.1 200 " + b"x" * 70_000 + b"\r\n\r\n", "a header or status line too long"),
    ],
)
def test_a_key_check_answered_with_something_not_http_is_said_so_and_not_retried(
    raw_server: Callable[[bytes], RawServer], answer: bytes, reason: str
) -> None:
    server = raw_server(answer)
    source = LiveSource(server.url, API_KEY, policy=FAST)
    try:
        with pytest.raises(RequestFailed) as raised:
            source.check_key()
    finally:
        source.close()
    assert str(raised.value) == (
        f"key check: POST {server.url}/v3/keys/get-caller-info: the answer is not HTTP ({reason})"
    )
    assert isinstance(raised.value.__cause__, NotHttp)
    assert server.connections == 1


def test_the_cli_does_not_call_a_non_http_answer_unreachable(
    run_cli: Run, raw_server: Callable[[bytes], RawServer], workdir: Path
) -> None:
    server = raw_server(TOO_MANY_HEADERS)
    result = run_cli("generate", API_KEY, "--api-url", server.url)
    assert result.code == 1
    assert "cannot reach" not in result.error
    assert "connection failed" not in result.error
    assert "the answer is not HTTP (more than 100 header lines)" in result.error


def test_a_registry_that_does_not_speak_http_is_reported_once(
    run_cli: Run, raw_server: Callable[[bytes], RawServer], tmp_path: Path
) -> None:
    # Not HTTP on every path: the registry's failure, said once, not once per model.
    server = raw_server(GARBAGE)
    configmap = configmap_file(tmp_path)
    host = server.url.removeprefix("http://")
    result = run_cli("mirror-configmap", str(configmap), "--registry", host, "--plain-http")
    assert result.code == 1
    assert result.err.count("not HTTP") == 1, result.err
    assert "the answer is not HTTP (malformed status line)" in result.error


# --------------------------------------------------------------------------- cannot send


@pytest.mark.parametrize(
    ("headers", "url", "reason"),
    [
        ({"Authorization": "Bearer a\r\nX-Injected: 1"}, "", "a line break"),
        ({"Authorization": "Bearer t\u00f6k\u20acn"}, "", "outside Latin-1"),
        ({}, "http://a..b/", "not a usable host name"),
    ],
)
def test_what_cannot_be_sent_is_one_line_and_not_retried(
    raw_server: Callable[[bytes], RawServer], headers: dict[str, str], url: str, reason: str
) -> None:
    server = raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    client = BoundedClient(HttpLimits(attempts=3, backoff_base=0.01))
    try:
        with pytest.raises(CannotSend, match=reason):
            client.request("GET", url or server.url, headers=headers)
    finally:
        client.close()
    assert server.connections == 0
