"""The CLI contract a newcomer expects: `-` for stdin/stdout, every file validated, the
command's own usage line, retry notices, quiet progress, and the key kept off the command line."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nim_build import progress
from nim_build.steps.configmap import ConfigMapError, parse_configmap, render_configmap
from nim_build.steps.eu import render_eu_list
from tests.conftest import API_KEY, CliResult, stderr_on_a_terminal
from tests.entries import make_entry
from tests.fake_ngc import FakeNgc, Fault, default_models, synthetic_models

Run = Callable[..., CliResult]
LLAMA = "llama-3.1-8b-instruct"
OUTPUT = Path("generated/nim-models-data.yaml")


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NGC_API_KEY", API_KEY)


@pytest.fixture
def stdin(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """`stdin(text)`: what the next in-process run reads from stdin."""

    def feed(text: str) -> None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode("utf-8"))))

    return feed


@pytest.fixture
def files(tmp_path: Path) -> Iterator[tuple[Path, Path, Path]]:
    """An old and a new ConfigMap (one model added) and an EU list."""
    old, new, eu_list = tmp_path / "old.yaml", tmp_path / "new.yaml", tmp_path / "eu.json"
    old.write_text(render_configmap([make_entry("a")]), encoding="utf-8")
    new.write_text(render_configmap([make_entry("a"), make_entry("b")]), encoding="utf-8")
    eu_list.write_text(render_eu_list(()), encoding="utf-8")
    yield old, new, eu_list


# --------------------------------------------------------------------------- 12: `-`


def test_validate_reads_stdin(
    run_cli: Run, stdin: Callable[[str], None], files: tuple[Path, Path, Path]
) -> None:
    old, _, _ = files
    stdin(old.read_text(encoding="utf-8"))
    result = run_cli("validate", "-")
    assert result.code == 0, result.err
    assert result.err == "stdin: OK (1 models)\n"
    stdin("")
    result = run_cli("validate", "-")
    assert result.code == 1
    assert "stdin: $: the file is empty" in result.err


@pytest.mark.parametrize("dash", ["old", "new"])
def test_diff_reads_either_side_from_stdin(
    run_cli: Run, stdin: Callable[[str], None], files: tuple[Path, Path, Path], dash: str
) -> None:
    old, new, _ = files
    from_file = run_cli("diff", str(old), str(new), "--format", "json")
    stdin((old if dash == "old" else new).read_text(encoding="utf-8"))
    argv = ["-", str(new)] if dash == "old" else [str(old), "-"]
    result = run_cli("diff", *argv, "--format", "json")
    assert result.code == 0, result.err
    assert result.out == from_file.out
    assert '"b"' in result.out


def test_diff_names_stdin_in_its_errors(
    run_cli: Run, stdin: Callable[[str], None], files: tuple[Path, Path, Path]
) -> None:
    old, _, eu_list = files
    stdin(eu_list.read_text(encoding="utf-8"))
    result = run_cli("diff", str(old), "-")
    assert result.code == 1
    assert result.error == "nim-build: error: stdin: an EU list, not a nim-models-data ConfigMap"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["diff", "-", "-"], "'-' can stand for one input only (stdin is read once)"),
        (["validate", "x.yaml", "-", "-"], "'-' can stand for one input only"),
        (["generate", "--record", "-"], "argument --record: '-' (stdin/stdout) is not taken"),
        (["generate", "--eu-restricted", "-"], "argument --eu-restricted: '-'"),
        (["detect-eu", "--output", "-"], "argument --output: '-'"),
        (["run", "--output", "-"], "argument --output: '-'"),
        (["run", "--report", "-"], "argument --report: '-'"),
    ],
)
@pytest.mark.usefixtures("key_env")
def test_dash_where_it_cannot_work_is_one_usage_line(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, argv: list[str], message: str
) -> None:
    local = argv[0] in ("diff", "validate")
    result = run_cli(*argv) if local else run_cli(*argv, "--api-url", fake_ngc.url)
    assert result.code == 2, result.err
    assert result.error.startswith(f"nim-build: error: {message}"), result.error
    assert result.err.startswith(f"usage: nim-build {argv[0]}")
    assert fake_ngc.request_count == 0
    assert not (workdir / "-").exists()


def test_generate_output_dash_writes_stdout_and_nothing_on_disk(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, key_env: None
) -> None:
    to_file = run_cli("generate", "--api-url", fake_ngc.url, "--output", "cm.yaml")
    assert to_file.code == 0, to_file.err
    result = run_cli("generate", "--api-url", fake_ngc.url, "--output", "-")
    assert result.code == 0, result.err
    assert result.out == (workdir / "cm.yaml").read_text(encoding="utf-8")  # logs: stderr
    assert "wrote stdout: " in result.err
    assert sorted(p.name for p in workdir.iterdir()) == ["cm.yaml"]  # no `-`, no generated/


@pytest.mark.parametrize("stdout", ["/dev/full", "closed"])
@pytest.mark.parametrize(
    "argv",
    [
        ("generate", "--demo", "--output", "-"),
        ("diff", "CM.yaml", "NEW.yaml"),
        ("mirror-list", "CM.yaml", "--registry", "m.example", "--format", "mapping"),
    ],
    ids=["generate", "diff", "mirror-list"],
)
def test_a_result_stdout_cannot_take_is_one_error_line(
    workdir: Path, argv: tuple[str, ...], stdout: str
) -> None:
    (workdir / "CM.yaml").write_text(render_configmap([make_entry("a")]), encoding="utf-8")
    (workdir / "NEW.yaml").write_text(render_configmap([make_entry("b")]), encoding="utf-8")
    with Path(stdout if stdout != "closed" else os.devnull).open("w") as target:
        done = subprocess.run(
            [sys.executable, "-m", "nim_build", "-q", *argv],
            cwd=workdir,
            stdout=target if stdout != "closed" else None,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=60,
            # Closed: the child's descriptor 1 is shut before Python starts (sys.stdout None).
            preexec_fn=(lambda: os.close(1)) if stdout == "closed" else None,
        )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    reason = "No space left on device" if stdout == "/dev/full" else "it is closed"
    assert done.stderr.splitlines() == [f"nim-build: error: stdout: cannot write: {reason}"]


def test_generate_output_dash_has_no_previous_configmap(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path, key_env: None
) -> None:
    from_eu = make_fake_ngc(default_models(eu=True))
    result = run_cli("generate", "--api-url", from_eu.url, "--output", "-")
    assert result.code == 1
    assert result.out == ""
    assert "no previous entry (--output - has no previous ConfigMap) to carry over" in result.err


@pytest.mark.parametrize("command", ["mirror-list", "mirror-configmap"])
def test_mirror_reads_stdin_and_mirror_list_writes_stdout(
    run_cli: Run,
    stdin: Callable[[str], None],
    files: tuple[Path, Path, Path],
    workdir: Path,
    command: str,
) -> None:
    old, _, eu_list = files
    if command == "mirror-list":
        stdin(old.read_text(encoding="utf-8"))
        argv = ["mirror-list", "-", "--registry", "mirror.example", "--format", "mapping"]
        result = run_cli(*argv, "--output", "-")
        assert result.code == 0, result.err
        assert "generated by nim-build mirror-list from stdin" in result.out
        assert "nvcr.io/nim/meta/a:latest=mirror.example/nim/meta/a:latest" in result.out
        assert "to stdout" in result.err
        assert not (workdir / "-").exists()
    stdin(eu_list.read_text(encoding="utf-8"))
    extra = ["--format", "mapping"] if command == "mirror-list" else []
    result = run_cli(command, "-", "--registry", "127.0.0.1:9", *extra)
    assert result.code == 1
    assert result.error == "nim-build: error: stdin: an EU list, not a nim-models-data ConfigMap"


# --------------------------------------------------------------------------- 13: validate A B C


def test_validate_reports_every_file(
    run_cli: Run, files: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    old, new, eu_list = files
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    missing = tmp_path / "missing.yaml"
    result = run_cli("validate", str(missing), str(old), str(empty), str(eu_list), str(new))
    assert result.code == 1
    assert result.err.splitlines() == [
        f"{missing}: no such file",
        f"{old}: OK (1 models)",
        f"{empty}: $: the file is empty",
        f"{empty}: 1 problem",
        f"{eu_list}: OK (0 restricted models)",
        f"{new}: OK (2 models)",
        f"nim-build: error: 2 of 5 files failed: {missing}, {empty}",
    ]
    assert run_cli("validate", str(old), str(new), str(eu_list)).code == 0


# --------------------------------------------------------------------------- 14: usage and errors


def test_an_error_in_a_command_prints_that_commands_usage(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    (workdir / "key").write_text("", encoding="utf-8")
    result = run_cli("generate", "--api-url", fake_ngc.url, "--api-key-file", "key")
    assert result.code == 2
    assert result.err.startswith("usage: nim-build generate ")
    assert "COMMAND" not in result.err
    assert result.error == "nim-build: error: API key file key is empty"  # 14: says so
    quiet_and_verbose = run_cli("validate", "-q", "-v", "x.yaml")
    assert quiet_and_verbose.err.startswith("usage: nim-build validate ")


@pytest.mark.parametrize(
    "argv",
    [("validate", "x.yaml", "--bogus"), ("diff", "a", "b", "c"), ("generate", "--bogus")],
)
def test_an_unknown_argument_prints_that_commands_usage(
    run_cli: Run, argv: tuple[str, ...]
) -> None:
    """Not the top-level usage: argparse reports a subcommand's leftovers from the top."""
    result = run_cli(*argv)
    assert result.code == 2
    assert result.err.startswith(f"usage: nim-build {argv[0]} ")
    assert "COMMAND" not in result.err
    assert result.error == f"nim-build: error: unrecognized arguments: {argv[-1]}"


def test_bare_nim_build_prints_the_help(run_cli: Run) -> None:
    result = run_cli()
    assert result.code == 2  # like git: nothing was done, so a script must not go on
    assert result.out == ""
    assert result.err.startswith("usage: nim-build ")
    for text in ("detect-eu", "mirror-configmap", "--version", "$NGC_API_KEY"):
        assert text in result.err
    assert "nim-build: error" not in result.err


def test_help_hides_deprecated_and_idle_options(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, key_env: None
) -> None:
    assert "--retries" not in run_cli("generate", "--help").out
    for command in ("validate", "diff", "mirror-list"):
        text = run_cli(command, "--help").out
        assert "--verbose" not in text and "-v" not in text.split(), command
        assert "--quiet" in text
    for command in ("generate", "detect-eu", "run", "mirror-configmap"):
        assert "--verbose" in run_cli(command, "--help").out
    # Hidden, still accepted.
    assert run_cli("validate", "-v", "nowhere.yaml").error.endswith("nowhere.yaml: no such file")
    assert run_cli("generate", "--api-url", fake_ngc.url, "--retries", "2").code == 0


def test_eu_list_and_auth_file_errors_name_the_option(
    run_cli: Run, files: tuple[Path, Path, Path], workdir: Path, key_env: None
) -> None:
    old, _, _ = files
    demo = ["generate", "--demo", "--output", "x.yaml"]
    result = run_cli(*demo, "--eu-restricted", str(old))
    assert result.error == (
        f"nim-build: error: --eu-restricted {old}: a nim-models-data ConfigMap, not an EU list"
    )
    other = workdir / "other.yaml"
    other.write_text(render_configmap([make_entry("a")], name="mirror"), encoding="utf-8")
    assert run_cli(*demo, "--eu-restricted", "other.yaml").error == (
        "nim-build: error: --eu-restricted other.yaml: a ConfigMap, not an EU list"
    )
    assert run_cli(*demo, "--eu-restricted", "nowhere.json").error == (
        "nim-build: error: --eu-restricted nowhere.json: no such file"
    )
    (workdir / "auth.json").write_text("{", encoding="utf-8")
    argv = ["mirror-configmap", str(old), "--registry", "127.0.0.1:9", "--authfile", "auth.json"]
    assert run_cli(*argv).error.startswith("nim-build: error: --authfile auth.json: not valid JSON")


def test_an_eu_list_where_a_configmap_is_expected_says_so(
    run_cli: Run, files: tuple[Path, Path, Path]
) -> None:
    _, _, eu_list = files
    said = f"nim-build: error: {eu_list}: an EU list, not a nim-models-data ConfigMap"
    for argv in (
        ["mirror-list", str(eu_list), "--registry", "m.example", "--format", "mapping"],
        ["mirror-configmap", str(eu_list), "--registry", "127.0.0.1:9"],
        ["diff", str(eu_list), str(eu_list)],
    ):
        assert run_cli(*argv).error == said, argv


def test_parse_configmap_refuses_an_empty_text() -> None:
    for text in ("", "# only a comment\n"):
        with pytest.raises(ConfigMapError, match=r"cm\.yaml is empty"):
            parse_configmap(text, "cm.yaml")


# --------------------------------------------------------------------------- 17: the key argument


def test_a_key_argument_is_warned_about_without_echoing_it(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_cli("generate", "--api-url", fake_ngc.url, API_KEY)
    assert result.code == 0, result.err
    warnings = [line for line in result.err.splitlines() if "`ps`" in line]
    assert warnings == [
        "nim-build: warning: the API key given as an argument is visible to other users in "
        "`ps` and stays in shell history; use $NGC_API_KEY or --api-key-file instead"
    ]
    assert API_KEY not in result.err + result.out
    monkeypatch.setenv("NGC_API_KEY", API_KEY)
    assert "`ps`" not in run_cli("generate", "--api-url", fake_ngc.url).err
    replay = run_cli("generate", "--demo", "--output", "demo.yaml", API_KEY)  # unused, yet seen
    assert replay.code == 0, replay.err
    assert [line for line in replay.err.splitlines() if "`ps`" in line] == warnings


@pytest.mark.parametrize("command", ["generate", "detect-eu", "run"])
def test_the_synopsis_leads_with_the_environment_and_the_key_file(
    run_cli: Run, command: str
) -> None:
    text = run_cli(command, "--help").out
    usage = text.splitlines()[0]
    assert usage == (
        f"usage: nim-build {command} [options]   (NGC key: $NGC_API_KEY or --api-key-file PATH)"
    )
    assert "API_KEY" in text and "visible in `ps`" in " ".join(text.split())


# --------------------------------------------------------------------------- 11: retry notices


def _notices(result: CliResult) -> list[str]:
    return [line for line in result.err.splitlines() if "retrying" in line]


def test_retries_are_noticed_once_per_wave(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path, key_env: None
) -> None:
    fake = make_fake_ngc(synthetic_models(20, seed=11))
    for model in fake.models:
        fake.fail(model, [Fault.http(503)] * 2)
    result = run_cli("generate", "--api-url", fake.url)
    assert result.code == 0, result.err
    notices = _notices(result)
    assert len(notices) == 1, result.err  # 40 retries within seconds: one wave
    assert re.fullmatch(
        r"retrying failed requests \(-v shows each\): GET http://127\.0\.0\.1:\d+/v2/org/nim/"
        r"team/[^ ]+ answered 503; next try in \d+\.\d s",
        notices[0],
    ), notices
    assert _notices(run_cli("-q", "generate", "--api-url", fake.url)) == []
    for model in fake.models:
        fake.fail(model, [Fault.http(503)])
    verbose = run_cli("generate", "-v", "--api-url", fake.url)
    assert "retry 1 in" in verbose.err and _notices(verbose) == []  # -v: each retry instead


def test_a_retry_notice_gives_the_servers_wait(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, key_env: None
) -> None:
    fake_ngc.fail(LLAMA, [Fault.http(429, retry_after=1)])
    notices = _notices(run_cli("generate", "--api-url", fake_ngc.url))
    assert len(notices) == 1
    assert notices[0].endswith(f"/{LLAMA} answered 429; next try in 1.0 s")


def test_a_long_wave_is_summarised_since_the_last_notice(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = [100.0]
    monkeypatch.setattr("nim_build.progress.time.monotonic", lambda: clock[0])
    notices = progress.RetryNotices()
    logger = logging.getLogger("nim_build")
    monkeypatch.setattr(logger, "level", logging.INFO)
    with caplog.at_level(logging.INFO, logger="nim_build"):
        for second in range(25):  # a retry every second for 25 s: one wave
            clock[0] = 100.0 + second
            reason = "HTTP 503" if second % 5 else "timed out"
            notices.retrying(f"GET http://h/{second} failed", reason, 2.0)
        clock[0] = 200.0  # a new wave after a quiet spell
        notices.retrying("GET http://h/new answered 429", "HTTP 429", 30.0)
    assert [record.getMessage() for record in caplog.records] == [
        "retrying failed requests (-v shows each): GET http://h/0 failed; next try in 2.0 s",
        "still retrying: 10 retries in the last 10 s (HTTP 503: 8, timed out: 2), latest "
        "GET http://h/10 failed; next try in 2.0 s",
        "still retrying: 10 retries in the last 10 s (HTTP 503: 8, timed out: 2), latest "
        "GET http://h/20 failed; next try in 2.0 s",
        "retrying failed requests (-v shows each): GET http://h/new answered 429; "
        "next try in 30.0 s",
    ]


# --------------------------------------------------------------------------- 15: progress


def test_a_run_within_a_second_shows_no_progress_lines(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, key_env: None
) -> None:
    result = run_cli("generate", "--api-url", fake_ngc.url)
    assert result.code == 0, result.err
    assert not re.search(r"\(\d+%\)", result.err), result.err
    assert "wrote generated/nim-models-data.yaml" in result.err


def test_a_dumb_terminal_gets_no_escape_codes(
    make_fake_ngc: Callable[..., FakeNgc], workdir: Path
) -> None:
    fake = make_fake_ngc(synthetic_models(30, seed=5), latency=0.05)  # 1.5 s: progress shows
    env = {**os.environ, "NGC_API_KEY": API_KEY, "PYTHONIOENCODING": "utf-8", "TERM": "dumb"}
    argv = ["generate", "--api-url", fake.url, "--concurrency", "1"]
    shown = stderr_on_a_terminal(argv, cwd=workdir, env=env)
    assert "\x1b" not in shown and "\r\x1b" not in shown
    assert re.search(r"^fetch metadata: 30/30 \(100%\)\r?$", shown, re.MULTILINE), shown
