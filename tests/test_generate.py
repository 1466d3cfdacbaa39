"""`nim-build generate` in-process against the fake NGC."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Collection
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from nim_build.models import CONTRACT_FIELDS, ModelEntry
from nim_build.ngc import LiveSource, RetryPolicy
from nim_build.steps.catalog import fetch_catalog
from nim_build.steps.configmap import render_configmap
from nim_build.steps.metadata import fetch_metadata
from nim_build.steps.validate.limits import CONFIGMAP_LIMIT
from tests.conftest import (
    API_KEY,
    CliResult,
    leftovers,
    read_configmap,
    read_entries,
    snapshot_of,
)
from tests.fake_ngc import (
    CATALOG_PATH,
    KEY_PATH,
    FakeModel,
    FakeNgc,
    Fault,
    default_models,
    metadata_body,
    synthetic_models,
)

Run = Callable[..., CliResult]
OUTPUT = Path("generated/nim-models-data.yaml")
LLAMA = "llama-3.1-8b-instruct"
BGE = "bge-large-zh-v1-5"

# The example entry of docs/reference.md (tests/test_docs_pages.py), byte for byte.
DOCS_ENTRY = """\
  bge-large-zh-v1-5: |
    {
      "name": "bge-large-zh-v1-5",
      "displayName": "bge-large-zh-v1-5",
      "shortDescription": "NVIDIA NIM for GPU accelerated BAAI/bge-large-zh-v1.5 inference",
      "namespace": "nim/baai",
      "tags": [
        "1.5",
        "latest",
        "1.5.0"
      ],
      "latestTag": "1.5.0",
      "updatedDate": "2025-04-14T18:15:01.121Z",
      "euRestricted": false
    }
"""


def generate(run_cli: Run, fake: FakeNgc, *extra: str) -> CliResult:
    return run_cli("generate", "--api-url", fake.url, *extra, API_KEY)


def expected_entries(
    models: list[FakeModel], restricted: Collection[str] = frozenset()
) -> dict[str, dict[str, Any]]:
    return {m.repo: m.contract(eu_restricted=m.repo in restricted) for m in models if m.pullable}


def write_eu_list(path: Path, models: list[FakeModel]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([m.eu_entry() for m in models], indent=2), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the output


def test_writes_the_configmap(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    result = generate(run_cli, fake_ngc)
    assert result.code == 0, result.err
    assert result.out == ""
    document = read_configmap(workdir / OUTPUT)
    assert document["apiVersion"] == "v1"
    assert document["kind"] == "ConfigMap"
    assert document["metadata"]["name"] == "nim-models-data"
    assert document["metadata"]["labels"] == {"opendatahub.io/managed": "true"}
    assert 'opendatahub.io/managed: "true"' in (workdir / OUTPUT).read_text(encoding="utf-8")
    entries = read_entries(workdir / OUTPUT)
    assert entries == expected_entries(fake_ngc.models)
    for entry in entries.values():
        assert tuple(entry) == CONTRACT_FIELDS


def test_data_keys_sorted_values_literal_json(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    assert generate(run_cli, fake_ngc).code == 0
    text = (workdir / OUTPUT).read_text(encoding="utf-8")
    keys = re.findall(r"^  (\S+): \|$", text, flags=re.MULTILINE)
    assert keys == sorted(m.repo for m in fake_ngc.models if m.pullable)
    data = read_configmap(workdir / OUTPUT)["data"]
    for name, value in data.items():
        assert value == json.dumps(json.loads(value), indent=2, ensure_ascii=False) + "\n", name


def test_entry_in_the_reference_format(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    assert generate(run_cli, fake_ngc).code == 0
    assert DOCS_ENTRY in (workdir / OUTPUT).read_text(encoding="utf-8")


def test_non_ascii_kept_as_is(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    assert generate(run_cli, fake_ngc).code == 0
    raw = (workdir / OUTPUT).read_bytes()
    for text in ("für", "中文", "très", "—"):
        assert text.encode("utf-8") in raw
    assert b"\\u" not in raw
    assert read_entries(workdir / OUTPUT)["bge-m3"]["displayName"] == "BGE-M3 (mehrsprachig, 中文)"


def test_resource_without_latest_tag_left_out(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    assert generate(run_cli, fake_ngc).code == 0
    assert "nim-internal-preview" not in read_entries(workdir / OUTPUT)
    assert fake_ngc.requests_for("nim-internal-preview") == []


def test_custom_output_path(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    output = workdir / "manifests" / "nim.yaml"
    output.parent.mkdir()
    assert generate(run_cli, fake_ngc, "--output", str(output)).code == 0
    assert read_entries(output) == expected_entries(fake_ngc.models)
    assert not (workdir / OUTPUT).exists()


def test_same_answers_same_bytes(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path
) -> None:
    models = synthetic_models(60, seed=11)
    fake = make_fake_ngc(models)
    assert generate(run_cli, fake, "--concurrency", "16").code == 0
    first = snapshot_of(workdir / OUTPUT)
    assert generate(run_cli, fake, "--concurrency", "16").code == 0
    assert snapshot_of(workdir / OUTPUT) == first  # not even rewritten
    fake.set_models(list(reversed(models)))  # another catalog order, fewer workers
    assert generate(run_cli, fake, "--concurrency", "1").code == 0
    assert (workdir / OUTPUT).read_bytes() == first[0]


def test_changed_answer_rewrites_atomically(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    assert generate(run_cli, fake_ngc).code == 0
    fake_ngc.model(LLAMA).tags = ["2.0", "latest"]
    assert generate(run_cli, fake_ngc).code == 0
    assert read_entries(workdir / OUTPUT)[LLAMA]["tags"] == ["2.0", "latest"]
    assert leftovers(workdir / OUTPUT.parent) == []


# --------------------------------------------------------------------------- EU list


def test_eu_restricted_from_named_list(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    restricted = [fake_ngc.model(LLAMA), fake_ngc.model(BGE)]
    eu_list = write_eu_list(workdir / "eu.json", restricted)
    result = generate(run_cli, fake_ngc, "--eu-restricted", str(eu_list))
    assert result.code == 0, result.err
    assert read_entries(workdir / OUTPUT) == expected_entries(fake_ngc.models, {LLAMA, BGE})


def test_eu_restricted_from_default_list(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    write_eu_list(workdir / "generated/nim_eu_restricted.json", [fake_ngc.model(BGE)])
    (workdir / "key").write_text(API_KEY, encoding="utf-8")  # an API_KEY argument warns
    result = run_cli("generate", "--api-url", fake_ngc.url, "--api-key-file", "key")
    assert result.code == 0, result.err
    assert "warning" not in result.err.lower()
    assert read_entries(workdir / OUTPUT) == expected_entries(fake_ngc.models, {BGE})


def test_missing_default_eu_list_is_a_warning(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    result = generate(run_cli, fake_ngc)
    assert result.code == 0
    assert re.search(r"warning.*nim_eu_restricted\.json", result.err, flags=re.IGNORECASE)
    assert not any(e["euRestricted"] for e in read_entries(workdir / OUTPUT).values())


def test_missing_named_eu_list_is_an_error(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    result = generate(run_cli, fake_ngc, "--eu-restricted", "nowhere/eu.json")
    assert result.code == 1
    assert "nowhere/eu.json" in result.error
    assert not (workdir / OUTPUT).exists()


def test_malformed_eu_list_is_an_error(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    (workdir / "eu.json").write_text('{"name": "x"}', encoding="utf-8")
    result = generate(run_cli, fake_ngc, "--eu-restricted", "eu.json")
    assert result.code == 1
    assert "eu.json" in result.error
    assert "Traceback" not in result.err


# --------------------------------------------------------------------------- requests


def test_exact_request_count(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    assert generate(run_cli, fake_ngc).code == 0
    n = sum(m.pullable for m in fake_ngc.models)
    assert fake_ngc.request_count == 1 + 1 + n
    assert fake_ngc.count(KEY_PATH) == 1
    assert fake_ngc.count(CATALOG_PATH) == 1
    for model in fake_ngc.models:
        assert len(fake_ngc.requests_for(model)) == (1 if model.pullable else 0)


def test_exact_request_count_over_two_catalog_pages(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path
) -> None:
    models = synthetic_models(1003, seed=12)
    fake = make_fake_ngc(models)
    result = generate(run_cli, fake, "-q", "--concurrency", "32")
    assert result.code == 0, result.err
    assert fake.request_count == 1 + math.ceil(1003 / 1000) + 1003
    assert len(read_entries(workdir / OUTPUT)) == 1003


def test_concurrency_is_bounded(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path
) -> None:
    fake = make_fake_ngc(synthetic_models(24, seed=13), latency=0.03)
    assert generate(run_cli, fake, "--concurrency", "3").code == 0
    assert 2 <= fake.max_in_flight <= 3
    fake.clear_requests()
    fake.model(fake.models[0].repo).tags = ["changed"]
    assert generate(run_cli, fake).code == 0
    assert 4 < fake.max_in_flight <= 16


def test_library_fetch_metadata_bounded_pool(make_fake_ngc: Callable[..., FakeNgc]) -> None:
    models = synthetic_models(20, seed=14)
    fake = make_fake_ngc(models, latency=0.02)
    source = LiveSource(fake.url, API_KEY, concurrency=4, policy=RetryPolicy(backoff_base=0.01))
    try:
        catalog = fetch_catalog(source)
        result = fetch_metadata(source, catalog.resources, concurrency=4)
    finally:
        source.close()
    assert fake.max_in_flight <= 4
    assert {e.name for e in result.entries} == {m.repo for m in models}
    assert result.failures == () and result.unavailable == ()


# --------------------------------------------------------------------------- retries


def test_429_retry_after_honoured(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    fake_ngc.fail(LLAMA, [Fault.http(429, retry_after=1)])
    result = generate(run_cli, fake_ngc)
    assert result.code == 0, result.err
    first, second = fake_ngc.requests_for(LLAMA)
    assert second.time - first.time >= 0.95
    assert read_entries(workdir / OUTPUT)[LLAMA] == fake_ngc.model(LLAMA).contract()


def test_503_bursts_recovered(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    for model in fake_ngc.models[:4]:
        fake_ngc.fail(model, [Fault.http(503)] * 3)
    fake_ngc.fail(CATALOG_PATH, [Fault.http(503), Fault.http(500)])
    fake_ngc.fail(KEY_PATH, [Fault.http(502)])
    result = generate(run_cli, fake_ngc)
    assert result.code == 0, result.err
    assert read_entries(workdir / OUTPUT) == expected_entries(fake_ngc.models)
    n = sum(m.pullable for m in fake_ngc.models)
    assert fake_ngc.request_count == 1 + 1 + n + 4 * 3 + 2 + 1


def test_dropped_connections_recovered(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    for model in fake_ngc.models[:3]:
        fake_ngc.fail(model, [Fault.dropped(), Fault.dropped()])
    fake_ngc.fail(CATALOG_PATH, [Fault.dropped()])
    result = generate(run_cli, fake_ngc)
    assert result.code == 0, result.err
    assert read_entries(workdir / OUTPUT) == expected_entries(fake_ngc.models)


def test_read_timeout_recovered(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    fake_ngc.fail(LLAMA, [Fault.slow(2.0)])
    result = generate(run_cli, fake_ngc, "--timeout", "0.5")
    assert result.code == 0, result.err
    assert len(fake_ngc.requests_for(LLAMA)) == 2
    assert read_entries(workdir / OUTPUT)[LLAMA] == fake_ngc.model(LLAMA).contract()


def test_read_timeout_exhausted(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    fake_ngc.fail(LLAMA, [Fault.slow(2.0)] * 2)
    result = generate(run_cli, fake_ngc, "--timeout", "0.5", "--retries", "2")
    assert result.code == 1
    assert "nim/meta/llama-3.1-8b-instruct" in result.error
    assert "timed out" in result.error
    assert len(fake_ngc.requests_for(LLAMA)) == 2
    assert not (workdir / OUTPUT).exists()


def test_retries_option_sets_the_attempts(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    fake_ngc.fail(LLAMA, [Fault.http(503)] * 10)
    result = generate(run_cli, fake_ngc, "--retries", "3")
    assert result.code == 1
    assert len(fake_ngc.requests_for(LLAMA)) == 3


def test_default_is_five_attempts(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    fake_ngc.fail(LLAMA, [Fault.http(500)] * 10)
    assert generate(run_cli, fake_ngc).code == 1
    assert len(fake_ngc.requests_for(LLAMA)) == 5


@pytest.mark.parametrize("status", [401, 403, 404])
def test_client_errors_never_retried_and_fail(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, status: int
) -> None:
    fake_ngc.model(BGE).status = status
    result = generate(run_cli, fake_ngc)
    assert result.code == 1
    assert "nim/baai/bge-large-zh-v1-5" in result.error and str(status) in result.error
    assert len(fake_ngc.requests_for(BGE)) == 1
    assert not (workdir / OUTPUT).exists()


# --------------------------------------------------------------------------- failures


def test_every_failed_model_is_named(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    fake_ngc.fail(LLAMA, [Fault.http(503)] * 10)
    fake_ngc.model(BGE).status = 404
    fake_ngc.fail("bge-m3", [Fault.http(500)] * 10)
    result = generate(run_cli, fake_ngc, "--retries", "2")
    assert result.code == 1
    error = result.error
    for resource_id, status in [
        ("nim/meta/llama-3.1-8b-instruct", "503"),
        ("nim/baai/bge-large-zh-v1-5", "404"),
        ("nim/baai/bge-m3", "500"),
    ]:
        assert re.search(re.escape(resource_id) + r"[^;]*" + status, error), error
    assert not (workdir / OUTPUT).exists()
    assert leftovers(workdir) == []


def test_failure_leaves_previous_output_untouched(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    assert generate(run_cli, fake_ngc).code == 0
    before = snapshot_of(workdir / OUTPUT)
    fake_ngc.model(BGE).tags = ["changed"]
    fake_ngc.fail(LLAMA, [Fault.http(503)] * 10)
    assert generate(run_cli, fake_ngc, "--retries", "2").code == 1
    assert snapshot_of(workdir / OUTPUT) == before
    assert leftovers(workdir / OUTPUT.parent) == []


def test_malformed_json_fails_naming_the_model(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    fake_ngc.fail(LLAMA, [Fault.malformed_json()] * 10)
    result = generate(run_cli, fake_ngc)
    assert result.code == 1
    assert "nim/meta/llama-3.1-8b-instruct" in result.error and "JSON" in result.error
    assert not (workdir / OUTPUT).exists()


@pytest.mark.parametrize(
    ("fault", "field"),
    [
        (Fault.without("shortDescription"), "$.shortDescription is missing"),
        (Fault.without("tags"), "$.tags is missing"),
        (Fault.fields(tags="1.5"), "$.tags is a string, not an array"),
        (Fault.fields(tags=["1.5", 2]), "$.tags[1] is an integer, not a string"),
        (Fault.fields(namespace=None), "$.namespace is missing"),
        (Fault.fields(latestTag=1), "$.latestTag is an integer, not a string"),
        (Fault.without("updatedDate"), "$.updatedDate is missing"),
        (Fault.fields(displayName=["x"]), "$.displayName is an array, not a string"),
        (Fault.fields(updatedDate={}), "$.updatedDate is an object, not a string"),
    ],
)
def test_missing_or_mistyped_field_named(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, fault: Fault, field: str
) -> None:
    fake_ngc.fail(LLAMA, [fault])
    result = generate(run_cli, fake_ngc)
    assert result.code == 1
    assert "nim/meta/llama-3.1-8b-instruct" in result.error
    assert field in result.error  # in JSON's words, not Python's ("a str", "a list")
    assert "Traceback" not in result.err
    assert not (workdir / OUTPUT).exists()


def test_answer_for_another_repo_is_refused(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    fake_ngc.fail(LLAMA, [Fault.fields(name="llama-3.1-70b-instruct")])
    result = generate(run_cli, fake_ngc)
    assert result.code == 1
    assert (
        'answer is for "nim/meta/llama-3.1-70b-instruct", not nim/meta/llama-3.1-8b-instruct'
    ) in result.error
    # A name of 100,000 characters is quoted cut, not printed whole on one line.
    fake_ngc.fail(LLAMA, [Fault.fields(name="x" * 100_000)])
    result = generate(run_cli, fake_ngc)
    assert result.code == 1
    assert len(result.error) < 500, len(result.error)


def test_same_name_in_two_teams_fails_naming_both(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path
) -> None:
    models = [
        *default_models(),
        FakeModel(team="nvidia", repo=LLAMA),  # also nim/meta/llama-3.1-8b-instruct
    ]
    fake = make_fake_ngc(models)
    result = generate(run_cli, fake)
    assert result.code == 1
    assert "nim/meta/llama-3.1-8b-instruct" in result.error
    assert "nim/nvidia/llama-3.1-8b-instruct" in result.error
    assert not (workdir / OUTPUT).exists()


# --------------------------------------------------------------------------- 451 while generating


def test_451_carried_over_from_previous(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    assert generate(run_cli, fake_ngc).code == 0
    previous = read_entries(workdir / OUTPUT)
    llama = fake_ngc.model(LLAMA)
    llama.status = 451
    llama.tags = ["9.9"]  # NGC's newer answer is not visible from here
    fake_ngc.model(BGE).tags = ["1.6", "latest"]
    result = generate(run_cli, fake_ngc)
    assert result.code == 0, result.err
    entries = read_entries(workdir / OUTPUT)
    assert entries[LLAMA] == {**previous[LLAMA], "euRestricted": True}
    assert entries[BGE]["tags"] == ["1.6", "latest"]
    assert re.search(re.escape(LLAMA) + r".*451", result.err)
    assert len(fake_ngc.requests_for(LLAMA)) == 2  # one per run: 451 is never retried


def test_451_without_previous_entry_fails(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    fake_ngc.model(LLAMA).status = 451
    result = generate(run_cli, fake_ngc)
    assert result.code == 1
    assert LLAMA in result.error and "451" in result.error
    assert not (workdir / OUTPUT).exists()


def test_451_with_previous_lacking_the_model_fails(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    fake_ngc.model(LLAMA).catalog_latest_tag = None  # not in the first run's output
    assert generate(run_cli, fake_ngc).code == 0
    before = snapshot_of(workdir / OUTPUT)
    fake_ngc.model(LLAMA).catalog_latest_tag = "1.15.5"
    fake_ngc.model(LLAMA).status = 451
    result = generate(run_cli, fake_ngc)
    assert result.code == 1
    assert LLAMA in result.error
    assert snapshot_of(workdir / OUTPUT) == before


# --------------------------------------------------------------------------- the key


def test_refused_key(run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path) -> None:
    fake = make_fake_ngc(valid_keys={"nvapi-some-other-key"})
    (workdir / "generated").mkdir()
    (workdir / OUTPUT).write_text(render_configmap([]), encoding="utf-8")
    before = snapshot_of(workdir / OUTPUT)
    result = generate(run_cli, fake)
    assert result.code == 1
    assert "refused" in result.error.lower() and "401" in result.error
    # The catalog search (no key needed) runs alongside the key check; no model is asked.
    assert fake.count(KEY_PATH) == 1
    assert fake.count(CATALOG_PATH) <= 1
    assert fake.count("/v2/org/") == 0
    assert snapshot_of(workdir / OUTPUT) == before


def test_a_slow_refused_key_still_wins(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path
) -> None:
    """The catalog answers first; the key check answers 401 later: nothing is asked or written."""
    fake = make_fake_ngc(valid_keys={"nvapi-some-other-key"})
    fake.fail(KEY_PATH, [Fault(delay=0.5)])
    (workdir / "generated").mkdir()
    (workdir / OUTPUT).write_text(render_configmap([]), encoding="utf-8")
    before = snapshot_of(workdir / OUTPUT)
    result = generate(run_cli, fake)
    assert result.code == 1
    assert result.error.strip().splitlines()[-1] == (
        "nim-build: error: NGC refused the API key (HTTP 401)"
    )
    assert fake.count(CATALOG_PATH) == 1  # answered while the key check waited
    assert fake.count("/v2/org/") == 0
    assert snapshot_of(workdir / OUTPUT) == before


def test_the_key_check_and_catalog_page_0_overlap(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path
) -> None:
    fake = make_fake_ngc()
    fake.fail(KEY_PATH, [Fault(delay=0.3)])
    result = generate(run_cli, fake)
    assert result.code == 0, result.error
    key, page = (next(r for r in fake.requests if r.path == p) for p in (KEY_PATH, CATALOG_PATH))
    assert page.time - key.time < 0.2  # asked together, not after the key's answer
    first_model = min(r.time for r in fake.requests if r.path.startswith("/v2/org/"))
    assert first_model - key.time >= 0.3  # no model before the key is accepted


def test_later_catalog_pages_overlap_the_metadata_fetch(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path
) -> None:
    fake = make_fake_ngc(synthetic_models(30), page_size_cap=10)
    fake.fail(CATALOG_PATH, [Fault(), Fault(delay=0.4), Fault(delay=0.4)])
    result = generate(run_cli, fake)
    assert result.code == 0, result.error
    pages = [r for r in fake.requests if r.path == CATALOG_PATH]
    assert len(pages) == 3
    first_model = min(r.time for r in fake.requests if r.path.startswith("/v2/org/"))
    assert first_model < max(r.time for r in pages) + 0.4  # before the last page answered
    assert len(read_entries(workdir / OUTPUT)) == 30


def test_the_1_mib_limit_stops_the_run_early(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path
) -> None:
    """Huge descriptions: the limit is certain after a few models; the rest are never asked."""
    fake = make_fake_ngc(synthetic_models(200))
    fake.fail_always("/v2/org/", Fault.fields(shortDescription="x" * 100_000))
    result = generate(run_cli, fake, "--concurrency", "4")
    assert result.code == 1
    assert "would be over the 1 MiB ConfigMap limit" in result.error
    asked = fake.count("/v2/org/")
    assert asked < 40, asked  # 11 models pass 1 MiB; 4 more may be in flight
    assert not (workdir / OUTPUT).exists()


@pytest.mark.parametrize("key", ["0123456789abcdefLEGACY", "bnZhcGtleQ==LEGACY"])
def test_legacy_key_refused_without_requests(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, key: str
) -> None:
    result = run_cli("generate", "--api-url", fake_ngc.url, key)
    assert result.code == 2  # a usage error: nothing was sent
    assert "nvapi-" in result.error
    assert key not in result.err + result.out
    assert fake_ngc.request_count == 0
    assert not (workdir / "generated").exists()


def test_key_never_shown_or_written(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    fake_ngc.fail(LLAMA, [Fault.http(503), Fault.dropped()])
    fake_ngc.fail(BGE, [Fault.http(429, retry_after=0.1)])
    result = generate(run_cli, fake_ngc, "-v")
    assert result.code == 0, result.err
    assert "retr" in result.err.lower()  # -v shows the retries
    assert API_KEY not in result.out + result.err
    assert "nvapi-test" not in result.err
    for path in workdir.rglob("*"):
        if path.is_file():
            assert API_KEY.encode() not in path.read_bytes(), path


def test_key_not_shown_on_failures(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path
) -> None:
    refused = make_fake_ngc(valid_keys={"nvapi-other"})
    result = generate(run_cli, refused, "-v")
    assert result.code == 1 and API_KEY not in result.err + result.out
    failing = make_fake_ngc()
    failing.fail(LLAMA, [Fault.http(503)] * 10)
    failing.fail(BGE, [Fault.malformed_json()])
    result = generate(run_cli, failing, "-v", "--retries", "2")
    assert result.code == 1 and API_KEY not in result.err + result.out


# --------------------------------------------------------------------------- progress


def test_progress_and_summary_on_stderr(
    run_cli: Run,
    make_fake_ngc: Callable[..., FakeNgc],
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("nim_build.progress.QUIET_START", 0.0)  # a fast run shows it too
    fake = make_fake_ngc(synthetic_models(50, seed=15))
    fake.fail(fake.models[0], [Fault.http(503)])
    result = generate(run_cli, fake)
    assert result.code == 0
    assert result.out == ""
    progress = [line for line in result.err.splitlines() if re.search(r"\d+\s*%", line)]
    assert 5 <= len(progress) <= 15, result.err
    assert re.search(r"\b50\b", result.err)  # the model count
    assert re.search(r"\b1 retr", result.err), result.err  # the retry count
    assert re.search(r"\d\.\d+ ?s\b", result.err)  # wall time


def test_quiet_shows_no_progress(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    result = generate(run_cli, fake_ngc, "-q")
    assert result.code == 0
    assert not re.search(r"\d+\s*%", result.err)
    assert result.out == ""


# --------------------------------------------------------------------------- YAML 1.1 keys

YAML_TRAPS = ("yes", "no", "on", "off", "y", "n", "true", "null", "1e3", "0x1f", "012", "1_000")


def test_names_a_yaml_loader_would_misread_are_quoted(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path
) -> None:
    import yaml  # PyYAML: a YAML 1.1 loader, as kubectl's go-yaml v2

    fake = make_fake_ngc([FakeModel(team="meta", repo=name) for name in YAML_TRAPS])
    assert generate(run_cli, fake).code == 0
    text = (workdir / OUTPUT).read_text(encoding="utf-8")
    assert sorted(yaml.safe_load(text)["data"]) == sorted(YAML_TRAPS)
    assert sorted(read_entries(workdir / OUTPUT)) == sorted(YAML_TRAPS)  # and YAML 1.2
    assert '  "yes": |' in text
    assert run_cli("validate", str(OUTPUT)).code == 0


def test_a_lone_surrogate_fails_naming_model_and_field(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    model = fake_ngc.model("bge-m3")
    body = {**metadata_body(model), "displayName": "x\ud800y"}
    fake_ngc.fail(model, [Fault(status=200, body=json.dumps(body).encode())])
    result = generate(run_cli, fake_ngc)
    assert result.code == 1
    assert "bge-m3: $.displayName: holds a lone surrogate" in result.error
    assert "Traceback" not in result.err
    assert not (workdir / OUTPUT).exists()


def test_a_configmap_just_under_1_mib_is_written_with_a_custom_name_and_labels(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path
) -> None:
    """The early stop counts a lower bound of the rendered size: it never stops a run whose
    ConfigMap fits, whatever --name, --namespace and --label add to the envelope."""
    metadata = ("--name", "n" * 253, "--namespace", "s" * 63, "--label", f"{'k' * 63}={'v' * 63}")
    labels = {"k" * 63: "v" * 63}

    def sized(length: int) -> list[FakeModel]:
        return [replace(m, short_description="d" * length) for m in synthetic_models(100)]

    def size_of(models: list[FakeModel]) -> int:
        entries = [ModelEntry.from_contract(m.contract()) for m in models]
        text = render_configmap(entries, name="n" * 253, namespace="s" * 63, labels=labels)
        return len(text.encode("utf-8"))

    length = 10_000
    while size_of(sized(length + 1)) <= CONFIGMAP_LIMIT:
        length += max(1, (CONFIGMAP_LIMIT - size_of(sized(length + 1))) // 100)
    while size_of(sized(length)) > CONFIGMAP_LIMIT:
        length -= 1
    fits = make_fake_ngc(sized(length))
    result = generate(run_cli, fits, "--concurrency", "4", *metadata)
    assert result.code == 0, result.err
    assert CONFIGMAP_LIMIT - 100 < (workdir / OUTPUT).stat().st_size <= CONFIGMAP_LIMIT
    too_large = make_fake_ngc(sized(length + 1))
    result = generate(run_cli, too_large, "--concurrency", "4", *metadata)
    assert result.code == 1
    assert "over the 1 MiB ConfigMap limit" in result.error
