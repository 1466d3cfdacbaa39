"""Every outcome of `run` after the key check explains itself: report, job summary, outputs.

Also: GitHub Actions files are touched only inside Actions, and the terminal progress line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from nim_build import github
from nim_build.errors import OutputError
from tests.conftest import (
    API_KEY,
    CliResult,
    github_outputs,
    snapshot_of,
    stderr_on_a_terminal,
)
from tests.fake_ngc import FakeModel, FakeNgc, Fault, synthetic_models
from tests.test_run import run

Run = Callable[..., CliResult]
OUTPUT = Path("generated/nim-models-data.yaml")
REPORT = Path("generated/nim-models-data.report.md")
OUTPUT_NAMES = {"changed", "added", "removed", "changed-models"}


def last_outputs(path: Path) -> dict[str, str]:
    values = github_outputs(path)
    assert set(values) == OUTPUT_NAMES, values
    return values


def not_written(removed: int = 0) -> dict[str, str]:
    """The outputs of a run that wrote nothing (`removed`: what a refusal refused)."""
    return {"changed": "false", "added": "0", "removed": str(removed), "changed-models": "0"}


# --------------------------------------------------------------------------- outside Actions


def test_actions_files_untouched_outside_actions(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs, summary = workdir / "github_output", workdir / "step_summary"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))  # set, but GITHUB_ACTIONS is not
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = run(run_cli, fake_ngc)
    assert result.code == 0, result.err
    assert not outputs.exists() and not summary.exists()
    assert result.out == ""  # no annotations either


def test_unwritable_github_output_is_a_one_line_error(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, actions: tuple[Path, Path]
) -> None:
    outputs, _ = actions
    outputs.mkdir()
    result = run(run_cli, fake_ngc)
    assert result.code == 2
    assert "Traceback" not in result.err
    assert f"$GITHUB_OUTPUT {outputs} is a folder" in result.error
    assert fake_ngc.request_count == 0


def test_write_failure_on_github_output_is_an_output_error(
    workdir: Path, actions: tuple[Path, Path]
) -> None:
    outputs, _ = actions
    outputs.mkdir()  # appears after the check: the write itself fails cleanly
    with pytest.raises(OutputError, match=r"\$GITHUB_OUTPUT .*: cannot write"):
        github.set_outputs({"changed": "false"})


# --------------------------------------------------------------------------- each outcome


# Success: tests/test_run.py::test_github_outputs_and_summary.


def test_refusal_explains_what_would_have_been_removed(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path, actions: tuple[Path, Path]
) -> None:
    outputs, summary = actions
    models = synthetic_models(20)
    fake = make_fake_ngc(models)
    assert run(run_cli, fake).code == 0
    outputs.unlink()
    summary.unlink()
    fake.set_models(models[:12])

    result = run(run_cli, fake)

    assert result.code == 1
    assert last_outputs(outputs) == not_written(removed=8)
    text = summary.read_text(encoding="utf-8")
    assert text == REPORT.read_text(encoding="utf-8")
    assert "**Not written:** 8 models would be removed" in text
    for gone in models[12:]:
        assert f"`{gone.repo}`" in text
    assert result.out.rstrip().endswith(
        "(more than --max-removals 5): each listed in the log and the report"
    )


def test_failed_models_are_listed_with_their_reasons(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, actions: tuple[Path, Path]
) -> None:
    outputs, summary = actions
    fake_ngc.fail("llama-3.1-8b-instruct", [Fault.http(503)] * 10)
    fake_ngc.model("bge-m3").status = 404

    result = run(run_cli, fake_ngc, "--attempts", "2")

    assert result.code == 1
    assert last_outputs(outputs) == not_written()
    text = summary.read_text(encoding="utf-8")
    assert text == REPORT.read_text(encoding="utf-8")
    assert "**Not written:** 2 models failed" in text
    assert "| `nim/meta/llama-3.1-8b-instruct` | GET http" in text
    assert "/repos/llama-3.1-8b-instruct answered 503 after 2 attempts |" in text
    assert "| `nim/baai/bge-m3` | HTTP 404 |" in text
    assert result.out.startswith("::error::2 models failed")
    assert not OUTPUT.exists()


def test_many_failed_models_annotate_where_they_are_listed(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, actions: tuple[Path, Path]
) -> None:
    # More than three go one per line above the error on stderr; the annotation has no
    # "above", so it says where they are instead of "listed above".
    for model in fake_ngc.models:
        model.status = 404
    result = run(run_cli, fake_ngc)
    assert result.code == 1
    assert "listed above" in result.error
    assert result.out.startswith("::error::9 models failed, generated/nim-models-data.yaml not ")
    assert result.out.rstrip().endswith(": each listed in the log and the report")
    assert "listed above" not in result.out


def test_oversize_states_the_size_over_the_limit(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path, actions: tuple[Path, Path]
) -> None:
    outputs, summary = actions
    models = [
        FakeModel(team="meta", repo=f"big-{index}", short_description="x" * 60_000)
        for index in range(20)
    ]
    result = run(run_cli, make_fake_ngc(models))
    assert result.code == 1
    assert last_outputs(outputs) == not_written()
    text = summary.read_text(encoding="utf-8")
    assert text == REPORT.read_text(encoding="utf-8")
    assert "**Not written:** the new ConfigMap failed validation" in text
    # Stopped as soon as the limit was certain (the size of the models so far), not at the end.
    assert re.search(r"would be over the 1 MiB ConfigMap limit: the first \d+ models", text), text
    assert not OUTPUT.exists()


def test_other_failures_after_the_key_check_are_reported(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path, actions: tuple[Path, Path]
) -> None:
    outputs, summary = actions
    twins = [FakeModel(team="meta", repo="twin"), FakeModel(team="baai", repo="twin")]
    result = run(run_cli, make_fake_ngc(twins))
    assert result.code == 1
    assert last_outputs(outputs) == not_written()
    text = summary.read_text(encoding="utf-8")
    assert "**Not written:**" in text and "nim/baai/twin" in text


def test_refused_key_writes_outputs_but_no_report(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path, actions: tuple[Path, Path]
) -> None:
    outputs, summary = actions
    result = run(run_cli, make_fake_ngc(valid_keys={"nvapi-other"}))
    assert result.code == 1
    assert last_outputs(outputs) == not_written()
    assert not summary.exists() and not REPORT.exists()


def test_unchanged_previous_stays_untouched_on_failure(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    assert run(run_cli, fake_ngc).code == 0
    before = snapshot_of(OUTPUT)
    fake_ngc.model("bge-m3").status = 404
    assert run(run_cli, fake_ngc).code == 1
    assert snapshot_of(OUTPUT) == before
    assert "`nim/baai/bge-m3` | HTTP 404" in REPORT.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- progress


def test_progress_on_a_terminal_is_one_updating_line(
    make_fake_ngc: Callable[..., FakeNgc], workdir: Path
) -> None:
    fake = make_fake_ngc(synthetic_models(60, seed=3), latency=0.05)  # > 1 s: progress shows
    env = {**os.environ, "NGC_API_KEY": API_KEY, "PYTHONIOENCODING": "utf-8"}
    argv = ["generate", "--api-url", fake.url, "--concurrency", "2"]
    shown = stderr_on_a_terminal(argv, cwd=workdir, env=env)
    redraws = re.findall(r"\rfetch metadata: (\d+)/60 \(\d+%\), [\d.]+/s, (ETA|in) ", shown)
    assert len(redraws) >= 2, shown  # redrawn in place, not one line per step
    assert ("60", "in") in redraws  # the finished line, with the time it took
    assert any(kind == "ETA" for _, kind in redraws)
    assert not re.search(r"^fetch metadata: \d+/60 \(\d+%\)\r?$", shown, re.MULTILINE)


def test_progress_in_a_log_keeps_the_ten_percent_lines(
    run_subprocess: Callable[..., CliResult], make_fake_ngc: Callable[..., FakeNgc]
) -> None:
    fake = make_fake_ngc(synthetic_models(40, seed=4), latency=0.05)  # 2 s: progress shows
    argv = ("generate", "--api-url", fake.url, "--concurrency", "1")
    result = run_subprocess(*argv, env={"NGC_API_KEY": API_KEY})
    assert result.code == 0, result.err
    assert "\r" not in result.err
    steps = re.findall(r"^fetch metadata: \d+/40 \((\d+)%\)$", result.err, re.MULTILINE)
    assert steps[-1] == "100" and 3 <= len(steps) <= 11  # the first second shows none


def test_usage_errors_still_set_every_output(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, actions: tuple[Path, Path]
) -> None:
    outputs, _ = actions
    (workdir / "folder").mkdir()
    result = run(run_cli, fake_ngc, "--output", "folder")
    assert result.code == 2
    assert last_outputs(outputs) == not_written()
