"""An OCI Distribution client for one question: which tags does a repository hold?

`GET /v2/{repository}/tags/list?n=…`, following `Link: <…>; rel="next"` pages. Auth follows
the registry's `WWW-Authenticate` challenge: Basic sends the credentials, Bearer fetches a
pull token for the repository's scope from the realm (with the credentials, if any).
"""

from __future__ import annotations

import base64
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

from requests.utils import parse_header_links

from nim_build.http import HttpLimits
from nim_build.inputs import parse_json
from nim_build.safe_text import clip, register_secret

from .auth import Credentials
from .errors import RegistryError
from .location import RegistryLocation
from .transport import Reply, Transport

PAGE_SIZE = 1000
MAX_PAGES = 1000  # a registry that keeps sending `next` must not loop forever
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
    ) -> None:
        self.location = location
        self.base_url = f"{'http' if plain_http else 'https'}://{location.host}"
        self.page_size = page_size
        self._credentials = credentials
        if credentials is not None:  # a registry that echoes them cannot get them printed
            register_secret(credentials.password)
            register_secret(_basic_value(credentials))
        self._transport = Transport(
            concurrency=concurrency, limits=limits, verify=str(ca_file) if ca_file else True
        )
        self.stats = self._transport.stats
        self._lock = threading.Lock()
        self._challenge: Challenge | None = None  # the last one seen: registries send one kind
        self._tokens: dict[str, str] = {}

    def close(self) -> None:
        self._transport.close()

    def tags(self, path: str) -> tuple[str, ...] | None:
        """Every tag of `path` under the location, in the registry's order; None if missing."""
        repository = self.location.repository(path)
        url = f"{self.base_url}/v2/{repository}/tags/list?{urlencode({'n': self.page_size})}"
        tags: list[str] = []
        for page in range(MAX_PAGES):
            reply = self._get(url, repository)
            if page == 0 and (reply.status == 404 or "NAME_UNKNOWN" in _error_codes(reply)):
                return None
            if reply.status != 200:
                detail = _error_codes(reply)
                raise RegistryError(
                    f"{self.location.host}/{repository}: HTTP {reply.status}"
                    + (f" ({detail})" if detail else "")
                )
            tags += self._page_tags(reply, repository)
            next_url = self._next_page(reply, url, repository)
            if next_url is None:
                return tuple(tags)
            url = next_url
        raise RegistryError(f"{self.location.host}/{repository}: more than {MAX_PAGES} tag pages")

    def _page_tags(self, reply: Reply, repository: str) -> list[str]:
        try:
            document: Any = parse_json(reply.body)
            tags = document.get("tags") or []  # `null` for a repository without tags
        except (ValueError, AttributeError) as error:
            raise RegistryError(f"{repository}: tags/list answer is not JSON") from error
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            raise RegistryError(f"{repository}: tags/list answer has no list of tags")
        return tags

    def _next_page(self, reply: Reply, url: str, repository: str) -> str | None:
        for link in parse_header_links(reply.headers.get("Link", "")):
            if link.get("rel") == "next" and link.get("url"):
                next_url = urljoin(url, link["url"])
                if urlsplit(next_url)[:2] != urlsplit(self.base_url)[:2]:
                    raise RegistryError(f"{repository}: next tags page points elsewhere")
                return next_url
        return None

    # ------------------------------------------------------------------ auth

    def _get(self, url: str, repository: str) -> Reply:
        """GET with the auth the registry asked for; one fresh try after a 401."""
        reply = self._transport.get(url, repository, self._auth_headers(repository, fresh=False))
        if reply.status != 401:
            return reply
        header = reply.headers.get("WWW-Authenticate", "")
        with self._lock:
            self._challenge = Challenge.parse(header) if header else None
        if self._challenge is None or self._challenge.scheme not in ("basic", "bearer"):
            raise RegistryError(f"{repository}: HTTP 401 without a Basic or Bearer challenge")
        if self._challenge.scheme == "basic" and self._credentials is None:
            raise RegistryError(
                f"{self.location.host} asks for credentials and no auth file has any "
                "(--authfile, $REGISTRY_AUTH_FILE, ~/.docker/config.json, …)"
            )
        reply = self._transport.get(url, repository, self._auth_headers(repository, fresh=True))
        if reply.status == 401:
            raise RegistryError(
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
        realm = challenge.params.get("realm")
        if not realm or urlsplit(realm).scheme not in ("http", "https"):
            raise RegistryError(f"{repository}: Bearer challenge without a usable realm")
        query = {"scope": scope}
        if "service" in challenge.params:
            query["service"] = challenge.params["service"]
        separator = "&" if urlsplit(realm).query else "?"
        description = f"token for {repository}"
        reply = self._transport.get(
            realm + separator + urlencode(query), description, self._basic()
        )
        if reply.status != 200:
            raise RegistryError(
                f"{description}: {urlsplit(realm).netloc} answered HTTP {reply.status}"
            )
        try:
            document = parse_json(reply.body)
            token = document.get("token") or document.get("access_token")
        except (ValueError, AttributeError) as error:
            raise RegistryError(f"{description}: answer is not JSON") from error
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{description}: answer has no token")
        return token
