"""Diff: added, removed and changed models, field by field, sorted; the `diff` command."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from nim_build.models import ModelEntry
from nim_build.steps.configmap import render_configmap
from nim_build.steps.diff import Diff, FieldChange, ModelChange, diff
from tests.conftest import CliResult
from tests.entries import make_entry, synthetic_entries, with_changes

Run = Callable[..., CliResult]


def by_name(*entries: ModelEntry) -> dict[str, ModelEntry]:
    return {entry.name: entry for entry in entries}


def test_same_entries_no_difference() -> None:
    entries = by_name(make_entry("a"), make_entry("b"))
    result = diff(entries, dict(entries))
    assert result == Diff()
    assert result.is_empty
    assert result.to_json() == {"added": [], "removed": [], "changed": {}}


def test_added_and_removed_are_sorted_names() -> None:
    old = by_name(make_entry("m"), make_entry("z"), make_entry("b"))
    new = by_name(make_entry("m"), make_entry("c"), make_entry("a"))
    result = diff(old, new)
    assert result.added == ("a", "c")
    assert result.removed == ("b", "z")
    assert result.changed == ()
    assert not result.is_empty


def test_changed_fields_in_contract_order_with_contract_names() -> None:
    old = by_name(make_entry("b"), make_entry("a"))
    new = by_name(
        make_entry("b", latest_tag="1", display_name="B!"),
        make_entry("a", updated_date="2026-03-01T00:00:00.000Z"),
    )
    result = diff(old, new)
    assert result.changed == (
        ModelChange(
            "a",
            (FieldChange("updatedDate", "2026-02-04T19:47:27.380Z", "2026-03-01T00:00:00.000Z"),),
        ),
        ModelChange(
            "b", (FieldChange("displayName", "B", "B!"), FieldChange("latestTag", "latest", "1"))
        ),
    )
    assert result.changed[1].field("latestTag") == FieldChange("latestTag", "latest", "1")
    assert result.changed[1].field("tags") is None


def test_eu_flip_is_a_change() -> None:
    result = diff(by_name(make_entry("a")), by_name(make_entry("a", eu_restricted=True)))
    assert result.changed == (ModelChange("a", (FieldChange("euRestricted", False, True),)),)
    assert result.to_json()["changed"] == {"a": {"euRestricted": {"old": False, "new": True}}}


def test_tags_expose_added_and_removed() -> None:
    old = by_name(make_entry("a", tags=("1.0", "1", "latest")))
    new = by_name(make_entry("a", tags=("1.1", "1", "latest", "1.2")))
    (change,) = diff(old, new).changed[0].fields
    assert change.field == "tags"
    assert change.added_tags == ("1.1", "1.2")
    assert change.removed_tags == ("1.0",)
    assert diff(old, new).to_json()["changed"]["a"]["tags"] == {
        "old": ["1.0", "1", "latest"],
        "new": ["1.1", "1", "latest", "1.2"],
    }


def test_tag_order_alone_is_a_change_of_tags() -> None:
    old = by_name(make_entry("a", tags=("1", "latest")))
    new = by_name(make_entry("a", tags=("latest", "1")))
    (change,) = diff(old, new).changed[0].fields
    assert change == FieldChange("tags", ("1", "latest"), ("latest", "1"))
    assert change.added_tags == change.removed_tags == ()


def test_added_removed_tags_are_empty_for_other_fields() -> None:
    change = FieldChange("latestTag", "1", "2")
    assert change.added_tags == change.removed_tags == ()


def test_changes_are_hashable_values() -> None:
    result = diff(by_name(make_entry("a")), by_name(make_entry("a", tags=("1",))))
    assert hash(result) == hash(
        diff(by_name(make_entry("a")), by_name(make_entry("a", tags=("1",))))
    )


def test_diff_of_thousands() -> None:
    old = synthetic_entries(1000)
    result = diff(by_name(*old), by_name(*with_changes(old)))
    assert len(result.added) == 50
    assert len(result.removed) == 50
    assert len(result.changed) == 150
    assert list(result.added) == sorted(result.added)
    assert [c.name for c in result.changed] == sorted(c.name for c in result.changed)
    json.dumps(result.to_json())  # serialisable as is


# --------------------------------------------------------------------------- command


@pytest.fixture
def configmaps(tmp_path: Path) -> tuple[Path, Path]:
    old = tmp_path / "old.yaml"
    old.write_text(
        render_configmap([make_entry("b"), make_entry("c"), make_entry("x")]), encoding="utf-8"
    )
    new = tmp_path / "new.yaml"
    new.write_text(
        render_configmap(
            [
                make_entry("c", tags=("2", "latest"), eu_restricted=True),
                make_entry("x"),
                make_entry("a", short_description="Ünïcode"),
            ]
        ),
        encoding="utf-8",
    )
    return old, new


def test_diff_command_json(run_cli: Run, configmaps: tuple[Path, Path]) -> None:
    old, new = configmaps
    result = run_cli("diff", str(old), str(new), "--format", "json")
    assert result.code == 0, result.err
    assert json.loads(result.out) == {
        "added": ["a"],
        "removed": ["b"],
        "changed": {
            "c": {
                "tags": {"old": list(make_entry().tags), "new": ["2", "latest"]},
                "euRestricted": {"old": False, "new": True},
            }
        },
    }
    assert result.out.startswith('{\n  "added": [\n    "a"\n  ],')


def test_diff_command_markdown(run_cli: Run, configmaps: tuple[Path, Path]) -> None:
    old, new = configmaps
    result = run_cli("diff", str(old), str(new))
    assert result.code == 0, result.err
    assert "**1 added, 1 removed, 1 changed** (3 models)" in result.out
    assert "Ünïcode" in result.out


def test_diff_command_exit_code(run_cli: Run, configmaps: tuple[Path, Path]) -> None:
    old, new = configmaps
    assert run_cli("diff", str(old), str(new), "--exit-code").code == 1
    same = run_cli("diff", str(new), str(new), "--exit-code", "--format", "json")
    assert same.code == 0
    assert json.loads(same.out) == {"added": [], "removed": [], "changed": {}}
    assert "No changes (3 models)" in run_cli("diff", str(new), str(new)).out


@pytest.mark.parametrize("missing", ["old", "new"])
def test_diff_command_missing_file(
    run_cli: Run, configmaps: tuple[Path, Path], tmp_path: Path, missing: str
) -> None:
    old, new = configmaps
    gone = tmp_path / f"{missing}-gone.yaml"
    args = (gone, new) if missing == "old" else (old, gone)
    result = run_cli("diff", *map(str, args))
    assert result.code == 1
    assert result.error == f"nim-build: error: {gone}: no such file"
    assert result.out == ""


def test_diff_command_broken_configmap(run_cli: Run, configmaps: tuple[Path, Path]) -> None:
    old, new = configmaps
    old.write_text("data: [\n", encoding="utf-8")
    result = run_cli("diff", str(old), str(new))
    assert result.code == 1
    assert result.error.startswith(f"nim-build: error: {old}: not valid YAML")


def test_diff_json_escapes_line_breaking_characters(run_cli: Run, tmp_path: Path) -> None:
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(render_configmap([make_entry("a")]), encoding="utf-8")
    new.write_text(
        render_configmap([make_entry("a", display_name="x\u2028::error::y\x85z")]),
        encoding="utf-8",
    )
    result = run_cli("diff", str(old), str(new), "--format", "json")
    assert result.code == 0, result.err
    assert "\\u2028::error::y\\u0085z" in result.out
    assert all(not line.lstrip().startswith("::") for line in result.out.splitlines())


def test_diff_json_redacts_a_key_in_a_file(run_cli: Run, tmp_path: Path) -> None:
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(render_configmap([make_entry("a")]), encoding="utf-8")
    # A hand-edited file: render_configmap itself would have redacted it.
    text = render_configmap([make_entry("a", display_name="PLACEHOLDER")])
    new.write_text(text.replace("PLACEHOLDER", "key nvapi-abcdefgh12345678 here"), "utf-8")
    for output in ("json", "markdown"):
        result = run_cli("diff", str(old), str(new), "--format", output)
        assert result.code == 0, result.err
        assert "nvapi-abcdefgh12345678" not in result.out
        assert "key nvapi-" in result.out


def test_diff_of_a_lone_surrogate_is_a_one_line_error(run_cli: Run, tmp_path: Path) -> None:
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(render_configmap([]), encoding="utf-8")
    # What an answer with displayName "\ud800" used to leave in the file: a JSON escape.
    text = render_configmap([make_entry("a", display_name="PLACEHOLDER")])
    new.write_text(text.replace("PLACEHOLDER", "\\ud800"), encoding="utf-8")
    result = run_cli("diff", str(old), str(new))
    assert result.code == 1
    assert result.error == (
        f"nim-build: error: {new}: a: $.displayName: holds a lone surrogate "
        "(a \\ud800-\\udfff escape), which UTF-8 cannot encode"
    )
    assert "Traceback" not in result.err
    assert result.out == ""
