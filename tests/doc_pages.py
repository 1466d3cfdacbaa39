"""The documentation pages as the docs tests read them: fenced blocks, headings, links.

The pages are README.md and docs/*.md (not subfolders: docs/incoming/ holds drafts). Parsing
follows GitHub's rendering where it matters: fences may be indented (inside a list), a heading's
anchor is its text slugged the way GitHub does it, and links inside code are not links.
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)[^`]*$")
_SKIP = re.compile(r"^\s*<!--\s*skip:\s*(?P<reason>needs\b.*?)\s*-->\s*$")
_HEADING = re.compile(r"^ {0,3}(?P<hashes>#{1,6})\s+(?P<text>.*?)\s*#*\s*$")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_LINK = re.compile(r"!?\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")


def pages() -> list[Path]:
    """README.md and docs/*.md, in a stable order."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def example_pages() -> list[Path]:
    """The pages whose examples run: `pages()`, or the glob in $NIM_BUILD_DOC_PAGES.

    The variable (e.g. `docs/incoming/*.md`) runs the examples of drafts before they are folded
    into a page.
    """
    chosen = os.environ.get("NIM_BUILD_DOC_PAGES")
    return sorted(ROOT.glob(chosen)) if chosen else pages()


def page_id(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@dataclass(frozen=True)
class Block:
    """A fenced code block: where it starts, its language, its text, and a skip reason if any."""

    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    skip: str | None

    @property
    def id(self) -> str:
        return f"{page_id(self.page)}:{self.line}"


def _split(path: Path) -> Iterator[tuple[int, str, Block | None]]:
    """Each line outside fences as (number, line, None); each fenced block once, as a Block."""
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            yield index + 1, lines[index], None
            index += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        body: list[str] = []
        end = index + 1
        while end < len(lines) and not re.match(rf"^ *{fence[0]}{{{len(fence)},}}\s*$", lines[end]):
            body.append(lines[end][indent:] if lines[end][:indent].isspace() else lines[end])
            end += 1
        previous = next((line for line in reversed(lines[:index]) if line.strip()), "")
        skip = _SKIP.match(previous)
        text = "\n".join(body) + "\n" if body else ""
        yield index + 1, "", Block(path, index + 1, opening["lang"], text, skip and skip["reason"])
        index = end + 1


def blocks(path: Path) -> list[Block]:
    return [block for _, _, block in _split(path) if block is not None]


def prose(path: Path) -> Iterator[tuple[int, str]]:
    """The lines outside fenced blocks, with inline code spans removed, numbered from 1."""
    for number, line, block in _split(path):
        if block is None:
            yield number, _CODE_SPAN.sub("", line)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text lowercased, punctuation dropped, spaces → -."""
    text = _LINK.sub(lambda link: link["text"], heading)
    text = re.sub(r"<[^>]+>", "", text).lower()
    kept = "".join(ch for ch in text if ch.isalnum() or ch in "-_ ")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a page; a repeated slug gets -1, -2, … as on GitHub."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for _, line in _raw_prose(path):
        heading = _HEADING.match(line)
        if heading is None:
            continue
        base = slug(heading["text"])
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def _raw_prose(path: Path) -> Iterator[tuple[int, str]]:
    for number, line, block in _split(path):
        if block is None:
            yield number, line


def links(path: Path) -> Iterator[tuple[int, str]]:
    """(line, target) of every Markdown link or image outside code; link text may wrap lines."""
    numbered = list(prose(path))
    text = "\n".join(line for _, line in numbered)
    starts = [0]
    for _, line in numbered:
        starts.append(starts[-1] + len(line) + 1)
    for link in _LINK.finditer(text):
        row = bisect.bisect_right(starts, link.start()) - 1
        yield numbered[row][0], link["target"]


def section(path: Path, heading: str) -> str:
    """From the line `heading` to the next heading of its level or higher (code is skipped)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(n for n, line in enumerate(lines) if line.rstrip("\n") == heading)
    level = len(heading) - len(heading.lstrip("#"))
    fence: str | None = None
    for end in range(start + 1, len(lines)):
        opening = _FENCE.match(lines[end].rstrip("\n"))
        if fence is None and opening:
            fence = opening["fence"]
        elif fence is not None and lines[end].strip().startswith(fence):
            fence = None
        elif fence is None and (found := _HEADING.match(lines[end])) and len(found[1]) <= level:
            return "".join(lines[start:end])
    return "".join(lines[start:])
