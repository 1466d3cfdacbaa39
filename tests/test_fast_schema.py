"""The fast schema verdict (steps/validate/fast_schema.py) never says "valid" where jsonschema
finds a problem, and says it for the valid entries it exists for."""

from __future__ import annotations

import copy
import itertools
import random
from typing import Any

import pytest

from nim_build.resources import CONFIGMAP_SCHEMA, EU_LIST_SCHEMA, MODEL_SCHEMA
from nim_build.steps.validate.fast_schema import ANNOTATIONS, HANDLED, compile_schema
from nim_build.steps.validate.rules import _inlined_schema, plainly_valid_for, validator
from tests.entries import real_shaped_entries, synthetic_entries

ODD_VALUES: list[Any] = [
    None,
    0,
    1,
    1.0,
    True,
    False,
    "",
    " ",
    "x",
    "x\n",
    "\nx",
    "a" * 254,
    "ABC",
    "nim/meta",
    "nim/meta\n",
    "Nim/Meta",
    "latest",
    "-latest",
    "2025-04-14T18:15:01.121Z",
    "2025-13-01T00:00:00Z",
    "2025-04-14",
    [],
    ["latest"],
    ["latest", "latest"],
    ["1", 1],
    [1, True],
    [None],
    {},
    {"a": "b"},
]


def _contracts() -> list[dict[str, Any]]:
    entries = [*real_shaped_entries(), *synthetic_entries(3)]
    return [entry.to_contract() for entry in entries]


def _mutations(document: dict[str, Any]) -> list[Any]:
    """`document` with each field replaced by each odd value, deleted, plus one extra field."""
    variants: list[Any] = [ODD_VALUES[i] for i in range(len(ODD_VALUES))]
    for field, value in itertools.product(list(document), ODD_VALUES):
        variants.append({**document, field: value})
    for field in document:
        variants.append({name: value for name, value in document.items() if name != field})
    variants.append({**document, "extra": "x"})
    return variants


def _agrees(schema: str, instance: Any) -> None:
    plainly_valid = plainly_valid_for(schema)
    assert plainly_valid is not None
    if plainly_valid(instance):
        assert list(validator(schema).iter_errors(instance)) == [], instance


@pytest.mark.parametrize("contract", _contracts(), ids=lambda c: c["name"])
def test_never_valid_where_jsonschema_finds_a_problem(contract: dict[str, Any]) -> None:
    for instance in _mutations(contract):
        _agrees(MODEL_SCHEMA, instance)


def test_valid_entries_take_the_fast_path() -> None:
    plainly_valid = plainly_valid_for(MODEL_SCHEMA)
    assert plainly_valid is not None
    for contract in _contracts():
        assert plainly_valid(contract)


def test_configmap_and_eu_list_schemas() -> None:
    configmap: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "nim-models-data", "labels": {"opendatahub.io/managed": "true"}},
        "data": {"a-model": "{}"},
    }
    assert plainly_valid_for(CONFIGMAP_SCHEMA) is not None
    for instance in _mutations(configmap):
        _agrees(CONFIGMAP_SCHEMA, instance)
    for part in ("metadata", "data"):
        for inner in _mutations(configmap[part]):
            _agrees(CONFIGMAP_SCHEMA, {**configmap, part: inner})
    labels = configmap["metadata"]["labels"]
    for inner in _mutations(labels):
        changed = copy.deepcopy(configmap)
        changed["metadata"]["labels"] = inner
        _agrees(CONFIGMAP_SCHEMA, changed)
    # `if`/`then`: only the shipped name must carry the managed label; a custom one need not.
    for metadata in (
        {"name": "odh-nim-account-cm", "namespace": "opendatahub"},
        {"name": "odh-nim-account-cm", "labels": {"team": "ai"}},
        {"name": "nim-models-data"},
        {"name": "nim-models-data", "labels": {"team": "ai"}},
        {"name": "nim-models-data", "labels": {"opendatahub.io/managed": "false"}},
    ):
        custom = {**configmap, "metadata": metadata}
        _agrees(CONFIGMAP_SCHEMA, custom)
        for inner in _mutations(metadata):
            _agrees(CONFIGMAP_SCHEMA, {**configmap, "metadata": inner})
    eu_entry = {"name": "llama-3.2-11b-vision-instruct", "namespace": "nim/meta"}
    for instance in [[eu_entry], *([m] for m in _mutations(eu_entry)), *_mutations(eu_entry)]:
        _agrees(EU_LIST_SCHEMA, instance)


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#/$defs/x"},
        {"oneOf": [{"type": "string"}]},
        {"type": "number"},
        {"type": ["string", "null"]},
        {"const": 1},
        {"properties": {"a": True}},
        {"uniqueItems": "yes"},
    ],
)
def test_a_keyword_it_does_not_know_leaves_the_verdict_to_jsonschema(
    schema: dict[str, Any],
) -> None:
    assert compile_schema(schema) is None


def test_annotations_are_ignored_like_jsonschema_does() -> None:
    schema = {"description": "x", "contentMediaType": "application/json", "type": "string"}
    check = compile_schema(schema)
    assert check is not None
    assert check("{")
    assert not check(1)
    assert _inlined_schema(MODEL_SCHEMA)["properties"]["name"]["pattern"]


def test_the_keyword_lists_match_jsonschema() -> None:
    asserted = set(validator(MODEL_SCHEMA).VALIDATORS)
    assert asserted.isdisjoint(ANNOTATIONS)
    assert asserted >= HANDLED
    assert compile_schema({"format": "email"}) is None  # only the formats it mirrors


@pytest.mark.parametrize(
    "value",
    ["2025-04-14T18:15:01.121Z", "2025-04-14t18:15:01z", "2025-13-01T00:00:00Z", "2025-04-14", ""],
)
def test_date_time_as_jsonschema_checks_it(value: str) -> None:
    check = compile_schema({"format": "date-time"})
    assert check is not None
    conforms = validator(MODEL_SCHEMA).format_checker
    assert conforms is not None
    assert check(value) == conforms.conforms(value, "date-time")


def test_one_regex_for_data_keys_agrees_with_each_type() -> None:
    """needs_quotes (one combined pattern) says what the per-type patterns say."""
    from nim_build.steps import yaml_scalars

    rng = random.Random(1)  # noqa: S311 - test data
    alphabet = "0123456789.eE+-:_oxXbyYnNtTfF~=<l"
    words = ["yes", "No", "on", "012", "1_000", "1:20", "~", "=", "1e3", "0o17", ".inf", ""]
    words += ["2024-01-01", "llama-3", "1.0", "0x1F", "<<", "model", "-.5e3", "3."]
    words += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))) for _ in range(5000)]
    for word in words:
        by_type = yaml_scalars.yaml11_type(word) is not None
        by_type = by_type or yaml_scalars._YAML_1_2_NUMBER.fullmatch(word) is not None
        assert yaml_scalars.needs_quotes(word) == by_type, word


CONDITIONAL_SCHEMAS: list[dict[str, Any]] = [
    {"if": {"type": "string"}, "then": {"minLength": 2}, "else": {"type": "array"}},
    {"if": {"type": "string"}, "then": {"minLength": 2}},
    {"if": {"type": "string"}, "else": {"type": "array", "maxItems": 1}},
    {"then": {"type": "string"}, "else": {"type": "array"}},  # no `if`: both are ignored
    {"type": "object", "if": {"required": ["a"]}, "then": {"required": ["b"]}},
    {
        "type": "object",
        "properties": {"k": {"type": "string"}},
        "if": {"properties": {"k": {"const": "x"}}, "required": ["k"]},
        "then": {"required": ["x"], "properties": {"x": {"const": "true"}}},
        "else": {"properties": {"x": {"pattern": "^[a-z]+$"}}},
    },
    # nested: a condition on a property of a conditional branch
    {
        "items": {
            "if": {"type": "object", "required": ["a"]},
            "then": {"if": {"required": ["b"]}, "then": {"required": ["c"]}},
            "else": {"type": "string", "pattern": "^v"},
        }
    },
]
CONDITIONAL_INSTANCES: list[Any] = [
    *ODD_VALUES,
    "v",
    "vv",
    "w",
    ["v", "w"],
    {"a": 1},
    {"a": 1, "b": 2},
    {"a": 1, "b": 2, "c": 3},
    {"b": 2},
    {"k": "x"},
    {"k": "x", "x": "true"},
    {"k": "x", "x": "false"},
    {"k": "y", "x": "abc"},
    {"k": "y", "x": "ABC"},
    {"k": 1, "x": "ABC"},
    [{"a": 1}, {"a": 1, "b": 1}, {"a": 1, "b": 1, "c": 1}, "v", "w", 1],
    [{"a": 1, "b": 1, "c": 1}, "vx"],
]


@pytest.mark.parametrize("schema", CONDITIONAL_SCHEMAS)
def test_if_then_else_says_valid_only_where_jsonschema_agrees(schema: dict[str, Any]) -> None:
    from jsonschema import Draft202012Validator

    check = compile_schema(schema)
    assert check is not None
    reference = Draft202012Validator(schema)
    said_valid = 0
    for instance in [*CONDITIONAL_INSTANCES, *([i] for i in CONDITIONAL_INSTANCES)]:
        if check(instance):
            said_valid += 1
            assert reference.is_valid(instance), instance
    assert said_valid  # it is a fast path, not a check that always steps aside


@pytest.mark.parametrize(
    "schema",
    [
        {"if": True, "then": {"type": "string"}},
        {"if": {"type": "string"}, "then": False},
        {"if": {"type": "string"}, "else": False},
        {"if": {"oneOf": [{"type": "string"}]}, "then": {"minLength": 1}},
        {"if": {"type": "string"}, "then": {"$ref": "#/$defs/x"}},
    ],
)
def test_a_condition_it_cannot_read_leaves_the_verdict_to_jsonschema(
    schema: dict[str, Any],
) -> None:
    assert compile_schema(schema) is None
