"""An OCI Distribution client for one question: which tags does a repository hold?

`GET /v2/{repository}/tags/list?n=…`, following `Link: <…>; rel="next"` pages, each repository
bounded in tags, bytes and time (`TagBounds`). Auth follows the registry's `WWW-Authenticate`
challenge: Basic sends the credentials, Bearer fetches a pull token for the repository's scope
from the realm, with the credentials only where `credentials_allowed` says they may go.

A failure of the registry itself (RegistryWideError) ends every later request of the client at
once with that same error: it is reported once, not once per repository.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlencode, urljoin, urlsplit

from requests.utils import parse_header_links

from nim_build.http import HttpLimits, MiB, clear_frames
from nim_build.http.limits import describe_size
from nim_build.inputs import parse_json
from nim_build.safe_text import clip, register_secret
from nim_build.urls import split_url

from .auth import Credentials
from .ca import check_ca_file
from .errors import RegistryError, RegistryWideError
from .location import RegistryLocation
from .transport import Reply, Transport

PAGE_SIZE = 1000
_SLACK = 16  # commas a tags page has besides those between tags
# A token goes into an Authorization header as is: visible ASCII only (no CR/LF, no blank,
# nothing outside Latin-1), else the request could not be sent or would be split.
_TOKEN = re.compile(r"[\x21-\x7e]+")
# Real tokens are a few KB (a JWT); web servers refuse header lines past 8-64 KiB. Capped,
# because the client keeps one token per repository: 186 of the 4 MiB an answer may hold
# would be 750 MiB.
TOKEN_MAX = 64 * 1024


@dataclass(frozen=True)
class TagBounds:
    """How much one repository's tag listing may take, over all its pages.

    A registry sending `Link: next` forever, or huge pages, ends at the first bound reached
    with one error naming the repository and the bound. A real NIM repository has tens of
    tags on one page.
    """

    tags: int = 100_000  # tags read (before keeping only the wanted ones)
    bytes: int = 32 * MiB  # decoded bytes of all pages
    seconds: float = 300.0  # wall time from the first page's request to the last page
    # Requests: 100,000 tags at PAGE_SIZE a page are 100 pages; empty or one-tag pages with a
    # `Link: next` forever would otherwise run until `seconds`, for every repository.
    pages: int = 1_000


def credentials_allowed(registry: SplitResult, realm: SplitResult) -> bool:
    """May the registry's credentials go to a token `realm`? (RegistryWideError if refused.)

    As Docker and containers/image do, an HTTPS realm gets them on any host (Docker Hub's
    realm is auth.docker.io for registry-1.docker.io). Unlike them, a plain-HTTP realm gets
    them only from a plain-HTTP registry (`--plain-http`) on the same host name; and an
    HTTPS registry's plain-HTTP realm is refused outright, credentials or not, since its
    token would travel in clear too. Returns False for a plain-HTTP realm on another host:
    it may still be asked anonymously.
    """
    if realm.scheme == "https":
        return True
    if registry.scheme == "https":
        raise RegistryWideError(
            f"{registry.netloc}: the token realm {clip(realm.geturl(), 200)!r} is plain HTTP "
            "while the registry is HTTPS; refused (credentials and tokens would travel in clear)"
        )
    return realm.hostname == registry.hostname


# How Go's net/http and nginx answer plain HTTP on an HTTPS port (with HTTP 400).
_HTTPS_ONLY = re.compile(rb"HTTP request (?:was sent )?to (?:an )?HTTPS", re.IGNORECASE)
_PARAM = re.compile(r'([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


@dataclass(frozen=True)
class Challenge:
    """A `WWW-Authenticate` header: scheme (lowercase) and its parameters."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, header: str) -> Challenge:
        scheme, _, rest = header.strip().partition(" ")
        params = {
            match[1].lower(): match[2] if match[2] is not None else match[3]
            for match in _PARAM.finditer(rest)
        }
        return cls(scheme.lower(), params)


def _basic_value(credentials: Credentials) -> str:
    """`user:password` in base64, as a Basic Authorization header carries it."""
    pair = f"{credentials.username}:{credentials.password}".encode()
    return base64.b64encode(pair).decode("ascii")


def _error_codes(reply: Reply) -> str:
    """`CODE: message` of an OCI error body, if it has one."""
    try:
        errors = parse_json(reply.body).get("errors") or []
        # The registry's own words: cut, so a hostile one cannot flood the log.
        return "; ".join(clip(f"{e.get('code')}: {e.get('message')}", 200) for e in errors[:3])
    except (ValueError, AttributeError, TypeError):
        return ""


class RegistryClient:
    """Asks one registry about repositories under a location. Thread-safe."""

    def __init__(
        self,
        location: RegistryLocation,
        *,
        credentials: Credentials | None = None,
        plain_http: bool = False,
        ca_file: Path | None = None,
        concurrency: int = 16,
        limits: HttpLimits | None = None,
        page_size: int = PAGE_SIZE,
        bounds: TagBounds | None = None,
    ) -> None:
        self.location = location
        self.base_url = f"{'http' if plain_http else 'https'}://{location.host}"
        self.page_size = page_size
        self.bounds = bounds or TagBounds()
        self._outage: RegistryWideError | None = None
        self._credentials = credentials
        if credentials is not None:  # a registry that echoes them cannot get them printed
            register_secret(credentials.password)
            register_secret(_basic_value(credentials))
        self._transport = Transport(
            concurrency=concurrency,
            limits=limits,
            # A library caller's CA file is checked as --ca-file is: PEM, before any request.
            verify=str(check_ca_file(ca_file)) if ca_file else True,
        )
        self.stats = self._transport.stats
        self._lock = threading.Lock()
        self._challenge: Challenge | None = None  # the last one seen: registries send one kind
        self._tokens: dict[str, str] = {}

    def close(self) -> None:
        self._transport.close()

    def _check_outage(self) -> None:
        if self._outage is not None:
            raise self._outage

    def _stop_all(self, error: RegistryWideError) -> RegistryWideError:
        """The first registry-wide failure, kept; requests in flight are cancelled."""
        with self._lock:
            if self._outage is None:
                self._outage = error
                self._transport.close()
            return self._outage

    def tags(self, path: str, wanted: Collection[str] | None = None) -> tuple[str, ...] | None:
        """The tags of `path` under the location, in the registry's order; None if missing.

        With `wanted`, only those of them are kept while paging: memory holds one page, not
        every tag. RegistryError names the repository when it fails or passes a bound.
        """
        self._check_outage()
        repository = self.location.repository(path)
        try:
            return self._paged_tags(repository, wanted)
        except RegistryWideError as error:
            raise self._stop_all(error) from error
        except RegistryError as error:
            # Its frames hold the last page (up to 4 MiB): a caller keeping one error per
            # repository must not keep a page per repository.
            clear_frames(error)
            self._check_outage()  # cancelled because another repository hit an outage
            raise

    def _paged_tags(
        self, repository: str, wanted: Collection[str] | None
    ) -> tuple[str, ...] | None:
        bounds, where = self.bounds, f"{self.location.host}/{repository}"
        url = f"{self.base_url}/v2/{repository}/tags/list?{urlencode({'n': self.page_size})}"
        until = time.monotonic() + bounds.seconds
        kept: list[str] = []
        read = size = 0
        for page in range(bounds.pages):
            try:
                reply = self._get(url, repository, until=until)
            except RegistryError as error:
                if time.monotonic() >= until and not isinstance(error, RegistryWideError):
                    raise self._bound(where, f"{bounds.seconds:g} s of paging") from error
                raise
            if reply.status != 200:  # only then is the body an error document worth parsing
                detail = _error_codes(reply)
                if page == 0 and (reply.status == 404 or "NAME_UNKNOWN" in detail):
                    return None
                raise RegistryError(
                    f"{where}: HTTP {reply.status}" + (f" ({detail})" if detail else "")
                )
            size += len(reply.body)
            if size > bounds.bytes:
                raise self._bound(where, f"{describe_size(bounds.bytes)} of tag pages")
            # A page holds at most one tag per comma, plus one: a page that may pass the
            # bound is refused before parsing (json.loads takes ~16x a page of short tags).
            if read + reply.body.count(b",") + 1 > bounds.tags + _SLACK:
                raise self._bound(where, f"{bounds.tags:,} tags")
            page_tags = self._page_tags(reply, repository)
            read += len(page_tags)
            if read > bounds.tags:
                raise self._bound(where, f"{bounds.tags:,} tags")
            kept += page_tags if wanted is None else (tag for tag in page_tags if tag in wanted)
            next_url = self._next_page(reply, url, repository)
            del page_tags, reply  # one page in memory at a time
            if next_url is None:
                return tuple(kept)
            if time.monotonic() >= until:
                raise self._bound(where, f"{bounds.seconds:g} s of paging")
            url = next_url
        raise self._bound(where, f"{bounds.pages:,} pages")

    @staticmethod
    def _bound(where: str, bound: str) -> RegistryError:
        return RegistryError(f"{where}: tags/list goes on past {bound}; stopped (a registry bound)")

    def _page_tags(self, reply: Reply, repository: str) -> list[str]:
        try:
            document: Any = parse_json(reply.body)
        except ValueError as error:
            raise RegistryError(f"{repository}: tags/list answer is not JSON") from error
        if not isinstance(document, dict):
            raise RegistryError(f"{repository}: tags/list answer is not a JSON object")
        tags = document.get("tags") or []  # `null` for a repository without tags
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            raise RegistryError(f"{repository}: tags/list answer has no list of tags")
        return tags

    def _next_page(self, reply: Reply, url: str, repository: str) -> str | None:
        for link in parse_header_links(reply.headers.get("Link", "")):
            if link.get("rel") == "next" and link.get("url"):
                try:
                    next_url = urljoin(url, link["url"])
                    elsewhere = urlsplit(next_url)[:2] != urlsplit(self.base_url)[:2]
                except ValueError as error:  # `<http://[::1/x>`
                    raise RegistryError(f"{repository}: next tags page is not a URL") from error
                if elsewhere:
                    raise RegistryError(f"{repository}: next tags page points elsewhere")
                return next_url
        return None

    # ------------------------------------------------------------------ auth

    def _get(self, url: str, repository: str, *, until: float | None = None) -> Reply:
        """GET with the auth the registry asked for; one fresh try after a 401."""
        reply = self._transport.get(
            url, repository, self._auth_headers(repository, fresh=False), until=until
        )
        plain = self.base_url.startswith("http:")
        if reply.status == 400 and plain and _HTTPS_ONLY.search(reply.body[:1024]):
            raise RegistryWideError(
                f"{self.location.host} talks HTTPS only (HTTP 400 to a plain HTTP request); "
                "drop --plain-http"
            )
        if reply.status != 401:
            return reply
        header = reply.headers.get("WWW-Authenticate", "")
        with self._lock:
            self._challenge = Challenge.parse(header) if header else None
        if self._challenge is None or self._challenge.scheme not in ("basic", "bearer"):
            raise RegistryWideError(f"{repository}: HTTP 401 without a Basic or Bearer challenge")
        if self._challenge.scheme == "basic" and self._credentials is None:
            raise RegistryWideError(
                f"{self.location.host} asks for credentials and no auth file has any "
                "(--authfile, $REGISTRY_AUTH_FILE, ~/.docker/config.json, …)"
            )
        reply = self._transport.get(
            url, repository, self._auth_headers(repository, fresh=True), until=until
        )
        if reply.status == 401:
            header = reply.headers.get("WWW-Authenticate", "")
            if Challenge.parse(header).params.get("error") == "insufficient_scope":
                # A fresh token for this repository's scope grants nothing: the credentials
                # work, but not here (the repository is missing, or not theirs to pull).
                raise RegistryError(
                    f"{self.location.host}/{repository}: no pull access (HTTP 401 "
                    "insufficient_scope: missing, or not readable with these credentials)"
                )
            raise RegistryWideError(
                f"{self.location.host}/{repository}: credentials refused (HTTP 401)"
            )
        return reply

    def _basic(self) -> dict[str, str]:
        if self._credentials is None:
            return {}
        return {"Authorization": "Basic " + _basic_value(self._credentials)}

    def _auth_headers(self, repository: str, *, fresh: bool) -> dict[str, str]:
        challenge = self._challenge
        if challenge is None:
            return {}
        if challenge.scheme == "basic":
            return self._basic()
        scope = f"repository:{repository}:pull"
        with self._lock:
            token = None if fresh else self._tokens.get(scope)
        if token is None:
            token = self._fetch_token(challenge, scope, repository)
            with self._lock:
                self._tokens[scope] = token
        return {"Authorization": f"Bearer {token}"}

    def _fetch_token(self, challenge: Challenge, scope: str, repository: str) -> str:
        description = f"token for {repository}"
        realm = challenge.params.get("realm") or ""
        try:
            realm_parts = split_url(realm)
        except ValueError as error:
            raise RegistryWideError(f"{description}: the Bearer realm {error}") from error
        query = {"scope": scope}
        if "service" in challenge.params:
            query["service"] = challenge.params["service"]
        separator = "&" if realm_parts.query else "?"
        allowed = credentials_allowed(urlsplit(self.base_url), realm_parts)
        if not allowed and self._credentials is not None:
            raise RegistryWideError(
                f"{description}: the Bearer realm {clip(realm, 200)!r} is plain HTTP on another "
                f"host than {self.location.host}; refused (the credentials would go there in "
                "clear)"
            )
        try:
            reply = self._transport.get(
                realm + separator + urlencode(query), description, self._basic()
            )
        except RegistryWideError:
            raise
        except RegistryError as error:
            # Every repository asks this realm: its failure is the registry's, said once.
            raise RegistryWideError(str(error)) from error
        if reply.status != 200:
            raise RegistryWideError(
                f"{description}: {realm_parts.netloc} answered HTTP {reply.status}"
            )
        return _token_in(reply, description)


def _token_in(reply: Reply, description: str) -> str:
    """The token of a token endpoint's answer, checked to fit in an Authorization header."""
    try:
        document = parse_json(reply.body)
    except ValueError as error:
        raise RegistryWideError(f"{description}: answer is not JSON") from error
    if not isinstance(document, dict):
        kind = "a JSON list" if isinstance(document, list) else "JSON"
        raise RegistryWideError(f"{description}: answer is {kind}, not a JSON object")
    token = document.get("token") or document.get("access_token")
    if not isinstance(token, str) or not token:
        raise RegistryWideError(f"{description}: answer has no token")
    if len(token) > TOKEN_MAX:
        raise RegistryWideError(
            f"{description}: the token is {len(token):,} characters long (at most "
            f"{TOKEN_MAX:,}); not used"
        )
    if not _TOKEN.fullmatch(token):
        raise RegistryWideError(
            f"{description}: the token holds characters an HTTP header cannot carry "
            "(control characters, blanks or non-ASCII); not used"
        )
    return token
