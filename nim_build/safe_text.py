"""Text that leaves the process: the API key redacted, control characters made visible.

Every outlet (log lines, error messages, annotations, reports, snapshots) goes through here, so
a hostile or broken NGC answer can neither leak the key nor start a line of its own in a CI log,
where `::add-mask::`, `::error::` or `::stop-commands::` at the start of a line is a command.
"""

from __future__ import annotations

import json
import re
import threading

TYPE_CHECKING = False  # typing is not imported at start-up (`nim-build --version`)
if TYPE_CHECKING:
    from typing import Any

KEY_PREFIX = "nvapi-"
REDACTED = "***"
# A key typed in the wrong place (never registered) is still caught by its prefix. Any case:
# a server that echoes a key may change its case (`NVAPI-…`), and it is still the key.
# Its whole alphabet (keys.KEY_PATTERN), percent-escaped too: `nvapi-ab%2Bcd` is one key. A
# dot counts only inside it, so a sentence's full stop stays.
_ANY_KEY = re.compile(
    r"nvapi-(?:[A-Za-z0-9_~+/=-]|%[0-9A-Fa-f]{2}|\.(?=[A-Za-z0-9]))+", re.IGNORECASE
)
_MIN_LENGTH = 8  # a shorter secret (a registry password, a key body) could match ordinary words
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# What the Actions runner reads as a command at the start of a line (after blanks).
_COMMAND_START = re.compile(r"\s*(?:::|##\[)")


class _Secrets:
    """The keys in use; thread-safe, because workers log while the main thread loads keys."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()
        self.pattern: re.Pattern[str] | None = None

    def add(self, key: str) -> None:
        if len(key) < _MIN_LENGTH:
            return
        values = {key}
        body = key.removeprefix(KEY_PREFIX)
        if len(body) >= _MIN_LENGTH:
            values.add(body)  # the key without its prefix is still the key
        # Echoed in a URL (a query, a Link header) it is percent-encoded, and still the key.
        values |= {form for value in tuple(values) for form in _percent_encoded(value)}
        with self._lock:
            self._values |= {value for value in values if value}
            # Longest first: the whole key goes before its body, so no "nvapi-" is left over.
            ordered = sorted(self._values, key=len, reverse=True)
            # Any case, as for _ANY_KEY: an echo in upper case still shows the key.
            self.pattern = re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE)


def _percent_encoded(text: str) -> set[str]:
    """`text` as a URL carries it (a blank as %20 or +)."""
    from urllib.parse import quote, quote_plus  # not at start-up: only once a key is in use

    return {quote(text, safe=""), quote_plus(text, safe="")}


_SECRETS = _Secrets()


def register_secret(key: str) -> None:
    """Redact `key` (and its part after `nvapi-`) from everything written from now on.

    Any secret: the NGC key, a registry password. One under 8 characters is not redacted.
    """
    _SECRETS.add(key)


def redact(text: str) -> str:
    """`text` with every registered key, and anything shaped like one, replaced."""
    pattern = _SECRETS.pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    return _ANY_KEY.sub(KEY_PREFIX + REDACTED, text)


def clip(text: str, limit: int) -> str:
    """`text` redacted, then cut to `limit` characters ("…" last): in that order, since a key
    cut in two no longer matches and its first characters would be shown."""
    text = redact(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def redact_json(value: Any) -> Any:
    """A decoded JSON document with `redact` applied to every string, keys included."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [redact_json(item) for item in value]
    if isinstance(value, dict):
        return {redact(str(key)): redact_json(item) for key, item in value.items()}
    return value


def _visible(char: str) -> str:
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def escape_controls(text: str) -> str:
    """Every character Python calls non-printable as `\\n`, `\\x85`, `\\u202e`, `\\U000e0041`:
    controls, line separators, lone surrogates and the hidden characters (bidi controls,
    zero-width and tag characters), by the same rule as `escape_json_text`."""
    if text.isprintable():  # the usual line: nothing to escape, no per-character loop
        return text
    return "".join(char if char.isprintable() else _visible(char) for char in text)


def safe_line(text: str) -> str:
    """One line for stderr: redacted, escaped, and never starting like a workflow command."""
    line = escape_controls(redact(text))
    return f"nim-build: {line}" if _COMMAND_START.match(line) else line


def _json_escape(char: str) -> str:
    # json.dumps escapes what it must; ensure_ascii makes any other one \uXXXX (a pair past U+FFFF).
    return json.dumps(char)[1:-1]


def escape_json_text(text: str) -> str:
    """JSON text with every character Python calls non-printable, but the newlines between
    lines, as `\\uXXXX` escapes (a surrogate pair beyond U+FFFF).

    That is C0/C1 controls, DEL, U+2028/9, lone surrogates, and the invisible characters
    that make text read otherwise than it is: bidi controls (U+202A-E, U+2066-9, U+200E/F),
    zero-width characters (U+200B-D, U+2060, U+FEFF) and tag characters (U+E0000-E007F).
    The document means the same, stays valid UTF-8 (a lone surrogate cannot be encoded), no
    byte of it can break a line in a terminal or a CI log, and nothing in it is hidden. The
    ConfigMap's values, `diff --format json` and `--record` snapshots all go through here.
    """
    return "\n".join(
        line
        if line.isprintable()
        else "".join(ch if ch.isprintable() else _json_escape(ch) for ch in line)
        for line in text.split("\n")
    )
