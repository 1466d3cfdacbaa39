"""Step 1: list the NIM containers from the catalog search, every page."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from nim_build.errors import NimBuildError
from nim_build.models import Catalog, Resource
from nim_build.ngc.source import NgcSource

PAGE_SIZE = 1000
MAX_PAGES = 100  # 100,000 models: far above reality, low enough that a broken answer stops
CONTAINER_GROUP = "CONTAINER"  # the "_scored" group repeats resources and is ignored


class CatalogError(NimBuildError):
    """The catalog answer cannot be used."""


def _field(value: Any, name: str, kind: type, where: str) -> Any:
    if not isinstance(value, dict) or not isinstance(value.get(name), kind):
        raise CatalogError(f"{where}: field '{name}' is missing or not a {kind.__name__}")
    return value[name]


def _attribute(resource: dict[str, Any], key: str) -> str | None:
    for attribute in resource.get("attributes") or ():
        if isinstance(attribute, dict) and attribute.get("key") == key:
            value = attribute.get("value")
            return value if isinstance(value, str) and value else None
    return None


def _resource(raw: Any, where: str) -> Resource:
    resource_id = _field(raw, "resourceId", str, where)
    parts = resource_id.split("/")
    if len(parts) != 3 or not all(parts):
        raise CatalogError(f"{where}: resourceId '{resource_id}' is not org/team/repo")
    org, team, repo = parts
    display_name = raw.get("displayName")
    return Resource(
        resource_id=resource_id,
        org=org,
        team=team,
        repo=repo,
        display_name=display_name if isinstance(display_name, str) else repo,
        latest_tag=_attribute(raw, "latestTag") or "",
    )


def _page_resources(body: Any, page: int) -> Iterable[Any]:
    where = f"catalog page {page}"
    for group in _field(body, "results", list, where):
        if isinstance(group, dict) and group.get("groupValue") == CONTAINER_GROUP:
            yield from _field(group, "resources", list, f"{where}, group {CONTAINER_GROUP}")


def fetch_catalog(
    source: NgcSource, *, page_size: int = PAGE_SIZE, max_pages: int = MAX_PAGES
) -> Catalog:
    """Every pullable NIM container, sorted by resource id.

    Resources without a `latestTag` attribute have no pullable image and are left out
    (listed in `without_latest_tag`), as the reference script does.
    """
    resources: dict[str, Resource] = {}
    page = 0
    while True:
        answer = source.catalog_page(page, page_size)
        where = f"catalog page {page}"
        if answer.status != 200:
            raise CatalogError(f"{where}: HTTP {answer.status}")
        for index, raw in enumerate(_page_resources(answer.body, page)):
            resource = _resource(raw, f"{where}, resource {index}")
            resources.setdefault(resource.resource_id, resource)
        page_total = _field(answer.body, "resultPageTotal", int, where)
        params = answer.body.get("params")
        current = params.get("page", page) if isinstance(params, dict) else page
        if not isinstance(current, int) or current >= page_total - 1:
            break
        page += 1
        if page >= max_pages:
            raise CatalogError(
                f"catalog claims {page_total} pages; stopped at {max_pages} (broken answer?)"
            )
    kept = tuple(sorted(r for r in resources.values() if r.latest_tag))
    dropped = tuple(sorted(r.resource_id for r in resources.values() if not r.latest_tag))
    return Catalog(resources=kept, without_latest_tag=dropped, pages=page + 1)


def ensure_unique_names(resources: Iterable[Resource]) -> None:
    """Two repos with one name in different teams would share one data key: refuse."""
    seen: dict[str, Resource] = {}
    clashes: list[str] = []
    for resource in resources:
        other = seen.setdefault(resource.name, resource)
        if other is not resource:
            clashes.append(f"{other.resource_id} and {resource.resource_id}")
    if clashes:
        raise CatalogError("models would share a ConfigMap key: " + "; ".join(clashes))
