"""Counted nouns for messages: "1 model", "2 models"."""

from __future__ import annotations


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`count` and the noun in the right number, with thousands separators."""
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"
