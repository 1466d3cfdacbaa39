"""The EU list checks: schema, sorted by name, unique names, resourceId = org/team/name."""

from __future__ import annotations

from typing import Any

from nim_build.reference import RESOURCE_ID
from nim_build.resources import EU_LIST_SCHEMA

from .messages import describe
from .problems import Checked, Problem, json_path, shorten
from .rules import decode_json, plainly_valid_for, schema_problems, validator


def _order_problems(items: list[tuple[int, dict[str, Any]]]) -> list[Problem]:
    """Sorted by name, names unique, resourceId = org/team/name and a valid repository."""
    problems: list[Problem] = []
    first: dict[str, int] = {}
    previous: str | None = None
    unsorted = False
    for index, item in items:
        name = item.get("name")
        if not isinstance(name, str):
            continue
        if name in first:
            problems.append(
                Problem(name, f"$[{index}].name", f"duplicate name (first at $[{first[name]}])")
            )
        first.setdefault(name, index)
        if previous is not None and name < previous and not unsorted:
            unsorted = True  # one problem says it; a reversed list would give one per entry
            problems.append(
                Problem(name, f"$[{index}].name", f"not sorted by name: comes after {previous!r}")
            )
        previous = name
        parts = [
            part for part in (item.get("org"), item.get("team"), name) if isinstance(part, str)
        ]
        resource_id = item.get("resourceId")
        if isinstance(resource_id, str) and len(parts) == 3:
            expected = "/".join(parts)
            if resource_id != expected:
                message = f"{resource_id!r} is not org/team/name {expected!r}"
                problems.append(Problem(name, f"$[{index}].resourceId", shorten(message)))
            elif not RESOURCE_ID.fullmatch(resource_id):
                message = f"{resource_id!r} is not a valid image repository path"
                problems.append(Problem(name, f"$[{index}].resourceId", shorten(message)))
    return problems


def check_eu_list(text: str) -> Checked:
    try:
        document, repeated = decode_json(text)
    except (ValueError, RecursionError) as error:
        return Checked("EU list", 0, (Problem(None, "$", shorten(f"not valid JSON: {error}")),))
    problems = [Problem(None, "$", f"duplicate JSON key {name!r}") for name in repeated]
    if not isinstance(document, list):
        problems += schema_problems(EU_LIST_SCHEMA, document, None)
        return Checked("EU list", 0, tuple(problems))
    items = [(index, item) for index, item in enumerate(document) if isinstance(item, dict)]
    names = {index: item.get("name") for index, item in items}
    plainly_valid = plainly_valid_for(EU_LIST_SCHEMA)
    failures = (
        []
        if plainly_valid and plainly_valid(document)
        else validator(EU_LIST_SCHEMA).iter_errors(document)
    )
    for failure in failures:
        where = failure.absolute_path
        name = names.get(where[0]) if where and isinstance(where[0], int) else None
        model = name if isinstance(name, str) else None
        problems.append(Problem(model, json_path(where), shorten(describe(failure))))
    problems += _order_problems(items)
    return Checked("EU list", len(document), tuple(problems))


def validate_eu_list_text(text: str, source: str) -> tuple[Problem, ...]:
    """Problems of an EU list (`[{name, resourceId, org, team}]`, sorted by name)."""
    del source  # every problem names its entry; kept for symmetry with the ConfigMap check
    return check_eu_list(text).problems
