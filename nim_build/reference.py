"""The OCI reference grammar and host-name limits: shared by the validator and the clients.

A base module (it imports nothing of nim-build), so the registry client need not reach into a
step, nor the validator into a client, for the same expressions.
"""

from __future__ import annotations

import re

# The OCI distribution reference grammar (github.com/distribution/reference, regexp.go).
_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
PATH_COMPONENT = rf"{_ALPHANUMERIC}(?:{_SEPARATOR}{_ALPHANUMERIC})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
DOMAIN = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?"
TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
IMAGE_NAME_MAX = 255  # NameTotalLengthMax: domain and path together
IMAGE_NAME = re.compile(rf"(?:{DOMAIN}/)?{PATH_COMPONENT}(?:/{PATH_COMPONENT})*", re.ASCII)
IMAGE_REFERENCE = re.compile(rf"{IMAGE_NAME.pattern}(?::{TAG})?", re.ASCII)
COMPONENT = re.compile(PATH_COMPONENT, re.ASCII)
NAMESPACE = re.compile(rf"{PATH_COMPONENT}/{PATH_COMPONENT}", re.ASCII)
RESOURCE_ID = re.compile(rf"{PATH_COMPONENT}/{PATH_COMPONENT}/{PATH_COMPONENT}", re.ASCII)

# DNS limits (RFC 1035 2.3.4): what the resolver's IDNA step refuses with a traceback-prone
# UnicodeError, said first in words.
LABEL_MAX = 63
HOST_NAME_MAX = 253


def host_name_problem(name: str) -> str | None:
    """Why `name` (no port, no brackets) cannot be a DNS host name, or None when it can."""
    labels = name.removesuffix(".").split(".")
    if "" in labels:
        return "has an empty label (two dots in a row, or a leading dot)"
    long = next((label for label in labels if len(label) > LABEL_MAX), None)
    if long is not None:
        return f"has a label of {len(long)} characters (at most {LABEL_MAX})"
    if len(name) > HOST_NAME_MAX:
        return f"is {len(name)} characters long (at most {HOST_NAME_MAX})"
    try:
        name.encode("idna")
    except UnicodeError:
        return "is not a valid international domain name"
    return None
