"""`nim-build detect-eu` in-process against the fake NGC seen from the EU."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from nim_build.ngc import LiveSource, RetryPolicy
from nim_build.steps.catalog import fetch_catalog
from nim_build.steps.eu import probe_eu
from tests.conftest import API_KEY, NGC_DATA, CliResult, leftovers, snapshot_of
from tests.fake_ngc import (
    CATALOG_PATH,
    EU_RESTRICTED_CAPTURED,
    KEY_PATH,
    FakeNgc,
    Fault,
    default_models,
    synthetic_models,
)

Run = Callable[..., CliResult]
OUTPUT = Path("generated/nim_eu_restricted.json")
RESTRICTED = "llama-3.2-11b-vision-instruct"
ACCESSIBLE = "llama-3.1-8b-instruct"


@pytest.fixture
def eu_fake(make_fake_ngc: Callable[..., FakeNgc]) -> FakeNgc:
    """The default models as seen from the EU: four of them answer 451."""
    return make_fake_ngc(default_models(eu=True))


def detect(run_cli: Run, fake: FakeNgc, *extra: str) -> CliResult:
    return run_cli("detect-eu", "--api-url", fake.url, *extra, API_KEY)


def test_writes_the_sorted_eu_list(run_cli: Run, eu_fake: FakeNgc, workdir: Path) -> None:
    result = detect(run_cli, eu_fake)
    assert result.code == 0, result.err
    assert result.out == ""
    written = json.loads((workdir / OUTPUT).read_text(encoding="utf-8"))
    captured = json.loads((NGC_DATA / "nim_eu_restricted.json").read_text(encoding="utf-8"))
    assert written == sorted(captured, key=lambda item: item["name"])
    assert [item["name"] for item in written] == sorted(EU_RESTRICTED_CAPTURED)
    for item in written:
        assert list(item) == ["name", "resourceId", "org", "team"]


def test_counts_on_stderr(run_cli: Run, eu_fake: FakeNgc, workdir: Path) -> None:
    result = detect(run_cli, eu_fake)
    assert result.code == 0
    pullable = sum(m.pullable for m in eu_fake.models)
    text = result.err.lower()
    assert re.search(rf"\b{pullable - 4} accessible", text), result.err
    assert re.search(r"\b4 restricted", text), result.err
    assert re.search(r"\b0 failed", text), result.err


def test_exact_request_count_and_451_never_retried(
    run_cli: Run, eu_fake: FakeNgc, workdir: Path
) -> None:
    assert detect(run_cli, eu_fake).code == 0
    pullable = [m for m in eu_fake.models if m.pullable]
    assert eu_fake.request_count == 1 + 1 + len(pullable)
    assert eu_fake.count(KEY_PATH) == 1 and eu_fake.count(CATALOG_PATH) == 1
    for model in pullable:
        assert len(eu_fake.requests_for(model)) == 1


def test_custom_output(run_cli: Run, eu_fake: FakeNgc, workdir: Path) -> None:
    output = workdir / "out" / "eu.json"
    output.parent.mkdir()
    assert detect(run_cli, eu_fake, "--output", str(output)).code == 0
    assert len(json.loads(output.read_text(encoding="utf-8"))) == 4
    assert not (workdir / OUTPUT).exists()


def test_nothing_restricted_writes_an_empty_list(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    result = detect(run_cli, fake_ngc)
    assert result.code == 0
    assert json.loads((workdir / OUTPUT).read_text(encoding="utf-8")) == []


def test_byte_stable_rerun(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path
) -> None:
    models = synthetic_models(80, seed=21)
    for model in models[::9]:
        model.status = 451
    fake = make_fake_ngc(models)
    assert detect(run_cli, fake).code == 0
    first = snapshot_of(workdir / OUTPUT)
    fake.set_models(list(reversed(models)))
    assert detect(run_cli, fake, "--concurrency", "1").code == 0
    assert snapshot_of(workdir / OUTPUT) == first
    names = [item["name"] for item in json.loads(first[0])]
    assert names == sorted(m.repo for m in models[::9])


def test_probe_failure_fails_and_keeps_the_previous_list(
    run_cli: Run, eu_fake: FakeNgc, workdir: Path
) -> None:
    assert detect(run_cli, eu_fake).code == 0
    before = snapshot_of(workdir / OUTPUT)
    eu_fake.model("llama-4-scout-17b-16e-instruct").status = 200  # the list would change
    eu_fake.fail(ACCESSIBLE, [Fault.http(503)] * 10)
    eu_fake.clear_requests()
    result = detect(run_cli, eu_fake, "--retries", "2")
    assert result.code == 1
    assert "nim/meta/llama-3.1-8b-instruct" in result.error and "503" in result.error
    assert re.search(r"\b1 failed", result.err.lower())
    assert len(eu_fake.requests_for(ACCESSIBLE)) == 2
    assert snapshot_of(workdir / OUTPUT) == before
    assert leftovers(workdir / OUTPUT.parent) == []


@pytest.mark.parametrize("status", [401, 403, 404, 500])
def test_other_statuses_are_failures(
    run_cli: Run, eu_fake: FakeNgc, workdir: Path, status: int
) -> None:
    eu_fake.model(ACCESSIBLE).status = status
    result = detect(run_cli, eu_fake, "--retries", "2")
    assert result.code == 1
    assert "nim/meta/llama-3.1-8b-instruct" in result.error and str(status) in result.error
    assert len(eu_fake.requests_for(ACCESSIBLE)) == (2 if status >= 500 else 1)
    assert not (workdir / OUTPUT).exists()


def test_recovers_from_transient_faults(run_cli: Run, eu_fake: FakeNgc, workdir: Path) -> None:
    eu_fake.fail(ACCESSIBLE, [Fault.http(503), Fault.dropped()])
    eu_fake.fail(RESTRICTED, [Fault.http(429, retry_after=0.2), Fault.http(502)])
    eu_fake.fail(CATALOG_PATH, [Fault.dropped()])
    result = detect(run_cli, eu_fake)
    assert result.code == 0, result.err
    assert len(json.loads((workdir / OUTPUT).read_text(encoding="utf-8"))) == 4


def test_read_timeout_recovered(run_cli: Run, eu_fake: FakeNgc, workdir: Path) -> None:
    eu_fake.fail(RESTRICTED, [Fault.slow(2.0)])
    result = detect(run_cli, eu_fake, "--timeout", "0.5")
    assert result.code == 0, result.err
    assert len(json.loads((workdir / OUTPUT).read_text(encoding="utf-8"))) == 4


def test_refused_key(run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path) -> None:
    fake = make_fake_ngc(default_models(eu=True), valid_keys={"nvapi-another"})
    result = detect(run_cli, fake)
    assert result.code == 1
    assert "refused" in result.error.lower() and "401" in result.error
    assert fake.count("/v2/org/") == 0  # the catalog page 0 may be asked alongside the key
    assert not (workdir / OUTPUT).exists()


def test_legacy_key_refused_without_requests(run_cli: Run, eu_fake: FakeNgc, workdir: Path) -> None:
    result = run_cli("detect-eu", "--api-url", eu_fake.url, "legacy0123456789abcdef")
    assert result.code == 2  # a usage error: nothing was sent
    assert "legacy0123456789abcdef" not in result.err
    assert eu_fake.request_count == 0


def test_no_key_at_all(run_cli: Run, eu_fake: FakeNgc, workdir: Path) -> None:
    result = run_cli("detect-eu", "--api-url", eu_fake.url)
    assert result.code == 2  # a usage error: nothing was sent
    assert "NGC_API_KEY" in result.error
    assert eu_fake.request_count == 0


def test_key_never_shown_or_written(run_cli: Run, eu_fake: FakeNgc, workdir: Path) -> None:
    eu_fake.fail(ACCESSIBLE, [Fault.http(503)])
    result = detect(run_cli, eu_fake, "-v")
    assert result.code == 0
    assert API_KEY not in result.out + result.err
    assert API_KEY.encode() not in (workdir / OUTPUT).read_bytes()


def test_library_probe(make_fake_ngc: Callable[..., FakeNgc]) -> None:
    fake = make_fake_ngc(default_models(eu=True))
    fake.fail(ACCESSIBLE, [Fault.http(404)])
    source = LiveSource(fake.url, API_KEY, policy=RetryPolicy(attempts=2, backoff_base=0.01))
    try:
        result = probe_eu(source, fetch_catalog(source).resources, concurrency=4)
    finally:
        source.close()
    assert [r.name for r in result.restricted] == sorted(EU_RESTRICTED_CAPTURED)
    assert [f.resource_id for f in result.failures] == ["nim/meta/llama-3.1-8b-instruct"]
    assert "404" in str(result.failures[0])
    assert result.accessible == sum(m.pullable for m in fake.models) - 4 - 1
