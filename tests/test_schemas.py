"""The JSON Schemas in schemas/: well-formed, versioned, and each rule accepts and refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

from nim_build.resources import CONFIGMAP_SCHEMA, EU_LIST_SCHEMA, MODEL_SCHEMA, schema_path
from nim_build.steps.configmap import render_configmap
from tests.entries import NGC_DATA, captured_entry, make_entry, real_shaped_entries

ALL_SCHEMAS = (MODEL_SCHEMA, CONFIGMAP_SCHEMA, EU_LIST_SCHEMA)
ROOT = Path(__file__).resolve().parents[1]


def load(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(schema_path(name).read_text(encoding="utf-8"))
    return schema


def errors(name: str, instance: Any) -> list[str]:
    validator = Draft202012Validator(load(name), format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [error.message for error in validator.iter_errors(instance)]


def good_entry(**changes: Any) -> dict[str, Any]:
    entry = captured_entry().to_contract()
    entry.update(changes)
    return entry


# --------------------------------------------------------------------------- the files


@pytest.mark.parametrize("name", ALL_SCHEMAS)
def test_schema_is_valid_2020_12_with_versioned_id(name: str) -> None:
    schema = load(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://opendatahub.io/schemas/nim-build/v1/{name}"
    assert schema["title"]
    assert schema["description"]


def test_schemas_are_found_in_the_repository_checkout() -> None:
    # The editable install reads schemas/ itself: one source, no copy inside the package.
    for name in ALL_SCHEMAS:
        assert schema_path(name).resolve() == (ROOT / "schemas" / name).resolve()


def test_configmap_key_rule_is_the_same_in_both_schemas() -> None:
    assert load(MODEL_SCHEMA)["$defs"]["configMapKey"] | {"description": ""} == load(
        CONFIGMAP_SCHEMA
    )["$defs"]["configMapKey"] | {"description": ""}


def test_model_schema_lists_exactly_the_contract_fields_in_order() -> None:
    schema = load(MODEL_SCHEMA)
    contract = list(captured_entry().to_contract())
    assert list(schema["properties"]) == contract
    assert schema["required"] == contract
    assert schema["additionalProperties"] is False


# --------------------------------------------------------------------------- one entry


@pytest.mark.parametrize("entry", real_shaped_entries(), ids=lambda e: e.name)
def test_real_shaped_entries_are_valid(entry: Any) -> None:
    assert errors(MODEL_SCHEMA, entry.to_contract()) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", 1),
        ("displayName", None),
        ("shortDescription", 5),
        ("namespace", ["nim", "meta"]),
        ("tags", "1.5"),
        ("latestTag", 1),
        ("updatedDate", 20250414),
        ("euRestricted", "false"),
        ("euRestricted", 0),
    ],
)
def test_every_field_has_its_type(field: str, value: Any) -> None:
    assert any(
        "is not of type" in message
        for message in errors(MODEL_SCHEMA, good_entry(**{field: value}))
    )


@pytest.mark.parametrize("field", list(captured_entry().to_contract()))
def test_every_field_is_required(field: str) -> None:
    entry = good_entry()
    del entry[field]
    assert errors(MODEL_SCHEMA, entry) == [f"'{field}' is a required property"]


def test_no_other_fields() -> None:
    assert errors(MODEL_SCHEMA, good_entry(logo="https://example.com/x.png")) == [
        "Additional properties are not allowed ('logo' was unexpected)"
    ]


@pytest.mark.parametrize("name", ["bge-large-zh-v1-5", "Llama_3.1", "a", "x" * 253])
def test_name_accepts_configmap_keys(name: str) -> None:
    assert errors(MODEL_SCHEMA, good_entry(name=name)) == []


@pytest.mark.parametrize("name", ["", "bad name", "nim/meta/llama", "llama:latest", "x" * 254, "é"])
def test_name_refuses_what_is_not_a_configmap_key(name: str) -> None:
    assert errors(MODEL_SCHEMA, good_entry(name=name))


@pytest.mark.parametrize("namespace", ["nim/meta", "nim/deepseek-ai", "nim/nv_x", "org1/team.a"])
def test_namespace_accepts_org_team(namespace: str) -> None:
    assert errors(MODEL_SCHEMA, good_entry(namespace=namespace)) == []


@pytest.mark.parametrize(
    "namespace", ["nim", "nim/meta/llama", "NIM/meta", "nim/-meta", "nim//meta", "nim/meta-", ""]
)
def test_namespace_refuses_other_shapes(namespace: str) -> None:
    assert errors(MODEL_SCHEMA, good_entry(namespace=namespace))


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ([], "should be non-empty"),
        (["1.5", "1.5"], "has non-unique elements"),
        ([".hidden"], "does not match"),
        (["-rc"], "does not match"),
        (["1 5"], "does not match"),
        (["x" * 129], "does not match"),
        (["1.5", 15], "is not of type 'string'"),
    ],
)
def test_tags_must_be_unique_valid_image_tags(tags: list[Any], expected: str) -> None:
    messages = errors(MODEL_SCHEMA, good_entry(tags=tags))
    assert len(messages) == 1
    assert expected in messages[0]


@pytest.mark.parametrize("tag", ["latest", "1.8.0-RTX", "_x", "x" * 128])
def test_tags_accept_valid_image_tags(tag: str) -> None:
    assert errors(MODEL_SCHEMA, good_entry(tags=[tag], latestTag=tag)) == []


@pytest.mark.parametrize("tag", ["", "-1", "a:b", "x" * 129])
def test_latest_tag_must_be_a_valid_tag(tag: str) -> None:
    assert errors(MODEL_SCHEMA, good_entry(latestTag=tag))


@pytest.mark.parametrize(
    "date", ["2025-04-14T18:15:01.121Z", "2025-04-14T18:15:01Z", "2025-04-14T20:15:01+02:00"]
)
def test_updated_date_accepts_rfc3339(date: str) -> None:
    assert errors(MODEL_SCHEMA, good_entry(updatedDate=date)) == []


@pytest.mark.parametrize(
    "date", ["2025-13-14T18:15:01Z", "2025-04-14", "yesterday", "2025-04-14 18:15:01", ""]
)
def test_updated_date_refuses_what_is_not_a_date_time(date: str) -> None:
    # Only real with the format checker (jsonschema[format-nongpl]); else `format` is ignored.
    assert errors(MODEL_SCHEMA, good_entry(updatedDate=date)) == [f"'{date}' is not a 'date-time'"]


# --------------------------------------------------------------------------- ConfigMap


def good_configmap() -> dict[str, Any]:
    document: dict[str, Any] = YAML(typ="safe").load(render_configmap(real_shaped_entries()))
    return document


def test_rendered_configmap_is_valid() -> None:
    assert errors(CONFIGMAP_SCHEMA, good_configmap()) == []


def test_custom_configmap_name_and_namespace_are_valid() -> None:
    text = render_configmap(real_shaped_entries(), name="nim-models-mirror", namespace="odh")
    document = YAML(typ="safe").load(text)
    assert document["metadata"]["name"] == "nim-models-mirror"
    assert document["metadata"]["namespace"] == "odh"
    assert errors(CONFIGMAP_SCHEMA, document) == []


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("apiVersion",), "v2"),
        (("kind",), "Secret"),
        (("metadata", "name"), "Nim_Models"),  # not a Kubernetes object name
        (("metadata", "namespace"), "Open_Data_Hub"),
        (("metadata", "labels", "opendatahub.io/managed"), True),  # a bool, not "true"
        (("metadata", "labels", "opendatahub.io/managed"), "false"),
        (("metadata", "labels", "app"), 1),
        (("data", "bge-large-zh-v1-5"), {"name": "bge-large-zh-v1-5"}),
        (("data", "bad key"), "{}"),
        (("data",), ["x"]),
    ],
)
def test_configmap_rules(where: tuple[str, ...], value: Any) -> None:
    document = good_configmap()
    target = document
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    assert errors(CONFIGMAP_SCHEMA, document)


@pytest.mark.parametrize(
    "where", [("apiVersion",), ("kind",), ("metadata",), ("data",), ("metadata", "labels")]
)
def test_configmap_parts_are_required(where: tuple[str, ...]) -> None:
    document = good_configmap()
    target = document
    for key in where[:-1]:
        target = target[key]
    del target[where[-1]]
    assert errors(CONFIGMAP_SCHEMA, document)


# --------------------------------------------------------------------------- EU list


def test_seed_eu_list_matches_the_schema() -> None:
    seed = json.loads((NGC_DATA / "nim_eu_restricted.json").read_text(encoding="utf-8"))
    assert errors(EU_LIST_SCHEMA, seed) == []


def eu_item(**changes: Any) -> dict[str, Any]:
    return {
        "name": "llama-3.2-11b-vision-instruct",
        "resourceId": "nim/meta/llama-3.2-11b-vision-instruct",
        "org": "nim",
        "team": "meta",
        **changes,
    }


@pytest.mark.parametrize(
    "item",
    [
        eu_item(extra="x"),
        eu_item(resourceId="nim/meta"),
        eu_item(resourceId="nim/meta/a/b"),
        eu_item(name="Llama"),
        eu_item(org=1),
        {"name": "x", "org": "nim", "team": "meta"},
        "nim/meta/x",
    ],
)
def test_eu_list_rules(item: Any) -> None:
    assert errors(EU_LIST_SCHEMA, [item])


def test_eu_list_is_an_array() -> None:
    assert errors(EU_LIST_SCHEMA, {"items": []}) == ["{'items': []} is not of type 'array'"]
    assert errors(EU_LIST_SCHEMA, []) == []


def test_make_entry_is_valid() -> None:
    assert errors(MODEL_SCHEMA, make_entry().to_contract()) == []
