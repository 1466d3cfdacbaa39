"""Benchmark `nim-build generate` against the fake NGC with per-request latency, by concurrency.

Runs everything as separate processes (fake server, nim-build, the floor client, the light
stand-in for the reference script), so wall time includes process start, and peak RSS is the
nim-build process's own (wait4). The floor is measured, not computed: the bare pooled client
of benchmarks/floor_client.py making the same requests at the same concurrency. The summary
table with every comparator is benchmarks/run_all.py.

    python benchmarks/bench_generate.py            # full set: 186 / 1,000 / 5,000 models
    python benchmarks/bench_generate.py --quick    # 186 models only
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY = "nvapi-test-key-0123456789"
LATENCY = 0.050
EU_LIST = ROOT / "nim_build/data/demo-eu-restricted.json"
FLOOR = "floor client"  # benchmarks/floor_client.py: bare pooled requests, same requests
# benchmarks/reference_sequential.sh: lighter than the reference nim_metadata.sh itself.
STAND_IN = "light stand-in for the reference script"


@dataclass(frozen=True)
class Measurement:
    label: str
    models: int
    concurrency: int
    seconds: float
    peak_rss_mb: float
    note: str = ""


def start_fake_ngc(models: int, latency: float) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "tests.fake_ngc", "--models", str(models)]
    command += ["--latency", str(latency), "--port", "0"]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    url = server.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1"):
        server.kill()
        raise SystemExit(f"fake NGC did not start: {url!r}")
    return server, url


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and a note on the outcome of one child process.

    Past ~2,300 models the ConfigMap exceeds Kubernetes' 1 MiB limit and nim-build refuses to
    write it (exit 1): that run is still timed, up to the refusal, and noted.
    """
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    assert child.stderr is not None
    errors = child.stderr.read().decode()
    if status == 0:
        return seconds, usage.ru_maxrss / 1024, ""
    if "over the 1,048,576-byte ConfigMap limit" in errors:
        return seconds, usage.ru_maxrss / 1024, "refused: over 1 MiB, not written"
    raise SystemExit(f"{command[:3]} failed:\n{errors}")


def nim_build(url: str, output: Path, concurrency: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "nim_build",
        "generate",
        "-q",
        "--api-url",
        url,
        "--concurrency",
        str(concurrency),
        "--output",
        str(output),
        "--eu-restricted",
        str(ROOT / "nim_build/data/demo-eu-restricted.json"),
    ]


def measure(models: int, runs: list[tuple[str, int]], repeat: int) -> list[Measurement]:
    server, url = start_fake_ngc(models, LATENCY)
    env = {**os.environ, "NGC_API_KEY": KEY}
    results = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            for label, concurrency in runs:
                output = Path(folder) / f"{label}-{concurrency}.yaml"
                if label == STAND_IN:
                    script = str(ROOT / "benchmarks/reference_sequential.sh")
                    command = ["bash", script, url, KEY, str(output), str(EU_LIST)]
                elif label == FLOOR:
                    command = [sys.executable, str(ROOT / "benchmarks/floor_client.py"), "ngc"]
                    command += [url, KEY, str(output), "--concurrency", str(concurrency)]
                else:
                    command = nim_build(url, output, concurrency)
                best = min((timed(command, env) for _ in range(repeat)), key=lambda r: r[0])
                results.append(Measurement(label, models, concurrency, *best))
    finally:
        server.terminate()
        server.wait()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="186 models only")
    args = parser.parse_args()
    runs186 = [(label, c) for c in (16, 1, 32, 64) for label in (FLOOR, "nim-build")]
    if shutil.which("curl") and shutil.which("jq"):
        runs186.append((STAND_IN, 1))
    results = measure(186, runs186, repeat=3)
    if not args.quick:
        results += measure(1000, [(FLOOR, 16), ("nim-build", 16)], repeat=1)
        results += measure(5000, [(FLOOR, 16), ("nim-build", 16)], repeat=1)

    floors = {(m.models, m.concurrency): m.seconds for m in results if m.label == FLOOR}
    print(f"fake NGC latency {LATENCY * 1000:.0f} ms/request; floor: {FLOOR}")
    print("| run | models | concurrency | wall (s) | floor (s) | wall / floor | peak RSS (MB) | |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for m in results:
        if m.label == FLOOR:
            continue
        floor = floors.get((m.models, m.concurrency), floors[(m.models, 16)])
        print(
            f"| {m.label} | {m.models} | {m.concurrency} | {m.seconds:.2f} | {floor:.2f} | "
            f"{m.seconds / floor:.2f}x | {m.peak_rss_mb:.0f} | {m.note} |"
        )
    by_label = {(m.label, m.models, m.concurrency): m.seconds for m in results}
    fast = by_label[("nim-build", 186, 16)]
    print(
        f"\nspeed-up at 186 models: {by_label[('nim-build', 186, 1)] / fast:.1f}x vs concurrency 1",
        end="",
    )
    if (STAND_IN, 186, 1) in by_label:
        print(f", {by_label[(STAND_IN, 186, 1)] / fast:.1f}x vs the {STAND_IN}", end="")
    print()


if __name__ == "__main__":
    main()
