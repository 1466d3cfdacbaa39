"""The Markdown report: summary, tables, details, notes; hostile strings; the size limit."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from nim_build.models import ModelEntry
from nim_build.steps.diff import Diff, diff
from nim_build.steps.report import code, escape, render_failure, render_markdown
from tests.entries import make_entry, real_shaped_entries, synthetic_entries, with_changes

HOSTILE = "| @someone <img src=x> `x` **b** ~~s~~ $x$ #12"
LINK = "see [click](http://evil.example/a_b) ![i](https://x.example/p.png) www.evil.example"
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def by_name(entries: list[ModelEntry]) -> dict[str, ModelEntry]:
    return {entry.name: entry for entry in entries}


def tables(report: str) -> list[list[str]]:
    """Each table as its lines (header, delimiter, rows)."""
    found: list[list[str]] = []
    previous = ""
    for line in report.splitlines():
        if line.startswith("|"):
            if not previous.startswith("|"):
                found.append([])
            found[-1].append(line)
        previous = line
    return found


def columns(line: str) -> int:
    return len(_CELL_SPLIT.split(line)) - 2


def assert_well_formed(report: str) -> None:
    for table in tables(report):
        assert len({columns(line) for line in table}) == 1, table
        assert all(line.endswith(" |") or line.endswith("|") for line in table)
    assert report.count("<details>") == report.count("</details>")


def hostile_report() -> str:
    old = by_name(real_shaped_entries())
    new = dict(old)
    new["evil"] = make_entry("evil", display_name=HOSTILE, short_description=LINK)
    new["bge-large-zh-v1-5"] = make_entry(
        "bge-large-zh-v1-5", display_name=f"line one\nline two {HOSTILE}", short_description=LINK
    )
    return render_markdown(diff(old, new), new)


# --------------------------------------------------------------------------- content


def test_summary_counts_and_tables() -> None:
    old = by_name(real_shaped_entries())
    new = dict(old)
    del new["mistral-7b-instruct-v0.3"]
    new["new-model"] = make_entry("new-model", eu_restricted=True)
    new["bge-large-zh-v1-5"] = make_entry(
        "bge-large-zh-v1-5",
        namespace="nim/baai",
        display_name="bge-large-zh-v1-5",
        short_description="NVIDIA NIM for GPU accelerated BAAI/bge-large-zh-v1.5 inference",
        tags=("1.6", "latest", "1.5.0"),
        latest_tag="1.6",
        updated_date="2025-04-14T18:15:01.121Z",
    )
    report = render_markdown(diff(old, new), new, notes=["`x` was **carried over**"])
    assert report.startswith(
        "## NIM model metadata\n\n**1 added, 1 removed, 1 changed** (4 models)"
    )
    assert "| `new-model` | New-Model | `nim/meta` | `latest` | yes |" in report
    assert "| `mistral-7b-instruct-v0.3` |" in report
    assert "| `bge-large-zh-v1-5` | `tags` | +`1.6` \N{MINUS SIGN}`1.5` |" in report
    assert "| `bge-large-zh-v1-5` | `latestTag` | 1\\.5\\.0 → 1\\.6 |" not in report
    assert "| `bge-large-zh-v1-5` | `latestTag` | 1.5.0 → 1.6 |" in report
    assert "- `x` was **carried over**\n" in report  # notes are the caller's Markdown
    assert "<details>" in report
    assert "- Tags after (3): `1.6`, `latest`, `1.5.0`" in report
    assert report.endswith("\n")
    assert not report.endswith("\n\n")
    assert_well_formed(report)


def test_no_changes() -> None:
    entries = by_name(real_shaped_entries())
    report = render_markdown(Diff(), entries, title="Models")
    assert report == "## Models\n\nNo changes (4 models)\n"


def test_tag_order_change_is_said_so() -> None:
    old = by_name([make_entry("a", tags=("1", "latest"))])
    new = by_name([make_entry("a", tags=("latest", "1"))])
    assert "| `a` | `tags` | order changed |" in render_markdown(diff(old, new), new)


def test_eu_flip_shows_no_to_yes() -> None:
    old = by_name([make_entry("a")])
    new = by_name([make_entry("a", eu_restricted=True)])
    assert "| `a` | `euRestricted` | no → yes |" in render_markdown(diff(old, new), new)


# --------------------------------------------------------------------------- hostile input


def test_hostile_strings_keep_the_tables() -> None:
    report = hostile_report()
    assert_well_formed(report)
    (added, changed) = tables(report)
    assert columns(added[0]) == 5
    assert columns(changed[0]) == 3


def test_hostile_strings_render_no_html_mention_or_link() -> None:
    report = hostile_report()
    assert "<img" not in report
    assert "@someone" not in report
    assert "](" not in report
    assert "http://" not in report
    assert "https://" not in report
    assert "www.evil" not in report
    assert "#12" not in report
    assert "line one\nline two" not in report
    assert "&lt;img src=x&gt;" in report
    assert "\\`x\\`" in report
    assert "\\*\\*b\\*\\*" in report


def test_escape_one_line_inert() -> None:
    assert escape("a\r\nb\u2028c\td") == "a b c d"
    assert escape("x\u202eevil\u0000") == "xevil"  # bidi overrides and controls are dropped
    assert escape("a|b") == "a\\|b"
    assert escape("@team/x") == "@\u200dteam/x"
    assert escape("mail me@example.com") == "mail me@\u200dexample.com"
    assert escape("<b>&amp;</b>") == "&lt;b&gt;&amp;amp;&lt;/b&gt;"
    assert escape("x" * 10, limit=5) == "xxxx…"


def test_code_only_for_plain_values() -> None:
    assert code("llama-3.1-8b-instruct") == "`llama-3.1-8b-instruct`"
    assert code("nim/meta") == "`nim/meta`"
    assert code("a`b|c") == "a\\`b\\|c"


# --------------------------------------------------------------------------- size limit


@pytest.mark.parametrize("limit", [65_000, 20_000, 3_000])
def test_truncated_under_the_limit_with_a_note(limit: int) -> None:
    old = synthetic_entries(2_000)
    new = by_name(with_changes(old))
    notes = [f"note {index}" for index in range(3)]
    report = render_markdown(diff(by_name(old), new), new, notes=notes, limit=limit)
    assert len(report) <= limit
    assert_well_formed(report)
    assert "**100 added, 100 removed, 300 changed** (2,000 models)" in report
    assert f"_Left out to keep this report under {limit:,} characters: " in report
    assert "- note 2\n" in report  # notes come first and are short: they stay
    last_row = [line for line in report.splitlines() if line.startswith("|")][-1]
    assert last_row.endswith(" |")


X_DOUBLE_STRUCK = "\N{MATHEMATICAL DOUBLE-STRUCK CAPITAL X}"  # astral, like the emoji


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_github_length_is_the_stricter_of_utf16_units_and_quarter_bytes() -> None:
    from nim_build.steps.report import GITHUB_BODY_LIMIT, github_length

    assert GITHUB_BODY_LIMIT == 65_536
    assert github_length("abc") == 3
    assert github_length("😀" + X_DOUBLE_STRUCK) == 4  # two surrogate pairs; 8 bytes / 4 = 2
    assert github_length("é" * 4) == 4  # 8 bytes / 4 = 2; 4 units


@pytest.mark.parametrize("astral", ["😀", X_DOUBLE_STRUCK, "😀" + X_DOUBLE_STRUCK + "a"])
def test_astral_plane_text_stays_under_githubs_limit(astral: str) -> None:
    old = synthetic_entries(600)
    new = by_name(
        [
            replace(
                entry,
                display_name=astral * 40,
                short_description=astral * 1500,
                tags=(*entry.tags, "2.0.0"),
            )
            for entry in old
        ]
    )
    report = render_markdown(diff(by_name(old), new), new)
    assert _utf16_units(report) <= 65_000  # GitHub's limit is 65,536
    assert len(report.encode("utf-8")) <= 4 * 65_000
    assert "_Left out to keep this report under 65,000 characters: " in report
    assert_well_formed(report)


def test_a_failure_report_of_astral_text_stays_under_githubs_limit() -> None:
    rows = [(f"model-{index}", "😀" * 1500) for index in range(200)]
    report = render_failure("200 models failed.", rows)
    assert _utf16_units(report) <= 65_000
    assert "more rows left out" in report


def test_left_out_note_counts_rows() -> None:
    old = synthetic_entries(400)
    new = by_name(with_changes(old))
    changes = diff(by_name(old), new)
    full = render_markdown(changes, new, limit=10_000_000)
    assert "Left out" not in full
    report = render_markdown(changes, new, limit=len(full) // 2)
    note = report.splitlines()[-1]
    shown = {
        "added": report.count("| yes |") + report.count("| no |"),
        "detail": report.count("** (added)") + report.count("** (changed)"),
    }
    match = re.search(r"(\d+) of 20 added", note)
    if match:
        assert int(match.group(1)) + shown["added"] == 20
    match = re.search(r"([\d,]+) of ([\d,]+) detail", note)
    assert match, note
    assert int(match.group(1)) + shown["detail"] == int(match.group(2))


def test_limit_too_small_for_the_summary() -> None:
    with pytest.raises(ValueError, match="too small"):
        render_markdown(Diff(added=("a",)), {}, limit=100)


def test_gh_references_and_mentions_do_not_link() -> None:
    text = escape("see GH-123, gh-7 and #9 @team but not GHX-1")
    assert "GH-123" not in text
    assert "gh-7" not in text
    assert "#9" not in text
    assert "@team" not in text
    assert "GHX-1" in text
    assert text.replace("\u200d", "") == "see GH-123, gh-7 and #9 @team but not GHX-1"


def test_an_echoed_key_is_redacted_before_escaping() -> None:
    from nim_build.safe_text import register_secret

    key = "nvapi-report_key_with_underscores-123"
    register_secret(key)
    assert escape(f"a {key} b") == "a \\*\\*\\* b"
    assert code(key) == "\\*\\*\\*"
    assert key.removeprefix("nvapi-") not in escape(f"x{key.removeprefix('nvapi-')}y")
