"""Every relative link and #anchor of README.md and docs/*.md resolves (GitHub's anchor rules)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.conftest import ROOT
from tests.doc_pages import anchors, links, page_id, pages, slug


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """`LINE: TARGET (why)` for every relative link of `page` that does not resolve in `root`."""
    broken = []
    for line, target in links(page):
        parts = urlsplit(target)
        if parts.scheme or parts.netloc:
            continue  # an absolute URL: not checked (the tests never reach the network)
        path = (page.parent / unquote(parts.path)).resolve() if parts.path else page
        if not path.exists():
            broken.append(f"{line}: {target} (no such file)")
        elif not path.is_relative_to(root):
            broken.append(f"{line}: {target} (outside the repository)")
        elif parts.fragment and path.suffix == ".md" and parts.fragment not in anchors(path):
            broken.append(
                f"{line}: {target} (no such heading in {path.relative_to(root).as_posix()})"
            )
    return broken


@pytest.mark.parametrize("page", pages(), ids=page_id)
def test_every_link_resolves(page: Path) -> None:
    assert broken_links(page) == []


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("The Tekton Task", "the-tekton-task"),
        ("Options of `detect-eu`, `generate` and `run`", "options-of-detect-eu-generate-and-run"),
        ("### The Task's image", "-the-tasks-image"),
        ("1. List the images to mirror", "1-list-the-images-to-mirror"),
        ("Compared with `nim_metadata.sh`", "compared-with-nim_metadatash"),
        ("[Linked](x.md) title", "linked-title"),
    ],
)
def test_anchors_follow_github(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_repeated_headings_are_numbered(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# A\n## Notes\n```sh\n## Notes\n```\n## Notes\n### Notes!\n")
    assert anchors(page) == {"a", "notes", "notes-1", "notes-2"}


def test_a_broken_link_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "repository"
    page = root / "docs" / "page.md"
    page.parent.mkdir(parents=True)
    (root / "README.md").write_text("# Top\n")
    (tmp_path / "x.md").touch()
    page.write_text(
        "# Probe\n[ok](#probe) [bad](#nope) `[code](nowhere.md)`\n[gone](nowhere.md)\n"
        "[up](../README.md#top) [out](../../x.md)\n"
    )
    assert broken_links(page, root) == [
        "2: #nope (no such heading in docs/page.md)",
        "3: nowhere.md (no such file)",
        "4: ../../x.md (outside the repository)",
    ]
