"""LiveSource against the fake NGC: request shapes, retries, timeouts, what is never retried."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests

from nim_build.http.inflight import InFlight, TrackingAdapter
from nim_build.ngc import KeyRefused, LiveSource, NgcError, RequestFailed, RetryPolicy, load_api_key
from nim_build.urls import UrlError
from tests.conftest import API_KEY, UNROUTABLE_URL, CliResult
from tests.fake_ngc import CATALOG_PATH, KEY_PATH, FakeModel, FakeNgc, Fault, metadata_body

# Quick retries: the backoff is a few milliseconds, so only Retry-After and timeouts take time.
FAST = RetryPolicy(attempts=4, backoff_base=0.01, backoff_max=0.02, timeout=5.0)
LLAMA = "nim/meta/llama-3.1-8b-instruct"


@pytest.fixture
def make_source() -> Iterator[Callable[..., LiveSource]]:
    sources: list[LiveSource] = []

    def make(fake: FakeNgc, key: str = API_KEY, policy: RetryPolicy = FAST) -> LiveSource:
        source = LiveSource(fake.url, key, concurrency=4, policy=policy)
        sources.append(source)
        return source

    yield make
    for source in sources:
        source.close()


# --------------------------------------------------------------------------- request shapes


def test_key_check_sends_the_key_as_bearer_and_form(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]
) -> None:
    assert make_source(fake_ngc).check_key().status == 200
    [request] = fake_ngc.requests
    assert (request.method, request.path) == ("POST", KEY_PATH)
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body.decode()) == {"credentials": [API_KEY]}


def test_refused_key_is_an_answer_not_a_retry(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]
) -> None:
    source = make_source(fake_ngc, key="nvapi-not-a-known-key")
    assert source.check_key().status == 401
    assert fake_ngc.request_count == 1


def test_key_check_keeps_no_personal_data(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]
) -> None:
    answer = make_source(fake_ngc).check_key()
    assert "PERSONAL_KEY" not in repr(answer) and "REDACTED" not in repr(answer)


def test_catalog_request_shape(fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]) -> None:
    answer = make_source(fake_ngc).catalog_page(0, 1000)
    assert answer.status == 200
    [request] = fake_ngc.requests
    assert (request.method, request.path) == ("GET", CATALOG_PATH)
    assert request.catalog_query == {"query": "orgName:nim", "page": 0, "pageSize": 1000}


def test_repository_request_shape_and_answer(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]
) -> None:
    answer = make_source(fake_ngc).repository(LLAMA)
    assert answer.status == 200
    assert answer.body == metadata_body(fake_ngc.model(LLAMA))
    [request] = fake_ngc.requests
    assert request.path == "/v2/org/nim/team/meta/repos/llama-3.1-8b-instruct"
    assert request.query == {"resolve-labels": "true"}
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"


def test_the_key_is_not_in_the_source_repr(fake_ngc: FakeNgc) -> None:
    source = LiveSource(fake_ngc.url, API_KEY)
    try:
        assert API_KEY not in repr(source) and API_KEY not in str(source)
    finally:
        source.close()


def test_451_has_an_empty_body(fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]) -> None:
    fake_ngc.model(LLAMA).status = 451
    answer = make_source(fake_ngc).repository(LLAMA)
    assert answer.status == 451
    assert answer.body is None


# --------------------------------------------------------------------------- retries


def test_503_burst_recovered(fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]) -> None:
    fake_ngc.fail(LLAMA, [Fault.http(503)] * 3)
    source = make_source(fake_ngc)
    assert source.repository(LLAMA).status == 200
    assert len(fake_ngc.requests_for(LLAMA)) == 4
    assert source.stats.retries == 3
    assert source.stats.requests == 4


@pytest.mark.parametrize("status", [500, 502, 504])
def test_5xx_recovered(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource], status: int
) -> None:
    fake_ngc.fail(LLAMA, [Fault.http(status)])
    assert make_source(fake_ngc).repository(LLAMA).status == 200
    assert len(fake_ngc.requests_for(LLAMA)) == 2


def test_429_retry_after_is_honoured(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]
) -> None:
    fake_ngc.fail(LLAMA, [Fault.http(429, retry_after=1)])
    assert make_source(fake_ngc).repository(LLAMA).status == 200
    first, second = fake_ngc.requests_for(LLAMA)
    assert first.status == 429
    assert second.time - first.time >= 0.95


def test_429_retry_after_http_date_is_honoured(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]
) -> None:
    from email.utils import formatdate

    fake_ngc.fail(LLAMA, [Fault.http(429, retry_after=formatdate(time.time() + 2, usegmt=True))])
    assert make_source(fake_ngc).repository(LLAMA).status == 200
    first, second = fake_ngc.requests_for(LLAMA)
    assert second.time - first.time >= 0.5  # HTTP dates have whole-second resolution


def test_retry_after_is_capped(fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]) -> None:
    fake_ngc.fail(LLAMA, [Fault.http(429, retry_after=3600)])
    policy = RetryPolicy(attempts=3, backoff_base=0.01, backoff_max=0.02, retry_after_cap=0.3)
    started = time.monotonic()
    assert make_source(fake_ngc, policy=policy).repository(LLAMA).status == 200
    assert time.monotonic() - started < 3
    first, second = fake_ngc.requests_for(LLAMA)
    assert second.time - first.time >= 0.25


def test_backoff_is_capped(fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]) -> None:
    fake_ngc.fail(LLAMA, [Fault.http(503)] * 3)
    policy = RetryPolicy(attempts=4, backoff_base=100.0, backoff_max=0.1)
    started = time.monotonic()
    assert make_source(fake_ngc, policy=policy).repository(LLAMA).status == 200
    assert time.monotonic() - started < 2


def test_backoff_waits_between_attempts(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]
) -> None:
    """Full jitter may pick 0 for one wait, but not for three of them in a row."""
    fake_ngc.fail(LLAMA, [Fault.http(503)] * 3)
    policy = RetryPolicy(attempts=4, backoff_base=0.1, backoff_max=0.4)
    assert make_source(fake_ngc, policy=policy).repository(LLAMA).status == 200
    times = [r.time for r in fake_ngc.requests_for(LLAMA)]
    assert times[-1] - times[0] > 0.02


def test_dropped_connections_recovered(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]
) -> None:
    fake_ngc.fail(LLAMA, [Fault.dropped(), Fault.dropped()])
    source = make_source(fake_ngc)
    assert source.repository(LLAMA).status == 200
    assert len(fake_ngc.requests_for(LLAMA)) == 3
    assert source.stats.retries == 2


def test_read_timeout_recovered(fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]) -> None:
    fake_ngc.fail(LLAMA, [Fault.slow(2.0)])
    policy = RetryPolicy(attempts=3, backoff_base=0.01, backoff_max=0.02, timeout=0.3)
    started = time.monotonic()
    assert make_source(fake_ngc, policy=policy).repository(LLAMA).status == 200
    assert time.monotonic() - started < 1.5
    assert len(fake_ngc.requests_for(LLAMA)) == 2


def test_read_timeout_exhausted(fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]) -> None:
    fake_ngc.fail(LLAMA, [Fault.slow(2.0)] * 2)
    policy = RetryPolicy(attempts=2, backoff_base=0.01, backoff_max=0.02, timeout=0.3)
    with pytest.raises(RequestFailed, match="timed out") as raised:
        make_source(fake_ngc, policy=policy).repository(LLAMA)
    assert LLAMA in str(raised.value)
    assert len(fake_ngc.requests_for(LLAMA)) == 2


def test_5xx_exhausted_names_the_status(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]
) -> None:
    fake_ngc.fail(LLAMA, [Fault.http(503)] * 10)
    with pytest.raises(RequestFailed) as raised:
        make_source(fake_ngc).repository(LLAMA)
    message = str(raised.value)
    assert LLAMA in message and "503" in message
    assert "\n" not in message
    assert len(fake_ngc.requests_for(LLAMA)) == FAST.attempts


def test_connection_refused_fails_cleanly() -> None:
    source = LiveSource(UNROUTABLE_URL, API_KEY, policy=RetryPolicy(attempts=2, backoff_base=0.01))
    try:
        with pytest.raises(NgcError) as raised:
            source.check_key()
    finally:
        source.close()
    assert API_KEY not in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("status", [401, 403, 404, 451])
def test_never_retried(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource], status: int
) -> None:
    fake_ngc.fail(LLAMA, [Fault.http(status)] * 5)
    source = make_source(fake_ngc)
    assert source.repository(LLAMA).status == status
    assert len(fake_ngc.requests_for(LLAMA)) == 1
    assert source.stats.retries == 0


def test_unknown_repository_is_a_404_answer(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]
) -> None:
    assert make_source(fake_ngc).repository("nim/meta/no-such-model").status == 404
    assert fake_ngc.request_count == 1


def test_metadata_needs_a_valid_key(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]
) -> None:
    assert make_source(fake_ngc, key="nvapi-other").repository(LLAMA).status == 401
    assert fake_ngc.request_count == 1


def test_malformed_json_fails_naming_the_model(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]
) -> None:
    fake_ngc.fail(LLAMA, [Fault.malformed_json()] * 10)
    with pytest.raises(RequestFailed, match="JSON") as raised:
        make_source(fake_ngc).repository(LLAMA)
    assert LLAMA in str(raised.value)


def test_concurrent_use_is_safe(make_fake_ngc: Callable[..., FakeNgc]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    models = [FakeModel(team="nvidia", repo=f"model-{i}") for i in range(40)]
    fake = make_fake_ngc(models, latency=0.01)
    for model in models[::5]:
        fake.fail(model, [Fault.http(503), Fault.dropped()])
    source = LiveSource(fake.url, API_KEY, concurrency=8, policy=FAST)
    try:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(source.repository, [m.resource_id for m in models]))
    finally:
        source.close()
    assert [a.body["name"] for a in answers] == [m.repo for m in models]
    assert source.stats.requests == fake.request_count == 40 + 2 * 8
    assert source.stats.retries == 16


# --------------------------------------------------------------------------- the key


@pytest.mark.parametrize(
    "key", ["0123456789abcdef", "bnZhcGktZmFrZQ==", "nvapi-", "nvapi-has space", "NVAPI-upper"]
)
def test_only_personal_keys_are_accepted(key: str) -> None:
    with pytest.raises(KeyRefused) as raised:
        load_api_key(key, None)
    if key != "nvapi-":  # the bare prefix is named in the message, nothing else of a key
        assert key not in str(raised.value)


def test_key_sources_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("nvapi-from-file\n", encoding="utf-8")
    monkeypatch.setenv("NGC_API_KEY", "nvapi-from-env")
    assert load_api_key(None, None) == "nvapi-from-env"
    assert load_api_key(None, key_file) == "nvapi-from-file"
    assert load_api_key("nvapi-from-argument", key_file) == "nvapi-from-argument"
    monkeypatch.delenv("NGC_API_KEY")
    with pytest.raises(KeyRefused):
        load_api_key(None, None)
    with pytest.raises(KeyRefused):
        load_api_key(None, tmp_path / "missing")


# --------------------------------------------------------------------------- hostile servers


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_key_check_redirect_is_not_followed(
    make_fake_ngc: Callable[..., FakeNgc], make_source: Callable[..., LiveSource], status: int
) -> None:
    elsewhere = make_fake_ngc()
    fake = make_fake_ngc()
    fake.fail(KEY_PATH, [Fault.redirect(status, elsewhere.url + KEY_PATH)])
    with pytest.raises(RequestFailed) as raised:
        make_source(fake).check_key()
    message = str(raised.value)
    assert f"key check: POST {fake.url}{KEY_PATH} answered {status} (redirect), not followed" == (
        message
    )
    assert elsewhere.request_count == 0  # the key never went there
    assert fake.request_count == 1  # and a redirect is not retried


@pytest.mark.parametrize("path", [CATALOG_PATH, LLAMA])
def test_redirects_are_never_followed(
    make_fake_ngc: Callable[..., FakeNgc], make_source: Callable[..., LiveSource], path: str
) -> None:
    elsewhere = make_fake_ngc()
    fake = make_fake_ngc()
    fake.fail(path, [Fault.redirect(307, elsewhere.url + "/")])
    source = make_source(fake)
    with pytest.raises(RequestFailed, match=r"answered 307 \(redirect\), not followed"):
        source.catalog_page(0, 1000) if path == CATALOG_PATH else source.repository(path)
    assert elsewhere.request_count == 0


def test_a_drip_fails_the_attempt_at_its_deadline(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]
) -> None:
    fake_ngc.fail(LLAMA, [Fault.dripping(0.2)] * 2)
    policy = RetryPolicy(attempts=2, backoff_base=0.01, backoff_max=0.02, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(RequestFailed, match=r"timed out \(no complete answer within 1 s\)"):
        make_source(fake_ngc, policy=policy).repository(LLAMA)
    assert time.monotonic() - started < 10  # it would never end without a deadline
    assert len(fake_ngc.requests_for(LLAMA)) == 2


def test_dripping_headers_fail_the_attempt_at_its_deadline(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]
) -> None:
    fake_ngc.fail(LLAMA, [Fault.dripping(0.2, in_headers=True)])
    policy = RetryPolicy(attempts=1, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(RequestFailed, match="timed out"):
        make_source(fake_ngc, policy=policy).repository(LLAMA)
    assert time.monotonic() - started < 10


def test_close_cancels_requests_in_flight(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]
) -> None:
    """A stalled request (no headers yet) ends when the source is closed, not at its deadline."""
    import threading

    fake_ngc.fail(LLAMA, [Fault.slow(60)])
    source = make_source(fake_ngc, policy=RetryPolicy(attempts=5, timeout=60))
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            source.repository(LLAMA)
        except RequestFailed as error:
            errors.append(error)

    worker = threading.Thread(target=ask)
    worker.start()
    while not fake_ngc.requests_for(LLAMA):
        time.sleep(0.05)
    started = time.monotonic()
    source.close()
    worker.join(timeout=20)
    assert not worker.is_alive()
    assert time.monotonic() - started < 10
    [error] = errors
    assert "cancelled" in str(error)
    assert len(fake_ngc.requests_for(LLAMA)) == 1  # and no retry after it


def test_an_answer_over_its_cap_fails_naming_url_and_cap(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]
) -> None:
    fake_ngc.fail(LLAMA, [Fault(status=200, body=b" " * (2 << 20))])
    with pytest.raises(RequestFailed) as raised:
        make_source(fake_ngc).repository(LLAMA)
    message = str(raised.value)
    assert fake_ngc.url + fake_ngc.model(LLAMA).path in message
    assert "larger than the 1 MiB cap (decoded)" in message
    assert len(fake_ngc.requests_for(LLAMA)) == 1  # not retried


def test_a_gzip_bomb_stops_at_the_decoded_cap(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]
) -> None:
    fake_ngc.fail(LLAMA, [Fault.gzip_bomb(256 << 20)])
    with pytest.raises(RequestFailed, match=r"larger than the 1 MiB cap \(decoded\)"):
        make_source(fake_ngc).repository(LLAMA)


def test_a_gzip_answer_within_the_cap_is_decoded(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]
) -> None:
    import gzip
    import json

    body = metadata_body(fake_ngc.model(LLAMA))
    packed = gzip.compress(json.dumps(body).encode())
    fake_ngc.fail(LLAMA, [Fault(status=200, headers={"Content-Encoding": "gzip"}, body=packed)])
    assert make_source(fake_ngc).repository(LLAMA).body == body


def test_too_many_json_values_is_refused_before_parsing(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]
) -> None:
    fake_ngc.fail(LLAMA, [Fault(status=200, body=b"[" + b"{}," * 60_000 + b"{}]")])
    with pytest.raises(RequestFailed, match="more than 50,000 JSON values"):
        make_source(fake_ngc).repository(LLAMA)


@pytest.mark.parametrize("length", [10**10, 10])
def test_a_lying_content_length_fails_cleanly(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource], length: int
) -> None:
    body = b'{"name": "x", "padding": "' + b"y" * 5000 + b'"}'
    fake_ngc.fail(LLAMA, [Fault(status=200, headers={"Content-Length": str(length)}, body=body)])
    policy = RetryPolicy(attempts=1, timeout=5.0)
    with pytest.raises(RequestFailed, match=r"cut off|malformed JSON"):
        make_source(fake_ngc, policy=policy).repository(LLAMA)


def test_deeply_nested_json_is_a_one_line_error(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]
) -> None:
    fake_ngc.fail(CATALOG_PATH, [Fault.nested_json(200_000)])
    with pytest.raises(RequestFailed) as raised:
        make_source(fake_ngc).catalog_page(0, 1000)
    assert str(raised.value) == (
        f"catalog page 0: answer from {fake_ngc.url}{CATALOG_PATH} is nested too deeply"
    )


@pytest.mark.parametrize(
    "value",
    [
        "1e308",
        "nan",
        "-1",
        "9" * 5000,
        "Wed, 21 Oct 99999 07:28:00 GMT",
        "Wed, 21 Oct 2015 99:28:00 GMT",
        "Wed, 21 Oct 2015 07:28:00 +99999999999999999999",
        "\x00",
    ],
)
def test_absurd_retry_after_does_not_crash(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource], value: str
) -> None:
    fake_ngc.fail(LLAMA, [Fault.http(429, retry_after=value)])
    policy = RetryPolicy(attempts=2, backoff_base=0.01, backoff_max=0.02, retry_after_cap=0.3)
    started = time.monotonic()
    assert make_source(fake_ngc, policy=policy).repository(LLAMA).status == 200
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("2", 2.0),
        ("9" * 5000, 30.0),
        ("1e308", None),
        ("nan", None),
        ("-1", None),
        ("", None),
        ("Wed, 21 Oct 99999 07:28:00 GMT", None),
        ("Wed, 21 Oct 2015 99:28:00 GMT", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past
        ("Thu, 01 Jan 2099 00:00:00 GMT", 30.0),  # capped
    ],
)
def test_retry_after_parsing(value: str, seconds: float | None) -> None:
    from nim_build.http import retry_after_seconds

    assert retry_after_seconds(value, cap=30.0) == seconds


def test_total_retry_wait_is_capped_and_logged(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource], caplog: pytest.LogCaptureFixture
) -> None:
    fake_ngc.fail(LLAMA, [Fault.http(429, retry_after=1)] * 10)
    policy = RetryPolicy(attempts=10, retry_after_cap=0.4, total_wait=1.0)
    source = make_source(fake_ngc, policy=policy)
    started = time.monotonic()
    with caplog.at_level("WARNING"), pytest.raises(RequestFailed) as raised:
        source.repository(LLAMA)
    assert time.monotonic() - started < 5
    message = str(raised.value)
    assert "answered 429" in message and "retry-wait budget is spent" in message
    assert len(fake_ngc.requests_for(LLAMA)) == 3  # waits of 0.4 + 0.4; a third would pass 1.0
    assert "budget for waiting between retries is spent" in caplog.text
    with pytest.raises(RequestFailed, match="budget"):  # spent for the whole source
        source.repository(LLAMA)
    assert caplog.text.count("budget for waiting") == 1


@pytest.mark.parametrize("resource_id", ["nim/meta/..", "nim/./x", "nim/meta", "a/b/c/d", "//"])
def test_resource_ids_that_would_climb_the_path_are_never_requested(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource], resource_id: str
) -> None:
    with pytest.raises(RequestFailed, match="not org/team/repo"):
        make_source(fake_ngc).repository(resource_id)
    assert fake_ngc.request_count == 0


def test_path_segments_are_percent_encoded(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]
) -> None:
    assert make_source(fake_ngc).repository("nim/meta/x?y=1#f").status == 404
    [request] = fake_ngc.requests
    assert request.path == "/v2/org/nim/team/meta/repos/x%3Fy%3D1%23f"
    assert request.query == {"resolve-labels": "true"}


# --------------------------------------------------------------------------- the CLI, whole


def _start_cli(cwd: Path, *argv: str) -> subprocess.Popen[str]:
    environment = {**os.environ, "PYTHONIOENCODING": "utf-8", "NGC_API_KEY": API_KEY}
    return subprocess.Popen(
        [sys.executable, "-m", "nim_build", *argv],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )


@pytest.mark.parametrize("stuck", ["drip", "stall"])
def test_ctrl_c_ends_a_stuck_run_at_once(
    make_fake_ngc: Callable[..., FakeNgc], tmp_path: Path, stuck: str
) -> None:
    fake = make_fake_ngc()
    fault = Fault.dripping(0.5) if stuck == "drip" else Fault.slow(600)
    fake.fail_always("/v2/org/", fault)
    child = _start_cli(
        tmp_path, "generate", "--api-url", fake.url, "--timeout", "600", "--concurrency", "4"
    )
    try:
        deadline = time.monotonic() + 30
        while fake.count("/v2/org/") < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fake.count("/v2/org/") >= 4, "the run never reached the metadata step"
        started = time.monotonic()
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=20)
    finally:
        child.kill()
    assert child.returncode == 130
    assert time.monotonic() - started < 15  # without cancel: until the 600 s deadline
    assert err.strip().splitlines()[-1] == "nim-build: interrupted; no output was left half-written"
    assert "Traceback" not in err
    assert not (tmp_path / "generated").exists()


def test_every_answer_a_gzip_bomb_stays_small(
    make_fake_ngc: Callable[..., FakeNgc], tmp_path: Path
) -> None:
    """Key check and catalog answer normally; every model answers 256 MiB of gzipped zeros."""
    fake = make_fake_ngc()
    fake.fail_always("/v2/org/", Fault.gzip_bomb(256 << 20))
    with subprocess.Popen(
        [sys.executable, "-m", "nim_build", "generate", "-q", "--api-url", fake.url],
        env={**os.environ, "NGC_API_KEY": API_KEY},
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stderr is not None
        err = child.stderr.read()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    assert child.returncode == 1
    assert err.splitlines()[-1].startswith("nim-build: error: 9 models failed")
    # Every failed model on its own line above the error, each naming the cap.
    capped = [line for line in err.splitlines() if "larger than the 1 MiB cap (decoded)" in line]
    assert len(capped) == 9
    assert usage.ru_maxrss < 200 * 1024  # KiB: far under the Task's 512 MiB


def test_a_redirected_key_check_is_one_error_line(
    make_fake_ngc: Callable[..., FakeNgc], run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    elsewhere = make_fake_ngc()
    fake = make_fake_ngc()
    fake.fail(KEY_PATH, [Fault.redirect(307, elsewhere.url + KEY_PATH)])
    output = tmp_path / "out.yaml"
    result = run_cli("generate", API_KEY, "--api-url", fake.url, "--output", str(output))
    assert result.code == 1
    assert result.error.endswith("answered 307 (redirect), not followed")
    assert elsewhere.request_count == 0 and not output.exists()


def test_deep_json_is_one_error_line(
    fake_ngc: FakeNgc, run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    fake_ngc.fail(CATALOG_PATH, [Fault.nested_json(200_000)])
    output = str(tmp_path / "out.yaml")
    result = run_cli("generate", API_KEY, "--api-url", fake_ngc.url, "--output", output)
    assert result.code == 1
    assert result.error == (
        f"nim-build: error: catalog page 0: answer from {fake_ngc.url}{CATALOG_PATH} "
        "is nested too deeply"
    )
    assert "Traceback" not in result.err


@pytest.mark.parametrize("depth", [65, 900])
def test_json_that_decodes_but_nests_too_deep_is_one_error_line(
    fake_ngc: FakeNgc, run_cli: Callable[..., CliResult], tmp_path: Path, depth: int
) -> None:
    # json.loads takes ~1,000 levels; redacting it for --record did not (a RecursionError
    # traceback at 900). A real answer nests 8 deep at most; more than 64 is refused.
    llama = fake_ngc.model("llama-3.1-8b-instruct")
    fake_ngc.fail(llama, [Fault.fields(labels=json.loads("[" * depth + "]" * depth))] * 5)
    snapshot = tmp_path / "snap.json"
    argv = ("--api-url", fake_ngc.url, "--output", str(tmp_path / "out.yaml"))
    result = run_cli("generate", API_KEY, *argv, "--record", str(snapshot))
    assert result.code == 1
    assert result.error.endswith(
        f"nim/meta/llama-3.1-8b-instruct (answer from {fake_ngc.url}{llama.path} "
        "is nested too deeply)"
    )
    assert not snapshot.exists()


def test_a_body_that_does_not_decode_is_a_one_line_error(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource]
) -> None:
    fake_ngc.fail(LLAMA, [Fault(status=200, headers={"Content-Encoding": "gzip"}, body=b"x" * 99)])
    with pytest.raises(RequestFailed) as raised:
        make_source(fake_ngc).repository(LLAMA)
    assert str(raised.value) == (
        f"{LLAMA}: GET {fake_ngc.url}{fake_ngc.model(LLAMA).path}: answer could not be decoded"
    )


def test_recording_keeps_the_streamed_answers(
    fake_ngc: FakeNgc, make_source: Callable[..., LiveSource], tmp_path: Path
) -> None:
    import gzip
    import json

    from nim_build.ngc import RecordingSource, SnapshotSource
    from nim_build.ngc.snapshot import model_fields

    body = metadata_body(fake_ngc.model(LLAMA))
    packed = gzip.compress(json.dumps(body).encode())
    fake_ngc.fail(LLAMA, [Fault(status=200, headers={"Content-Encoding": "gzip"}, body=packed)])
    recorder = RecordingSource(make_source(fake_ngc), tmp_path / "snap.json")
    recorder.repository(LLAMA)
    recorder.save()
    # The fields the pipeline reads, as streamed (the snapshot keeps no others).
    assert SnapshotSource(tmp_path / "snap.json").repository(LLAMA).body == model_fields(body)


def test_an_unusable_api_url_is_refused_before_any_request() -> None:
    # LiveSource checks its URL as the CLI does (it used to send, then say "not a usable URL").
    with pytest.raises(UrlError, match=r"'ftp://127\.0\.0\.1:9' is not an http:// or https://"):
        LiveSource("ftp://127.0.0.1:9", API_KEY, policy=FAST)


def test_close_also_ends_an_attempt_that_connects_after_it(fake_ngc: FakeNgc) -> None:
    """A refused key closes the source while the catalog thread is still connecting (the key
    check and page 0 are sent at once): that attempt was left to run to its deadline, and the
    process waited for it at exit."""
    fake_ngc.fail_always(CATALOG_PATH, Fault.slow(600))
    in_flight = InFlight()
    session = requests.Session()
    session.mount("http://", TrackingAdapter())
    with in_flight.track(time.monotonic() + 600):
        in_flight.interrupt_all()  # close(): this attempt has no connection yet
        started = time.monotonic()
        with pytest.raises(requests.ConnectionError):
            session.get(fake_ngc.url + CATALOG_PATH, timeout=(5, 20))
    assert time.monotonic() - started < 5
