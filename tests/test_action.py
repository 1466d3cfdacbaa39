"""The composite action (action.yml), its steps run with bash as the runner runs them.

Each `run:` step gets its `env` with every `${{ }}` expression resolved from the inputs (the
action's defaults, then the test's), `github.action_path` (a copy of this checkout's package
files) and `runner.temp`; and fresh GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH and
GITHUB_STEP_SUMMARY files. The install step really installs from the hash-pinned locks (once per
module: it needs the package index, as .ci/check-locks does); `nim-build run` then talks to the
fake NGC on 127.0.0.1. The action's outputs are evaluated from the step outputs as declared.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import API_KEY, read_configmap, read_entries
from tests.fake_ngc import FakeNgc
from tests.test_delivery import ROOT, load_yaml, run_program
from tests.test_workflow_scripts import EXPRESSION, parse_outputs

ACTION = ROOT / "action.yml"
PACKAGE_FILES = ("pyproject.toml", "README.md", "requirements.txt", "requirements-build.txt")
STEP_OUTPUT = re.compile(r"steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)")
RUNNER_FILES = ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY")


@dataclass(frozen=True)
class ActionRun:
    code: int
    out: str
    err: str
    outputs: dict[str, str]  # the action's, as its `outputs:` declare them
    files: dict[str, str]  # the runner files after the run, by variable


def action() -> dict[str, Any]:
    document: dict[str, Any] = load_yaml(ACTION)
    return document


class ActionRunner:
    def __init__(self, action_path: Path, temp: Path, scratch: Path) -> None:
        self.action_path = action_path
        self.temp = temp
        self.scratch = scratch

    def context(self, inputs: Mapping[str, str]) -> dict[str, str]:
        declared = action()["inputs"]
        assert set(inputs) <= set(declared), "unknown input"
        values = {name: str(spec.get("default", "")) for name, spec in declared.items()}
        values.update(inputs)
        missing = [
            name for name, spec in declared.items() if spec.get("required") and not values[name]
        ]
        assert not missing, f"required inputs: {missing}"
        return {
            **{f"inputs.{name}": value for name, value in values.items()},
            "github.action_path": str(self.action_path),
            "runner.temp": str(self.temp),
        }

    def run(
        self, workspace: Path, inputs: Mapping[str, str], *, only: str | None = None
    ) -> ActionRun:
        """Every step (or the one named `only`) in order, stopping at the first failure."""
        context = self.context(inputs)
        files = {name: self.scratch / name.lower() for name in RUNNER_FILES}
        for file in files.values():
            file.write_text("", encoding="utf-8")
        step_outputs: dict[str, dict[str, str]] = {}
        code, out, err = 0, "", ""
        for step in action()["runs"]["steps"]:
            if only and step["name"] != only:
                continue
            assert step["shell"] == "bash"
            files["GITHUB_OUTPUT"].write_text("", encoding="utf-8")
            script = self.scratch / "step.sh"
            script.write_text(step["run"], encoding="utf-8")

            def resolve(value: str) -> str:
                return EXPRESSION.sub(lambda match: context[match[1]], value)

            environment = {
                "PATH": os.environ["PATH"],
                "HOME": str(self.scratch),
                "LANG": "C.UTF-8",
                "NO_PROXY": "127.0.0.1,localhost",
                "GITHUB_ACTIONS": "true",
                "GITHUB_WORKSPACE": str(workspace),
                **{name: str(file) for name, file in files.items()},
                **{key: resolve(str(value)) for key, value in step.get("env", {}).items()},
            }
            # The runner's command line for `shell: bash`.
            done = run_program(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                cwd=workspace,
                env=environment,
            )
            code, out, err = done.returncode, out + done.stdout, err + done.stderr
            if "id" in step:
                step_outputs[step["id"]] = parse_outputs(files["GITHUB_OUTPUT"].read_text())
            if code:
                break

        def evaluate(expression: str) -> str:
            match = EXPRESSION.fullmatch(expression)
            assert match, expression
            step_id, name = STEP_OUTPUT.fullmatch(match[1]).groups()  # type: ignore[union-attr]
            return step_outputs.get(step_id, {}).get(name, "")

        outputs = {name: evaluate(spec["value"]) for name, spec in action()["outputs"].items()}
        texts = {name: file.read_text(encoding="utf-8") for name, file in files.items()}
        return ActionRun(code, out, err, outputs, texts)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionRunner]:
    """The action checked out (its package files only) and its install step run once."""
    base = tmp_path_factory.mktemp("action")
    action_path = base / "nim-build"
    action_path.mkdir()
    for name in PACKAGE_FILES:
        shutil.copyfile(ROOT / name, action_path / name)
    for folder in ("nim_build", "schemas"):
        shutil.copytree(
            ROOT / folder, action_path / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copyfile(ACTION, action_path / "action.yml")
    (base / "temp").mkdir()
    (base / "scratch").mkdir()
    runner = ActionRunner(action_path, base / "temp", base / "scratch")
    workspace = base / "workspace"
    workspace.mkdir()
    done = runner.run(
        workspace,
        {"api-key": "unused", "python": sys.executable},
        only="Install nim-build from the action's locks",
    )
    assert done.code == 0, done.out + done.err
    assert (base / "temp" / "nim-build-venv" / "bin" / "nim-build").is_file()
    assert "Installed nim-build " in done.out
    yield runner


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "workspace"
    folder.mkdir()
    return folder


def run_step(runner: ActionRunner, workspace: Path, **inputs: str) -> ActionRun:
    return runner.run(workspace, inputs, only="Run nim-build")


def test_action_runs_nim_build_and_sets_the_counts(
    installed: ActionRunner, workspace: Path, fake_ngc: FakeNgc
) -> None:
    inputs = {"api-key": API_KEY, "api-url": fake_ngc.url, "output": "nim-models-data.yaml"}
    first = run_step(installed, workspace, **inputs)
    assert first.code == 0, first.err
    configmap = workspace / "nim-models-data.yaml"
    models = len(read_entries(configmap))
    venv_bin = installed.temp / "nim-build-venv" / "bin"
    assert first.outputs == {
        "changed": "true",
        "added": str(models),
        "removed": "0",
        "changed-models": "0",
        "report": "./nim-models-data.report.md",
        "nim-build": str(venv_bin / "nim-build"),
    }
    assert (workspace / "nim-models-data.report.md").is_file()
    assert "## " in first.files["GITHUB_STEP_SUMMARY"], "the report reaches the job summary"
    assert first.files["GITHUB_ENV"] == first.files["GITHUB_PATH"] == "", "the job's env untouched"
    everything = first.out + first.err + "".join(first.files.values())
    assert API_KEY not in everything

    second = run_step(installed, workspace, **inputs)
    assert second.code == 0, second.err
    assert (second.outputs["changed"], second.outputs["added"]) == ("false", "0")

    validate = run_program([first.outputs["nim-build"], "validate", str(configmap)], cwd=workspace)
    assert validate.returncode == 0, validate.stderr


def test_action_name_namespace_labels_and_report(
    installed: ActionRunner, workspace: Path, fake_ngc: FakeNgc
) -> None:
    (workspace / "out").mkdir()
    run = run_step(
        installed,
        workspace,
        **{
            "api-key": API_KEY,
            "api-url": fake_ngc.url,
            "output": "out/odh-nim-account-cm.yaml",
            "report": "out/changes.md",
            "name": "odh-nim-account-cm",
            "namespace": "opendatahub",
            "labels": "app.kubernetes.io/part-of=nim\n\nteam=ai\n",
        },
    )
    assert run.code == 0, run.err
    assert run.outputs["report"] == "out/changes.md"
    assert (workspace / "out" / "changes.md").is_file()
    metadata = read_configmap(workspace / "out" / "odh-nim-account-cm.yaml")["metadata"]
    assert metadata == {
        "name": "odh-nim-account-cm",
        "namespace": "opendatahub",
        "labels": {"app.kubernetes.io/part-of": "nim", "team": "ai"},
    }


def test_action_refuses_too_many_removals(
    installed: ActionRunner, workspace: Path, make_fake_ngc: Any
) -> None:
    fake: FakeNgc = make_fake_ngc()
    inputs = {"api-key": API_KEY, "api-url": fake.url, "max-removals": "0"}
    assert run_step(installed, workspace, **inputs).code == 0
    configmap = workspace / "nim-models-data.yaml"
    before = configmap.read_bytes()
    fake.set_models(fake.models[1:])
    run = run_step(installed, workspace, **inputs)
    assert run.code == 1
    assert "refusing to write" in run.err
    assert run.outputs["changed"] == "false" and run.outputs["removed"] == "1"
    assert configmap.read_bytes() == before


def test_action_needs_python_3_11(tmp_path: Path) -> None:
    runner = ActionRunner(ROOT, tmp_path, tmp_path)
    old = tmp_path / "python"
    old.write_text("#!/bin/sh\nexit 1\n", encoding="utf-8")
    old.chmod(0o755)
    run = runner.run(
        tmp_path,
        {"api-key": "unused", "python": str(old)},
        only="Install nim-build from the action's locks",
    )
    assert run.code == 1
    assert run.out == (
        f"::error title=nim-build::needs Python 3.11 or newer as input python ({old} is not)\n"
    )


def test_inputs_and_the_key_reach_the_scripts_only_through_env() -> None:
    document = action()
    assert document["runs"]["using"] == "composite"
    for step in document["runs"]["steps"]:
        assert "${{" not in step["run"], step["name"]
    [install, run] = document["runs"]["steps"]
    assert install["env"]["ACTION_PATH"] == "${{ github.action_path }}"
    assert install["env"]["VENV"].startswith("${{ runner.temp }}/")
    assert re.search(r"pip install [^\n]*--require-hashes\s*\\\n\s*--no-deps", install["run"])
    assert re.search(r'--no-deps \\\n\s*--no-build-isolation "\$ACTION_PATH"', install["run"])
    key_readers = [s["name"] for s in document["runs"]["steps"] if "inputs.api-key" in str(s)]
    assert key_readers == [run["name"]]
    assert run["env"]["NGC_API_KEY"] == "${{ inputs.api-key }}"
    assert document["inputs"]["api-key"]["required"] is True
    expected = {"api-key", "output", "eu-restricted", "max-removals", "report", "name", "namespace"}
    assert expected <= set(document["inputs"])
    assert {"changed", "added", "removed", "changed-models"} <= set(document["outputs"])
