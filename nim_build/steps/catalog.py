"""Step 1: list the NIM containers from the catalog search, every page."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from nim_build.errors import NimBuildError, itemize
from nim_build.models import Catalog, Resource
from nim_build.ngc.source import NgcSource
from nim_build.reference import RESOURCE_ID
from nim_build.safe_text import clip
from nim_build.steps.validate.messages import as_json, kind_of
from nim_build.wording import plural

PAGE_SIZE = 1000
MAX_PAGES = 100  # 100,000 models: far above reality, low enough that a broken answer stops
MAX_RESULTS = MAX_PAGES * PAGE_SIZE
PAGES_AT_ONCE = 4  # pages 1.. are read together: NGC answers each in ~1 s at 1000 models
CONTAINER_GROUP = "CONTAINER"  # the "_scored" group repeats resources and is ignored


class CatalogError(NimBuildError):
    """The catalog answer cannot be used."""


def _field(value: Any, name: str, kind: type, where: str) -> Any:
    if not isinstance(value, dict) or not isinstance(value.get(name), kind):
        # In JSON's words ("an array"), not Python's ("a list").
        raise CatalogError(f"{where}: field '{name}' is missing or not {kind_of(kind())}")
    return value[name]


def _count(body: Any, name: str, where: str) -> int:
    """A count field: an integer (not a boolean) from 0 to MAX_RESULTS."""
    value = _field(body, name, int, where)
    if isinstance(value, bool) or not 0 <= value <= MAX_RESULTS:
        raise CatalogError(f"{where}: field '{name}' is {as_json(value)}, not a count")
    return int(value)


def _attribute(resource: dict[str, Any], key: str) -> str | None:
    for attribute in resource.get("attributes") or ():
        if isinstance(attribute, dict) and attribute.get("key") == key:
            value = attribute.get("value")
            return value if isinstance(value, str) and value else None
    return None


def _resource(raw: Any, where: str) -> Resource:
    resource_id = _field(raw, "resourceId", str, where)
    # Each part goes into a request path and an image name: lowercase OCI path components only.
    if not RESOURCE_ID.fullmatch(resource_id):
        raise CatalogError(
            f"{where}: resourceId {clip(resource_id, 200)!r} is not org/team/repo "
            "(lowercase letters, digits and . _ - separators)"
        )
    org, team, repo = resource_id.split("/")
    display_name = raw.get("displayName")
    return Resource(
        resource_id=resource_id,
        org=org,
        team=team,
        repo=repo,
        display_name=display_name if isinstance(display_name, str) else repo,
        latest_tag=_attribute(raw, "latestTag") or "",
    )


def _page_resources(body: Any, where: str) -> list[Resource]:
    resources: list[Resource] = []
    for group in _field(body, "results", list, where):
        if isinstance(group, dict) and group.get("groupValue") == CONTAINER_GROUP:
            raws = _field(group, "resources", list, f"{where}, group {CONTAINER_GROUP}")
            resources += (_resource(raw, f"{where}, resource {i}") for i, raw in enumerate(raws))
    return resources


@dataclass(frozen=True)
class _Page:
    """One catalog page, checked: its counts and its CONTAINER resources."""

    result_total: int
    page_total: int
    resources: list[Resource]


def _read_page(source: NgcSource, page: int, page_size: int) -> _Page:
    where = f"catalog page {page}"
    answer = source.catalog_page(page, page_size)
    if answer.status != 200:
        raise CatalogError(f"{where}: HTTP {answer.status}")
    params = answer.body.get("params") if isinstance(answer.body, dict) else None
    answered = params.get("page", page) if isinstance(params, dict) else page
    if answered != page:
        raise CatalogError(f"{where}: the answer is for page {as_json(answered)}")
    return _Page(
        result_total=_count(answer.body, "resultTotal", where),
        page_total=_count(answer.body, "resultPageTotal", where),
        resources=_page_resources(answer.body, where),
    )


def _expected_pages(first: _Page, max_pages: int) -> int:
    """Pages to read, from page 0's counts; counts that cannot be true are an error."""
    total, pages, on_first = first.result_total, first.page_total, len(first.resources)
    if total == 0:
        if pages > 1 or on_first:
            raise CatalogError(f"catalog: resultTotal is 0 but resultPageTotal is {pages}")
        return 1
    if pages == 0 or on_first == 0:
        raise CatalogError(
            f"catalog: resultTotal is {total} but page 0 holds {plural(on_first, 'model')} "
            f"and resultPageTotal is {pages}"
        )
    # Page 0 shows the page size the server uses; a lying page count cannot make us page on.
    needed = math.ceil(total / on_first)
    if pages > min(needed + 1, max_pages):
        raise CatalogError(
            f"catalog: resultPageTotal {pages} does not fit resultTotal {total} at "
            f"{on_first} per page (at most {min(needed + 1, max_pages)} pages)"
        )
    return pages


def _pullable(page: _Page) -> list[Resource]:
    return [resource for resource in page.resources if resource.latest_tag]


def _read_pages(
    source: NgcSource, first: _Page, count: int, page_size: int, on_page: OnPage
) -> list[_Page]:
    """Pages 1 to count-1, read together; each handed to `on_page` as it arrives."""
    if count <= 1:
        return [first]
    with ThreadPoolExecutor(min(count - 1, PAGES_AT_ONCE), thread_name_prefix="catalog") as pool:
        futures = {
            pool.submit(_read_page, source, page, page_size): page for page in range(1, count)
        }
        try:
            for future in as_completed(futures):
                on_page(_pullable(future.result()))
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        return [first, *(future.result() for future in futures)]


# Called with each page's pullable resources as soon as the page is read (page 0 first).
OnPage = Callable[[Sequence[Resource]], None]


def fetch_catalog(
    source: NgcSource,
    *,
    page_size: int = PAGE_SIZE,
    max_pages: int = MAX_PAGES,
    on_page: OnPage | None = None,
) -> Catalog:
    """Every pullable NIM container, sorted by resource id.

    Resources without a `latestTag` attribute have no pullable image and are left out
    (listed in `without_latest_tag`), as the reference script does. A catalog that is short
    of its `resultTotal`, repeats a page or stops early is an error, never a smaller list.
    Page 0 tells how many pages there are; the others are then read together. `on_page`
    sees each page's pullable resources as it arrives (to start their metadata requests):
    the catalog is checked whole only at the end, so it may see resources that an error
    then throws away.
    """
    report = on_page or (lambda resources: None)
    first = _read_page(source, 0, page_size)
    report(_pullable(first))
    pages = _read_pages(source, first, _expected_pages(first, max_pages), page_size, report)
    for page, current in enumerate(pages[1:], start=1):
        where = f"catalog page {page}"
        if current.result_total != first.result_total:
            raise CatalogError(
                f"{where}: resultTotal changed from {first.result_total} to "
                f"{current.result_total} while paging (the catalog changed; run again)"
            )
        if not current.resources:
            raise CatalogError(f"{where} of {first.page_total} is empty: the catalog stops early")
        ids = {r.resource_id for r in current.resources}
        for earlier, previous in enumerate(pages):
            if earlier < page and ids == {r.resource_id for r in previous.resources}:
                raise CatalogError(f"{where} repeats page {earlier}")
    resources: dict[str, Resource] = {}
    for page_read in pages:
        for resource in page_read.resources:
            resources.setdefault(resource.resource_id, resource)
    # resultTotal counts every CONTAINER resource, with or without a latestTag.
    if len(resources) != first.result_total:
        raise CatalogError(
            f"catalog: collected {len(resources)} of {first.result_total} models (resultTotal)"
        )
    kept = tuple(sorted(r for r in resources.values() if r.latest_tag))
    dropped = tuple(sorted(r.resource_id for r in resources.values() if not r.latest_tag))
    return Catalog(resources=kept, without_latest_tag=dropped, pages=len(pages))


def ensure_unique_names(resources: Iterable[Resource]) -> None:
    """Two repos with one name in different teams would share one data key: refuse."""
    seen: dict[str, Resource] = {}
    clashes: list[str] = []
    for resource in resources:
        other = seen.setdefault(resource.name, resource)
        if other is not resource:
            clashes.append(f"{other.resource_id} and {resource.resource_id}")
    if clashes:
        listed, details = itemize(clashes, "; ")
        raise CatalogError(f"models would share a ConfigMap key: {listed}", details)
