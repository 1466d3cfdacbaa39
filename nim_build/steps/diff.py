"""Compare two sets of entries model by model and field by field.

Field names use the contract spelling (`latestTag`), so a diff reads like the ConfigMap it
describes. Everything is sorted, so the same inputs always give the same report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nim_build.models import CONTRACT_FIELDS, ModelEntry


@dataclass(frozen=True)
class FieldChange:
    """One field of one model, before and after; tags are tuples, as in ModelEntry."""

    field: str
    old: Any
    new: Any

    @property
    def added_tags(self) -> tuple[str, ...]:
        """For `tags`: the tags only in `new`, in new order; () for other fields."""
        if self.field != "tags":
            return ()
        return tuple(tag for tag in self.new if tag not in self.old)

    @property
    def removed_tags(self) -> tuple[str, ...]:
        """For `tags`: the tags only in `old`, in old order; () for other fields."""
        if self.field != "tags":
            return ()
        return tuple(tag for tag in self.old if tag not in self.new)

    def to_json(self) -> dict[str, Any]:
        return {"old": _json_value(self.old), "new": _json_value(self.new)}


@dataclass(frozen=True)
class ModelChange:
    """A model in both sets whose fields differ; `fields` in contract order."""

    name: str
    fields: tuple[FieldChange, ...]

    def field(self, name: str) -> FieldChange | None:
        return next((change for change in self.fields if change.field == name), None)


@dataclass(frozen=True)
class Diff:
    """Model names added and removed, and the models changed, each sorted by name."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[ModelChange, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_json(self) -> dict[str, Any]:
        """`{"added": [...], "removed": [...], "changed": {name: {field: {old, new}}}}`."""
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": {
                change.name: {field.field: field.to_json() for field in change.fields}
                for change in self.changed
            },
        }


def _json_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _field_changes(old: ModelEntry, new: ModelEntry) -> tuple[FieldChange, ...]:
    before, after = old.to_contract(), new.to_contract()
    # to_contract gives lists; keep tuples so FieldChange stays hashable like ModelEntry.
    return tuple(
        FieldChange(field, _frozen(before[field]), _frozen(after[field]))
        for field in CONTRACT_FIELDS
        if before[field] != after[field]  # list equality: a new tag order is a change
    )


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def diff(old: Mapping[str, ModelEntry], new: Mapping[str, ModelEntry]) -> Diff:
    """What changes when `old` (by name) is replaced by `new`."""
    changed = []
    for name in sorted(old.keys() & new.keys()):
        if old[name] != new[name]:
            fields = _field_changes(old[name], new[name])
            if fields:
                changed.append(ModelChange(name, fields))
    return Diff(
        added=tuple(sorted(new.keys() - old.keys())),
        removed=tuple(sorted(old.keys() - new.keys())),
        changed=tuple(changed),
    )
