"""`nim-build run`: diff against the current file, removal guard, report, GitHub outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import API_KEY, CliResult, github_outputs, leftovers, read_entries, snapshot_of
from tests.fake_ngc import (
    FakeModel,
    FakeNgc,
    Fault,
    default_models,
    metadata_body,
    synthetic_models,
)

Run = Callable[..., CliResult]
OUTPUT = Path("generated/nim-models-data.yaml")
REPORT = Path("generated/nim-models-data.report.md")


def run(run_cli: Run, fake: FakeNgc, *extra: str) -> CliResult:
    return run_cli("run", "--api-url", fake.url, API_KEY, *extra)


def test_first_run_writes_configmap_and_report(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    result = run(run_cli, fake_ngc)
    assert result.code == 0, result.err
    pullable = [m for m in fake_ngc.models if m.pullable]
    assert sorted(read_entries(OUTPUT)) == sorted(m.repo for m in pullable)
    report = REPORT.read_text(encoding="utf-8")
    assert f"{len(pullable)} added" in report
    assert result.out == ""  # outside Actions nothing goes to stdout


def test_unchanged_run_does_not_rewrite(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    assert run(run_cli, fake_ngc).code == 0
    before = snapshot_of(OUTPUT)
    result = run(run_cli, fake_ngc)
    assert result.code == 0, result.err
    assert snapshot_of(OUTPUT) == before
    assert "No changes" in REPORT.read_text(encoding="utf-8")


def test_field_change_reported(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    assert run(run_cli, fake_ngc).code == 0
    fake_ngc.model("bge-large-zh-v1-5").tags.append("1.6.0")
    assert run(run_cli, fake_ngc, "--report", "report.md").code == 0
    report = (workdir / "report.md").read_text(encoding="utf-8")
    assert "bge-large-zh-v1-5" in report
    assert "1.6.0" in report
    assert "1.6.0" in read_entries(OUTPUT)["bge-large-zh-v1-5"]["tags"]


def test_a_change_of_metadata_alone_is_said_in_the_report(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, actions: tuple[Path, Path]
) -> None:
    """The file changes (a pull request opens) though no model does: the report says why."""
    assert run(run_cli, fake_ngc, "--namespace", "odh", "--label", "team=ai").code == 0
    result = run(run_cli, fake_ngc)
    assert result.code == 0, result.err
    assert github_outputs(actions[0])["changed"] == "true"
    report = REPORT.read_text(encoding="utf-8")
    assert "No changes" in report
    assert "No model changed, but the ConfigMap did: its metadata" in report


def test_removal_guard_refuses_mass_deletion(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path
) -> None:
    models = synthetic_models(20)
    fake = make_fake_ngc(models)
    assert run(run_cli, fake).code == 0
    before = snapshot_of(OUTPUT)
    fake.set_models(models[:12])  # a partial catalog answer: 8 models gone

    result = run(run_cli, fake)

    assert result.code == 1
    assert "8 models would be removed" in result.error
    assert "--max-removals 5" in result.error
    assert result.error.endswith(": listed above")  # not 8 names on one line
    for gone in models[12:]:
        assert f"\n  {gone.repo}\n" in result.err
    assert snapshot_of(OUTPUT) == before
    assert "Not written" in REPORT.read_text(encoding="utf-8")


def test_removal_guard_allows_within_limit(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path
) -> None:
    models = synthetic_models(20)
    fake = make_fake_ngc(models)
    assert run(run_cli, fake).code == 0
    fake.set_models(models[:12])
    assert run(run_cli, fake, "--max-removals", "8").code == 0
    assert len(read_entries(OUTPUT)) == 12


def test_github_outputs_and_summary(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, actions: tuple[Path, Path]
) -> None:
    outputs, summary = actions
    assert run(run_cli, fake_ngc).code == 0
    added = sum(1 for m in fake_ngc.models if m.pullable)
    assert github_outputs(outputs) == {
        "changed": "true",
        "added": str(added),
        "removed": "0",
        "changed-models": "0",
    }
    assert summary.read_text(encoding="utf-8") == REPORT.read_text(encoding="utf-8")

    outputs.unlink()
    assert run(run_cli, fake_ngc).code == 0
    assert github_outputs(outputs)["changed"] == "false"


def test_github_annotations(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path, actions: tuple[Path, Path]
) -> None:
    fake = make_fake_ngc(default_models())
    assert run(run_cli, fake).code == 0
    fake.set_models(default_models(eu=True))  # now seen from the EU: 451s are carried over

    result = run(run_cli, fake)

    assert result.code == 0, result.err
    assert "::warning::llama-4-scout-17b-16e-instruct answered HTTP 451" in result.out
    assert read_entries(OUTPUT)["llama-4-scout-17b-16e-instruct"]["euRestricted"] is True

    fake.set_models([FakeModel(team="meta", repo="only-one")])
    result = run(run_cli, fake)
    assert result.code == 1
    assert result.out.startswith("::error::refusing to write")
    assert github_outputs(actions[0])["changed"] == "false"


def test_broken_current_file_fails_untouched(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    OUTPUT.parent.mkdir()
    OUTPUT.write_text("kind: ConfigMap\ndata:\n  a: 1\n  a: 2\n", encoding="utf-8")
    before = snapshot_of(OUTPUT)
    result = run(run_cli, fake_ngc)
    assert result.code == 1
    assert str(OUTPUT) in result.error
    assert snapshot_of(OUTPUT) == before
    assert fake_ngc.request_count == 0  # the broken file is found before any request


def test_demo(run_cli: Run, workdir: Path) -> None:
    result = run_cli("run", "--demo")
    assert result.code == 0, result.err
    assert len(read_entries(Path("build/demo/nim-models-data.yaml"))) == 12
    assert Path("build/demo/nim-models-data.report.md").is_file()


# --------------------------------------------------------------------------- truthful reports


# Files over {limit} bytes cannot be written (EFBIG), as on a full disk; root is not spared.
_SMALL_FILES = """
import resource, runpy, signal, sys
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
sys.argv[0] = "nim-build"
runpy.run_module("nim_build", run_name="__main__")
"""


def run_with_small_files(
    fake: FakeNgc, workdir: Path, limit: int = 8192
) -> subprocess.CompletedProcess[str]:
    """`nim-build run` against `fake` in a process that cannot write files over `limit` bytes."""
    script = _SMALL_FILES.replace("{limit}", str(limit))
    return subprocess.run(
        [sys.executable, "-c", script, "run", "--api-url", fake.url, API_KEY],
        cwd=workdir,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_failed_write_is_reported_as_not_written(
    make_fake_ngc: Callable[..., FakeNgc], workdir: Path, actions: tuple[Path, Path]
) -> None:
    outputs, summary = actions
    # Long display names: the ConfigMap is over the limit, the report (80-character cells) not.
    models = [FakeModel(team="meta", repo=f"m{i}", display_name="D" * 4000) for i in range(3)]
    fake = make_fake_ngc(models)
    done = run_with_small_files(fake, workdir)
    assert done.returncode == 1, done.stderr
    assert f"{OUTPUT}: cannot write: File too large" in done.stderr
    assert not OUTPUT.exists()
    report = REPORT.read_text(encoding="utf-8")
    assert f"- **Not written:** {OUTPUT}: cannot write: File too large" in report
    assert "**3 added, 0 removed, 0 changed**" in report  # what the write would have done
    assert summary.read_text(encoding="utf-8") == report
    # Like a refusal: nothing written, the counts of the change that was not.
    assert github_outputs(outputs) == {
        "changed": "false",
        "added": "3",
        "removed": "0",
        "changed-models": "0",
    }
    assert done.stdout.startswith(f"::error::{OUTPUT}: cannot write")
    assert leftovers(workdir / "generated") == []


def test_a_failed_report_after_a_written_configmap_says_changed(
    make_fake_ngc: Callable[..., FakeNgc], workdir: Path, actions: tuple[Path, Path]
) -> None:
    outputs, summary = actions
    tags = [
        f"1.0.{t}-release-candidate-build-{t}" for t in range(60)
    ]  # the report lists them twice
    models = [FakeModel(team="meta", repo=f"m{i}", tags=tags) for i in (1, 2)]
    fake = make_fake_ngc(models)

    assert run_with_small_files(fake, workdir, 1 << 30).returncode == 0
    for model in models:  # every tag changes: the report lists them before and after
        model.tags = [f"2.0.{t}-release-candidate-build-{t}" for t in range(60)]
    before = OUTPUT.read_bytes()
    limit = len(before) + 200  # room for the new ConfigMap, not for the report
    outputs.unlink()
    summary.unlink()
    done = run_with_small_files(fake, workdir, limit)
    assert done.returncode == 1, done.stderr
    assert f"{REPORT}: cannot write: File too large" in done.stderr
    assert OUTPUT.read_bytes() != before  # the ConfigMap was written ...
    # ... so the outputs say so, though the run failed on the report.
    assert github_outputs(outputs) == {
        "changed": "true",
        "added": "0",
        "removed": "0",
        "changed-models": "2",
    }
    assert leftovers(workdir / "generated") == []


def test_a_report_that_cannot_be_written_does_not_hide_why_the_run_failed(
    make_fake_ngc: Callable[..., FakeNgc], workdir: Path
) -> None:
    fake = make_fake_ngc([FakeModel(team="meta", repo="m1", status=404)])
    done = run_with_small_files(fake, workdir, 50)  # no report fits
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("nim-build: error:")]
    assert errors == [
        "nim-build: error: 1 model failed, generated/nim-models-data.yaml not written: "
        "nim/meta/m1 (HTTP 404)"
    ]
    assert (
        f"nim-build: warning: the report was not written either: {REPORT}: cannot write: "
        "File too large"
    ) in done.stderr
    assert not (workdir / "generated").exists()  # made for the lock, left empty: removed


def test_an_output_folder_that_is_a_file_fails_before_any_request(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    (workdir / "blocker").write_text("a file where the output's folder should be\n")
    result = run(run_cli, fake_ngc, "--output", "blocker/nim.yaml")
    assert result.code == 2
    assert result.error == "nim-build: error: --output blocker/nim.yaml: blocker is not a folder"
    assert fake_ngc.request_count == 0


def test_concurrent_runs_take_turns(
    run_subprocess: Callable[..., CliResult],
    make_fake_ngc: Callable[..., FakeNgc],
    workdir: Path,
) -> None:
    # Slow enough that the two runs overlap; each writes its own report.
    fake = make_fake_ngc(synthetic_models(24, seed=9), latency=0.1)
    args = ("run", "--api-url", fake.url, "--concurrency", "2", API_KEY)
    with ThreadPoolExecutor(2) as pool:
        results = list(
            pool.map(lambda name: run_subprocess(*args, "--report", name), ["a.md", "b.md"])
        )
    assert [r.code for r in results] == [0, 0], [r.err for r in results]
    reports = sorted((workdir / name).read_text(encoding="utf-8") for name in ("a.md", "b.md"))
    # The one that waited read the other's file: it saw no change, as the file says.
    assert reports[0].startswith("## NIM model metadata\n\n**24 added, 0 removed, 0 changed**")
    assert reports[1].startswith("## NIM model metadata\n\nNo changes (24 models)")
    assert len(read_entries(OUTPUT)) == 24
    assert leftovers(workdir / "generated") == []


def test_a_lone_surrogate_ends_the_run_in_one_line(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    model = fake_ngc.model("bge-m3")
    body = {**metadata_body(model), "displayName": "\ud800"}  # json.dumps: a "\ud800" escape
    fake_ngc.fail(model, [Fault(status=200, body=json.dumps(body).encode())])
    result = run(run_cli, fake_ngc)
    assert result.code == 1
    assert result.error.startswith("nim-build: error: validation failed: bge-m3: $.displayName")
    assert "Traceback" not in result.err
    assert not OUTPUT.exists()
    # The report says why nothing was written, naming the model.
    assert "bge-m3" in REPORT.read_text(encoding="utf-8")
