"""Validation: entries, ConfigMaps, EU lists, files, and the `validate` command."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

from nim_build.errors import InputFileError
from nim_build.models import EuRestriction
from nim_build.steps.configmap import render_configmap
from nim_build.steps.eu import render_eu_list
from nim_build.steps.validate import (
    CONFIGMAP_LIMIT,
    Problem,
    ValidationFailed,
    check_text,
    json_path,
    validate,
    validate_configmap_text,
    validate_entries,
    validate_eu_list_text,
)
from tests.conftest import CliResult
from tests.entries import NGC_DATA, make_entry, real_shaped_entries, synthetic_entries

BGE = "bge-large-zh-v1-5"


def configmap_with(values: Mapping[str, Any], entries: Any = None) -> str:
    """A rendered ConfigMap whose data values in `values` are replaced (objects become JSON)."""
    yaml = YAML()
    document = yaml.load(render_configmap(real_shaped_entries() if entries is None else entries))
    for key, value in values.items():
        text = value if isinstance(value, str) else json.dumps(value, indent=2) + "\n"
        document["data"][key] = LiteralScalarString(text)
    stream = StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()


def bge(**changes: Any) -> dict[str, Any]:
    entry = next(e for e in real_shaped_entries() if e.name == BGE).to_contract()
    entry.update(changes)
    return entry


def lines(problems: tuple[Problem, ...]) -> list[str]:
    return [str(problem) for problem in problems]


# --------------------------------------------------------------------------- problems


def test_problem_reads_model_path_message() -> None:
    assert str(Problem("m", "$.tags[0]", "bad")) == "m: $.tags[0]: bad"
    assert str(Problem(None, "$", "bad")) == "$: bad"


def test_json_path_quotes_keys_that_are_not_identifiers() -> None:
    assert json_path([]) == "$"
    assert json_path(["tags", 0]) == "$.tags[0]"
    assert json_path(["metadata", "labels", "opendatahub.io/managed"]) == (
        "$.metadata.labels['opendatahub.io/managed']"
    )
    assert json_path(["it's"]) == "$['it\\'s']"


def test_validation_failed_is_one_line_with_count_and_first_problem() -> None:
    problems = (Problem(BGE, "$.tags", "x"), Problem(None, "$", "y"))
    error = ValidationFailed(problems)
    assert error.problems == problems
    assert str(error) == f"validation failed with 2 problems, the first: {BGE}: $.tags: x"
    assert str(ValidationFailed(problems[:1])) == f"validation failed: {BGE}: $.tags: x"


# --------------------------------------------------------------------------- entries


def test_real_shaped_and_synthetic_entries_are_valid() -> None:
    assert validate_entries(real_shaped_entries()) == ()
    assert validate_entries(synthetic_entries(200)) == ()


def test_entries_bad_date_time_is_refused() -> None:
    entry = make_entry(updated_date="2025-02-30T10:00:00Z")
    assert lines(validate_entries([entry])) == [
        'llama-3.1-8b-instruct: $.updatedDate: "2025-02-30T10:00:00Z" is not a valid date-time'
    ]


def test_entries_every_problem_is_reported_with_model_and_path() -> None:
    entries = [
        make_entry("a", tags=("1", "1"), eu_restricted="no"),
        make_entry("b", namespace="NIM/meta"),
        make_entry("b"),
    ]
    assert lines(validate_entries(entries)) == [
        'a: $.tags: items must be unique: ["1", "1"]',
        'a: $.euRestricted: expected a boolean, got a string "no"',
        'b: $.namespace: "NIM/meta" does not match the pattern '
        "^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$",
        "b: $.name: duplicate model name",
    ]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        # A ConfigMap key may hold capitals, an image name may not.
        (make_entry("Llama-3"), "Llama-3: $.name: image 'nvcr.io/nim/meta/Llama-3' is not"),
        # jsonschema's `pattern` lets "$" match before a final newline; the image check does not.
        (make_entry("llama\n"), "llama\n: $.name: image 'nvcr.io/nim/meta/llama\\n' is not"),
        (make_entry(tags=("1.5\n",)), "llama-3.1-8b-instruct: $.tags[0]: image"),
        (make_entry(latest_tag="v1\n"), "llama-3.1-8b-instruct: $.latestTag: image"),
        (make_entry("x" * 240), f"{'x' * 240}: $: image 'nvcr.io/nim/meta/xxx"),
        (make_entry("a..b"), "a..b: $.name: image"),
    ],
)
def test_entries_image_reference_is_checked(entry: Any, expected: str) -> None:
    problems = lines(validate_entries([entry]))
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected)
    assert problems[0].endswith("is not a valid OCI reference")


def test_entries_a_bad_tag_is_one_problem_not_two() -> None:
    problems = lines(validate_entries([make_entry(tags=("bad tag",))]))
    assert problems == [
        'llama-3.1-8b-instruct: $.tags[0]: "bad tag" does not match the pattern '
        "^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$"
    ]


def test_a_huge_bad_value_gives_a_short_message() -> None:
    (problem,) = validate_entries([make_entry(namespace="x" * 1_000_000)])
    assert len(problem.message) <= 300


# --------------------------------------------------------------------------- ConfigMap


def test_real_shaped_configmap_is_valid() -> None:
    text = render_configmap(real_shaped_entries())
    assert validate_configmap_text(text, "nim-models-data.yaml") == ()
    assert check_text(text, "x.yaml").models == 4


def test_configmap_problem_names_model_and_path_exactly() -> None:
    text = configmap_with({BGE: bge(tags="1.5")})
    assert lines(validate_configmap_text(text, "x.yaml")) == [
        'bge-large-zh-v1-5: $.tags: expected an array, got a string "1.5"'
    ]


def test_configmap_every_problem_is_reported() -> None:
    text = configmap_with(
        {
            BGE: bge(tags="1.5", euRestricted="false", logo="x"),
            "llama-3.1-8b-instruct": bge(updatedDate="soon"),  # also a key/name mismatch
            "mistral-7b-instruct-v0.3": "{not json",
        }
    )
    text = text.replace("opendatahub.io/managed: 'true'", "opendatahub.io/managed: true")
    assert "managed: true\n" in text
    assert lines(validate_configmap_text(text, "x.yaml")) == [
        "$.metadata.labels['opendatahub.io/managed']: expected \"true\", got true",
        "bge-large-zh-v1-5: $: unexpected field logo",
        'bge-large-zh-v1-5: $.tags: expected an array, got a string "1.5"',
        'bge-large-zh-v1-5: $.euRestricted: expected a boolean, got a string "false"',
        'llama-3.1-8b-instruct: $.updatedDate: "soon" is not a valid date-time',
        "llama-3.1-8b-instruct: $.name: 'bge-large-zh-v1-5' is not the data key "
        "'llama-3.1-8b-instruct'",
        "mistral-7b-instruct-v0.3: $: value is not JSON: Expecting property name enclosed in "
        "double quotes: line 1 column 2 (char 1)",
    ]


def test_configmap_duplicate_keys_are_all_reported_with_lines() -> None:
    text = render_configmap(real_shaped_entries())
    block = text[text.index(f"  {BGE}: |") : text.index("  llama-3.1-8b-instruct: |")]
    text = text.replace(block, block + block.replace("1.5.0", "1.5.1"))
    text = text.replace("  name: nim-models-data\n", "  name: nim-models-data\n  name: x\n")
    problems = validate_configmap_text(text, "x.yaml")
    first = text[: text.index(f"  {BGE}: |")].count("\n") + 1
    second = first + block.count("\n")
    assert lines(problems) == [
        "$.metadata: duplicate key 'name' at line 7 (first at line 6)",
        f"{BGE}: $.data: duplicate key '{BGE}' at line {second} (first at line {first})",
    ]


def test_configmap_duplicate_json_key_in_a_value() -> None:
    value = json.dumps(bge(), indent=2).replace('"name"', '"latestTag": "x",\n  "name"', 1)
    problems = lines(validate_configmap_text(configmap_with({BGE: value}), "x.yaml"))
    assert problems == [f"{BGE}: $: duplicate JSON key 'latestTag'"]


def test_configmap_data_key_must_equal_name() -> None:
    text = configmap_with({"bge": bge()})
    assert lines(validate_configmap_text(text, "x.yaml")) == [
        "bge: $.name: 'bge-large-zh-v1-5' is not the data key 'bge'",
    ]


def test_configmap_over_the_size_limit() -> None:
    entries = [make_entry(f"m{index}", short_description="é" * 60_000) for index in range(10)]
    problems = lines(validate_configmap_text(render_configmap(entries), "big.yaml"))
    assert len(problems) == 2
    assert problems[0].startswith("$: big.yaml is 1,2")
    assert problems[0].endswith("bytes, over the 1 MiB ConfigMap limit")
    assert problems[1].startswith("$.data: data keys and values total 1,2")
    assert problems[1].endswith("bytes, over the 1,048,576-byte ConfigMap limit")


def test_configmap_file_over_the_limit_with_data_under_it() -> None:
    # The file indents every JSON line; the data Kubernetes counts does not.
    entry = make_entry(tags=tuple(f"t{index}" for index in range(65_000)))
    text = render_configmap([entry])
    data_size = len(entry.name) + len(text[text.index("{") :].replace("\n    ", "\n"))
    assert data_size < CONFIGMAP_LIMIT < len(text)
    assert lines(validate_configmap_text(text, "big.yaml")) == [
        f"$: big.yaml is {len(text):,} bytes, over the 1 MiB ConfigMap limit"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "$: the file is empty"),
        ("data: [unclosed\n", "$: not valid YAML: while parsing a flow sequence"),
        ("a: 1\n---\nb: 2\n", "$: not valid YAML: expected a single document"),
        ("- 1\n", "$: expected an object, got an array [1]"),
    ],
)
def test_configmap_not_yaml_or_not_a_mapping(text: str, expected: str) -> None:
    problems = lines(validate_configmap_text(text, "x.yaml"))
    assert problems[0].startswith(expected)


def test_configmap_value_that_is_not_a_string() -> None:
    text = render_configmap(real_shaped_entries()).replace(f"  {BGE}: |", f"  {BGE}: 5\n  x: |")
    problems = lines(validate_configmap_text(text, "x.yaml"))
    assert "$.data['bge-large-zh-v1-5']: expected a string, got an integer 5" in problems


def test_configmap_aliases_are_refused() -> None:
    text = "a: &x [1, 2]\nb: [*x, *x, *x]\n"
    problems = lines(validate_configmap_text(text, "x.yaml"))
    assert problems == [f"$.b[{index}]: YAML aliases are not allowed" for index in range(3)]


# --------------------------------------------------------------------------- EU list


def eu_text(items: list[dict[str, Any]]) -> str:
    return json.dumps(items, indent=2)


def eu(name: str, org: str = "nim", team: str = "meta", **changes: str) -> dict[str, Any]:
    return {"name": name, "resourceId": f"{org}/{team}/{name}", "org": org, "team": team} | changes


def test_eu_list_rendered_by_detect_eu_is_valid() -> None:
    text = render_eu_list(
        [EuRestriction("b", "nim/meta/b", "nim", "meta"), EuRestriction("a", "nim/x/a", "nim", "x")]
    )
    assert validate_eu_list_text(text, "eu.json") == ()
    assert validate_eu_list_text("[]", "eu.json") == ()


def test_eu_list_seed_from_the_reference_script_is_not_sorted() -> None:
    text = (NGC_DATA / "nim_eu_restricted.json").read_text(encoding="utf-8")
    assert lines(validate_eu_list_text(text, "seed.json")) == [
        "llama-3.2-90b-vision-instruct: $[3].name: not sorted by name: comes after "
        "'llama-4-scout-17b-16e-instruct'"
    ]


def test_eu_list_every_problem_is_reported() -> None:
    items = [
        eu("a"),
        eu("b", resourceId="nim/other/b"),
        eu("a"),
        eu("c", extra="x"),
        {"name": "d", "org": "nim"},
        eu("e\n"),
    ]
    assert lines(validate_eu_list_text(eu_text(items), "eu.json")) == [
        "c: $[3]: unexpected field extra",
        "d: $[4]: missing required field resourceId",
        "d: $[4]: missing required field team",
        "b: $[1].resourceId: 'nim/other/b' is not org/team/name 'nim/meta/b'",
        "a: $[2].name: duplicate name (first at $[0])",
        "a: $[2].name: not sorted by name: comes after 'b'",
        "e\n: $[5].resourceId: 'nim/meta/e\\n' is not a valid image repository path",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[", "$: not valid JSON: Expecting value"),
        ('{"a": 1}', '$: expected an array, got an object {"a": 1}'),
        ('[{"name": "a", "name": "b"}]', "$: duplicate JSON key 'name'"),
    ],
)
def test_eu_list_not_json_or_not_a_list(text: str, expected: str) -> None:
    assert lines(validate_eu_list_text(text, "eu.json"))[0].startswith(expected)


# --------------------------------------------------------------------------- files


def test_validate_file_dispatches_on_kind(tmp_path: Path) -> None:
    configmap = tmp_path / "nim-models-data.yaml"
    configmap.write_text(render_configmap(real_shaped_entries()), encoding="utf-8")
    assert validate(configmap) == ()
    eu_list = tmp_path / "eu.json"
    eu_list.write_text(eu_text([eu("b"), eu("a")]), encoding="utf-8")
    assert lines(validate(eu_list)) == ["a: $[1].name: not sorted by name: comes after 'b'"]
    no_suffix = tmp_path / "eu-list"
    no_suffix.write_text(eu_list.read_text(encoding="utf-8"), encoding="utf-8")
    assert validate(no_suffix) == validate(eu_list)


def test_validate_missing_or_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"^\S*missing\.yaml: no such file$"):
        validate(tmp_path / "missing.yaml")
    with pytest.raises(InputFileError, match="cannot read"):
        validate(tmp_path)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputFileError, match="not UTF-8"):
        validate(binary)


# --------------------------------------------------------------------------- command


def test_validate_command_ok(run_cli: Callable[..., CliResult], tmp_path: Path) -> None:
    configmap = tmp_path / "nim-models-data.yaml"
    configmap.write_text(render_configmap(real_shaped_entries()), encoding="utf-8")
    eu_list = tmp_path / "eu.json"
    eu_list.write_text(eu_text([eu("a")]), encoding="utf-8")
    result = run_cli("validate", str(configmap), str(eu_list))
    assert result.code == 0, result.err
    assert result.out == ""
    assert result.err.splitlines() == [
        f"{configmap}: OK (4 models)",
        f"{eu_list}: OK (1 restricted models)",
    ]


def test_validate_command_problems(run_cli: Callable[..., CliResult], tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(render_configmap(real_shaped_entries()), encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(configmap_with({BGE: bge(tags="1.5", euRestricted=1)}), encoding="utf-8")
    result = run_cli("validate", str(bad), str(good))
    assert result.code == 1
    assert result.err.splitlines() == [
        f'{bad}: {BGE}: $.tags: expected an array, got a string "1.5"',
        f"{bad}: {BGE}: $.euRestricted: expected a boolean, got an integer 1",
        f"{bad}: 2 problems",
        f"{good}: OK (4 models)",
        f"nim-build: error: 1 of 2 files failed: {bad}",
    ]


def test_validate_command_missing_file(run_cli: Callable[..., CliResult], tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(render_configmap(real_shaped_entries()), encoding="utf-8")
    result = run_cli("validate", str(good), str(tmp_path / "nope.yaml"))
    assert result.code == 1
    assert f"\n{tmp_path / 'nope.yaml'}: no such file\n" in result.err
    assert result.error == f"nim-build: error: 1 of 2 files failed: {tmp_path / 'nope.yaml'}"


def test_validate_command_needs_a_path(run_cli: Callable[..., CliResult]) -> None:
    assert run_cli("validate").code == 2


def test_generated_entries_survive_validation_after_a_change() -> None:
    entries = [replace(entry, eu_restricted=True) for entry in synthetic_entries(50)]
    assert validate_configmap_text(render_configmap(entries), "x.yaml") == ()


# --------------------------------------------------------------------------- YAML 1.1, surrogates


@pytest.mark.parametrize(
    ("key", "kind"), [("yes", "bool"), ("off", "bool"), ("y", "bool"), ("1:20", "int")]
)
def test_configmap_plain_key_misread_by_yaml_1_1_is_refused(key: str, kind: str) -> None:
    text = render_configmap([make_entry("llama")]).replace("  llama: |", f"  {key}: |")
    problems = validate_configmap_text(text, "cm.yaml")
    assert any(
        p.model == key
        and p.path == "$.data"
        and f"YAML 1.1 loaders such as kubectl ({kind})" in p.message
        for p in problems
    ), lines(problems)
    quoted = text.replace(f"  {key}: |", f'  "{key}": |')
    assert not any("YAML 1.1" in p.message for p in validate_configmap_text(quoted, "cm.yaml"))


@pytest.mark.parametrize(
    "name",
    ["yes", "No", "ON", "y", "n", "true", "null", "~", "1e3", "0x1F", "012", "1_000", ".inf",
     "=", "<<", "1:20", "2001-12-14", "-.5", "0o17", ".NaN", "plain-name"],
)  # fmt: skip
def test_every_written_key_survives_yaml_1_1_and_1_2(name: str) -> None:
    import yaml

    text = render_configmap([make_entry(name)])
    yaml_1_1, yaml_1_2 = yaml.safe_load(text)["data"], YAML(typ="safe").load(text)["data"]
    assert list(yaml_1_1) == list(yaml_1_2) == [name]  # PyYAML: YAML 1.1; ruamel: YAML 1.2
    assert yaml_1_1 == yaml_1_2  # values are literal blocks: the same string to both
    assert not any("quote it" in p.message for p in validate_configmap_text(text, "cm.yaml"))


def test_configmap_lone_surrogate_is_a_problem_naming_the_field() -> None:
    text = configmap_with({BGE: json.dumps(bge(displayName="\ud800"), indent=2) + "\n"})
    problems = lines(validate_configmap_text(text, "cm.yaml"))
    assert f"{BGE}: $.displayName: holds a lone surrogate" in " ".join(problems)


def test_validate_command_on_a_lone_surrogate(
    run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    path = tmp_path / "cm.yaml"
    text = render_configmap([make_entry("a", tags=("PLACEHOLDER",))])
    path.write_text(text.replace("PLACEHOLDER", "\\udc80"), encoding="utf-8")
    result = run_cli("validate", str(path))
    assert result.code == 1
    assert f"{path}: a: $.tags[0]: holds a lone surrogate" in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    "text",
    [
        render_configmap([make_entry("a"), make_entry("b")]),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: '1', b: \"x\"}\n",
        "apiVersion: v1\ndata:\n  a: 1\n  b: 'x'\nkind: ConfigMap\n",  # an int value
        "data:\n  true: x\n  'yes': y\n",  # a bool key
        "data:\n  a: !!binary aGk=\n",  # a tagged value
        "data:\n  a: x\n  a: y\nkind: ConfigMap\n",  # a repeated key: the last one
        "data: [a, b]\n",
        "data:\n  a: x\ndata:\n  b: y\n",  # a repeated section
        "data: null\nkind: ConfigMap\n",
        "- data\n",
    ],
)
def test_the_data_shortcut_builds_what_the_constructor_builds(text: str) -> None:
    """A data section of plain strings is read from the nodes, not constructed: the same
    document either way (validate's fast path for large ConfigMaps)."""
    from nim_build.steps.validate.configmap import _compose, _construct

    yaml = YAML(typ="safe")
    yaml.allow_duplicate_keys = True
    root = _compose(text)
    assert root is not None
    assert _construct(root) == yaml.constructor.construct_document(_compose(text))


@pytest.mark.parametrize(
    "value",
    [
        '{"a": 1, "b": ["x"]}',
        '{"a": 1, "a": 2}',  # repeated: reported
        '{"a": {}}',  # nested objects take the general way
        '{"a": {"b": 1, "b": 2}}',
        '{"a": "{"}',
        '  {"a": [1, {"b": 1}]}',
        '[{"a": 1, "a": 2}]',
        "{}",
        '"{"',
    ],
)
def test_decoding_one_flat_object_is_the_general_decoding(value: str) -> None:
    from nim_build.steps.validate.rules import decode_json

    repeated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in items]
        repeated.extend(key for index, key in enumerate(keys) if key in keys[:index])
        return dict(items)

    assert decode_json(value) == (json.loads(value, object_pairs_hook=pairs), repeated)
