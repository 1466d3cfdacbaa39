"""Step 2b: fetch each model's metadata and keep the eight contract fields."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from nim_build.models import MetadataResult, ModelEntry, ModelFailure, Resource
from nim_build.ngc.source import NgcSource
from nim_build.steps.eu import UNAVAILABLE_FOR_LEGAL_REASONS
from nim_build.steps.pool import ask_repository, map_bounded
from nim_build.steps.validate.messages import as_json, kind_of


class MalformedAnswer(Exception):
    """The metadata answer lacks a field or has one of the wrong type."""


def _string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        kind = "missing" if value is None else f"{kind_of(value)}, not a string"
        raise MalformedAnswer(f"$.{name} is {kind}")
    return value


def _tags(body: dict[str, Any]) -> tuple[str, ...]:
    tags = body.get("tags")
    if not isinstance(tags, list):
        kind = "missing" if tags is None else f"{kind_of(tags)}, not an array"
        raise MalformedAnswer(f"$.tags is {kind}")
    for index, tag in enumerate(tags):
        if not isinstance(tag, str):
            raise MalformedAnswer(f"$.tags[{index}] is {kind_of(tag)}, not a string")
    return tuple(tags)


def parse_metadata(resource: Resource, body: Any, *, eu_restricted: bool) -> ModelEntry:
    """The contract entry from one metadata answer; MalformedAnswer names the bad field."""
    if not isinstance(body, dict):
        raise MalformedAnswer("answer is not a JSON object")
    entry = ModelEntry(
        name=_string(body, "name"),
        display_name=_string(body, "displayName"),
        short_description=_string(body, "shortDescription"),
        namespace=_string(body, "namespace"),
        tags=_tags(body),
        latest_tag=_string(body, "latestTag"),
        updated_date=_string(body, "updatedDate"),
        eu_restricted=eu_restricted,
    )
    # The image is nvcr.io/{namespace}/{name}: an answer for another repo would ship a wrong one.
    expected_namespace = f"{resource.org}/{resource.team}"
    if entry.name != resource.repo or entry.namespace != expected_namespace:
        answered = as_json(f"{entry.namespace}/{entry.name}")  # quoted, cut: it is API text
        raise MalformedAnswer(f"answer is for {answered}, not {resource.resource_id}")
    return entry


def _fetch_one(
    source: NgcSource, resource: Resource, eu_restricted: Collection[str]
) -> ModelEntry | ModelFailure | Resource:
    """The entry, a failure, or the resource itself when it answered 451."""
    answer = ask_repository(source, resource)
    if isinstance(answer, ModelFailure):
        return answer
    if answer.status == UNAVAILABLE_FOR_LEGAL_REASONS:
        return resource
    if answer.status != 200:
        return ModelFailure(resource.resource_id, f"HTTP {answer.status}")
    try:
        return parse_metadata(
            resource, answer.body, eu_restricted=resource.resource_id in eu_restricted
        )
    except MalformedAnswer as error:
        return ModelFailure(resource.resource_id, f"malformed answer: {error}")


def fetch_metadata(
    source: NgcSource,
    resources: Sequence[Resource],
    *,
    eu_restricted: Collection[str] = frozenset(),
    concurrency: int = 16,
) -> MetadataResult:
    """Metadata of every resource; `eu_restricted` holds resource ids from the EU list."""
    outcomes = map_bounded(
        lambda resource: _fetch_one(source, resource, eu_restricted),
        resources,
        concurrency=concurrency,
        label="fetch metadata",
    )
    return MetadataResult(
        entries=tuple(
            sorted((o for o in outcomes if isinstance(o, ModelEntry)), key=lambda e: e.name)
        ),
        unavailable=tuple(o for o in outcomes if isinstance(o, Resource)),
        failures=tuple(o for o in outcomes if isinstance(o, ModelFailure)),
    )
