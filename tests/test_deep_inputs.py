"""Input files nested deeper than a parser can take: one-line errors, never a crash or a hang.

ruamel's C composer recurses without a check (a segfault at ~50,000 levels) and json.loads
raises RecursionError; these run in a subprocess, so a regression cannot take pytest down.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import API_KEY, CliResult, snapshot_of
from tests.fake_ngc import FakeNgc

Run = Callable[..., CliResult]
DEPTH = 100_000
DEEP_YAML = {
    "flow sequences": "kind: ConfigMap\ndata:\n  a: " + "[" * DEPTH + "]" * DEPTH + "\n",
    "flow mappings": "{a: " * DEPTH + "}" * DEPTH + "\n",
    "block sequences": "- " * DEPTH + "x\n",
}
DEEP_JSON = "[" * DEPTH + "]" * DEPTH


def assert_one_line_error(result: CliResult, code: int, *named: str) -> None:
    assert result.code == code, result.err
    assert "Traceback" not in result.err
    for text in named:
        assert text in result.error, result.error


@pytest.mark.parametrize("text", DEEP_YAML.values(), ids=DEEP_YAML.keys())
def test_validate_and_diff_refuse_deep_yaml(run_subprocess: Run, workdir: Path, text: str) -> None:
    deep = workdir / "deep.yaml"
    deep.write_text(text, encoding="utf-8")
    result = run_subprocess("validate", "deep.yaml", timeout=30)
    assert result.code == 1, result.err
    assert "deep.yaml: $: not valid YAML: nested more than 64 levels deep" in result.err
    result = run_subprocess("diff", "deep.yaml", "deep.yaml", timeout=30)
    assert_one_line_error(result, 1, "deep.yaml: not valid YAML: nested more than 64 levels deep")


@pytest.mark.parametrize("command", ["generate", "run"])
def test_a_deep_yaml_output_is_refused_before_any_request(
    run_subprocess: Run, fake_ngc: FakeNgc, workdir: Path, command: str
) -> None:
    output = workdir / "nim-models-data.yaml"
    output.write_text(DEEP_YAML["block sequences"], encoding="utf-8")
    before = snapshot_of(output)
    argv = (command, "--api-url", fake_ngc.url, "--output", output.name, API_KEY)
    result = run_subprocess(*argv, timeout=30)
    assert_one_line_error(result, 2, f"refusing to overwrite {output.name}")
    assert fake_ngc.request_count == 0
    assert snapshot_of(output) == before


@pytest.mark.parametrize("option", ["--eu-restricted", "--from-snapshot"])
def test_deep_json_inputs_are_one_line_errors(
    run_subprocess: Run, workdir: Path, option: str
) -> None:
    (workdir / "deep.json").write_text(DEEP_JSON, encoding="utf-8")
    argv = ["generate", option, "deep.json"]
    if option == "--eu-restricted":
        argv.append("--demo")
    result = run_subprocess(*argv, timeout=30)
    assert_one_line_error(result, 1, "deep.json: not valid JSON: nested too deeply")
    assert not (workdir / "build").exists() and not (workdir / "generated").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "/dev/zero"],
        ["diff", "/dev/zero", "/dev/zero"],
        ["generate", "--demo", "--eu-restricted", "/dev/zero"],
        ["generate", "--from-snapshot", "/dev/zero"],
        ["generate", "--api-key-file", "/dev/zero"],
    ],
)
def test_an_endless_input_is_read_only_up_to_a_cap(run_subprocess: Run, argv: list[str]) -> None:
    # Else read until memory runs out; the cap is far above any real input (64 Mi characters).
    result = run_subprocess(*argv, timeout=60)
    assert result.code in (1, 2), result.err
    assert "/dev/zero: larger than 64 Mi characters" in result.error
    assert "Traceback" not in result.err
