"""Step 2a: probe every model from the caller's location; HTTP 451 means EU-restricted."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from nim_build.errors import InputFileError
from nim_build.inputs import json_document, read_text
from nim_build.models import EuProbeResult, EuRestriction, ModelFailure, Resource
from nim_build.ngc.source import NgcSource
from nim_build.steps.pool import ask_repository, map_bounded

UNAVAILABLE_FOR_LEGAL_REASONS = 451


def _probe(source: NgcSource, resource: Resource) -> EuRestriction | ModelFailure | None:
    answer = ask_repository(source, resource)
    if isinstance(answer, ModelFailure):
        return answer
    if answer.status == UNAVAILABLE_FOR_LEGAL_REASONS:
        return EuRestriction.of(resource)
    if answer.status == 200:
        return None
    return ModelFailure(resource.resource_id, f"HTTP {answer.status}")


def probe_eu(
    source: NgcSource, resources: Sequence[Resource], *, concurrency: int = 16
) -> EuProbeResult:
    """Which models answer 451 from here; failures are returned, never dropped."""
    outcomes = map_bounded(
        lambda resource: _probe(source, resource),
        resources,
        concurrency=concurrency,
        label="probe EU",
    )
    restricted = sorted(o for o in outcomes if isinstance(o, EuRestriction))
    failures = tuple(o for o in outcomes if isinstance(o, ModelFailure))
    accessible = sum(1 for o in outcomes if o is None)
    return EuProbeResult(accessible=accessible, restricted=tuple(restricted), failures=failures)


def render_eu_list(restricted: Sequence[EuRestriction]) -> str:
    """The seed format: a JSON array of {name, resourceId, org, team}, sorted by name."""
    items = [r.to_json() for r in sorted(restricted)]
    return json.dumps(items, indent=2, ensure_ascii=False) + "\n"


def read_eu_list(path: Path) -> tuple[EuRestriction, ...]:
    """Parse an EU list file; raises InputFileError naming the file and entry."""
    return parse_eu_list(read_text(path), str(path))


def parse_eu_list(text: str, source: str) -> tuple[EuRestriction, ...]:
    """`read_eu_list` for text already read from `source` (which errors name)."""
    document = json_document(text, source)
    if not isinstance(document, list):
        raise InputFileError(f"{source}: EU list is not a JSON array")
    restrictions = []
    for index, item in enumerate(document):
        fields = ("name", "resourceId", "org", "team")
        if not isinstance(item, dict) or not all(isinstance(item.get(f), str) for f in fields):
            raise InputFileError(
                f"{source}: $[{index}] needs string fields name, resourceId, org, team"
            )
        restrictions.append(
            EuRestriction(item["name"], item["resourceId"], item["org"], item["team"])
        )
    return tuple(restrictions)
