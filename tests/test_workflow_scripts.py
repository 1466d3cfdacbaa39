"""The `run:` scripts of the GitHub workflows, executed with bash as the runner would.

Each script gets its step's `env` (every `${{ }}` expression given explicitly by the test, so a
renamed input or output fails here), a workspace folder, and temporary GITHUB_OUTPUT and
GITHUB_STEP_SUMMARY files; nim-build runs against the fake NGC on 127.0.0.1 and `gh` is a fake
on PATH that answers from the test and logs its arguments. Only the steps that cannot run
outside GitHub are left out (NOT_RUN_HERE says why), which a test below holds to.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import API_KEY, read_entries
from tests.fake_ngc import FakeNgc, default_models
from tests.test_delivery import METADATA_WORKFLOW, ROOT, load_yaml, run_program, workflow_paths

EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")
HEREDOC = re.compile(r"(?P<name>[A-Za-z0-9_-]+)<<(?P<delimiter>\S+)")
INSTALL_FROM_LOCKS = "Install nim-build from the locks"

# (workflow file, job, step name) of every script exercised below.
EXERCISED = {
    ("nim-metadata.yml", "verify-tag", "Check the tag's commit is on the default branch"),
    ("nim-metadata.yml", "plan", "Resolve settings"),
    ("nim-metadata.yml", "plan", "Read the targets"),
    ("nim-metadata.yml", "detect-eu", "Find the EU location"),
    ("nim-metadata.yml", "detect-eu", "Probe NGC from the EU"),
    ("nim-metadata.yml", "generate", "Run nim-build"),
    ("nim-metadata.yml", "generate", "Validate"),
    ("nim-metadata.yml", "pull-request", "Look up the App's commit identity"),
    ("nim-metadata.yml", "pull-request", "Place the ConfigMap"),
    ("nim-metadata.yml", "pull-request", "Write the pull request title and body"),
    ("nim-metadata.yml", "pull-request", "Summary"),
    (
        "nim-metadata.yml",
        "update-generated",
        "Look up the App's commit identity and the default branch",
    ),
    ("nim-metadata.yml", "update-generated", "Copy the outputs into generated/"),
    ("nim-metadata.yml", "release", "Upload release assets"),
}
NOT_RUN_HERE = {
    # pip from the package index: .ci/check-locks runs the same install in a fresh venv.
    ("nim-metadata.yml", "plan", INSTALL_FROM_LOCKS),
    ("nim-metadata.yml", "detect-eu", INSTALL_FROM_LOCKS),
    ("nim-metadata.yml", "generate", INSTALL_FROM_LOCKS),
    ("nim-metadata.yml", "pull-request", INSTALL_FROM_LOCKS),
    # CI itself: `bash .ci/run` is what runs these tests.
    ("ci.yml", "check", "Lint, type-check, test"),
}

FAKE_GH = """#!/usr/bin/env bash
# A stand-in for the GitHub CLI: logs its arguments, answers what the workflow asks.
printf '%s\\n' "$*" >> "$FAKE_GH_LOG"
case "$1 $2" in
  "api /users/"*) echo 41898282 ;;
  "api /repos/"*) echo "${FAKE_GH_DEFAULT_BRANCH:-main}" ;;
  "release view") [[ "${FAKE_GH_RELEASE_EXISTS:-false}" == true ]] ;;
  "release create" | "release upload") ;;
  *) echo "fake gh: unexpected: $*" >&2; exit 2 ;;
esac
"""


@dataclass(frozen=True)
class StepRun:
    code: int
    out: str
    err: str
    outputs: dict[str, str]
    summary: str
    gh_calls: list[str]


def parse_outputs(text: str) -> dict[str, str]:
    """$GITHUB_OUTPUT as the runner reads it: `name=value` and `name<<DELIMITER` blocks."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if block := HEREDOC.fullmatch(line):
            outputs[block["name"]] = "\n".join(iter(lines.__next__, block["delimiter"]))
        elif line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


class StepRunner:
    """Runs one workflow step's `run:` script in `workspace`, as the Actions runner would."""

    def __init__(self, workspace: Path, tmp: Path) -> None:
        self.workspace = workspace
        self.tmp = tmp
        self.bin = tmp / "bin"
        self.bin.mkdir()
        gh = self.bin / "gh"
        gh.write_text(FAKE_GH, encoding="utf-8")
        gh.chmod(0o755)
        self.gh_log = tmp / "gh.log"

    def step(self, workflow: str, job: str, name: str) -> dict[str, Any]:
        assert (workflow, job, name) in EXERCISED, "add the step to EXERCISED"
        steps = load_yaml(ROOT / ".github" / "workflows" / workflow)["jobs"][job]["steps"]
        [step] = [s for s in steps if s.get("name") == name]
        return dict(step)

    def run(
        self,
        job: str,
        name: str,
        context: Mapping[str, str] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        workflow: str = METADATA_WORKFLOW.name,
    ) -> StepRun:
        """`context` maps each `${{ expression }}` of the step's env to its value."""
        step = self.step(workflow, job, name)
        context = context or {}

        def resolve(value: str) -> str:
            def lookup(match: re.Match[str]) -> str:
                assert match[1] in context, f"{job}/{name}: give a value for ${{{{ {match[1]} }}}}"
                return context[match[1]]

            return EXPRESSION.sub(lookup, value)

        output = self.tmp / "github_output"
        summary = self.tmp / "step_summary"
        for file in (output, summary, self.gh_log):
            file.write_text("", encoding="utf-8")
        script = self.tmp / "step.sh"
        script.write_text(step["run"], encoding="utf-8")
        environment = {
            "PATH": os.pathsep.join(
                [str(self.bin), str(Path(sys.executable).parent), os.environ["PATH"]]
            ),
            "HOME": str(self.tmp),
            "LANG": "C.UTF-8",
            "PYTHONIOENCODING": "utf-8",
            "NO_PROXY": "127.0.0.1,localhost",
            "GITHUB_ACTIONS": "true",
            "GITHUB_REPOSITORY": "opendatahub-io/nim-build",
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary),
            "FAKE_GH_LOG": str(self.gh_log),
            **{key: resolve(str(value)) for key, value in step.get("env", {}).items()},
            **(env or {}),
        }
        # The runner's default shell for `run:` on Linux.
        done = run_program(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=self.workspace,
            env=environment,
        )
        return StepRun(
            done.returncode,
            done.stdout,
            done.stderr,
            parse_outputs(output.read_text(encoding="utf-8")),
            summary.read_text(encoding="utf-8"),
            self.gh_log.read_text(encoding="utf-8").splitlines(),
        )


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A checkout of nim-build as the workflow's first checkout step leaves it."""
    folder = tmp_path / "workspace"
    folder.mkdir()
    shutil.copytree(ROOT / ".github", folder / ".github")
    return folder


@pytest.fixture
def steps(workspace: Path, tmp_path: Path) -> StepRunner:
    return StepRunner(workspace, tmp_path)


def test_every_script_is_exercised_or_says_why_not() -> None:
    scripts = {
        (path.name, job_id, step["name"])
        for path in workflow_paths()
        for job_id, job in load_yaml(path)["jobs"].items()
        for step in job["steps"]
        if "run" in step
    }
    assert scripts == EXERCISED | NOT_RUN_HERE


# --------------------------------------------------------------------------- verify-tag


TAG_CHECK = "Check the tag's commit is on the default branch"


def git(folder: Path, *args: str) -> str:
    done = run_program(
        [
            "git",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            *args,
        ],
        cwd=folder,
        env={"PATH": os.environ["PATH"], "HOME": str(folder), "GIT_CONFIG_NOSYSTEM": "1"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def tagged_checkout(workspace: Path, tmp_path: Path) -> dict[str, str]:
    """The workspace as `actions/checkout` with fetch-depth 0 leaves it for a tag run: origin's
    branches as remote-tracking refs. Upstream has main (two commits) and a side branch."""
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    git(upstream, "init", "-q")
    git(upstream, "commit", "-q", "--allow-empty", "-m", "first")
    first = git(upstream, "rev-parse", "HEAD")
    git(upstream, "switch", "-q", "-c", "side")
    git(upstream, "commit", "-q", "--allow-empty", "-m", "not reviewed")
    side = git(upstream, "rev-parse", "HEAD")
    git(upstream, "switch", "-q", "main")
    git(upstream, "commit", "-q", "--allow-empty", "-m", "second")
    main = git(upstream, "rev-parse", "HEAD")
    git(workspace, "init", "-q")
    git(workspace, "remote", "add", "origin", str(upstream))
    git(workspace, "fetch", "-q", "origin")
    return {"first": first, "main": main, "side": side}


def tag_context(sha: str, ref_type: str = "tag", default: str = "main") -> dict[str, str]:
    return {
        "github.ref_type": ref_type,
        "github.ref_name": "v1.2.3" if ref_type == "tag" else default,
        "github.sha": sha,
        "github.event.repository.default_branch": default,
    }


@pytest.mark.parametrize("commit", ["main", "first"], ids=["tip", "older-commit"])
def test_verify_tag_accepts_a_tag_on_the_default_branch(
    steps: StepRunner, tagged_checkout: dict[str, str], commit: str
) -> None:
    sha = tagged_checkout[commit]
    run = steps.run("verify-tag", TAG_CHECK, tag_context(sha))
    assert run.code == 0, run.err
    assert run.out == f"Tag v1.2.3 ({sha}) is on main.\n"
    assert run.summary == run.out


def test_verify_tag_refuses_a_tag_on_a_side_branch(
    steps: StepRunner, tagged_checkout: dict[str, str]
) -> None:
    sha = tagged_checkout["side"]
    run = steps.run("verify-tag", TAG_CHECK, tag_context(sha))
    assert run.code == 1
    assert run.out.splitlines() == [
        f"::error title=Tag not on main::tag v1.2.3 points at {sha}, which is not on main;"
        " no job reads the nim-release secrets"
    ]
    assert run.err == "" and run.summary == ""


def test_verify_tag_refuses_when_the_default_branch_is_missing(
    steps: StepRunner, tagged_checkout: dict[str, str]
) -> None:
    run = steps.run("verify-tag", TAG_CHECK, tag_context(tagged_checkout["main"], default="trunk"))
    assert run.code == 1
    [line] = run.out.splitlines()
    assert line.startswith("::error title=Tag not verified::origin/trunk is not in the checkout")


def test_verify_tag_lets_branch_runs_through(steps: StepRunner) -> None:
    # Schedule and manual runs: no checkout (the step's `if`), nothing to check.
    run = steps.run("verify-tag", TAG_CHECK, tag_context("0" * 40, ref_type="branch"))
    assert run.code == 0, run.err
    assert run.out == "Not a tag run: nothing to check.\n"


# --------------------------------------------------------------------------- plan


SETTINGS_INPUTS = ("inputs.max-removals", "inputs.dry-run", "inputs.probe-eu")


def settings_context(event: str, ref_type: str, **inputs: str) -> dict[str, str]:
    # Schedule and tag runs have no inputs: the expressions are empty.
    context = {name: "" for name in SETTINGS_INPUTS}
    context.update({f"inputs.{name.replace('_', '-')}": value for name, value in inputs.items()})
    return {"github.event_name": event, "github.ref_type": ref_type, **context}


@pytest.mark.parametrize(
    ("event", "ref_type", "inputs", "expected"),
    [
        ("schedule", "branch", {}, {"max-removals": "5", "dry-run": "false", "probe-eu": "false"}),
        ("push", "tag", {}, {"max-removals": "5", "dry-run": "false", "probe-eu": "true"}),
        (
            "workflow_dispatch",
            "branch",
            {"max_removals": "12", "dry_run": "true", "probe_eu": "true"},
            {"max-removals": "12", "dry-run": "true", "probe-eu": "true"},
        ),
    ],
    ids=["schedule", "tag", "dispatch"],
)
def test_plan_settings(
    steps: StepRunner,
    event: str,
    ref_type: str,
    inputs: dict[str, str],
    expected: dict[str, str],
) -> None:
    run = steps.run("plan", "Resolve settings", settings_context(event, ref_type, **inputs))
    assert run.code == 0, run.err
    assert run.outputs == {**expected, "self-name": "nim-build"}
    assert f"EU probe requested: {expected['probe-eu']}" in run.summary


def test_plan_settings_refuse_a_bad_number(steps: StepRunner) -> None:
    context = settings_context("workflow_dispatch", "branch", max_removals="-1")
    run = steps.run("plan", "Resolve settings", context)
    assert run.code == 1
    assert "::error title=Invalid input::max-removals must be a whole number" in run.out
    assert run.outputs == {}


TARGETS_YAML = """\
targets:
  - repository: opendatahub-io/odh-model-controller
    path: config/nim/nim-models-data.yaml
    kustomization: config/default/kustomization.yaml
    render: config/base
    namespace: opendatahub
    branches: [main, release/2.25]
  - repository: example-org/dashboard-manifests
    path: manifests/nim/nim-models-data.yaml
    branches: [main]
"""


def read_targets(
    steps: StepRunner, workspace: Path, repository: str = "", branch: str = ""
) -> StepRun:
    (workspace / ".github" / "nim-targets.yaml").write_text(TARGETS_YAML, encoding="utf-8")
    context = {"inputs.target-repository": repository, "inputs.base-branch": branch}
    return steps.run("plan", "Read the targets", context)


def test_plan_reads_every_target_and_branch(steps: StepRunner, workspace: Path) -> None:
    run = read_targets(steps, workspace)
    assert run.code == 0, run.err
    targets = json.loads(run.outputs["targets"])
    assert [(t["repository"], t["branch"], t["pr-branch"]) for t in targets] == [
        ("opendatahub-io/odh-model-controller", "main", "nim-build/nim-models-data-main"),
        (
            "opendatahub-io/odh-model-controller",
            "release/2.25",
            "nim-build/nim-models-data-release-2.25",
        ),
        ("example-org/dashboard-manifests", "main", "nim-build/nim-models-data-main"),
    ]
    assert len({t["id"] for t in targets}) == 3
    assert all("/" not in t["id"] for t in targets), "ids name artifacts"
    assert run.outputs["primary"] == targets[0]["id"]
    assert [t["primary"] for t in targets] == [True, False, False]
    assert run.summary.count("- target: ") == 3
    # What `nim-build place` is given; "" where the targets file says nothing.
    wiring = [(t["kustomization"], t["render"], t["namespace"]) for t in targets]
    assert wiring == [
        ("config/default/kustomization.yaml", "config/base", "opendatahub"),
        ("config/default/kustomization.yaml", "config/base", "opendatahub"),
        ("", "", ""),
    ]
    assert (
        "wired into `config/default/kustomization.yaml`, rendered from `config/base` into"
        " `opendatahub`" in run.summary
    )


def test_plan_filters_targets_for_a_manual_run(steps: StepRunner, workspace: Path) -> None:
    run = read_targets(steps, workspace, repository="example-org/dashboard-manifests")
    assert run.code == 0, run.err
    [target] = json.loads(run.outputs["targets"])
    assert target["path"] == "manifests/nim/nim-models-data.yaml"
    assert run.outputs["primary"] == "", "generated/ and the release follow the primary only"

    run = read_targets(steps, workspace, branch="release/2.25")
    assert [t["branch"] for t in json.loads(run.outputs["targets"])] == ["release/2.25"]

    run = read_targets(steps, workspace, repository="someone/else")
    assert run.code == 1
    assert "::error::invalid targets: no target matches repository someone/else" in run.out
    assert run.outputs == {}


def test_plan_refuses_an_invalid_targets_file(steps: StepRunner, workspace: Path) -> None:
    bad = TARGETS_YAML.replace("config/nim/", "../nim/")
    (workspace / ".github" / "nim-targets.yaml").write_text(bad, encoding="utf-8")
    run = steps.run(
        "plan", "Read the targets", {"inputs.target-repository": "", "inputs.base-branch": ""}
    )
    assert run.code == 1
    assert "nim-targets: error: " in run.err and "targets[0].path" in run.err
    assert run.outputs == {}


# --------------------------------------------------------------------------- detect-eu


@pytest.mark.parametrize(
    ("runner", "proxy_set", "probed", "note"),
    [
        ("nim-eu", "false", "true", "EU runner"),
        ("", "true", "true", "EU egress proxy"),
        ("", "false", "false", "no EU location is configured"),
    ],
    ids=["runner", "proxy", "neither"],
)
def test_detect_eu_finds_its_location(
    steps: StepRunner, runner: str, proxy_set: str, probed: str, note: str
) -> None:
    context = {"vars.NIM_EU_RUNNER": runner, "secrets.NIM_EU_PROXY != ''": proxy_set}
    run = steps.run("detect-eu", "Find the EU location", context)
    assert run.code == 0, run.err
    assert run.outputs == {"probed": probed}
    assert note in run.summary
    assert ("::warning title=EU probe skipped::" in run.out) == (probed == "false")


def test_detect_eu_probe_writes_the_list(
    steps: StepRunner, workspace: Path, make_fake_ngc: Any
) -> None:
    fake: FakeNgc = make_fake_ngc(default_models(eu=True))
    context = {
        "secrets.NGC_API_KEY": API_KEY,
        "vars.NGC_API_URL": fake.url,
        "secrets.NIM_EU_PROXY": "",  # an EU runner: direct connection
    }
    run = steps.run("detect-eu", "Probe NGC from the EU", context)
    assert run.code == 0, run.err
    restricted = json.loads((workspace / "eu-probe" / "nim_eu_restricted.json").read_text())
    assert restricted
    assert f"EU probe: {len(restricted)} model(s) answer HTTP 451" in run.summary
    assert API_KEY not in run.out + run.err + run.summary


# --------------------------------------------------------------------------- generate


TARGET_PATH = "config/nim/nim-models-data.yaml"


def generate_context(fake: FakeNgc, max_removals: str = "5") -> dict[str, str]:
    return {
        "secrets.NGC_API_KEY": API_KEY,
        "vars.NGC_API_URL": fake.url,
        "matrix.target.repository": "opendatahub-io/odh-model-controller",
        "matrix.target.path": TARGET_PATH,
        "needs.plan.outputs.max-removals": max_removals,
    }


def test_generate_first_run_then_unchanged(
    steps: StepRunner, workspace: Path, fake_ngc: FakeNgc
) -> None:
    first = steps.run("generate", "Run nim-build", generate_context(fake_ngc))
    assert first.code == 0, first.err
    assert "::notice::opendatahub-io/odh-model-controller has no" in first.out
    assert "::warning::no EU list" in first.out
    assert first.outputs["changed"] == "true"
    out = workspace / "out"
    carried = parse_outputs((out / "nim-build-run.outputs").read_text(encoding="utf-8"))
    assert carried == first.outputs, "the counts travel to the pull-request job"
    assert int(first.outputs["added"]) == len(read_entries(out / "nim-models-data.yaml"))
    assert (out / "nim-models-data.report.md").is_file()
    assert API_KEY not in first.out + first.err + first.summary

    validate = steps.run("generate", "Validate")
    assert validate.code == 0, validate.err

    # The target ships exactly this file now, and the EU list is the committed one.
    (workspace / "target" / "config" / "nim").mkdir(parents=True)
    shutil.copyfile(out / "nim-models-data.yaml", workspace / "target" / TARGET_PATH)
    (workspace / "generated").mkdir()
    shutil.copyfile(
        out / "nim_eu_restricted.json", workspace / "generated" / "nim_eu_restricted.json"
    )
    shutil.rmtree(out)
    second = steps.run("generate", "Run nim-build", generate_context(fake_ngc))
    assert second.code == 0, second.err
    assert "the committed generated/nim_eu_restricted.json" in second.summary
    assert (second.outputs["changed"], second.outputs["added"]) == ("false", "0")


def test_generate_uses_the_eu_list_probed_in_this_run(
    steps: StepRunner, workspace: Path, fake_ngc: FakeNgc
) -> None:
    restricted = fake_ngc.model("llama-4-scout-17b-16e-instruct")
    (workspace / "eu-probe").mkdir()
    (workspace / "eu-probe" / "nim_eu_restricted.json").write_text(
        json.dumps([restricted.eu_entry()]), encoding="utf-8"
    )
    run = steps.run("generate", "Run nim-build", generate_context(fake_ngc))
    assert run.code == 0, run.err
    assert "probed from the EU in this run" in run.summary
    entries = read_entries(workspace / "out" / "nim-models-data.yaml")
    assert [name for name, e in entries.items() if e["euRestricted"]] == [restricted.repo]


def test_generate_refuses_too_many_removals(
    steps: StepRunner, workspace: Path, make_fake_ngc: Any
) -> None:
    fake: FakeNgc = make_fake_ngc()
    out = workspace / "out"
    assert steps.run("generate", "Run nim-build", generate_context(fake)).code == 0
    (workspace / "target" / "config" / "nim").mkdir(parents=True)
    shutil.copyfile(out / "nim-models-data.yaml", workspace / "target" / TARGET_PATH)
    before = (out / "nim-models-data.yaml").read_bytes()
    shutil.rmtree(out)

    fake.set_models([m for m in fake.models if m.repo not in {"bge-m3", "bge-large-zh-v1-5"}])
    run = steps.run("generate", "Run nim-build", generate_context(fake, max_removals="1"))
    assert run.code == 1
    assert "refusing to write" in run.err
    assert (out / "nim-models-data.yaml").read_bytes() == before, "left as shipped"
    assert not (out / "nim-build-run.outputs").exists(), "nothing for a pull request"


# --------------------------------------------------------------------------- pull requests


def test_pull_request_identity(steps: StepRunner) -> None:
    context = {
        "steps.app-token.outputs.token": "ghs_fake",
        "steps.app-token.outputs.app-slug": "nim-build-bot",
    }
    run = steps.run("pull-request", "Look up the App's commit identity", context)
    assert run.code == 0, run.err
    assert run.outputs == {
        "identity": "nim-build-bot[bot] <41898282+nim-build-bot[bot]@users.noreply.github.com>"
    }
    assert run.gh_calls == ["api /users/nim-build-bot[bot] --jq .id"]


def write_artifact(workspace: Path, *, added: int, removed: int, changed: int) -> None:
    """What the generate job uploads, as download-artifact lays it out."""
    out = workspace / "out"
    out.mkdir()
    (out / "nim-models-data.yaml").write_text("kind: ConfigMap\n", encoding="utf-8")
    (out / "nim_eu_restricted.json").write_text("[]\n", encoding="utf-8")
    (out / "nim-models-data.report.md").write_text("## NIM model metadata\n", encoding="utf-8")
    (out / "nim-build-run.outputs").write_text(
        f"changed=true\nadded={added}\nremoved={removed}\nchanged-models={changed}\n",
        encoding="utf-8",
    )


PLACE_CONTEXT = {
    "matrix.target.path": TARGET_PATH,
    "matrix.target.kustomization": "config/default/kustomization.yaml",
    "matrix.target.render": "config/base",
    "matrix.target.namespace": "opendatahub",
}
BODY = "Write the pull request title and body"


def body_context(deploys: str, placement: str) -> dict[str, str]:
    return {
        "steps.place.outputs.deploys": deploys,
        "steps.place.outputs.placement": placement,
        "matrix.target.path": TARGET_PATH,
        "matrix.target.kustomization": "config/default/kustomization.yaml",
    }


def placed_tree(workspace: Path) -> None:
    """The target checkout as `nim-build place` leaves it: the file, its folder's kustomization."""
    nim = workspace / "target" / "config" / "nim"
    nim.mkdir(parents=True)
    (nim / "nim-models-data.yaml").write_text("kind: ConfigMap\n", encoding="utf-8")
    (nim / "kustomization.yaml").write_text("resources:\n- nim-models-data.yaml\n")
    (workspace / "target" / "config" / "default").mkdir()
    (workspace / "target" / "config" / "default" / "kustomization.yaml").write_text(
        "resources: []\n"
    )


def write_body(steps: StepRunner, workspace: Path, deploys: str, placement: str) -> StepRun:
    run = steps.run("pull-request", BODY, body_context(deploys, placement))
    assert run.code == 0, run.err
    return run


def body_of(workspace: Path) -> str:
    return (workspace / "out" / "pull-request-body.md").read_text(encoding="utf-8")


def test_pull_request_body_says_where_it_deploys(steps: StepRunner, workspace: Path) -> None:
    write_artifact(workspace, added=3, removed=1, changed=2)
    placed_tree(workspace)
    placement = (
        "config/nim/nim-models-data.yaml deploys: rendered from config/base into namespace"
        " opendatahub"
    )
    run = write_body(steps, workspace, "true", placement)
    assert run.outputs["title"] == "Update NIM models metadata (+3 -1 ~2)"
    assert run.outputs["add-paths"].splitlines() == [
        TARGET_PATH,
        "config/nim/kustomization.yaml",
        "config/default/kustomization.yaml",
    ]
    assert body_of(workspace) == f"**Deploys:** {placement}\n\n## NIM model metadata\n"
    assert run.summary == f"**Deploys:** {placement}\n"
    assert "::warning" not in run.out


def test_pull_request_body_marks_a_configmap_that_does_not_deploy(
    steps: StepRunner, workspace: Path
) -> None:
    write_artifact(workspace, added=1, removed=0, changed=0)
    (workspace / "target" / "config" / "nim").mkdir(parents=True)
    (workspace / "target" / TARGET_PATH).write_text("kind: ConfigMap\n", encoding="utf-8")
    reason = (
        "config/nim is in no kustomization that config/base renders:"
        " add it to config/default/kustomization.yaml"
    )
    run = write_body(steps, workspace, "false", reason)
    assert run.outputs["title"] == "Update NIM models metadata (+1 -0 ~0) [does not deploy]"
    assert run.outputs["add-paths"].splitlines() == [TARGET_PATH], "only files that exist"
    assert body_of(workspace).splitlines()[0] == f"**Does not deploy:** {reason}"
    assert f"::warning title=Does not deploy::{reason}" in run.out

    # place gave no outputs at all (it failed before writing them): still one clear line.
    write_body(steps, workspace, "", "")
    assert (
        body_of(workspace).splitlines()[0] == "**Does not deploy:** nim-build place gave no reason"
    )


MANIFESTS = {
    # Shaped like odh-model-controller's config/ (incubating 57b43aad): a base that sets the
    # namespace and includes ../default, which lists sibling folders between comments.
    "config/base/kustomization.yaml": (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
        "  - ../default\n\nnamespace: opendatahub\n"
    ),
    "config/default/kustomization.yaml": (
        "# Adds namespace to all resources.\nnamespace: odh-model-controller-system\n\n"
        "resources:\n- ../runtimes\n# [METRICS] Expose the controller manager metrics service.\n"
        "- ../server\n"
    ),
    "config/runtimes/kustomization.yaml": "resources:\n- runtime.yaml\n",
    "config/runtimes/runtime.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: runtime\ndata:\n  a: b\n"
    ),
    "config/server/kustomization.yaml": "resources:\n- server.yaml\n",
    "config/server/server.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: server\ndata:\n  a: b\n"
    ),
}


@pytest.mark.parametrize(
    ("namespace", "deploys"), [("opendatahub", "true"), ("elsewhere", "false")]
)
def test_place_step_wires_the_configmap_and_never_stops_the_pull_request(
    steps: StepRunner, workspace: Path, namespace: str, deploys: str
) -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed (Debian package kubectl)")
    write_artifact(workspace, added=1, removed=0, changed=0)
    demo = [sys.executable, "-m", "nim_build", "generate", "--demo", "-q", "--output"]
    subprocess.run([*demo, str(workspace / "out" / "nim-models-data.yaml")], check=True)
    for name, text in MANIFESTS.items():
        (workspace / "target" / name).parent.mkdir(parents=True, exist_ok=True)
        (workspace / "target" / name).write_text(text, encoding="utf-8")
    run = steps.run(
        "pull-request",
        "Place the ConfigMap",
        {**PLACE_CONTEXT, "matrix.target.namespace": namespace},
    )
    assert run.code == 0, run.err
    assert run.outputs["deploys"] == deploys
    assert run.outputs["placement"]
    placed = workspace / "target" / TARGET_PATH
    assert placed.read_bytes() == (workspace / "out" / "nim-models-data.yaml").read_bytes()
    assert "- ../nim" in (workspace / "target" / "config/default/kustomization.yaml").read_text()
    body = write_body(steps, workspace, deploys, run.outputs["placement"])
    assert body.outputs["title"].endswith("[does not deploy]") == (deploys == "false")


def test_pull_request_summary(steps: StepRunner) -> None:
    summary = steps.run(
        "pull-request",
        "Summary",
        {
            "steps.pr.outputs.pull-request-url": "",
            "steps.pr.outputs.pull-request-operation": "closed",
        },
    )
    assert summary.summary == "Target pull request (closed): none\n"


def test_update_generated_identity_and_default_branch(steps: StepRunner) -> None:
    context = {
        "steps.app-token.outputs.token": "ghs_fake",
        "steps.app-token.outputs.app-slug": "nim-build-bot",
    }
    run = steps.run(
        "update-generated",
        "Look up the App's commit identity and the default branch",
        context,
        env={"FAKE_GH_DEFAULT_BRANCH": "trunk"},
    )
    assert run.code == 0, run.err
    assert run.outputs["default-branch"] == "trunk"
    assert run.outputs["identity"].startswith("nim-build-bot[bot] <41898282+")
    assert run.gh_calls[1] == "api /repos/opendatahub-io/nim-build --jq .default_branch"


@pytest.mark.parametrize(
    "probed", ["true", "false", ""], ids=["probed", "not-probed", "no-probe-job"]
)
def test_update_generated_copies_the_eu_list_only_when_probed(
    steps: StepRunner, workspace: Path, probed: str
) -> None:
    write_artifact(workspace, added=0, removed=0, changed=0)
    committed = workspace / "self" / "generated" / "nim_eu_restricted.json"
    committed.parent.mkdir(parents=True)
    committed.write_text('[{"committed": true}]\n', encoding="utf-8")
    run = steps.run(
        "update-generated",
        "Copy the outputs into generated/",
        {"needs.detect-eu.outputs.probed": probed},
    )
    assert run.code == 0, run.err
    assert (workspace / "self" / "generated" / "nim-models-data.yaml").is_file()
    assert (committed.read_text(encoding="utf-8") == "[]\n") == (probed == "true")


# --------------------------------------------------------------------------- release


@pytest.mark.parametrize("exists", [False, True], ids=["new-release", "existing-release"])
def test_release_uploads_the_assets(steps: StepRunner, workspace: Path, exists: bool) -> None:
    write_artifact(workspace, added=1, removed=0, changed=0)
    context = {
        "github.token": "ghs_fake",
        "github.repository": "opendatahub-io/nim-build",
        "github.ref_name": "v1.2.3",
    }
    run = steps.run(
        "release",
        "Upload release assets",
        context,
        env={"FAKE_GH_RELEASE_EXISTS": "true" if exists else "false"},
    )
    assert run.code == 0, run.err
    created = [
        "release create v1.2.3 --verify-tag --title v1.2.3"
        " --notes-file out/nim-models-data.report.md"
    ]
    assert run.gh_calls == [
        "release view v1.2.3",
        *([] if exists else created),
        "release upload v1.2.3 --clobber out/nim-models-data.yaml out/nim_eu_restricted.json"
        " out/nim-models-data.report.md",
    ]
