"""Benchmark `nim-build mirror-configmap` against a real registry holding 186 models x 3 tags.

Starts Debian's docker-registry (CNCF Distribution) on 127.0.0.1, pushes one tiny image per
repository over the Distribution API and tags it 3 times, then times only the
`mirror-configmap` process (wall time includes interpreter start), best of N. The same
storage is then served again behind `auth: token` (tests/registry.py's JWT issuer), where
every repository costs a token request too. With `--latency`, a proxy in front of the
registry (tests/registry.py) adds that many seconds to every answer, like a registry that is
not on the same machine. Needs docker-registry and openssl. Against a floor (a bare pooled
client) and `skopeo list-tags`, in the same run: benchmarks/run_all.py.

    python benchmarks/bench_mirror.py [--models 186] [--tags 3] [--concurrency 16] [--repeat 3]
    python benchmarks/bench_mirror.py --latency 0.05 --concurrency 1
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.registry / tests.entries: the fixtures the tests use

from nim_build.steps.configmap import render_configmap  # noqa: E402
from tests.entries import synthetic_entries  # noqa: E402
from tests.registry import (  # noqa: E402
    Registry,
    RegistryProxy,
    TinyImage,
    TokenIssuer,
    auth_file,
    push_image,
)

_REQUESTS = re.compile(r"(\d+) requests, (\d+) retries; tags ([\d.]+) s")


def seed(registry: Registry, repositories: list[str], tags: tuple[str, ...]) -> int:
    image = TinyImage.build()
    session = registry.session()
    with ThreadPoolExecutor(8) as pool:
        made = pool.map(
            lambda repository: push_image(session, registry.url, repository, tags, image),
            repositories,
        )
        return sum(made)


def run(configmap: Path, host: str, args: argparse.Namespace, extra: list[str]) -> str:
    """Best-of wall time of mirror-configmap, with its requests and tags-step seconds."""
    # A real file beside the input (an output must be a regular file: /dev/null is refused),
    # removed before each run so that every run writes it.
    output = configmap.with_name("custom.yaml")
    command = [sys.executable, "-m", "nim_build", "mirror-configmap", str(configmap)]
    command += ["--registry", host, "--plain-http", "--output", str(output)]
    command += ["--concurrency", str(args.concurrency), *extra]
    best, line = float("inf"), ""
    for _ in range(args.repeat):
        output.unlink(missing_ok=True)
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"mirror-configmap failed:\n{done.stderr}")
        match = _REQUESTS.search(done.stderr)
        assert match, done.stderr
        if seconds < best:
            best = seconds
            line = f"{seconds:.2f} s wall, {match[1]} requests, {match[2]} retries"
            line += f", tags step {match[3]} s"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=186)
    parser.add_argument("--tags", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.0, metavar="SECONDS")
    args = parser.parse_args()
    tags = ("1.0.0", "1.0", "latest", "1", "2.0.0")[: args.tags]
    entries = [replace(e, tags=tags, latest_tag="latest") for e in synthetic_entries(args.models)]
    with tempfile.TemporaryDirectory(prefix="bench-mirror-") as folder:
        work = Path(folder)
        configmap = work / "nim-models-data.yaml"
        configmap.write_text(render_configmap(entries))
        registry = Registry(work / "registry").start()
        try:
            start = time.perf_counter()
            pushed = seed(registry, [f"{e.namespace}/{e.name}" for e in entries], tags)
            print(
                f"seeded {args.models} repositories x {args.tags} tags "
                f"({pushed} requests) in {time.perf_counter() - start:.1f} s"
            )
            proxy = RegistryProxy(registry.url, latency=args.latency).start()
            host = proxy.host if args.latency else registry.host  # direct: no proxy overhead
            label = f"anonymous, concurrency {args.concurrency}, latency {args.latency:g} s"
            print(f"{label}: {run(configmap, host, args, [])}")
            proxy.stop()
        finally:
            registry.stop()
        if args.latency:
            return  # the token flow goes through the registry's realm, not the proxy
        issuer = TokenIssuer(work / "issuer").start()
        secured = Registry(work / "registry", issuer=issuer).start()  # same storage
        try:
            authfile = auth_file(work, secured.host)
            line = run(configmap, secured.host, args, ["--authfile", str(authfile)])
            print(f"auth: token, concurrency {args.concurrency}: {line}")
        finally:
            secured.stop()
            issuer.stop()


if __name__ == "__main__":
    main()
