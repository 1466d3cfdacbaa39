"""URL checks shared by every option, variable and answer that names a server.

An unusable URL is refused here with one line saying what is wrong, before any request: the
resolver would otherwise fail deep inside the HTTP stack (`http://a..b` is a UnicodeError from
its IDNA step, `http://[::1/x` a ValueError from urlsplit).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

from nim_build.errors import UsageError
from nim_build.reference import host_name_problem
from nim_build.safe_text import clip


class UrlError(UsageError, ValueError):
    """A URL that names no usable server: said before any request, in one line."""


_BLANK_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")
_SHOWN = 200  # characters of a URL shown in a message: it may come from a hostile answer


def _shown(text: str) -> str:
    return repr(clip(text, _SHOWN))


def split_url(text: str, kind: str = "this URL") -> SplitResult:
    """`text` split, if it is an http(s) URL with a usable host and port; else UrlError."""
    shown = _shown(text)
    if _BLANK_OR_CONTROL.search(text):
        raise UrlError(f"{shown} holds a blank or control character")
    try:
        parts = urlsplit(text)
        port = parts.port  # ValueError when out of range or not a number
    except ValueError as error:
        raise UrlError(f"{shown} is not a valid URL ({error})") from None
    if parts.scheme not in ("https", "http"):
        raise UrlError(f"{shown} is not an http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        # Never echoed: it would be a credential.
        shown = _shown(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl())
        raise UrlError(f"{shown}: {kind} takes no user name or password")
    host = parts.hostname
    if not host:
        raise UrlError(f"{shown} has no host name")
    if port == 0:
        raise UrlError(f"{shown}: port 0 is not a port")
    problem = _host_problem(host, bracketed=parts.netloc.rpartition("@")[2].startswith("["))
    if problem:
        raise UrlError(f"{shown}: host {_shown(host)} {problem}")
    return parts


def _host_problem(host: str, *, bracketed: bool) -> str | None:
    if bracketed:
        try:
            ipaddress.IPv6Address(host.partition("%")[0])
        except ValueError:
            return "is not an IPv6 address"
        return None
    return host_name_problem(host)


def check_api_url(text: str) -> str:
    """A base URL (`--api-url`, `$NGC_API_URL`): `split_url`, and no query or fragment."""
    text = text.strip()
    parts = split_url(text, "a base URL")
    if parts.query or parts.fragment:
        raise UrlError(f"{_shown(text)}: a base URL takes no query or fragment")
    return text
