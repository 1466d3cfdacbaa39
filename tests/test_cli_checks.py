"""Everything is checked before the first request; messages read like pip's and ruff's."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from nim_build.atomic import write_atomically
from nim_build.errors import OutputError, UsageError
from nim_build.outputs import check_output
from nim_build.safe_text import redact, register_secret
from nim_build.steps.configmap import render_configmap
from tests.conftest import API_KEY, CliResult, leftovers, read_entries, snapshot_of
from tests.fake_ngc import FakeModel, FakeNgc, Fault, default_models

Run = Callable[..., CliResult]
OUTPUT = Path("generated/nim-models-data.yaml")
LLAMA = "llama-3.1-8b-instruct"


# Every option that names a file a command writes.
OUTPUT_OPTIONS = [
    ("generate", "--output"),
    ("detect-eu", "--output"),
    ("run", "--output"),
    ("run", "--report"),
    ("generate", "--record"),
]


def assert_refused_before_any_request(result: CliResult, fake: FakeNgc, *names: str) -> None:
    """Exit 2, one `nim-build: error:` line naming `names`, no traceback, nothing sent."""
    assert result.code == 2, result.err
    assert "Traceback" not in result.err
    for name in names:
        assert name in result.error, result.error
    assert fake.request_count == 0
    assert API_KEY not in result.err + result.out


# --------------------------------------------------------------------------- option values


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--api-url", "garbage"], "'garbage' is not an http:// or https:// URL"),
        (["--api-url", "ftp://example.com"], "is not an http:// or https:// URL"),
        (["--api-url", "http://"], "has no host name"),
        (["--api-url", "https://example.com:70000"], "is not a valid URL"),
        (["--api-url", "http://127.0.0.1:0"], "port 0"),
        (["--api-url", "http://u:hunter2@127.0.0.1:9/"], "'http://***@127.0.0.1:9/': a base URL"),
        (["--api-url", ""], "--api-url"),
        (["--timeout", "nan"], "--timeout"),
        (["--timeout", "inf"], "--timeout"),
        (["--timeout", "-1"], "more than 0"),
        (["--timeout", "abc"], "expected a number of seconds"),
        (["--concurrency", "100000"], "from 1 to 64"),
        (["--concurrency", "0"], "from 1 to 64"),
        (["--concurrency", "many"], "expected a whole number from 1 to 64, got 'many'"),
        (["--attempts", "0"], "from 1 to 20"),
        (["--attempts", "1.5"], "expected a whole number"),
    ],
)
@pytest.mark.parametrize("command", ["generate", "detect-eu", "run"])
def test_bad_option_values_are_usage_errors(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, *, command: str, argv: list[str], named: str
) -> None:
    result = run_cli(command, "--api-url", fake_ngc.url, *argv, API_KEY)
    assert_refused_before_any_request(result, fake_ngc, named)
    assert "invalid" not in result.err.split("error:")[-1]  # no "invalid positive_int value"
    assert "hunter2" not in result.err  # a password in a URL is never echoed
    assert not (workdir / "generated").exists()


def test_max_removals_must_be_a_count(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    result = run_cli("run", "--api-url", fake_ngc.url, "--max-removals", "-1", API_KEY)
    assert_refused_before_any_request(result, fake_ngc, "--max-removals", "0 or more")


def test_bad_api_url_in_the_environment(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NGC_API_URL", "garbage")
    result = run_cli("generate", API_KEY)
    assert_refused_before_any_request(result, fake_ngc, "$NGC_API_URL", "'garbage'")
    # A replay never calls NGC: the variable does not matter there.
    assert run_cli("generate", "--demo").code == 0


def test_help_states_the_limits(run_cli: Run) -> None:
    text = " ".join(run_cli("generate", "--help").out.split())
    assert "1 to 64" in text
    assert "1 (no retry) to 20" in text


# --------------------------------------------------------------------------- the key


@pytest.mark.parametrize(
    "key",
    [
        "nvapi-ключ-0123456789",  # not Latin-1: would not even fit an HTTP header
        "nvapi-ab\x01cd",  # a control character
        "nvapi-ab cd",  # a space inside
        "nvapi-tab\there",
    ],
)
def test_key_with_characters_no_key_has(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, monkeypatch: pytest.MonkeyPatch, *, key: str
) -> None:
    for argv in (["generate", key], ["generate", "--api-key-file", "key"], ["generate"]):
        (workdir / "key").write_text(key, encoding="utf-8")
        monkeypatch.setenv("NGC_API_KEY", key)
        result = run_cli(*argv, "--api-url", fake_ngc.url)
        assert_refused_before_any_request(result, fake_ngc, "not a personal NGC key")
        assert key not in result.err
        assert key.split("-", 1)[1][:4] not in result.err


def test_key_file_not_utf8(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    (workdir / "key").write_bytes(b"nvapi-\xff\xfe\x00secret")
    result = run_cli("generate", "--api-url", fake_ngc.url, "--api-key-file", "key")
    assert_refused_before_any_request(result, fake_ngc, "API key file key", "not UTF-8")
    assert "secret" not in result.err


def test_a_byte_order_mark_is_not_part_of_an_input(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    # As Notepad saves them: else "the key ... must start with 'nvapi-'", or a JSON error.
    (workdir / "key").write_bytes(b"\xef\xbb\xbf" + API_KEY.encode() + b"\r\n")
    (workdir / "eu.json").write_bytes(b"\xef\xbb\xbf[]\r\n")
    argv = ("--api-url", fake_ngc.url, "--api-key-file", "key", "--eu-restricted", "eu.json")
    result = run_cli("generate", *argv)
    assert result.code == 0, result.err


def test_redaction_keeps_the_text_around_the_key() -> None:
    # A key-shaped token nobody registered keeps its prefix; a registered key goes whole.
    stray = "nvapi-typed-in-the-wrong-place"
    assert redact(f"bad key ({stray}), try again") == "bad key (nvapi-***), try again"
    assert redact(f"'{stray}'") == "'nvapi-***'"
    register_secret(API_KEY)
    assert redact(f"bad key ({API_KEY}), try again") == "bad key (***), try again"


# --------------------------------------------------------------------------- output paths


def _special_outputs(workdir: Path) -> dict[str, tuple[str, str]]:
    """Paths that cannot take an output, and the words the refusal uses.

    Devices are checked in `test_devices_are_not_outputs` without running a command: a
    regression here must not replace the machine's /dev/null.
    """
    (workdir / "folder").mkdir()
    (workdir / "a-file").write_text("x", encoding="utf-8")
    os.mkfifo(workdir / "fifo")
    return {
        "folder": ("folder", "is a folder"),
        "fifo": ("fifo", "not a regular file"),
        "a-file/out.yaml": ("a-file", "is not a folder"),
        "no-such-folder/..": ("no-such-folder/..", "names a folder"),
    }


@pytest.mark.parametrize("device", ["/dev/null", "/dev/full"])
def test_devices_are_not_outputs(device: str) -> None:
    with pytest.raises(UsageError, match=f"--output {device} is not a regular file"):
        check_output(Path(device), "--output")
    with pytest.raises(OutputError, match="not a regular file"):
        write_atomically(Path(device), "x")  # the last line of defence: never replaced


@pytest.mark.parametrize(("command", "option"), OUTPUT_OPTIONS)
def test_unusable_outputs_are_refused_before_any_request(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, command: str, option: str
) -> None:
    for path, (named, reason) in _special_outputs(workdir).items():
        result = run_cli(command, "--api-url", fake_ngc.url, option, path, API_KEY)
        assert_refused_before_any_request(result, fake_ngc, option, named, reason)
    assert (workdir / "a-file").read_text(encoding="utf-8") == "x"


@pytest.mark.parametrize(("command", "option"), OUTPUT_OPTIONS)
def test_a_named_output_in_a_missing_folder_is_refused_before_any_request(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, command: str, option: str
) -> None:
    result = run_cli(command, "--api-url", fake_ngc.url, option, "no/such/out.yaml", API_KEY)
    assert_refused_before_any_request(
        result, fake_ngc, f"{option} no/such/out.yaml: the folder no/such does not exist"
    )
    assert not (workdir / "no").exists()


def test_default_output_folders_are_created(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    result = run_cli("run", "--api-url", fake_ngc.url, API_KEY)
    assert result.code == 0, result.err
    assert (workdir / "generated/nim-models-data.yaml").is_file()
    assert (workdir / "generated/nim-models-data.report.md").is_file()


def test_symlinked_outputs_are_written_through(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    targets = workdir / "manifests"
    targets.mkdir()
    (targets / "nim.yaml").write_text(render_configmap([]), encoding="utf-8")
    (workdir / "out.yaml").symlink_to(targets / "nim.yaml")
    (workdir / "report.md").symlink_to("manifests/report.md")  # dangling: target is created
    result = run_cli(
        "run", "--api-url", fake_ngc.url, "--output", "out.yaml", "--report", "report.md", API_KEY
    )
    assert result.code == 0, result.err
    for link in ("out.yaml", "report.md"):
        assert (workdir / link).is_symlink(), link
    assert read_entries(targets / "nim.yaml")  # the target got the new content
    assert "added" in (targets / "report.md").read_text(encoding="utf-8")
    assert leftovers(workdir) == [] and leftovers(targets) == []


@pytest.mark.parametrize(
    ("command", "argv", "named"),
    [
        ("run", ["--output", "x.yaml", "--report", "x.yaml"], "--output and --report"),
        ("run", ["--output", "x.yaml", "--report", "link.md"], "--output and --report"),
        ("run", ["--report", "r.md", "--record", "./r.md"], "--report and --record"),
        ("generate", ["--output", "x.yaml", "--record", "x.yaml"], "--output and --record"),
        ("detect-eu", ["--output", "x.json", "--record", "x.json"], "--output and --record"),
        (
            "run",
            ["--report", "eu.json", "--eu-restricted", "eu.json"],
            "--report and --eu-restricted",
        ),
        (
            "generate",
            ["--record", "eu.json", "--eu-restricted", "eu.json"],
            "--record and --eu-restricted",
        ),
    ],
)
def test_two_outputs_naming_one_file_are_refused(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, *, command: str, argv: list[str], named: str
) -> None:
    # Else the report (or snapshot) silently replaced the ConfigMap just written, exit 0.
    (workdir / "link.md").symlink_to("x.yaml")
    result = run_cli(command, "--api-url", fake_ngc.url, *argv, API_KEY)
    assert_refused_before_any_request(result, fake_ngc, f"{named} name the same file")
    assert not (workdir / "x.yaml").exists()


# --------------------------------------------------------------------------- conventions


def test_version(run_cli: Run) -> None:
    result = run_cli("--version")
    assert result.code == 0
    assert re.fullmatch(r"nim-build \d+\.\d+\.\d+\S*\n", result.out)


def test_quiet_and_verbose_before_the_command(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    quiet = run_cli("-q", "generate", "--api-url", fake_ngc.url, API_KEY)
    assert quiet.code == 0, quiet.err
    assert "wrote" not in quiet.err and "%" not in quiet.err
    fake_ngc.fail(LLAMA, [Fault.http(503)])
    verbose = run_cli("-v", "generate", "--api-url", fake_ngc.url, API_KEY)
    assert verbose.code == 0
    assert "retry 1" in verbose.err
    both = run_cli("-q", "generate", "-v", "--api-url", fake_ngc.url, API_KEY)
    assert both.code == 2
    assert "cannot be combined" in both.error


def test_verbose_help_says_what_it_shows(run_cli: Run) -> None:
    for command in ("validate", "diff"):
        assert "retr" not in run_cli(command, "--help").out
    assert "retry" in run_cli("generate", "--help").out


def test_retries_is_a_deprecated_alias_of_attempts(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    fake_ngc.fail(LLAMA, [Fault.http(503)] * 10)
    result = run_cli(
        "generate", "--api-url", fake_ngc.url, "--retries", "5", "--retries", "3", API_KEY
    )
    assert result.code == 1
    warnings = [line for line in result.err.splitlines() if "deprecated" in line]
    assert warnings == [
        "nim-build: warning: --retries is deprecated; use --attempts (same meaning)"
    ]
    assert len(fake_ngc.requests_for(LLAMA)) == 3  # the last value, counted as attempts


def test_usage_errors_of_a_command_use_the_one_prefix(run_cli: Run) -> None:
    result = run_cli("generate", "--concurrency", "x")
    assert result.error.startswith("nim-build: error: argument --concurrency:")


def test_warnings_have_the_prefix(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    result = run_cli("generate", "--api-url", fake_ngc.url, API_KEY)
    assert result.code == 0
    warning = next(line for line in result.err.splitlines() if "no EU list" in line)
    assert warning.startswith("nim-build: warning: no EU list at generated/")


def test_connection_errors_name_the_url(run_cli: Run, workdir: Path) -> None:
    result = run_cli("generate", "--api-url", "http://127.0.0.1:9", "--attempts", "1", API_KEY)
    assert result.code == 1
    assert "cannot reach http://127.0.0.1:9" in result.error
    assert result.error.endswith("after 1 attempt")


def test_counts_are_in_the_right_number(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path
) -> None:
    fake = make_fake_ngc([FakeModel(team="meta", repo="only-one")])
    result = run_cli("generate", "--api-url", fake.url, API_KEY)
    assert result.code == 0, result.err
    assert "catalog: 1 model on 1 page;" in result.err
    assert ": 1 model (" in result.err
    fake.fail("only-one", [Fault.http(404)])
    failed = run_cli("generate", "--api-url", fake.url, API_KEY)
    assert "1 model failed" in failed.error
    assert "(s)" not in failed.err


def test_many_failed_models_one_per_line(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    failing = [m for m in fake_ngc.models if m.pullable][:5]
    for model in failing:
        model.status = 404
    result = run_cli("generate", "--api-url", fake_ngc.url, API_KEY)
    assert result.code == 1
    for model in failing:
        lines = [line for line in result.err.splitlines() if model.resource_id in line]
        assert lines == [f"  {model.resource_id}: HTTP 404"], result.err
    assert result.error.endswith(
        "5 models failed, generated/nim-models-data.yaml not written: listed above"
    )


# --------------------------------------------------------------------------- what a file holds


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("", "is empty"),
        ("# only a comment\n", "is empty"),
        ("- a\n- b\n", "expected an object, got an array"),
        ("kind: Deployment\n", 'expected "ConfigMap", got "Deployment"'),
        ("data: [\n", "not valid YAML"),
    ],
)
def test_diff_refuses_what_validate_refuses(
    run_cli: Run, workdir: Path, content: str, named: str
) -> None:
    good = workdir / "good.yaml"
    good.write_text(render_configmap([]), encoding="utf-8")
    bad = workdir / "bad.yaml"
    bad.write_text(content, encoding="utf-8")
    for argv in ((bad, good), (good, bad)):
        result = run_cli("diff", *map(str, argv))
        assert result.code == 1, result.err
        assert result.error.startswith(f"nim-build: error: {bad}"), result.error
        assert named in result.err  # the error line, or the problems listed above it
        assert "<unicode string>" not in result.err
        assert result.out == ""


def test_diff_names_a_bad_field_in_the_files_words(run_cli: Run, workdir: Path) -> None:
    good = workdir / "good.yaml"
    good.write_text(render_configmap([]), encoding="utf-8")
    entry = '{"name": "a", "tags": 5}'
    bad = workdir / "bad.yaml"
    bad.write_text(f"kind: ConfigMap\ndata:\n  a: '{entry}'\n", encoding="utf-8")
    result = run_cli("diff", str(good), str(bad))
    assert result.code == 1
    assert "object is not iterable" not in result.err
    assert "$.tags: expected an array, got an integer 5" in result.err


@pytest.mark.parametrize("command", ["generate", "run"])
def test_an_output_holding_something_else_is_not_overwritten(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, command: str
) -> None:
    other = workdir / "deployment.yaml"
    other.write_text("apiVersion: apps/v1\nkind: Deployment\n", encoding="utf-8")
    before = snapshot_of(other)
    result = run_cli(command, "--api-url", fake_ngc.url, "--output", str(other), API_KEY)
    assert_refused_before_any_request(result, fake_ngc, f"refusing to overwrite {other}")
    assert snapshot_of(other) == before


def test_an_empty_output_file_is_filled(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    (workdir / "out.yaml").write_text("", encoding="utf-8")
    result = run_cli("generate", "--api-url", fake_ngc.url, "--output", "out.yaml", API_KEY)
    assert result.code == 0, result.err
    assert read_entries(workdir / "out.yaml")


def test_generate_replaces_a_broken_configmap_of_its_own_with_a_warning(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    broken = render_configmap([]).replace("data: {}", "data:\n  a: 1")
    (workdir / "out.yaml").write_text(broken, encoding="utf-8")
    result = run_cli("generate", "--api-url", fake_ngc.url, "--output", "out.yaml", API_KEY)
    assert result.code == 0, result.err
    assert "nim-build: warning: previous ConfigMap ignored: out.yaml" in result.err
    assert read_entries(workdir / "out.yaml")


# --------------------------------------------------------------------------- the EU list


def test_generate_warns_about_an_eu_list_validate_would_refuse(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    llama, bge = fake_ngc.model(LLAMA), fake_ngc.model("bge-large-zh-v1-5")
    gone = FakeModel(team="meta", repo="llama-2-70b-chat")  # not in the catalog
    items = [llama.eu_entry(), bge.eu_entry(), gone.eu_entry()]  # not sorted by name
    eu_list = workdir / "eu.json"
    eu_list.write_text(json.dumps(items), encoding="utf-8")
    result = run_cli(
        "generate", "--api-url", fake_ngc.url, "--eu-restricted", str(eu_list), API_KEY
    )
    assert result.code == 0, result.err
    warnings = [line for line in result.err.splitlines() if "warning" in line]
    assert any(f"{eu_list}: " in line and "not sorted by name" in line for line in warnings)
    assert any(
        "EU list names 1 model not in the catalog" in line and gone.resource_id in line
        for line in warnings
    ), warnings
    assert read_entries(workdir / OUTPUT)[LLAMA]["euRestricted"] is True


def test_a_list_from_detect_eu_gives_no_warning(
    run_cli: Run,
    make_fake_ngc: Callable[..., FakeNgc],
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NGC_API_KEY", API_KEY)  # a key argument gets a warning of its own
    from_eu = make_fake_ngc(default_models(eu=True))
    from_us = make_fake_ngc(default_models())
    assert run_cli("detect-eu", "--api-url", from_eu.url).code == 0
    result = run_cli("generate", "--api-url", from_us.url)
    assert result.code == 0, result.err
    assert "warning" not in result.err


def test_an_answer_to_the_key_check_is_not_called_unreachable(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path
) -> None:
    fake = make_fake_ngc(default_models())
    fake.fail_always("/v3/keys/", Fault.gzip_bomb(8 << 20))
    result = run_cli("generate", "--api-url", fake.url, API_KEY)
    assert result.code == 1
    assert "cannot reach" not in result.error
    assert result.error.startswith("nim-build: error: key check: POST http")
    assert "answer larger than the 1 MiB cap (decoded)" in result.error


def test_many_unknown_eu_entries_are_listed_one_per_line(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    gone = [FakeModel(team="meta", repo=f"retired-{n}") for n in range(5)]
    eu_list = workdir / "eu.json"
    eu_list.write_text(json.dumps([model.eu_entry() for model in gone]), encoding="utf-8")
    result = run_cli(
        "generate", "--api-url", fake_ngc.url, "--eu-restricted", str(eu_list), API_KEY
    )
    assert result.code == 0, result.err
    lines = result.err.splitlines()
    summary = next(i for i, line in enumerate(lines) if "EU list names 5 models" in line)
    assert lines[summary].endswith("(renamed or gone?): listed above")
    assert lines[summary - 5 : summary] == [
        f"nim-build: warning: {model.resource_id}" for model in gone
    ]
