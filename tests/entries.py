"""Model entries for tests and benchmarks: real-shaped, hand-tuned, or synthetic by the thousand."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from nim_build.models import ModelEntry

# Captured NGC answers, copied into the repository (tests/data/PROVENANCE.md).
NGC_DATA = Path(__file__).resolve().parent / "data"

# The tags and date of the captured llama-3.1-8b-instruct answer (model_tags.json), trimmed.
REAL_TAGS = ("1.15.5", "1.15", "1.13.1", "1", "latest", "1.8.0-RTX", "1.3.3", "1.1.0")
REAL_DATE = "2026-02-04T19:47:27.380Z"


def make_entry(name: str = "llama-3.1-8b-instruct", **overrides: Any) -> ModelEntry:
    """A valid entry shaped like the real ones; `overrides` use ModelEntry's field names."""
    entry = ModelEntry(
        name=name,
        display_name=name.title(),
        short_description=f"NVIDIA NIM for GPU accelerated {name} inference",
        namespace="nim/meta",
        tags=REAL_TAGS,
        latest_tag="latest",
        updated_date=REAL_DATE,
        eu_restricted=False,
    )
    return replace(entry, **overrides)


def captured_entry() -> ModelEntry:
    """The entry the captured NGC answer (tests/data/model_tags.json) gives."""
    answer = json.loads((NGC_DATA / "model_tags.json").read_text(encoding="utf-8"))
    return ModelEntry.from_contract({**answer, "euRestricted": False})


def real_shaped_entries() -> list[ModelEntry]:
    """A handful of entries like today's ConfigMap: the captured one and a few variations."""
    return [
        captured_entry(),
        make_entry(
            "bge-large-zh-v1-5",
            display_name="bge-large-zh-v1-5",
            short_description="NVIDIA NIM for GPU accelerated BAAI/bge-large-zh-v1.5 inference",
            namespace="nim/baai",
            tags=("1.5", "latest", "1.5.0"),
            latest_tag="1.5.0",
            updated_date="2025-04-14T18:15:01.121Z",
        ),
        make_entry(
            "llama-3.2-11b-vision-instruct",
            short_description="Modèle multimodal — 画像とテキスト",  # non-ASCII is kept
            eu_restricted=True,
        ),
        make_entry("mistral-7b-instruct-v0.3", namespace="nim/mistralai", tags=("latest",)),
    ]


_NAMESPACES = ("nim/meta", "nim/nvidia", "nim/mistralai", "nim/baai", "nim/deepseek-ai")


def synthetic_entries(count: int) -> list[ModelEntry]:
    """`count` distinct valid entries, sized like real ones (~550 bytes of JSON each)."""
    entries = []
    for index in range(count):
        versions = [f"1.{minor}.{index % 7}" for minor in range(3 + index % 9)]
        entries.append(
            ModelEntry(
                name=f"synthetic-model-{index:05d}-instruct",
                display_name=f"Synthetic Model {index:05d} Instruct",
                short_description=(
                    f"NVIDIA NIM for GPU accelerated Synthetic-Model-{index:05d} inference "
                    "through OpenAI compatible APIs"
                ),
                namespace=_NAMESPACES[index % len(_NAMESPACES)],
                tags=(*versions, "1", "latest"),
                latest_tag="latest",
                updated_date=f"2025-{1 + index % 12:02d}-{1 + index % 28:02d}T18:15:01.121Z",
                eu_restricted=index % 17 == 0,
            )
        )
    return entries


def with_changes(entries: list[ModelEntry], every: int = 20) -> list[ModelEntry]:
    """A later version of `entries`: one in `every` removed, changed or added (~5% at 20)."""
    changed: list[ModelEntry] = []
    for index, entry in enumerate(entries):
        turn = index % every
        if turn == 0:
            continue  # removed
        if turn == 1:
            changed.append(replace(entry, tags=("2.0.0", *entry.tags), latest_tag="2.0.0"))
        elif turn == 2:
            changed.append(replace(entry, eu_restricted=not entry.eu_restricted))
        elif turn == 3:
            description = entry.short_description + " (updated)"
            changed.append(replace(entry, short_description=description))
        else:
            changed.append(entry)
    added = len(entries) // every
    changed += [replace(entry, name=f"{entry.name}-new") for entry in entries[:added]]
    return changed
