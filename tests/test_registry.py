"""The registry subsystem: locations, auth files, and the tags client against real registries."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from nim_build.http import HttpLimits
from nim_build.registry import (
    AuthFileError,
    Credentials,
    RegistryClient,
    RegistryError,
    RegistryLocation,
    default_auth_files,
    load_credentials,
)
from nim_build.registry.client import Challenge
from tests.registry import (
    PASSWORD,
    USER,
    Registry,
    RegistryProxy,
    TinyImage,
    TokenIssuer,
    auth_file,
    push_image,
    skopeo_copy,
)

FAST = HttpLimits(attempts=3, backoff_base=0.01, backoff_max=0.02)
LLAMA = "nim/meta/llama-3.1-8b-instruct"


def client_for(
    host: str, credentials: Credentials | None = None, **kwargs: object
) -> RegistryClient:
    kwargs.setdefault("plain_http", True)
    return RegistryClient(
        RegistryLocation.parse(host),
        credentials=credentials,
        **{"limits": FAST, **kwargs},  # type: ignore[arg-type]
    )


def seeded(
    make_registry: Callable[..., Registry], tags: dict[str, list[str]], **kw: bool
) -> Registry:
    registry = make_registry(**kw)
    image = TinyImage.build()
    session = registry.session()
    for repository, repository_tags in tags.items():
        push_image(session, registry.url, repository, repository_tags, image)
    return registry


# --------------------------------------------------------------------------- location


@pytest.mark.parametrize(
    ("text", "host", "prefix"),
    [
        ("mirror.example.com", "mirror.example.com", ""),
        ("mirror.example.com:5000/nim-mirror", "mirror.example.com:5000", "nim-mirror"),
        ("127.0.0.1:5000/a/b_c/d.e/", "127.0.0.1:5000", "a/b_c/d.e"),
        ("localhost", "localhost", ""),
    ],
)
def test_location_parses_host_port_and_prefix(text: str, host: str, prefix: str) -> None:
    location = RegistryLocation.parse(text)
    assert (location.host, location.prefix) == (host, prefix)
    assert location.image("nim/meta/x") == f"{host}/{prefix + '/' if prefix else ''}nim/meta/x"


@pytest.mark.parametrize(
    "text", ["", "https://mirror", "mirror/Upper", "mirror:port", "mirror//x", "mirror/-x", "a b"]
)
def test_location_refuses_what_is_not_host_port_path(text: str) -> None:
    with pytest.raises(ValueError, match="host\\[:port\\]\\[/path\\]"):
        RegistryLocation.parse(text)


@pytest.mark.parametrize("text", ["mirror:99999/x", "mirror:0", "127.0.0.1:65536"])
def test_location_refuses_a_port_out_of_range(text: str) -> None:
    # Like --api-url: else every request failed later as "not a usable URL".
    with pytest.raises(ValueError, match=r"port [0-9]+ is not from 1 to 65535"):
        RegistryLocation.parse(text)


# --------------------------------------------------------------------------- auth files


def _auths(path: Path, auths: dict[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"auths": auths}))
    return path


def _encoded(user: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


MIRROR = RegistryLocation.parse("mirror.example.com:5000/nim-mirror")


def test_named_auth_file_gives_the_most_specific_entry(tmp_path: Path) -> None:
    path = _auths(
        tmp_path / "auth.json",
        {
            "mirror.example.com:5000": _encoded("host", "p1"),
            "mirror.example.com:5000/nim-mirror": _encoded("prefix", "p2"),
            "mirror.example.com:5000/other": _encoded("other", "p3"),
        },
    )
    assert load_credentials(MIRROR, path, environ={}) == Credentials("prefix", "p2")


def test_docker_style_keys_with_scheme_match(tmp_path: Path) -> None:
    path = _auths(
        tmp_path / "config.json", {"https://mirror.example.com:5000/v1/": _encoded("u", "p")}
    )
    assert load_credentials(MIRROR, path, environ={}) == Credentials("u", "p")


def test_registry_auth_file_variable_is_read(tmp_path: Path) -> None:
    path = _auths(tmp_path / "env.json", {"mirror.example.com:5000": _encoded("env", "p")})
    env = {"REGISTRY_AUTH_FILE": str(path), "HOME": str(tmp_path)}
    assert load_credentials(MIRROR, environ=env) == Credentials("env", "p")


def test_default_files_in_order_first_with_an_entry_wins(tmp_path: Path) -> None:
    env = {"XDG_RUNTIME_DIR": str(tmp_path / "run"), "HOME": str(tmp_path / "home")}
    runtime, config, docker = default_auth_files(env)
    assert runtime == tmp_path / "run" / "containers" / "auth.json"
    assert config == tmp_path / "home" / ".config" / "containers" / "auth.json"
    assert docker == tmp_path / "home" / ".docker" / "config.json"
    _auths(runtime, {"elsewhere.example.com": _encoded("x", "y")})
    _auths(docker, {"mirror.example.com:5000": _encoded("docker", "p")})
    assert load_credentials(MIRROR, environ=env) == Credentials("docker", "p")
    _auths(config, {"mirror.example.com:5000": _encoded("podman", "p")})
    assert load_credentials(MIRROR, environ=env) == Credentials("podman", "p")


def test_no_file_and_no_entry_mean_anonymous(tmp_path: Path) -> None:
    assert load_credentials(MIRROR, environ={"HOME": str(tmp_path)}) is None
    path = _auths(tmp_path / "auth.json", {"quay.io": _encoded("u", "p")})
    assert load_credentials(MIRROR, path, environ={}) is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{not json", "not valid JSON"),
        ('{"auths": []}', "'auths' is not an object"),
        ('{"auths": {"mirror.example.com:5000": {"auth": "!!"}}}', "not base64 of user:password"),
        ('{"auths": {"mirror.example.com:5000": {"auth": "dXNlcg=="}}}', "not base64 of user:pass"),
        ('{"auths": {"mirror.example.com:5000": {}}}', "credential helpers are not supported"),
    ],
)
def test_bad_auth_file_is_one_line_naming_it(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "auth.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(AuthFileError, match=message) as caught:
        load_credentials(MIRROR, path, environ={})
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_password_is_never_in_a_repr() -> None:
    assert PASSWORD not in repr(Credentials(USER, PASSWORD))


# --------------------------------------------------------------------------- challenge


def test_challenge_parses_bearer_parameters() -> None:
    challenge = Challenge.parse(
        'Bearer realm="https://auth.example.com/token",service="registry.example.com",'
        'scope="repository:nim/meta/x:pull"'
    )
    assert challenge.scheme == "bearer"
    assert challenge.params == {
        "realm": "https://auth.example.com/token",
        "service": "registry.example.com",
        "scope": "repository:nim/meta/x:pull",
    }
    assert Challenge.parse('Basic realm="nim-test"') == Challenge("basic", {"realm": "nim-test"})


# --------------------------------------------------------------------------- real registries


def test_tags_with_basic_auth_from_an_auth_file(
    make_registry: Callable[..., Registry], tmp_path: Path
) -> None:
    registry = seeded(make_registry, {LLAMA: ["1.0", "latest"]}, htpasswd=True)
    location = RegistryLocation.parse(registry.host)
    credentials = load_credentials(location, auth_file(tmp_path, registry.host), environ={})
    client = client_for(registry.host, credentials)
    assert sorted(client.tags(LLAMA) or ()) == ["1.0", "latest"]
    assert client.tags("nim/meta/not-mirrored") is None  # 404 NAME_UNKNOWN: missing, no error
    # One 401 to learn the scheme, then credentials are sent up front.
    assert client.stats.requests == 3


def test_basic_auth_without_or_with_wrong_credentials_fails_naming_the_registry(
    make_registry: Callable[..., Registry],
) -> None:
    registry = seeded(make_registry, {LLAMA: ["1.0"]}, htpasswd=True)
    with pytest.raises(RegistryError, match="asks for credentials and no auth file has any"):
        client_for(registry.host).tags(LLAMA)
    wrong = client_for(registry.host, Credentials(USER, "wrong"))
    with pytest.raises(RegistryError, match=f"{registry.host}/{LLAMA}: credentials refused"):
        wrong.tags(LLAMA)


def test_prefix_is_part_of_the_repository(make_registry: Callable[..., Registry]) -> None:
    registry = seeded(make_registry, {f"mirror/{LLAMA}": ["2.0"]})
    assert client_for(f"{registry.host}/mirror").tags(LLAMA) == ("2.0",)
    assert client_for(registry.host).tags(LLAMA) is None


def test_bearer_challenge_fetches_one_token_per_repository(
    make_registry: Callable[..., Registry], token_issuer: TokenIssuer, tmp_path: Path
) -> None:
    registry = make_registry(issuer=token_issuer)  # Distribution with `auth: token`
    layout = TinyImage.build().write_layout(tmp_path / "layout")
    for image in (f"{LLAMA}:1.0", f"{LLAMA}:latest", "nim/baai/bge:1.5"):
        skopeo_copy(
            f"oci:{layout}:v1", f"docker://{registry.host}/{image}", dest_creds=registry.creds
        )
    token_issuer.scopes.clear()
    client = client_for(registry.host, Credentials(USER, PASSWORD))
    assert sorted(client.tags(LLAMA) or ()) == ["1.0", "latest"]
    assert client.tags("nim/baai/bge") == ("1.5",)
    assert client.tags("nim/x/missing") is None
    assert token_issuer.scopes == [
        f"repository:{LLAMA}:pull",
        "repository:nim/baai/bge:pull",
        "repository:nim/x/missing:pull",
    ]
    # 1 challenge + 3 tokens + 3 tags pages: later repositories get their token up front.
    assert client.stats.requests == 7


def test_bearer_token_refused_without_credentials(
    make_registry: Callable[..., Registry], token_issuer: TokenIssuer
) -> None:
    registry = make_registry(issuer=token_issuer)
    with pytest.raises(RegistryError, match=f"token for {LLAMA}: .* answered HTTP 401"):
        client_for(registry.host).tags(LLAMA)


def test_pages_are_followed_through_link_headers(
    make_registry: Callable[..., Registry], make_proxy: Callable[..., RegistryProxy]
) -> None:
    tags = [f"1.{minor}.0" for minor in range(7)]
    registry = seeded(make_registry, {LLAMA: tags})
    proxy = make_proxy(registry.url, page_size=3)
    client = client_for(proxy.host)
    assert client.tags(LLAMA) == tuple(sorted(tags))
    pages = [path for path in proxy.seen if "/tags/list" in path]
    assert pages[0] == f"/v2/{LLAMA}/tags/list?n=1000"  # asks for big pages
    assert len(pages) == 3  # 3 + 3 + 1


def test_a_next_page_on_another_origin_is_refused(
    make_registry: Callable[..., Registry], make_proxy: Callable[..., RegistryProxy]
) -> None:
    registry = seeded(make_registry, {LLAMA: ["1", "2", "3"]})
    proxy = make_proxy(registry.url, page_size=2, next_origin="http://127.0.0.1:9")
    with pytest.raises(RegistryError, match=f"{LLAMA}: next tags page points elsewhere"):
        client_for(proxy.host).tags(LLAMA)


def test_a_stalled_answer_hits_the_attempt_deadline(
    make_registry: Callable[..., Registry], make_proxy: Callable[..., RegistryProxy]
) -> None:
    registry = seeded(make_registry, {LLAMA: ["1"]})
    proxy = make_proxy(registry.url, drip=0.05)  # 1000 bytes would take 50 s
    client = client_for(proxy.host, limits=replace(FAST, timeout=0.5))
    with pytest.raises(RegistryError, match=f"{LLAMA}: GET .*: timed out .* after 3 attempts"):
        client.tags(LLAMA)


def test_a_5xx_is_retried_then_fails_naming_the_repository(
    make_registry: Callable[..., Registry], make_proxy: Callable[..., RegistryProxy]
) -> None:
    registry = seeded(make_registry, {LLAMA: ["1.0"], "nim/baai/bge": ["1.5"]})
    once = make_proxy(registry.url, fail={LLAMA: 503}, fail_times=1)
    client = client_for(once.host)
    assert client.tags(LLAMA) == ("1.0",)
    assert client.stats.retries == 1
    always = make_proxy(registry.url, fail={LLAMA: 500})
    client = client_for(always.host)
    with pytest.raises(RegistryError, match=f"{LLAMA}: GET .* answered 500 after 3 attempts"):
        client.tags(LLAMA)
    assert client.tags("nim/baai/bge") == ("1.5",)


def test_other_4xx_fails_without_retry(
    make_registry: Callable[..., Registry], make_proxy: Callable[..., RegistryProxy]
) -> None:
    registry = seeded(make_registry, {LLAMA: ["1.0"]})
    proxy = make_proxy(registry.url, fail={LLAMA: 403})
    client = client_for(proxy.host)
    with pytest.raises(RegistryError, match=f"{proxy.host}/{LLAMA}: HTTP 403"):
        client.tags(LLAMA)
    assert client.stats.requests == 1


def test_tls_with_a_private_ca(make_registry: Callable[..., Registry]) -> None:
    registry = seeded(make_registry, {LLAMA: ["1.0"]}, tls=True)
    with pytest.raises(RegistryError, match=r"TLS failed .*--ca-file"):
        client_for(registry.host, plain_http=False).tags(LLAMA)
    trusted = client_for(registry.host, plain_http=False, ca_file=registry.ca_file)
    assert trusted.tags(LLAMA) == ("1.0",)


def test_answer_over_the_size_cap_is_refused(
    make_registry: Callable[..., Registry],
) -> None:
    registry = seeded(make_registry, {LLAMA: [f"tag-{n:04d}" for n in range(40)]})
    client = client_for(registry.host)
    client._transport.body_limit = 200  # a 40-tag page is ~500 bytes
    with pytest.raises(
        RegistryError, match=f"{LLAMA}: GET .*: answer larger than the 200 bytes cap"
    ):
        client.tags(LLAMA)
