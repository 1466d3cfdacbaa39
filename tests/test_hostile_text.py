"""API text that echoes the key or carries control characters never leaks into the CI log.

The fake NGC answers with hostile strings; every outlet is checked: stderr (log lines and
errors), stdout (annotations), the report and job summary, the snapshot and the ConfigMap.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from nim_build import github
from nim_build.ngc import LiveSource
from nim_build.safe_text import (
    escape_controls,
    escape_json_text,
    redact,
    redact_json,
    register_secret,
    safe_line,
)
from nim_build.steps.validate.messages import as_json
from nim_build.steps.validate.problems import shorten
from tests.conftest import API_KEY, CliResult, read_entries
from tests.fake_ngc import FakeModel, FakeNgc, Fault, default_models

Run = Callable[..., CliResult]
KEY_BODY = API_KEY.removeprefix("nvapi-")
INJECTION = "x\n::error::pwned\r::add-mask::m\u2028::stop-commands::s\x85::warning::w\x1b[2J\x7f"


def command_lines(text: str) -> list[str]:
    """Lines (by every Unicode line break) that the Actions runner would read as a command."""
    return [line for line in text.splitlines() if line.lstrip().startswith(("::", "##["))]


def assert_no_key(*texts: str) -> None:
    for text in texts:
        assert API_KEY not in text
        assert KEY_BODY not in text


# --------------------------------------------------------------------------- the mechanism


def test_redaction_keeps_the_text_around_the_key() -> None:
    register_secret(API_KEY)
    assert redact(f"token={API_KEY} rest") == "token=*** rest"
    assert redact(f"body:{KEY_BODY},next") == "body:***,next"
    assert redact("nvapi-unregistered-key;x") == "nvapi-***;x"
    assert redact_json({API_KEY: [f"a {KEY_BODY}", 1, None]}) == {"***": ["a ***", 1, None]}


def test_a_short_key_body_is_not_redacted_as_a_word() -> None:
    register_secret("nvapi-abc")
    assert redact("abc nvapi-abc") == "abc ***"


def test_controls_are_made_visible() -> None:
    assert escape_controls("a\nb\rc\td\x85e\u2028f\u2029g\x00h\x7fi\ud800") == (
        "a\\nb\\rc\\td\\x85e\\u2028f\\u2029g\\x00h\\x7fi\\ud800"
    )
    assert escape_controls("Modèle — 画像") == "Modèle — 画像"


def test_log_lines_show_hidden_characters() -> None:
    """Bidi controls, zero-width and tag characters cannot make a log line or an error read
    otherwise than it is (the ConfigMap, diff JSON and snapshots escape them too)."""
    hidden = "a\u202eb\u2066c\u200bd\u2060e\ufefff\U000e0041g\u061ch"
    assert safe_line(hidden) == ("a\\u202eb\\u2066c\\u200bd\\u2060e\\ufefff\\U000e0041g\\u061ch")


def test_a_line_never_starts_like_a_workflow_command() -> None:
    assert safe_line("::error::x") == "nim-build: ::error::x"
    assert safe_line("  ##[group]x") == "nim-build:   ##[group]x"
    assert command_lines(safe_line(INJECTION)) == []


def test_json_text_keeps_its_meaning() -> None:
    value = {"a\u2028": "b\x85\ud800c\x7f"}
    text = escape_json_text(json.dumps(value, ensure_ascii=False))
    assert text.encode("utf-8")  # no lone surrogate left
    assert json.loads(text) == value
    assert command_lines(text) == []


def test_annotation_escaping(capsys: pytest.CaptureFixture[str], actions: object) -> None:
    register_secret(API_KEY)
    github.annotate("error", f"100% {INJECTION} {API_KEY}")
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert out.startswith("::error::100%25 x\\n::error::pwned\\r")
    assert len(command_lines(out)) == 1
    assert_no_key(out)


# --------------------------------------------------------------------------- end to end


def test_an_echoed_key_reaches_no_outlet(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path, actions: tuple[Path, Path]
) -> None:
    echo = FakeModel(
        team="meta",
        repo="echo-model",
        display_name=f"token={API_KEY} rest",
        short_description=f"body {KEY_BODY} GH-12 @team",
    )
    fake = make_fake_ngc([*default_models(), echo])
    fake.fail("/v3/keys/get-caller-info", [Fault.http(503, body=API_KEY.encode())])
    result = run_cli("run", "--api-url", fake.url, "--record", "snap.json", "-v", API_KEY)
    assert result.code == 0, result.err
    report = (workdir / "generated/nim-models-data.report.md").read_text(encoding="utf-8")
    assert "token=\\*\\*\\* rest" in report
    outputs = [
        result.out,
        result.err,
        report,
        actions[1].read_text(encoding="utf-8"),
        (workdir / "snap.json").read_text(encoding="utf-8"),
        (workdir / "generated/nim-models-data.yaml").read_text(encoding="utf-8"),
    ]
    assert_no_key(*outputs)
    assert "token=*** rest" in outputs[4]  # the echo was recorded, redacted
    assert read_entries(workdir / "generated/nim-models-data.yaml")["echo-model"][
        "displayName"
    ] == ("token=*** rest")

    # A failure whose message carries the echoed key: stderr and the ::error:: annotation.
    fake.fail(echo, [Fault.fields(namespace=f"x/{API_KEY}")] * 5)
    failed = run_cli("run", "--api-url", fake.url, API_KEY)
    assert failed.code == 1
    assert 'answer is for "x/***/echo-model"' in failed.error
    assert failed.out.startswith("::error::")
    assert_no_key(failed.out, failed.err)


def test_api_text_cannot_inject_commands(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path, actions: tuple[Path, Path]
) -> None:
    hostile = FakeModel(
        team="meta", repo="hostile", display_name=INJECTION, short_description=INJECTION
    )
    fake = make_fake_ngc([*default_models(), hostile])
    result = run_cli("run", "--api-url", fake.url, "-v", API_KEY)
    assert result.code == 0, result.err
    assert command_lines(result.err) == []
    report = (workdir / "generated/nim-models-data.report.md").read_text(encoding="utf-8")
    assert command_lines(report) == []
    assert read_entries(workdir / "generated/nim-models-data.yaml")["hostile"]["displayName"] == (
        INJECTION
    )

    # The same text in an error message: escaped on stderr and in the annotation.
    fake.fail(hostile, [Fault.fields(namespace=INJECTION)] * 5)
    failed = run_cli("run", "--api-url", fake.url, "-v", API_KEY)
    assert failed.code == 1
    assert "\\n::error::pwned\\r::add-mask::m\\u2028" in failed.error
    assert command_lines(failed.err) == []
    assert [line[:9] for line in command_lines(failed.out)] == ["::error::"]


def test_validate_escapes_hostile_keys(run_cli: Run, workdir: Path) -> None:
    path = workdir / "hostile.yaml"
    path.write_text(
        'kind: ConfigMap\ndata:\n  "\\n::error::pwned\\u2028::warning::x": "{}"\n',
        encoding="utf-8",
    )
    result = run_cli("validate", str(path))
    assert result.code == 1
    assert "\\n::error::pwned\\u2028::warning::x" in result.err
    assert command_lines(result.err) == []


def test_validate_shows_hidden_characters_of_a_file_name(run_cli: Run, workdir: Path) -> None:
    """Every line of a failed file's verdict, its count of problems too."""
    (workdir / "a\u202eb.yaml").write_text("x: 1\n", encoding="utf-8")
    result = run_cli("validate", "a\u202eb.yaml")
    assert result.code == 1
    assert "\u202e" not in result.err
    assert "a\\u202eb.yaml: 4 problems" in result.err.splitlines()


def test_a_hostile_model_name_cannot_inject_commands(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path, actions: tuple[Path, Path]
) -> None:
    hostile = FakeModel(team="meta", repo="x\n::error::pwned\u2028::add-mask::m")
    fake = make_fake_ngc([*default_models(), hostile])
    result = run_cli("run", "--api-url", fake.url, "-v", API_KEY)
    assert result.code == 1
    assert "x\\n::error::pwned\\u2028::add-mask::m" in result.error
    assert command_lines(result.err) == []
    assert [line[:9] for line in command_lines(result.out)] == ["::error::"]
    assert not (workdir / "generated/nim-models-data.yaml").exists()
    # The failure report (written on every outcome after the key check) is escaped too.
    report = (workdir / "generated/nim-models-data.report.md").read_text(encoding="utf-8")
    assert "\n::" not in report


def test_a_live_source_built_by_hand_registers_its_key() -> None:
    key = "nvapi-built-by-a-library-user-0123456789"
    LiveSource("http://127.0.0.1:9", key).close()
    assert redact(f"echo {key} and {key.removeprefix('nvapi-')}") == "echo *** and ***"


def test_text_is_redacted_before_it_is_cut(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path
) -> None:
    # Cut first, a key straddling the cut loses its tail and no longer matches: its first
    # characters would be printed. An echo of the key's body in a resource id cut at 200.
    hostile = FakeModel(team="meta", repo="a" * 180 + KEY_BODY + "X")
    fake = make_fake_ngc([*default_models(), hostile])
    result = run_cli("generate", "--api-url", fake.url, API_KEY)
    assert result.code == 1
    assert "a***" in result.error
    assert KEY_BODY[:8] not in result.err
    # The same for quoted values and long messages (validate's problems).
    register_secret(API_KEY)
    assert KEY_BODY[:8] not in as_json("A" * 50 + KEY_BODY)
    assert KEY_BODY[:8] not in shorten("m " * 145 + KEY_BODY)  # cut at 300


# --------------------------------------------------------------------------- hidden characters

# Right-to-left override, pop, zero-width space, word joiner, BOM, and tag characters
# ("\U000e0041" is TAG LATIN CAPITAL LETTER A): all invisible, all able to make text read
# otherwise than it is.
HIDDEN = "safe\u202eexe.txt\u202c\u200b\u2060\ufeff\U000e0041\U000e007f\u2066x\u2069"
HIDDEN_CHARS = set("\u202e\u202c\u200b\u2060\ufeff\U000e0041\U000e007f\u2066\u2069")


def assert_nothing_hidden(text: str) -> None:
    assert not HIDDEN_CHARS & set(text), [hex(ord(ch)) for ch in HIDDEN_CHARS & set(text)]


def test_json_text_escapes_hidden_characters() -> None:
    text = escape_json_text(json.dumps({"k": HIDDEN}, ensure_ascii=False))
    assert_nothing_hidden(text)
    assert "\\u202e" in text
    assert "\\udb40\\udc41" in text  # a tag character, as a surrogate pair
    assert json.loads(text) == {"k": HIDDEN}


def test_diff_json_escapes_hidden_characters(run_cli: Run, workdir: Path) -> None:
    from nim_build.steps.configmap import render_configmap
    from tests.entries import make_entry

    old, new = workdir / "old.yaml", workdir / "new.yaml"
    old.write_text(render_configmap([make_entry()]), encoding="utf-8")
    changed = make_entry(display_name=HIDDEN, short_description=f"a{HIDDEN}")
    new.write_text(render_configmap([changed]), encoding="utf-8")
    assert_nothing_hidden(new.read_text(encoding="utf-8"))  # the ConfigMap escapes them
    result = run_cli("diff", "--format", "json", str(old), str(new))
    assert result.code == 0, result.err
    assert_nothing_hidden(result.out)
    changes = json.loads(result.out)["changed"]["llama-3.1-8b-instruct"]
    assert changes["displayName"]["new"] == HIDDEN


def test_a_snapshot_escapes_hidden_characters(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path
) -> None:
    hidden = FakeModel(team="meta", repo="hidden", display_name=HIDDEN, short_description=HIDDEN)
    fake = make_fake_ngc([*default_models(), hidden])
    recorded = run_cli("generate", "--api-url", fake.url, "--record", "snap.json", API_KEY)
    assert recorded.code == 0, recorded.err
    assert_nothing_hidden((workdir / "snap.json").read_text(encoding="utf-8"))
    replayed = run_cli("generate", "--from-snapshot", "snap.json", "--output", "replay.yaml")
    assert replayed.code == 0, replayed.err
    assert read_entries(workdir / "replay.yaml")["hidden"]["displayName"] == HIDDEN
