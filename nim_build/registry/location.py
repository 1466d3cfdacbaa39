"""`MIRROR[/PREFIX]`: where a mirror registry keeps the NIM images."""

from __future__ import annotations

import re
from dataclasses import dataclass

from nim_build.reference import DOMAIN, PATH_COMPONENT, host_name_problem

_LOCATION = re.compile(rf"({DOMAIN})((?:/{PATH_COMPONENT})*)", re.ASCII)


@dataclass(frozen=True)
class RegistryLocation:
    """A registry host (with port) and an optional repository path prefix."""

    host: str
    prefix: str = ""

    @classmethod
    def parse(cls, text: str) -> RegistryLocation:
        """`host[:port][/path]`, path components lowercase; ValueError saying what is wrong."""
        if "@" in text.partition("/")[0]:
            # Never echoed: it would be a password. Credentials come from the auth file.
            shown = "***@" + text.rpartition("@")[2]
            raise ValueError(
                f"{shown!r}: a registry takes no user name or password (use --authfile)"
            )
        match = _LOCATION.fullmatch(text.strip().rstrip("/"))
        if not match:
            raise ValueError(
                f"{text!r} is not host[:port][/path] with lowercase path components "
                "(e.g. mirror.example.com:5000/nim-mirror)"
            )
        host, _, port = match.group(1).partition(":")
        if port and not 0 < int(port) <= 65535:
            raise ValueError(f"{text!r}: port {port} is not from 1 to 65535")
        problem = host_name_problem(host)
        if problem:
            raise ValueError(f"{text!r}: host {host!r} {problem}")
        return cls(match.group(1), match.group(2).lstrip("/"))

    def __str__(self) -> str:
        return f"{self.host}/{self.prefix}" if self.prefix else self.host

    def repository(self, path: str) -> str:
        """The repository `path` (e.g. `nim/meta/llama`) under this location's prefix."""
        return f"{self.prefix}/{path}" if self.prefix else path

    def image(self, path: str) -> str:
        """`host[/prefix]/path`: a full image name at this location."""
        return f"{self}/{path}"
