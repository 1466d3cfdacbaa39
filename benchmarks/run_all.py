"""Every benchmark in one run, each against its floor measured in the same run; a Markdown table.

    python benchmarks/run_all.py --quick                  # ~2 minutes: 186 models, 5 runs each
    python benchmarks/run_all.py                          # 9 runs each, and the larger sizes
    python benchmarks/run_all.py --baseline ../old-checkout   # old figures beside the new

Everything runs as whole processes (interpreter start included), interleaved run by run so
that a busy machine slows every column alike; each cell is the median (and the fastest) of
its runs. The comparators, named for what they are:

- `python -c pass`: the interpreter starting and stopping.
- floor client (`benchmarks/floor_client.py`): a bare pooled `requests` client making the
  same requests as nim-build (NGC: key check and catalog page 0 at once, then metadata, 16 in
  flight; registry: one tags/list per repository, 16 in flight), with no checks.
- PyYAML C loader + json.loads (`benchmarks/floor_yaml.py`): libyaml reading the ConfigMap,
  every value decoded, no checks.
- light stand-in for the reference script (`benchmarks/reference_sequential.sh`): one curl
  per request and one jq per model, in sequence. It is lighter than the reference
  `nim_metadata.sh` itself (which runs more jq per model), so it flatters the reference.
- `skopeo list-tags` per repository: in sequence, and 16 at once (`xargs -P16`).

The fake NGC (`tests/fake_ngc.py`) and the registry (Debian's docker-registry,
`tests/registry.py`) run on 127.0.0.1; the fake answers with TCP_NODELAY and adds the stated
latency to every request. Needs the test extra; the registry rows need docker-registry and
skopeo (`.ci/install-test-tools`), the stand-in curl and jq: rows whose tool is missing
are left out, saying so.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.*: the fixtures the tests use

from nim_build.models import ModelEntry  # noqa: E402
from nim_build.steps.configmap import parse_configmap, render_configmap  # noqa: E402
from tests.entries import with_changes  # noqa: E402
from tests.fake_ngc import DEFAULT_KEY  # noqa: E402

PYTHON = sys.executable
BENCH = ROOT / "benchmarks"
EU_LIST = ROOT / "nim_build/data/demo-eu-restricted.json"
TIMES = "\u00d7"  # the multiplication sign
Command = tuple[Sequence[str], dict[str, str] | None]


@dataclass(frozen=True)
class Timing:
    runs: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def best(self) -> float:
        return min(self.runs)

    def cell(self) -> str:
        return f"{self.median:.3f} ({self.best:.3f})"


@dataclass(frozen=True)
class Row:
    work: str
    comparator: str
    floor: Timing
    new: Timing
    old: Timing | None = None
    speedup: bool = False  # a slower comparator: the ratio says how much faster nim-build is

    def line(self, with_old: bool) -> str:
        slow, fast = (self.floor, self.new) if self.speedup else (self.new, self.floor)
        ratio = f"{slow.median / fast.median:.2f}{TIMES} ({slow.best / fast.best:.2f}{TIMES})"
        if self.speedup:
            ratio += " faster"
        cells = [self.work, self.comparator, self.floor.cell(), self.new.cell(), ratio]
        if with_old:
            old = self.old
            cells += (
                [old.cell(), f"{old.median / self.floor.median:.2f}{TIMES}"] if old else ["", ""]
            )
        return "| " + " | ".join(cells) + " |"


class Runner:
    """Times commands as child processes; `env_for(checkout)` runs another checkout's code."""

    def __init__(self, repeat: int, baseline: Path | None, workdir: Path | None = None) -> None:
        self.repeat = repeat
        self.baseline = baseline
        # Not the checkout: `python -m` puts the working folder first on sys.path.
        self.workdir = workdir or Path(tempfile.gettempdir())

    def env_for(self, checkout: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
        # PYTHONPATH wins over the editable install of this checkout.
        return {**os.environ, "PYTHONPATH": str(checkout), **(extra or {})}

    def once(self, command: Sequence[str], env: dict[str, str] | None = None) -> float:
        start = time.perf_counter()
        done = subprocess.run(
            command,
            env=env,
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        seconds = time.perf_counter() - start
        # validate of a ConfigMap over 1 MiB says so and exits 1: expected, still timed.
        if done.returncode not in (0, 1) or b"Traceback" in done.stderr:
            raise SystemExit(f"{command[:4]} failed:\n{done.stderr.decode(errors='replace')}")
        return seconds

    def interleaved(
        self,
        commands: Mapping[str, Command],
        repeat: int = 0,
        before: Callable[[], object] | None = None,
    ) -> dict[str, Timing]:
        """Each command `repeat` times, in turns; `before` runs (untimed) before each."""
        runs: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(repeat or self.repeat):
            for name, (command, env) in commands.items():
                if before is not None:
                    before()
                runs[name].append(self.once(command, env))
        return {name: Timing(tuple(values)) for name, values in runs.items()}

    def nim_build(self, *argv: str, extra_env: dict[str, str] | None = None) -> dict[str, Command]:
        """The new and (with --baseline) old nim-build, as `python -m nim_build ARGV`."""
        command = [PYTHON, "-m", "nim_build", *argv]
        found: dict[str, Command] = {"new": (command, self.env_for(ROOT, extra_env))}
        if self.baseline is not None:
            found["old"] = (command, self.env_for(self.baseline, extra_env))
        return found

    def row(self, work: str, comparator: str, floor: Timing, found: dict[str, Timing]) -> Row:
        return Row(work, comparator, floor, found["new"], found.get("old"))


# --------------------------------------------------------------------------- start-up


def startup(runner: Runner) -> list[Row]:
    script = Path(PYTHON).with_name("nim-build")
    commands: dict[str, Command] = {"pass": ([PYTHON, "-c", "pass"], None)}
    commands |= {f"{k}-version": v for k, v in runner.nim_build("--version").items()}
    commands |= {f"{k}-help": v for k, v in runner.nim_build("--help").items()}
    commands["script"] = ([str(script), "--version"], runner.env_for(ROOT))
    found = runner.interleaved(commands, repeat=runner.repeat * 3)
    floor = found["pass"]
    rows = [
        Row("`nim-build --version` (console script)", "`python -c pass`", floor, found["script"]),
    ]
    for option in ("version", "help"):
        rows.append(
            Row(
                f"`python -m nim_build --{option}`",
                "`python -c pass`",
                floor,
                found[f"new-{option}"],
                found.get(f"old-{option}"),
            )
        )
    return rows


# --------------------------------------------------------------------------- generate


@contextmanager
def fake_ngc(models: int, latency: float) -> Iterator[str]:
    command = [PYTHON, "-m", "tests.fake_ngc", "--models", str(models)]
    command += ["--latency", str(latency), "--port", "0"]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    url = server.stdout.readline().strip()
    try:
        if not url.startswith("http://127.0.0.1"):
            raise SystemExit(f"fake NGC did not start: {url!r}")
        yield url
    finally:
        server.terminate()
        server.wait()


def generate(runner: Runner, models: int, latency: float, folder: Path) -> list[Row]:
    rows = []
    with fake_ngc(models, latency) as url:
        output = folder / f"generate-{models}-{latency}.yaml"
        argv = ["generate", "-q", "--api-url", url, "--concurrency", "16"]
        argv += ["--output", str(output), "--eu-restricted", str(EU_LIST)]
        commands = {
            "floor": (
                [PYTHON, str(BENCH / "floor_client.py"), "ngc", url, DEFAULT_KEY, str(output)],
                None,
            ),
            **runner.nim_build(*argv, extra_env={"NGC_API_KEY": DEFAULT_KEY}),
        }
        # Each run starts without a previous ConfigMap (no carry-over read), like the floor.
        found = runner.interleaved(commands, before=lambda: output.unlink(missing_ok=True))
        work = f"`generate`, {models:,} models, {latency * 1000:.0f} ms, 16 in flight"
        rows.append(runner.row(work, "floor client", found["floor"], found))
        if latency and models <= 200 and shutil.which("curl") and shutil.which("jq"):
            stand_in = [
                "bash",
                str(BENCH / "reference_sequential.sh"),
                url,
                DEFAULT_KEY,
                str(folder / "stand-in.yaml"),
                str(EU_LIST),
            ]
            seconds = runner.once(stand_in)
            comparison = Timing((seconds,))
            rows.append(
                Row(
                    f"`generate`, {models:,} models, {latency * 1000:.0f} ms (speed-up)",
                    "light stand-in for the reference script, 1 run",
                    comparison,
                    found["new"],
                    speedup=True,
                )
            )
    return rows


# --------------------------------------------------------------------------- offline


def demo_entries() -> list[ModelEntry]:
    """The bundled demo's entries (real NGC answers), as `generate --demo` writes them."""
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            [PYTHON, "-m", "nim_build", "generate", "--demo", "-q"],
            cwd=folder,
            env=Runner(1, None).env_for(ROOT),
            check=True,
        )
        text = (Path(folder) / "build/demo/nim-models-data.yaml").read_text(encoding="utf-8")
    return sorted(parse_configmap(text, "demo").entries.values(), key=lambda e: e.name)


def scaled(entries: list[ModelEntry], count: int) -> list[ModelEntry]:
    """`count` entries: the demo's, repeated under numbered names (real sizes and shapes)."""
    return [
        replace(
            entries[index % len(entries)], name=f"{entries[index % len(entries)].name}-{index:05d}"
        )
        for index in range(count)
    ]


def offline(runner: Runner, folder: Path, sizes: Sequence[int], diff_size: int) -> list[Row]:
    demo = demo_entries()
    rows = []
    for count in sizes:
        path = folder / f"configmap-{count}.yaml"
        path.write_text(render_configmap(scaled(demo, count)), encoding="utf-8")
        floor = ([PYTHON, str(BENCH / "floor_yaml.py"), str(path)], None)
        found = runner.interleaved(
            {"floor": floor, **runner.nim_build("validate", "-q", str(path))}
        )
        size = path.stat().st_size
        work = f"`validate`, {count:,} entries ({size / 1_048_576:.1f} MiB)"
        rows.append(runner.row(work, "PyYAML C loader + json.loads", found["floor"], found))
    old, new = folder / "old.yaml", folder / "new.yaml"
    entries = scaled(demo, diff_size)
    old.write_text(render_configmap(entries), encoding="utf-8")
    new.write_text(render_configmap(with_changes(entries)), encoding="utf-8")
    floor = ([PYTHON, str(BENCH / "floor_yaml.py"), str(old), str(new)], None)
    found = runner.interleaved({"floor": floor, **runner.nim_build("diff", str(old), str(new))})
    work = f"`diff`, {diff_size:,} entries, ~5% changed"
    rows.append(runner.row(work, "PyYAML C loader + json.loads, both files", found["floor"], found))
    return rows


# --------------------------------------------------------------------------- mirror


def mirror(runner: Runner, folder: Path, models: int) -> list[Row]:
    from tests.registry import Registry, TinyImage, push_image

    tags = ("1.0.0", "1.0", "latest")
    entries = [replace(e, tags=tags, latest_tag="latest") for e in scaled(demo_entries(), models)]
    configmap = folder / "mirror-source.yaml"
    configmap.write_text(render_configmap(entries), encoding="utf-8")
    repositories = [f"{e.namespace}/{e.name}" for e in entries]
    registry = Registry(folder / "registry").start()
    try:
        image = TinyImage.build()
        session = registry.session()
        for repository in repositories:
            push_image(session, registry.url, repository, tags, image)
        output = folder / "custom.yaml"
        argv = ["mirror-configmap", str(configmap), "--registry", registry.host, "--plain-http"]
        argv += ["--output", str(output), "--concurrency", "16"]
        floor = [PYTHON, str(BENCH / "floor_client.py"), "registry", registry.url]
        floor += [str(folder / "floor.json"), *repositories]
        listing = " ".join(f"docker://{registry.host}/{r}" for r in repositories)
        skopeo = "skopeo list-tags --tls-verify=false"
        loop = f"for r in {listing}; do {skopeo} $r >/dev/null; done"
        parallel = f"printf '%s\\n' {listing} | xargs -P16 -n1 {skopeo} >/dev/null"
        found = runner.interleaved(
            {"floor": (floor, None), **runner.nim_build(*argv)},
            before=lambda: output.unlink(missing_ok=True),  # every run writes it
        )
        work = f"`mirror-configmap`, {models} models {TIMES} 3 tags, 16 in flight"
        rows = [runner.row(work, "floor client", found["floor"], found)]
        skopeos = runner.interleaved(
            {"loop": (["bash", "-c", loop], None), "xargs": (["bash", "-c", parallel], None)},
            repeat=1,
        )
        for name, label in (("loop", "in sequence"), ("xargs", "16 at once (xargs -P16)")):
            rows.append(
                Row(
                    f"`mirror-configmap`, {models} models (speed-up)",
                    f"`skopeo list-tags` per repository, {label}, 1 run",
                    skopeos[name],
                    found["new"],
                    speedup=True,
                )
            )
        return rows
    finally:
        registry.stop()


# --------------------------------------------------------------------------- report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 runs each, 186 models only")
    parser.add_argument("--baseline", type=Path, metavar="CHECKOUT", help="old code to compare")
    parser.add_argument("--skip", action="append", default=[], choices=("registry",))
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="nim-build-bench-") as name:
        folder = Path(name)
        runner = Runner(5 if args.quick else 9, args.baseline, folder)
        rows += startup(runner)
        for latency in (0.0, 0.05):
            rows += generate(runner, 186, latency, folder)
        if not args.quick:
            rows += generate(runner, 1000, 0.05, folder)
        sizes = (186, 1800, 20_000) if not args.quick else (186, 20_000)
        rows += offline(runner, folder, sizes, 1800)
        if "registry" in args.skip:
            notes.append("registry rows skipped (--skip registry)")
        elif shutil.which("docker-registry") and shutil.which("skopeo"):
            rows += mirror(runner, folder, 186)
        else:
            notes.append("registry rows left out: install docker-registry and skopeo")
    with_old = args.baseline is not None
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} CPUs; Python "
        f"{platform.python_version()}; load average {load_before:.1f} → "
        f"{os.getloadavg()[0]:.1f}; {runner.repeat} runs a cell ({TIMES}3 for start-up), "
        "median (fastest) in seconds"
    )
    print()
    header = ["work", "comparator", "comparator (s)", "nim-build (s)", "ratio"]
    if with_old:
        header += ["before (s)", "ratio before"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * 2 + "---:|" * (len(header) - 2))
    for row in rows:
        print(row.line(with_old))
    for note in notes:
        print(f"\n{note}")


if __name__ == "__main__":
    main()
