"""`nim-build mirror-configmap` against a registry whose tag pages never end.

Serves every repository's tags/list as a 4 MiB page with `Link: <…>; rel="next"`, forever
(tests/registry.py's HostileRegistry, in this process), runs the CLI as a child process, and
reports its wall time, exit code and peak RSS (getrusage(RUSAGE_CHILDREN) via wait4). Three
pages, each 4 MiB:

- short tags: ~300,000 tags of 11 characters per page (the tag bound refuses it unparsed);
- long tags: ~31,000 tags of 128 characters per page (the tag bound, after a few pages);
- padding: one tag and 4 MiB of blanks per page (the byte bound).

    python benchmarks/bench_endless_tags.py [--models 32] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.registry / tests.entries: the fixtures the tests use

from nim_build.steps.configmap import render_configmap  # noqa: E402
from tests.entries import synthetic_entries  # noqa: E402
from tests.registry import HostileRegistry  # noqa: E402

PAGE = 4 << 20


def page_of(tags: list[str]) -> bytes:
    """A tags/list page of exactly PAGE bytes: as many `tags` as fit, then blanks."""
    fitting: list[str] = []
    size = len(json.dumps({"name": "r", "tags": []}))
    for tag in tags:
        size += len(tag) + 4
        if size > PAGE:
            break
        fitting.append(tag)
    body = json.dumps({"name": "r", "tags": fitting}).encode()
    return body + b" " * (PAGE - len(body))


def run(page: bytes, configmap: Path, concurrency: int) -> tuple[float, int, float, str, int]:
    """Wall seconds, exit code, peak RSS (MiB), the error line, pages served."""
    registry = HostileRegistry(page=page, endless=True).start()
    try:
        command = [sys.executable, "-m", "nim_build", "mirror-configmap", str(configmap)]
        command += ["--registry", registry.host, "--plain-http", "--concurrency", str(concurrency)]
        command += ["--output", str(configmap.with_name("custom.yaml"))]
        started = time.perf_counter()
        child = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        assert child.stderr is not None
        errors = child.stderr.read()
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
    finally:
        registry.stop()
    error = next((line for line in errors.splitlines() if "error" in line), "")
    return (
        seconds,
        os.waitstatus_to_exitcode(status),
        usage.ru_maxrss / 1024,
        error,
        len(registry.seen),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    pages = {
        "short tags": page_of([f"tag-{n:07d}" for n in range(400_000)]),
        "long tags": page_of([f"{n:0128d}" for n in range(40_000)]),
        "padding": page_of(["1.0"]),
    }
    print(f"{args.models} models, --concurrency {args.concurrency}, 4 MiB pages, endless")
    print("| page | tags per page | wall (s) | exit | peak RSS (MiB) | pages served |")
    print("|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        configmap = Path(folder) / "nim-models-data.yaml"
        configmap.write_text(render_configmap(synthetic_entries(args.models)))
        for label, page in pages.items():
            count = len(json.loads(page)["tags"])
            seconds, code, rss, error, served = run(page, configmap, args.concurrency)
            print(f"| {label} | {count:,} | {seconds:.1f} | {code} | {rss:.0f} | {served} |")
            print(f"  {error[:200]}")


if __name__ == "__main__":
    main()
