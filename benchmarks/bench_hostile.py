"""`nim-build generate` against hostile servers: what a run costs when NGC misbehaves.

Starts the fake NGC in this process with a standing fault, runs the CLI as a child process,
and reports its wall time, exit code and peak RSS (getrusage(RUSAGE_CHILDREN)):

- gzip bomb, every answer: even the key check answers 1 GiB of gzipped zeros (~1 MB sent);
- gzip bomb, every model: key check and catalog are normal, all 186 models are bombs;
- drip, every answer / every model: headers, then one byte a second, forever
  (`--timeout 5 --attempts 2`).

    python benchmarks/bench_hostile.py
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fake_ngc import (  # noqa: E402 - after the path set-up above
    DEFAULT_KEY,
    FakeNgc,
    Fault,
    gzip_zeros,
    synthetic_models,
)

GIB = 1 << 30
DRIP_OPTIONS = ("--timeout", "5", "--attempts", "2")


@dataclass(frozen=True)
class Scenario:
    label: str
    path_prefix: str  # requests whose path starts with it get the fault
    fault: Fault
    options: tuple[str, ...] = ()


def run_measured(command: list[str], folder: Path | None = None) -> tuple[float, int, float, str]:
    """Wall seconds, exit code, peak RSS (MiB) of the child (wait4), and its error line."""
    started = time.perf_counter()
    child = subprocess.Popen(
        command,
        env={**os.environ, "NGC_API_KEY": DEFAULT_KEY},
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stderr is not None
    errors = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    error = next((line for line in errors.splitlines() if "error:" in line), "")
    return seconds, os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024, error


def run(scenario: Scenario) -> tuple[float, int, float, str]:
    """`generate` against the fake NGC with the scenario's fault: see run_measured."""
    with FakeNgc(synthetic_models(186)) as fake, tempfile.TemporaryDirectory() as folder:
        fake.fail_always(scenario.path_prefix, scenario.fault)
        command = [sys.executable, "-m", "nim_build", "generate", "-q", "--api-url", fake.url]
        command += ["--output", str(Path(folder) / "out.yaml"), *scenario.options]
        return run_measured(command)


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    bomb = Fault.gzip_bomb(GIB)
    print(f"gzip bomb: {len(gzip_zeros(GIB)):,} bytes sent, 1 GiB decoded")
    scenarios = [
        Scenario("gzip bomb, every answer", "/", bomb),
        Scenario("gzip bomb, every model", "/v2/org/", bomb),
        Scenario("drip, every answer", "/", Fault.dripping(1.0), DRIP_OPTIONS),
        Scenario("drip, every model", "/v2/org/", Fault.dripping(1.0), DRIP_OPTIONS),
    ]
    print("| server | options | wall (s) | exit | peak RSS (MiB) |")
    print("|---|---|---:|---:|---:|")
    for scenario in scenarios:
        seconds, code, rss, error = run(scenario)
        options = " ".join(scenario.options)
        print(f"| {scenario.label} | {options} | {seconds:.1f} | {code} | {rss:.0f} |")
        print(f"  {error[:160]}")


if __name__ == "__main__":
    main()
