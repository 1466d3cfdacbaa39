"""The command line: options, exit codes, key sources, and real subprocess runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import API_KEY, CliResult, read_entries, snapshot_of
from tests.fake_ngc import FakeNgc, Fault, default_models

Run = Callable[..., CliResult]
OUTPUT = Path("generated/nim-models-data.yaml")
LLAMA = "llama-3.1-8b-instruct"


# --------------------------------------------------------------------------- usage


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["no-such-command"],
        ["generate", "--no-such-option"],
        ["generate", "--concurrency", "0"],
        ["generate", "--concurrency", "many"],
        ["generate", "--timeout", "abc"],
        ["generate", "--timeout", "0"],
        ["generate", "--attempts", "0"],
        ["detect-eu", "--attempts", "-1"],
        ["generate", "--retries", "0"],
        ["generate", API_KEY, "extra-argument"],
        ["generate", "--demo", "--from-snapshot", "snap.json"],
        ["generate", "-v", "-q"],
        ["detect-eu", "--output"],
    ],
)
def test_usage_errors_exit_2(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, argv: list[str]
) -> None:
    result = run_cli(*argv)
    assert result.code == 2, result.err
    assert "usage" in result.err.lower()
    assert result.out == ""
    assert API_KEY not in result.err
    assert fake_ngc.request_count == 0
    assert not (workdir / "generated").exists()


@pytest.mark.parametrize("command", [[], ["generate"], ["detect-eu"]])
def test_help_exits_0(run_cli: Run, command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.code == 0
    assert "usage" in result.out.lower()


def test_generate_help_lists_the_options(run_cli: Run) -> None:
    text = run_cli("generate", "--help").out
    for option in (
        "--output",
        "--eu-restricted",
        "--api-url",
        "--api-key-file",
        "--concurrency",
        "--timeout",
        "--attempts",
        "--record",
        "--from-snapshot",
        "--demo",
        "--verbose",
        "--quiet",
        "API_KEY",
    ):
        assert option in text, option


# --------------------------------------------------------------------------- key and URL sources


def test_key_from_environment(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NGC_API_KEY", API_KEY)
    result = run_cli("generate", "--api-url", fake_ngc.url)
    assert result.code == 0, result.err
    assert API_KEY not in result.err


def test_key_from_file(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    (workdir / "key").write_text(API_KEY + "\n", encoding="utf-8")
    result = run_cli("generate", "--api-url", fake_ngc.url, "--api-key-file", "key")
    assert result.code == 0, result.err


def test_missing_key_file(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    result = run_cli("generate", "--api-url", fake_ngc.url, "--api-key-file", "nowhere")
    assert result.code == 2
    assert "nowhere" in result.error
    assert fake_ngc.request_count == 0


def test_legacy_key_in_file_refused(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    (workdir / "key").write_text("legacy-secret-1234\n", encoding="utf-8")
    result = run_cli("generate", "--api-url", fake_ngc.url, "--api-key-file", "key")
    assert result.code == 2
    assert "legacy-secret-1234" not in result.err
    assert fake_ngc.request_count == 0


def test_legacy_key_in_environment_refused(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NGC_API_KEY", "legacy-secret-5678")
    result = run_cli("detect-eu", "--api-url", fake_ngc.url)
    assert result.code == 2
    assert "legacy-secret-5678" not in result.err
    assert fake_ngc.request_count == 0


def test_api_url_from_environment(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NGC_API_URL", fake_ngc.url)
    result = run_cli("generate", API_KEY)
    assert result.code == 0, result.err
    assert fake_ngc.request_count > 0


def test_unreachable_api_is_a_one_line_failure(run_cli: Run, workdir: Path) -> None:
    result = run_cli("generate", "--attempts", "2", API_KEY)  # NGC_API_URL: 127.0.0.1:9
    assert result.code == 1
    assert result.error
    assert API_KEY not in result.err
    assert not (workdir / "generated").exists()


def test_unwritable_output_is_a_one_line_failure(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    (workdir / "a-file").write_text("", encoding="utf-8")
    result = run_cli("generate", "--api-url", fake_ngc.url, "--output", "a-file/out.yaml", API_KEY)
    assert result.code == 2
    assert "a-file/out.yaml" in result.error


def test_output_is_a_directory(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    (workdir / "folder").mkdir()
    result = run_cli("generate", "--api-url", fake_ngc.url, "--output", "folder", API_KEY)
    assert result.code == 2
    assert "folder" in result.error


def test_stdout_carries_nothing(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    for argv in (["generate"], ["detect-eu"], ["generate", "-v"], ["detect-eu", "-v"]):
        result = run_cli(*argv, "--api-url", fake_ngc.url, API_KEY)
        assert result.code == 0, result.err
        assert result.out == ""


# --------------------------------------------------------------------------- subprocess


def test_subprocess_generate_end_to_end(
    run_subprocess: Callable[..., CliResult], fake_ngc: FakeNgc, workdir: Path
) -> None:
    result = run_subprocess("generate", "--api-url", fake_ngc.url, env={"NGC_API_KEY": API_KEY})
    assert result.code == 0, result.err
    assert result.out == ""
    entries = read_entries(workdir / OUTPUT)
    assert entries == {m.repo: m.contract() for m in fake_ngc.models if m.pullable}
    assert "für" in (workdir / OUTPUT).read_text(encoding="utf-8")
    assert API_KEY not in result.err


def test_subprocess_detect_eu_then_generate(
    run_subprocess: Callable[..., CliResult],
    make_fake_ngc: Callable[..., FakeNgc],
    workdir: Path,
) -> None:
    from_eu = make_fake_ngc(default_models(eu=True))
    from_us = make_fake_ngc(default_models())
    env = {"NGC_API_KEY": API_KEY}
    assert run_subprocess("detect-eu", "--api-url", from_eu.url, env=env).code == 0
    result = run_subprocess("generate", "--api-url", from_us.url, "-q", env=env)
    assert result.code == 0, result.err
    assert result.err == ""  # -q, the default EU list is there: nothing to say
    restricted = {n for n, e in read_entries(workdir / OUTPUT).items() if e["euRestricted"]}
    eu_list = json.loads((workdir / "generated/nim_eu_restricted.json").read_text("utf-8"))
    assert restricted == {item["name"] for item in eu_list} and len(restricted) == 4


def test_subprocess_failures_show_no_traceback(
    run_subprocess: Callable[..., CliResult],
    make_fake_ngc: Callable[..., FakeNgc],
    workdir: Path,
) -> None:
    good = make_fake_ngc()
    assert run_subprocess("generate", "--api-url", good.url, API_KEY).code == 0
    before = snapshot_of(workdir / OUTPUT)
    refused = make_fake_ngc(valid_keys={"nvapi-another"})
    failing = make_fake_ngc()
    failing.fail(LLAMA, [Fault.http(503)] * 5)
    failing.fail("bge-m3", [Fault.malformed_json()])
    broken = make_fake_ngc()
    broken.model("bge-m3").extras["tags"] = "1.5"
    (workdir / "bad-snapshot.json").write_text("{", encoding="utf-8")
    cases = [
        ["generate", "--api-url", refused.url, "-v", API_KEY],
        ["generate", "--api-url", failing.url, "--attempts", "2", "-v", API_KEY],
        ["generate", "--api-url", broken.url, API_KEY],
        ["generate", "--api-url", "http://127.0.0.1:9", "--attempts", "1", API_KEY],
        ["generate", "--api-url", good.url, "--eu-restricted", "missing.json", API_KEY],
        ["generate", "--from-snapshot", "bad-snapshot.json"],
        ["detect-eu", "--api-url", failing.url, "--attempts", "2", "--output", "eu.json", API_KEY],
    ]
    for argv in cases:
        result = run_subprocess(*argv)
        assert result.code == 1, (argv, result.err)
        assert "Traceback" not in result.err, result.err
        assert result.error  # exactly one error line
        assert API_KEY not in result.out + result.err
        assert snapshot_of(workdir / OUTPUT) == before, argv
    assert not (workdir / "eu.json").exists()
    legacy = run_subprocess("generate", "--api-url", good.url, "legacy-key-abc")
    assert legacy.code == 2, legacy.err  # refused before any request: a usage error
    assert "Traceback" not in legacy.err and legacy.error
    assert "legacy-key-abc" not in legacy.err
    assert snapshot_of(workdir / OUTPUT) == before


def test_subprocess_usage_error_exits_2(run_subprocess: Callable[..., CliResult]) -> None:
    result = run_subprocess("generate", "--concurrency", "0")
    assert result.code == 2
    assert "Traceback" not in result.err


def test_subprocess_demo(run_subprocess: Callable[..., CliResult], workdir: Path) -> None:
    result = run_subprocess("generate", "--demo", env={"NGC_API_URL": "http://127.0.0.1:9"})
    assert result.code == 0, result.err
    assert read_entries(workdir / "build/demo/nim-models-data.yaml")
