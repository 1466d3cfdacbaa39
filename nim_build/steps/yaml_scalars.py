"""Which plain YAML scalars a loader would not read back as the same string; how deep YAML nests.

Kubernetes tools read manifests by YAML 1.1 rules (go-yaml v2; PyYAML too), where `yes`, `no`,
`on`, `off`, `y`, `n`, `012` (octal), `1_000`, `1:20` (base 60), `~` and `=` are not strings;
YAML 1.2 loaders read `1e3`, `0o17` and `.inf` as numbers. A data key that looks like any of
these must be quoted, or models silently merge into one boolean key.
"""

from __future__ import annotations

import re

# A nim-models-data ConfigMap nests 3 deep; anything past this is not one.
MAX_DEPTH = 64

# The YAML 1.1 implicit types (yaml.org/type), as PyYAML's resolver spells them, plus the
# `y`/`n` booleans of the spec that PyYAML leaves out and go-yaml v2 (kubectl) keeps.
_YAML_1_1 = {
    "bool": r"y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF",
    "float": r"""[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
        |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
        |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN)""",
    "int": r"""[-+]?0b[0-1_]+
        |[-+]?0[0-7_]+
        |[-+]?(?:0|[1-9][0-9_]*)
        |[-+]?0x[0-9a-fA-F_]+
        |[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+""",
    "merge": r"<<",
    "null": r"~|null|Null|NULL|",
    "timestamp": r"""[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
        |[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?
         (?:[Tt]|[\ \t]+)[0-9][0-9]?
         :[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?
         (?:[\ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?""",
    "value": r"=",
}
_RESOLVERS = tuple((name, re.compile(pattern, re.X)) for name, pattern in _YAML_1_1.items())
# YAML 1.2 core schema numbers (and go-yaml's floats) that the 1.1 patterns above miss.
_YAML_1_2_NUMBER = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|0o[0-7]+")


def yaml11_type(text: str) -> str | None:
    """The YAML 1.1 type a plain scalar `text` is read as ("bool", "int", ...); None: a string."""
    return next((name for name, pattern in _RESOLVERS if pattern.fullmatch(text)), None)


# Every pattern above in one: a data key is checked once, not ten times (20,000 keys a file).
_ANY_NON_STRING = re.compile(
    "|".join(f"(?:{pattern.pattern})" for _, pattern in _RESOLVERS)
    + f"|(?:{_YAML_1_2_NUMBER.pattern})",
    re.X,
)


def needs_quotes(text: str) -> bool:
    """True when `text` written as a plain scalar would not be read back as that string."""
    return _ANY_NON_STRING.fullmatch(text) is not None


def nested_too_deeply(text: str, limit: int = MAX_DEPTH) -> bool:
    """True when collections in `text` nest more than `limit` deep.

    Load YAML only when this is False: ruamel's C composer recurses without a check (a
    segfault at ~50,000 levels of `[` or `- `) and libyaml slows down quadratically with
    flow depth (minutes for 200 KB). The parser's events come without recursion, and the
    count stops at `limit`. Malformed YAML is False here: the loader reports it.
    """
    from ruamel.yaml import YAML  # on first use: generate renders long after it starts
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent

    depth = 0
    try:
        for event in YAML(typ="safe").parse(text):
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > limit:
                    return True
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except YAMLError:
        return False
    return False
