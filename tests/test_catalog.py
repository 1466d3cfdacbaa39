"""The catalog step against the fake NGC: pages, groups, latestTag, broken answers."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator

import pytest

from nim_build.errors import NimBuildError
from nim_build.models import Resource
from nim_build.ngc import LiveSource, RetryPolicy
from nim_build.steps.catalog import ensure_unique_names, fetch_catalog
from tests.conftest import API_KEY, NGC_DATA, ROOT
from tests.fake_ngc import (
    CATALOG_PATH,
    FakeModel,
    FakeNgc,
    Fault,
    catalog_resource,
    metadata_body,
    synthetic_models,
)

FAST = RetryPolicy(attempts=3, backoff_base=0.01, backoff_max=0.02)


@pytest.fixture
def source_for() -> Iterator[Callable[[FakeNgc], LiveSource]]:
    sources: list[LiveSource] = []

    def make(fake: FakeNgc) -> LiveSource:
        source = LiveSource(fake.url, API_KEY, policy=FAST)
        sources.append(source)
        return source

    yield make
    for source in sources:
        source.close()


def test_all_pages_of_1000(
    make_fake_ngc: Callable[..., FakeNgc], source_for: Callable[[FakeNgc], LiveSource]
) -> None:
    models = synthetic_models(2500, seed=1)
    fake = make_fake_ngc(models)
    catalog = fetch_catalog(source_for(fake))
    assert {r.resource_id for r in catalog.resources} == {m.resource_id for m in models}
    assert len(catalog.resources) == 2500
    queries = sorted((r.catalog_query for r in fake.requests), key=lambda q: q["page"])
    assert queries == [{"query": "orgName:nim", "page": p, "pageSize": 1000} for p in range(3)]
    assert catalog.pages == 3


def test_follows_result_page_total_when_the_server_pages_smaller(
    make_fake_ngc: Callable[..., FakeNgc], source_for: Callable[[FakeNgc], LiveSource]
) -> None:
    models = synthetic_models(53, seed=2)
    fake = make_fake_ngc(models, page_size_cap=10)
    catalog = fetch_catalog(source_for(fake))
    assert sorted(r.resource_id for r in catalog.resources) == sorted(m.resource_id for m in models)
    assert sorted(r.catalog_query["page"] for r in fake.requests) == list(range(6))  # read together


def test_single_page_is_one_request(
    fake_ngc: FakeNgc, source_for: Callable[[FakeNgc], LiveSource]
) -> None:
    fetch_catalog(source_for(fake_ngc))
    assert fake_ngc.count(CATALOG_PATH) == fake_ngc.request_count == 1


def test_scored_group_is_ignored(
    make_fake_ngc: Callable[..., FakeNgc], source_for: Callable[[FakeNgc], LiveSource]
) -> None:
    models = synthetic_models(30, seed=3)
    only_scored = FakeModel(team="nvidia", repo="only-in-the-scored-group")
    fake = make_fake_ngc(models, page_size_cap=7, scored_only=[only_scored])
    catalog = fetch_catalog(source_for(fake))
    ids = [r.resource_id for r in catalog.resources]
    assert len(ids) == len(set(ids)) == 30  # the repeats of `_scored` are not duplicates
    assert only_scored.resource_id not in ids


def test_resources_without_latest_tag_are_left_out(
    make_fake_ngc: Callable[..., FakeNgc], source_for: Callable[[FakeNgc], LiveSource]
) -> None:
    models = synthetic_models(40, seed=4, missing_latest_tag_every=4)
    fake = make_fake_ngc(models)
    catalog = fetch_catalog(source_for(fake))
    kept = {m.resource_id for m in models if m.pullable}
    dropped = {m.resource_id for m in models if not m.pullable}
    assert len(dropped) == 10
    assert {r.resource_id for r in catalog.resources} == kept
    assert set(catalog.without_latest_tag) == dropped


def test_resource_id_split_into_org_team_repo(
    fake_ngc: FakeNgc, source_for: Callable[[FakeNgc], LiveSource]
) -> None:
    catalog = fetch_catalog(source_for(fake_ngc))
    by_id = {r.resource_id: r for r in catalog.resources}
    llama = by_id["nim/meta/llama-3.1-8b-instruct"]
    assert (llama.org, llama.team, llama.repo, llama.name) == (
        "nim",
        "meta",
        "llama-3.1-8b-instruct",
        "llama-3.1-8b-instruct",
    )
    assert by_id["nim/kakaocorp/kanana-1.5-8b-instruct-2505"].team == "kakaocorp"
    assert all(r.resource_id == f"{r.org}/{r.team}/{r.repo}" for r in catalog.resources)


@pytest.mark.parametrize("page_total", [10**5, 7, -1, 0])
def test_page_total_that_cannot_be_true_is_an_error_before_paging(
    make_fake_ngc: Callable[..., FakeNgc],
    source_for: Callable[[FakeNgc], LiveSource],
    page_total: int,
) -> None:
    """5 models at 1 per page: 5 or 6 pages may be claimed, not 7, 100,000, -1 or 0."""
    fake = make_fake_ngc(synthetic_models(5), page_size_cap=1)
    fake.catalog_overrides["resultPageTotal"] = page_total
    with pytest.raises(NimBuildError, match="resultPageTotal") as raised:
        fetch_catalog(source_for(fake))
    assert "\n" not in str(raised.value)
    assert fake.count(CATALOG_PATH) == 1


@pytest.mark.parametrize("value", [None, "3", [], 2.5, True, 10**30])
def test_mistyped_page_total_is_an_error(
    make_fake_ngc: Callable[..., FakeNgc],
    source_for: Callable[[FakeNgc], LiveSource],
    value: object,
) -> None:
    fake = make_fake_ngc(synthetic_models(5))
    fake.catalog_overrides["resultPageTotal"] = value
    with pytest.raises(NimBuildError, match="resultPageTotal"):
        fetch_catalog(source_for(fake))


def test_results_missing_is_an_error(
    make_fake_ngc: Callable[..., FakeNgc], source_for: Callable[[FakeNgc], LiveSource]
) -> None:
    fake = make_fake_ngc(synthetic_models(5))
    fake.fail(CATALOG_PATH, [Fault.fields(results={"CONTAINER": []})])
    # In JSON's words: "an array", not Python's "a list".
    with pytest.raises(NimBuildError, match=r"field 'results' is missing or not an array$"):
        fetch_catalog(source_for(fake))


def test_malformed_catalog_json_is_an_error(
    make_fake_ngc: Callable[..., FakeNgc], source_for: Callable[[FakeNgc], LiveSource]
) -> None:
    fake = make_fake_ngc(synthetic_models(5))
    fake.fail(CATALOG_PATH, [Fault.malformed_json()] * 5)
    with pytest.raises(NimBuildError, match="catalog"):
        fetch_catalog(source_for(fake))


def test_catalog_5xx_recovered(
    make_fake_ngc: Callable[..., FakeNgc], source_for: Callable[[FakeNgc], LiveSource]
) -> None:
    models = synthetic_models(25, seed=5)
    fake = make_fake_ngc(models, page_size_cap=10)
    fake.fail(CATALOG_PATH, [Fault.http(503), Fault.dropped()])
    catalog = fetch_catalog(source_for(fake))
    assert len(catalog.resources) == 25
    assert fake.count(CATALOG_PATH) == 3 + 2


def test_catalog_failing_for_good_is_an_error(
    make_fake_ngc: Callable[..., FakeNgc], source_for: Callable[[FakeNgc], LiveSource]
) -> None:
    fake = make_fake_ngc(synthetic_models(5))
    fake.fail(CATALOG_PATH, [Fault.http(503)] * 10)
    with pytest.raises(NimBuildError, match="503"):
        fetch_catalog(source_for(fake))
    assert fake.count(CATALOG_PATH) == FAST.attempts


def test_bad_resource_id_is_an_error(
    make_fake_ngc: Callable[..., FakeNgc], source_for: Callable[[FakeNgc], LiveSource]
) -> None:
    fake = make_fake_ngc([FakeModel(team="meta", repo="a"), FakeModel(team="meta", repo="b")])
    bad = {"resourceId": "nim/no-team", "attributes": [{"key": "latestTag", "value": "1"}]}
    page = {"groupValue": "CONTAINER", "totalCount": 1, "resources": [bad]}
    fake.fail(CATALOG_PATH, [Fault.fields(results=[page])])
    with pytest.raises(NimBuildError, match="nim/no-team"):
        fetch_catalog(source_for(fake))


def test_same_repo_in_two_teams_is_refused_naming_both() -> None:
    resources = [
        Resource("nim/meta/llama-3-8b", "nim", "meta", "llama-3-8b"),
        Resource("nim/nvidia/llama-3-8b", "nim", "nvidia", "llama-3-8b"),
        Resource("nim/baai/bge-m3", "nim", "baai", "bge-m3"),
    ]
    with pytest.raises(NimBuildError) as raised:
        ensure_unique_names(resources)
    message = str(raised.value)
    assert "nim/meta/llama-3-8b" in message and "nim/nvidia/llama-3-8b" in message
    assert "bge-m3" not in message
    ensure_unique_names(resources[1:])  # no clash, no error


def test_many_shared_names_go_one_per_line() -> None:
    resources = [
        Resource(f"nim/{team}/m{i}", "nim", team, f"m{i}") for i in range(5) for team in "ab"
    ]
    with pytest.raises(NimBuildError) as raised:
        ensure_unique_names(resources)
    assert str(raised.value) == "models would share a ConfigMap key: listed above"
    assert raised.value.details[0] == "  nim/a/m0 and nim/b/m0"
    assert len(raised.value.details) == 5


def test_synthetic_models_are_distinct_and_mixed() -> None:
    models = synthetic_models(1000, seed=7)
    assert len({m.repo for m in models}) == 1000
    assert len({m.team for m in models}) >= 8
    assert any(not m.short_description.isascii() for m in models)
    assert synthetic_models(50, seed=7) != synthetic_models(50, seed=8)
    assert math.isclose(sum(m.pullable for m in models), 1000)


def test_fake_answers_are_shaped_like_the_captures() -> None:
    captured = json.loads((NGC_DATA / "catalog_search.json").read_text(encoding="utf-8"))
    captured_resource = captured["results"][1]["resources"][0]
    model = FakeModel(team="meta", repo="x")
    assert set(catalog_resource(model)) == set(captured_resource)
    assert [g["groupValue"] for g in captured["results"]] == ["_scored", "CONTAINER"]
    captured_metadata = json.loads((NGC_DATA / "model_tags.json").read_text(encoding="utf-8"))
    body = metadata_body(model)
    assert set(body) == set(captured_metadata)
    assert 3000 < len(json.dumps(body)) < 20000


def test_fake_runs_as_a_script() -> None:
    import subprocess
    import sys

    import requests

    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_ngc", "--models", "12", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        query = json.dumps({"query": "orgName:nim", "page": 0, "pageSize": 1000})
        answer = requests.get(f"{url}{CATALOG_PATH}", params={"q": query}, timeout=5)
        assert answer.json()["resultTotal"] == 12
    finally:
        server.terminate()
        assert server.wait(timeout=10) == 0


# --------------------------------------------------------------------------- short or inconsistent


def test_the_captured_page_counts_add_up() -> None:
    """resultTotal counts the CONTAINER group (with or without latestTag), not `_scored`."""
    captured = json.loads((NGC_DATA / "catalog_search.json").read_text(encoding="utf-8"))
    groups = {g["groupValue"]: g for g in captured["results"]}
    assert groups["CONTAINER"]["totalCount"] == captured["resultTotal"]
    page_size = captured["params"]["pageSize"]
    assert captured["resultPageTotal"] == math.ceil(captured["resultTotal"] / page_size)


def test_a_total_larger_than_what_was_collected_is_an_error(
    make_fake_ngc: Callable[..., FakeNgc], source_for: Callable[[FakeNgc], LiveSource]
) -> None:
    fake = make_fake_ngc(synthetic_models(50, seed=6), page_size_cap=10)
    fake.catalog_overrides["resultTotal"] = 54
    with pytest.raises(NimBuildError) as raised:
        fetch_catalog(source_for(fake))
    assert str(raised.value) == "catalog: collected 50 of 54 models (resultTotal)"


def test_a_short_page_count_is_an_error(
    make_fake_ngc: Callable[..., FakeNgc], source_for: Callable[[FakeNgc], LiveSource]
) -> None:
    fake = make_fake_ngc(synthetic_models(186, seed=6), page_size_cap=10)
    fake.catalog_overrides["resultPageTotal"] = 5
    with pytest.raises(NimBuildError, match="collected 50 of 186 models"):
        fetch_catalog(source_for(fake))


def test_models_without_latest_tag_count_towards_the_total(
    make_fake_ngc: Callable[..., FakeNgc], source_for: Callable[[FakeNgc], LiveSource]
) -> None:
    fake = make_fake_ngc(synthetic_models(30, seed=6, missing_latest_tag_every=3), page_size_cap=7)
    catalog = fetch_catalog(source_for(fake))
    assert len(catalog.resources) + len(catalog.without_latest_tag) == 30


@pytest.mark.parametrize(
    ("break_catalog", "message"),
    [
        (lambda fake: fake.pages_served.update({2: 1}), "catalog page 2 repeats page 1"),
        (lambda fake: fake.pages_served.update({1: 99}), "catalog page 1 of 3 is empty"),
        (
            # Pages 1 and 2 are asked together: either may be the second request answered.
            lambda fake: fake.fail(CATALOG_PATH, [Fault(), Fault.fields(params={"page": 0})]),
            "catalog page [12]: the answer is for page 0",
        ),
        (
            lambda fake: fake.fail(CATALOG_PATH, [Fault(), Fault.fields(resultTotal=31)]),
            "resultTotal changed from 30 to 31",
        ),
    ],
    ids=["repeated", "empty-before-the-last", "another-page", "total-changed"],
)
def test_pages_that_do_not_add_up_are_an_error(
    make_fake_ngc: Callable[..., FakeNgc],
    source_for: Callable[[FakeNgc], LiveSource],
    break_catalog: Callable[[FakeNgc], None],
    message: str,
) -> None:
    fake = make_fake_ngc(synthetic_models(30, seed=6), page_size_cap=10)
    break_catalog(fake)
    with pytest.raises(NimBuildError, match=message):
        fetch_catalog(source_for(fake))
    assert fake.count(CATALOG_PATH) <= 3  # stops at the page that is wrong


@pytest.mark.parametrize("field", ["resultTotal", "resultPageTotal"])
@pytest.mark.parametrize("value", [-1, True, 1.5, "30", None])
def test_counts_must_be_counts(
    make_fake_ngc: Callable[..., FakeNgc],
    source_for: Callable[[FakeNgc], LiveSource],
    field: str,
    value: object,
) -> None:
    fake = make_fake_ngc(synthetic_models(5))
    fake.catalog_overrides[field] = value
    with pytest.raises(NimBuildError, match=field) as raised:
        fetch_catalog(source_for(fake))
    assert not {"True", "None", "float", "str"} & set(str(raised.value).split())  # JSON's words


def test_an_empty_catalog_is_consistent(
    make_fake_ngc: Callable[..., FakeNgc], source_for: Callable[[FakeNgc], LiveSource]
) -> None:
    fake = make_fake_ngc([])
    catalog = fetch_catalog(source_for(fake))
    assert catalog.resources == () and fake.count(CATALOG_PATH) == 1


@pytest.mark.parametrize(
    "resource_id",
    [
        "nim/meta/..",
        "nim/../x",
        "./meta/x",
        "nim/meta/x?y=1#f",
        "nim/meta/x#f",
        "nim/Meta/x",
        "nim/meta/x\n::error::owned",
        "nim/meta/x/y",
        "nim/meta/x%2F..",
        "nim/meta/ x",
    ],
)
def test_resource_ids_are_checked_before_any_metadata_request(
    make_fake_ngc: Callable[..., FakeNgc],
    source_for: Callable[[FakeNgc], LiveSource],
    resource_id: str,
) -> None:
    fake = make_fake_ngc([FakeModel(team="meta", repo="a")])
    bad = {"resourceId": resource_id, "attributes": [{"key": "latestTag", "value": "1"}]}
    page = {"groupValue": "CONTAINER", "totalCount": 1, "resources": [bad]}
    fake.fail(CATALOG_PATH, [Fault.fields(results=[page])])
    with pytest.raises(NimBuildError) as raised:
        fetch_catalog(source_for(fake))
    message = str(raised.value)
    assert repr(resource_id) in message and "\n" not in message
    assert "is not org/team/repo" in message
