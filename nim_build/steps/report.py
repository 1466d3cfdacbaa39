"""The Markdown change report: a pull request body and a job summary.

Every string that came from the NGC API is untrusted. It is escaped so that it cannot break a
table, render HTML, images or links, or notify anyone (@mentions, #123 and GH-123 references),
and the API key is redacted from it. The report
stays under `limit` characters as GitHub counts them (see `github_length`) by leaving out whole
rows, and says how many it left out.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nim_build.models import ModelEntry
from nim_build.safe_text import redact
from nim_build.steps.diff import Diff, FieldChange, ModelChange

_JOINER = "\u200d"  # zero-width joiner: invisible, but breaks @mention / autolink matching
_MINUS = "\N{MINUS SIGN}"  # marks a removed tag; "+" marks an added one
_PUNCTUATION = re.compile(r"([\\`*_\[\]()|~$])")  # Markdown syntax; `<>&` become entities
_MENTION = re.compile(r"@(?=\w)")
_REFERENCE = re.compile(r"#(?=\d)")
_GH_REFERENCE = re.compile(r"(?i)\b(gh)(?=-\d)")  # GH-123 links like #123
_SCHEME = re.compile(r":(?=//)")
_WWW = re.compile(r"(?i)\b(www)(?=\.)")
_CODE_SAFE = re.compile(r"[A-Za-z0-9._/:+-]{1,200}")  # nothing Markdown could act on
_CELL = 80  # characters of a string shown in a table cell; details hold the rest
_DETAIL = 2000
_TAGS_IN_CELL = 10
_NOTE_RESERVE = 400  # room kept for the "rows left out" note
GITHUB_BODY_LIMIT = 65_536  # characters in a pull request body or comment
DEFAULT_LIMIT = 65_000  # leaves room under GITHUB_BODY_LIMIT for what a workflow appends
TITLE = "NIM model metadata"  # the first line, "## NIM model metadata", marks a report


def github_length(text: str) -> int:
    """`text`'s size against GitHub's body limit: the stricter of UTF-16 code units (an emoji
    or U+1D54F counts 2) and UTF-8 bytes / 4 (the body is stored in 4 x limit bytes)."""
    units = len(text.encode("utf-16-le", "surrogatepass")) // 2
    quarter_bytes = -(-len(text.encode("utf-8", "surrogatepass")) // 4)
    return max(units, quarter_bytes)


def escape(value: Any, limit: int | None = None) -> str:
    """Untrusted text as inert Markdown on one line, cut to `limit` characters (plus "…")."""
    text = " ".join(redact(str(value)).split())  # every kind of newline and tab becomes one space
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    text = html.escape(text, quote=False)
    text = _PUNCTUATION.sub(r"\\\1", text)
    text = _MENTION.sub("@" + _JOINER, text)
    text = _REFERENCE.sub("#" + _JOINER, text)
    text = _GH_REFERENCE.sub(r"\1" + _JOINER, text)
    text = _SCHEME.sub(":" + _JOINER, text)
    return _WWW.sub(r"\1" + _JOINER, text)


def code(value: Any) -> str:
    """A code span when `value` is plainly safe (names, tags), else escaped text."""
    text = redact(str(value))
    return f"`{text}`" if _CODE_SAFE.fullmatch(text) else escape(text, _CELL)


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |\n"


def _table_head(*columns: str) -> str:
    return _row(*columns) + "|" + "---|" * len(columns) + "\n"


def _yes_no(value: Any) -> str:
    return ("yes" if value else "no") if isinstance(value, bool) else escape(value, _CELL)


def _short(value: Any) -> str:
    if isinstance(value, bool):
        return _yes_no(value)
    if value == "":
        return "(empty)"
    return escape(value, _CELL)


def _tag_list(tags: Sequence[str], most: int | None = None) -> str:
    shown = list(tags if most is None else tags[:most])
    text = ", ".join(code(tag) for tag in shown) or "(none)"
    if len(tags) > len(shown):
        text += f" and {len(tags) - len(shown)} more"
    return text


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class _Section:
    """A heading (or opening tag), rows that may be left out one by one, and a closing part."""

    label: str  # names the rows in the "left out" note
    head: str
    rows: tuple[str, ...]
    tail: str = "\n"


def _added(diff: Diff, new: Mapping[str, ModelEntry]) -> _Section:
    rows = []
    for name in diff.added:
        entry = new.get(name)
        if entry is None:
            rows.append(_row(code(name), "", "", "", ""))
            continue
        rows.append(
            _row(
                code(name),
                escape(entry.display_name, _CELL),
                code(entry.namespace),
                code(entry.latest_tag),
                _yes_no(entry.eu_restricted),
            )
        )
    head = f"### Added ({len(diff.added)})\n\n" + _table_head(
        "Model", "Display name", "Namespace", "Latest tag", "EU restricted"
    )
    return _Section("added", head, tuple(rows))


def _removed(diff: Diff) -> _Section:
    head = f"### Removed ({len(diff.removed)})\n\n" + _table_head("Model")
    return _Section("removed", head, tuple(_row(code(name)) for name in diff.removed))


def _change_cell(change: FieldChange) -> str:
    if change.field == "tags":
        added, removed = change.added_tags, change.removed_tags
        parts = [f"+{code(tag)}" for tag in added] + [f"{_MINUS}{code(tag)}" for tag in removed]
        if not parts:
            return "order changed"
        shown = " ".join(parts[:_TAGS_IN_CELL])
        more = len(parts) - _TAGS_IN_CELL
        return shown + (f" and {more} more" if more > 0 else "")
    return f"{_short(change.old)} → {_short(change.new)}"


def _changed(diff: Diff) -> _Section:
    rows = tuple(
        _row(code(model.name), code(change.field), _change_cell(change))
        for model in diff.changed
        for change in model.fields
    )
    head = f"### Changed ({len(diff.changed)})\n\n" + _table_head("Model", "Field", "Change")
    return _Section("changed", head, rows)


_DETAIL_FIELDS = {"displayName": "Display name", "shortDescription": "Description"}


def _changed_detail(model: ModelChange) -> str | None:
    lines = []
    for change in model.fields:
        if change.field == "tags":
            lines.append(f"- Tags before ({len(change.old)}): {_tag_list(change.old)}\n")
            lines.append(f"- Tags after ({len(change.new)}): {_tag_list(change.new)}\n")
        elif change.field in _DETAIL_FIELDS:
            label = _DETAIL_FIELDS[change.field]
            lines.append(f"- {label} before: {escape(change.old, _DETAIL)}\n")
            lines.append(f"- {label} after: {escape(change.new, _DETAIL)}\n")
    if not lines:
        return None
    return f"**{code(model.name)}** (changed)\n\n" + "".join(lines) + "\n"


def _added_detail(entry: ModelEntry) -> str:
    return (
        f"**{code(entry.name)}** (added)\n\n"
        f"- Description: {escape(entry.short_description, _DETAIL)}\n"
        f"- Tags ({len(entry.tags)}): {_tag_list(entry.tags)}\n\n"
    )


def _details(diff: Diff, new: Mapping[str, ModelEntry]) -> _Section:
    blocks = [_added_detail(new[name]) for name in diff.added if name in new]
    blocks += [block for block in map(_changed_detail, diff.changed) if block]
    head = "<details>\n<summary>Full tag lists and descriptions</summary>\n\n"
    return _Section("detail", head, tuple(blocks), tail="</details>\n\n")


def _notes(notes: Sequence[str]) -> _Section:
    # Notes are the caller's own Markdown; kept to one line each so the list holds.
    rows = tuple(f"- {' '.join(note.split())}\n" for note in notes)
    return _Section("note", "### Notes\n\n", rows)


# --------------------------------------------------------------------------- assembly


def _summary(diff: Diff, models: int) -> str:
    count = f"({models:,} model{'' if models == 1 else 's'})"
    if diff.is_empty:
        return f"No changes {count}\n\n"
    counts = f"{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.changed)} changed"
    return f"**{counts}** {count}\n\n"


def _left_out_note(left_out: Mapping[str, tuple[int, int]], limit: int) -> str:
    parts = ", ".join(f"{out:,} of {total:,} {label}" for label, (out, total) in left_out.items())
    return (
        f"_Left out to keep this report under {limit:,} characters: {parts} rows. "
        "`nim-build diff --format json` lists everything._\n"
    )


def render_markdown(
    diff: Diff,
    new: Mapping[str, ModelEntry],
    *,
    title: str = TITLE,
    notes: Sequence[str] = (),
    limit: int = DEFAULT_LIMIT,
) -> str:
    """The report: summary, notes, tables of added/removed/changed, details; <= `limit` chars
    as `github_length` counts them.

    `notes` are trusted Markdown (escape API strings in them with `escape` or `code`).
    """
    start = f"## {escape(title)}\n\n" + _summary(diff, len(new))
    sections = [_notes(notes), _added(diff, new), _removed(diff), _changed(diff)]
    sections.append(_details(diff, new))
    worst_note = _left_out_note({s.label: (len(s.rows), len(s.rows)) for s in sections}, limit)
    budget = limit - max(github_length(worst_note), _NOTE_RESERVE)
    if github_length(start) > budget:
        raise ValueError(f"a report limit of {limit} characters is too small")
    # Sizes add up piece by piece: a sum of each piece's stricter measure is never too small.
    parts, used = [start], github_length(start)
    left_out: dict[str, tuple[int, int]] = {}
    for section in sections:
        size = github_length(section.head) + github_length(section.tail)
        kept: list[str] = []
        for row in section.rows:
            row_size = github_length(row)
            if used + size + row_size > budget:
                break  # a table keeps its order: rows after a left-out one go too
            kept.append(row)
            size += row_size
        if len(kept) < len(section.rows):
            left_out[section.label] = (len(section.rows) - len(kept), len(section.rows))
        if kept:
            parts += [section.head, *kept, section.tail]
            used += size
    if left_out:
        parts.append(_left_out_note(left_out, limit))
    return "".join(parts).rstrip("\n") + "\n"


def render_failure(
    headline: str,
    rows: Sequence[tuple[str, str]] = (),
    *,
    columns: tuple[str, str] = ("Model", "Reason"),
    notes: Sequence[str] = (),
    title: str = TITLE,
    limit: int = DEFAULT_LIMIT,
) -> str:
    """The report of a run that wrote nothing: why, and the items behind it, under `limit`.

    `headline` and `notes` are trusted Markdown; `rows` (model names, API reasons) are escaped.
    """
    start = f"## {escape(title)}\n\n**Not written:** {' '.join(headline.split())}\n\n"
    parts = [start]
    if notes:
        section = _notes(notes)
        parts += [section.head, *section.rows, section.tail]
    if rows:
        parts.append(_table_head(*columns))
    used = sum(map(github_length, parts))
    shown = 0
    for first, second in rows:
        row = _row(code(first), escape(second, _DETAIL))
        if used + github_length(row) > limit - _NOTE_RESERVE:
            break
        parts.append(row)
        used += github_length(row)
        shown += 1
    if shown < len(rows):
        parts.append(f"\n_{len(rows) - shown:,} more rows left out to keep this report short._\n")
    return "".join(parts).rstrip("\n") + "\n"
