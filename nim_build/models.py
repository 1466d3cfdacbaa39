"""Values passed between pipeline steps: frozen dataclasses, no behaviour beyond conversions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The dashboard reads exactly these fields, in this order (the contract in docs/reference.md).
CONTRACT_FIELDS: tuple[str, ...] = (
    "name",
    "displayName",
    "shortDescription",
    "namespace",
    "tags",
    "latestTag",
    "updatedDate",
    "euRestricted",
)


@dataclass(frozen=True, order=True)
class Resource:
    """One pullable NIM container from the catalog; `resource_id` is `org/team/repo`."""

    resource_id: str
    org: str
    team: str
    repo: str
    display_name: str = ""
    latest_tag: str = ""

    @property
    def name(self) -> str:
        """The data key in the ConfigMap: the bare repo name."""
        return self.repo


@dataclass(frozen=True)
class Catalog:
    """What the catalog search returned, after filtering."""

    resources: tuple[Resource, ...]
    without_latest_tag: tuple[str, ...] = ()
    pages: int = 1


@dataclass(frozen=True)
class ModelEntry:
    """One ConfigMap entry, the eight contract fields."""

    name: str
    display_name: str
    short_description: str
    namespace: str
    tags: tuple[str, ...]
    latest_tag: str
    updated_date: str
    eu_restricted: bool = False

    def to_contract(self) -> dict[str, Any]:
        """The JSON object the dashboard reads, keys in contract order."""
        return {
            "name": self.name,
            "displayName": self.display_name,
            "shortDescription": self.short_description,
            "namespace": self.namespace,
            "tags": list(self.tags),
            "latestTag": self.latest_tag,
            "updatedDate": self.updated_date,
            "euRestricted": self.eu_restricted,
        }

    @classmethod
    def from_contract(cls, value: dict[str, Any]) -> ModelEntry:
        """Inverse of `to_contract`; the caller has validated `value` already."""
        return cls(
            name=value["name"],
            display_name=value["displayName"],
            short_description=value["shortDescription"],
            namespace=value["namespace"],
            tags=tuple(value["tags"]),
            latest_tag=value["latestTag"],
            updated_date=value["updatedDate"],
            eu_restricted=value["euRestricted"],
        )


@dataclass(frozen=True, order=True)
class EuRestriction:
    """One entry of the EU list, in the seed format `{name, resourceId, org, team}`."""

    name: str
    resource_id: str
    org: str
    team: str

    @classmethod
    def of(cls, resource: Resource) -> EuRestriction:
        return cls(resource.name, resource.resource_id, resource.org, resource.team)

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "resourceId": self.resource_id,
            "org": self.org,
            "team": self.team,
        }


@dataclass(frozen=True)
class ModelFailure:
    """A model whose metadata could not be had, with the reason (status or error)."""

    resource_id: str
    reason: str

    def __str__(self) -> str:
        return f"{self.resource_id} ({self.reason})"


@dataclass(frozen=True)
class MetadataResult:
    """Outcome of fetching every model's metadata: entries, 451 answers and failures."""

    entries: tuple[ModelEntry, ...]
    unavailable: tuple[Resource, ...] = ()  # answered 451
    failures: tuple[ModelFailure, ...] = ()


@dataclass(frozen=True)
class EuProbeResult:
    """Outcome of probing every model from the caller's location."""

    accessible: int
    restricted: tuple[EuRestriction, ...]
    failures: tuple[ModelFailure, ...] = ()


@dataclass(frozen=True)
class ConfigMapData:
    """A parsed nim-models-data ConfigMap: entries by data key."""

    entries: dict[str, ModelEntry] = field(default_factory=dict)
