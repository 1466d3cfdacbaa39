"""Benchmark the offline steps on 5,000 synthetic models: no network, no processes.

In-process library calls, at sizes the CLI refuses (`run` stops at the 1 MiB limit, about
2,000 models): for what the CLI does, as processes, see benchmarks/run_all.py.

Times validate_entries, render_configmap, validate_configmap_text, parse_configmap, diff
(against a variant with ~5% changes) and render_markdown, best of 3 each, then prints seconds
per step, the total, and the peak RSS of this process.

    python benchmarks/bench_offline.py [--models N] [--repeat N]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.entries: the same synthetic models the tests use

from nim_build.steps.configmap import parse_configmap, render_configmap  # noqa: E402
from nim_build.steps.diff import diff  # noqa: E402
from nim_build.steps.report import render_markdown  # noqa: E402
from nim_build.steps.validate import validate_configmap_text, validate_entries  # noqa: E402
from tests.entries import synthetic_entries, with_changes  # noqa: E402


def best_of(repeat: int, step: Callable[[], Any]) -> tuple[float, Any]:
    """Fastest wall time of `repeat` runs, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = step()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    old = synthetic_entries(args.models)
    new = with_changes(old)
    old_text = render_configmap(old)
    new_by_name = {entry.name: entry for entry in new}
    times: dict[str, float] = {}

    times["validate_entries"], problems = best_of(args.repeat, lambda: validate_entries(new))
    assert problems == (), problems[:3]
    times["render_configmap"], text = best_of(args.repeat, lambda: render_configmap(new))
    times["validate_configmap_text"], problems = best_of(
        args.repeat, lambda: validate_configmap_text(text, "bench.yaml")
    )
    # Only the 1 MiB limit may complain: 5,000 models do not fit in one ConfigMap.
    assert all(problem.model is None for problem in problems), problems[:3]
    times["parse_configmap (old)"], previous = best_of(
        args.repeat, lambda: parse_configmap(old_text, "old.yaml")
    )
    times["diff"], changes = best_of(args.repeat, lambda: diff(previous.entries, new_by_name))
    times["render_markdown"], report = best_of(
        args.repeat, lambda: render_markdown(changes, new_by_name)
    )

    print(f"{args.models:,} models, {len(text):,} bytes of YAML, best of {args.repeat}")
    print(
        f"diff: {len(changes.added)} added, {len(changes.removed)} removed, "
        f"{len(changes.changed)} changed; report {len(report):,} characters"
    )
    width = max(map(len, times))
    for name, seconds in times.items():
        print(f"  {name:<{width}}  {seconds:7.3f} s")
    print(f"  {'total':<{width}}  {sum(times.values()):7.3f} s")
    # What `run` does offline: render, validate the rendered text, parse the current file, diff,
    # report. (validate_entries is the library entry point for callers holding entries only.)
    pipeline = sum(seconds for name, seconds in times.items() if name != "validate_entries")
    print(f"  {'run pipeline (all but validate_entries)':<{width}}  {pipeline:7.3f} s")
    # Linux reports ru_maxrss in KiB.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
