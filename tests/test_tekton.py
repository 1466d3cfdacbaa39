"""The Konflux / Tekton files: strictly valid v1, pinned, in ODH's shape, producing what is used.

Every `.tekton/*.yaml` validates against tektoncd/pipeline's own v1 CRD schemas with unknown
fields forbidden (tests/tekton_schema.py). Pipeline references are pinned (bundle by digest, git
by commit) and get only the params their Pipeline declares (tests/data/tekton/pipelines.json).
Each image tag the Task or the documentation uses is pushed by some PipelineRun.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name
from ruamel.yaml import YAML

import nim_build
from tests.tekton_schema import problems

ROOT = Path(__file__).resolve().parents[1]
TEKTON = ROOT / ".tekton"
TASK = TEKTON / "nim-metadata-task.yaml"
PUSH = TEKTON / "nim-build-push.yaml"
PULL_REQUEST = TEKTON / "nim-build-pull-request.yaml"
TAG = TEKTON / "nim-build-tag.yaml"
BUNDLE = TEKTON / "nim-metadata-task-bundle.yaml"
IMAGE_RUNS = (PUSH, PULL_REQUEST, TAG)
PIPELINES = json.loads((ROOT / "tests" / "data" / "tekton" / "pipelines.json").read_text())
IMAGE = "quay.io/opendatahub/nim-build"
BUNDLE_IMAGE = "quay.io/opendatahub/nim-metadata-task"
LOCKS = (ROOT / "requirements.txt", ROOT / "requirements-build.txt")
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")
FAKE_DIGEST = "sha256:" + "0123456789abcdef" * 4
# The version part of the git tags that build a release: X.Y.Z or X.Y.Z-PRE (OCI tag characters).
VERSION_TAG = "[0-9]+[.][0-9]+[.][0-9]+(-[0-9A-Za-z.]+)?"


def load(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def tekton_files() -> list[Path]:
    return sorted(TEKTON.glob("*.yaml"))


def params(run: Any) -> dict[str, Any]:
    return {p["name"]: p["value"] for p in run["spec"]["params"]}


def ref_params(run: Any) -> dict[str, str]:
    return {p["name"]: p["value"] for p in run["spec"]["pipelineRef"]["params"]}


def package_version() -> str:
    """The one version: nim_build.__version__, which pyproject.toml's hatch reads."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project.get("dynamic") == ["version"]
    return nim_build.__version__


# --------------------------------------------------------------------------- strict v1 schemas


@pytest.mark.parametrize("path", tekton_files(), ids=lambda p: p.name)
def test_every_tekton_file_is_strictly_valid_v1(path: Path) -> None:
    assert problems(load(path)) == []


@pytest.mark.parametrize(
    ("path", "where", "key"),
    [
        (TASK, ("spec", "steps", 0), "imagePulPolicy"),
        (TASK, ("spec", "steps", 0, "securityContext"), "runAsNonRot"),
        (TASK, ("spec", "steps", 0, "env", 0), "vaule"),
        (TASK, ("spec", "params", 0), "defualt"),
        (PUSH, ("spec", "taskRunTemplate"), "serviceAcountName"),
        (PUSH, ("spec", "pipelineRef"), "resolvr"),
        (PUSH, ("spec", "workspaces", 0, "secret"), "secretNme"),
        (PUSH, ("metadata",), "annotation"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_misspelt_field_is_refused(path: Path, where: tuple[Any, ...], key: str) -> None:
    document = load(path)
    node = document
    for step in where:
        node = node[step]
    node[key] = "x"
    found = problems(document)
    assert len(found) == 1 and f"'{key}' was unexpected" in found[0], found


def test_a_wrong_type_is_refused() -> None:
    task = load(TASK)
    task["metadata"]["labels"]["app.kubernetes.io/version"] = 1
    task["spec"]["steps"][0]["computeResources"]["limits"]["memory"] = ["512Mi"]
    assert len(problems(task)) == 2


# --------------------------------------------------------------------------- pipeline references


@pytest.mark.parametrize("path", tekton_files(), ids=lambda p: p.name)
def test_every_reference_is_pinned(path: Path) -> None:
    """Bundles by digest, git by commit: nothing a tag or branch move can change."""
    text = path.read_text(encoding="utf-8")
    document = load(path)
    refs = [node for node in walk(document) if isinstance(node, dict) and "resolver" in node]
    for ref in refs:
        values = {p["name"]: p["value"] for p in ref["params"]}
        if ref["resolver"] == "bundles":
            assert DIGEST.search(values["bundle"]), values["bundle"]
        elif ref["resolver"] == "git":
            assert COMMIT.match(values["revision"]), values["revision"]
        else:
            pytest.fail(f"{path.name}: resolver {ref['resolver']} is not checked")
    assert ":devel" not in text and "revision: main" not in text


def walk(node: Any) -> list[Any]:
    found = [node]
    if isinstance(node, dict):
        for value in node.values():
            found += walk(value)
    elif isinstance(node, list):
        for value in node:
            found += walk(value)
    return found


def referenced_pipeline(run: Any) -> dict[str, Any]:
    ref = run["spec"]["pipelineRef"]
    wanted = {"resolver": ref["resolver"], **ref_params(run)}
    [pipeline] = [p for p in PIPELINES["pipelines"] if p["reference"] == wanted] or [None]
    assert pipeline is not None, f"no params recorded for {wanted}"
    return dict(pipeline)


@pytest.mark.parametrize("path", [*IMAGE_RUNS, BUNDLE], ids=lambda p: p.name)
def test_pipelinerun_params_are_the_pipelines(path: Path) -> None:
    run = load(path)
    pipeline = referenced_pipeline(run)
    given = set(params(run))
    assert given <= set(pipeline["params"]), given - set(pipeline["params"])
    required = {name for name, has_default in pipeline["params"].items() if not has_default}
    assert required <= given
    workspaces = {w["name"] for w in run["spec"]["workspaces"]}
    assert workspaces <= set(pipeline["workspaces"])


# --------------------------------------------------------------------------- ODH's shape


@pytest.mark.parametrize("path", [*IMAGE_RUNS, BUNDLE], ids=lambda p: p.name)
def test_odh_tenant_application_and_component(path: Path) -> None:
    run = load(path)
    meta = run["metadata"]
    assert meta["namespace"] == "open-data-hub-tenant"
    labels = meta["labels"]
    assert labels["appstudio.openshift.io/application"] == "opendatahub-release"
    assert labels["pipelines.appstudio.openshift.io/type"] == "build"
    component = labels["appstudio.openshift.io/component"]
    assert component == ("nim-metadata-task" if path == BUNDLE else "nim-build")
    assert run["spec"]["taskRunTemplate"]["serviceAccountName"] == f"build-pipeline-{component}"
    notes = meta["annotations"]
    assert notes["pipelinesascode.tekton.dev/max-keep-runs"] == "3"
    assert notes["build.appstudio.redhat.com/commit_sha"] == "{{revision}}"
    assert notes["build.appstudio.openshift.io/repo"].endswith("?rev={{revision}}")


@pytest.mark.parametrize(
    ("path", "cel", "cancel", "comment"),
    [
        # A comment may run the pull-request build, never the one that moves the Task's tags.
        (PUSH, 'event == "push" && target_branch == "main"', "false", False),
        (PULL_REQUEST, 'event == "pull_request" && target_branch == "main"', "true", True),
        (
            TAG,
            f'event == "push" && target_branch.matches("^refs/tags/v{VERSION_TAG}$")',
            "false",
            False,
        ),
        (
            BUNDLE,
            f'event == "push" && target_branch.matches("^refs/tags/task-v{VERSION_TAG}$")',
            "false",
            False,
        ),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else "",
)
def test_triggers(path: Path, cel: str, cancel: str, comment: bool) -> None:
    notes = load(path)["metadata"]["annotations"]
    assert notes["pipelinesascode.tekton.dev/on-cel-expression"] == cel
    assert notes["pipelinesascode.tekton.dev/cancel-in-progress"] == cancel
    assert ("pipelinesascode.tekton.dev/on-comment" in notes) == comment
    if comment:
        assert notes["pipelinesascode.tekton.dev/on-comment"] == "^/build-konflux"


def test_pull_request_builds_expire() -> None:
    run = load(PULL_REQUEST)
    values = params(run)
    assert re.fullmatch(r"\d+[hdw]", values["image-expires-after"])
    assert values["output-image"] == f"{IMAGE}:odh-pr-{{{{revision}}}}"
    assert values["pipeline-type"] == "pull-request"
    assert "additional-tags" not in values
    notes = run["metadata"]["annotations"]
    assert notes["build.appstudio.redhat.com/pull_request_number"] == "{{pull_request_number}}"
    for path in (PUSH, TAG):
        assert "image-expires-after" not in params(load(path)), path.name


@pytest.mark.parametrize("path", IMAGE_RUNS, ids=lambda p: p.name)
def test_image_runs_build_hermetically_for_both_architectures(path: Path) -> None:
    values = params(load(path))
    assert values["hermetic"] == "true"
    assert (ROOT / values["path-context"] / values["dockerfile"]) == ROOT / "Containerfile"
    [pip] = json.loads(values["prefetch-input"])
    assert pip["type"] == "pip" and pip["path"] == "."
    assert pip["requirements_files"] == ["requirements.txt"]
    assert pip["requirements_build_files"] == ["requirements-build.txt"]
    binary = pip["binary"]
    assert binary["py_version"] == 312 and binary["os"] == "linux"
    assert set(binary["arch"].split(",")) == {"x86_64", "aarch64"}
    platforms = {p.removeprefix("linux/") for p in values["build-platforms"]}
    assert platforms == {"x86_64", "arm64"}, "one platform per prefetched wheel architecture"
    assert values["prefetch-input"] == params(load(PUSH))["prefetch-input"]


def locked_packages() -> set[str]:
    return {
        canonicalize_name(line.split("==")[0])
        for lock in LOCKS
        for line in lock.read_text().splitlines()
        if re.match(r"^[A-Za-z0-9]", line)
    }


def test_binary_filter_lists_exactly_the_locked_packages() -> None:
    """Listed: wheels only, never an sdist (Hermeto docs/pip.md, "Distribution formats")."""
    [pip] = json.loads(params(load(PUSH))["prefetch-input"])
    listed = [canonicalize_name(name) for name in pip["binary"]["packages"].split(",")]
    assert len(listed) == len(set(listed))
    assert set(listed) == locked_packages()
    assert {"rpds-py", "ruamel-yaml-clib", "charset-normalizer"} <= set(listed)


# --------------------------------------------------------------------------- produced tags


def produced(path: Path) -> list[re.Pattern[str]]:
    """The tags a PipelineRun pushes, as patterns ({{revision}}: a commit, {{git_tag}}: its tag)."""
    run = load(path)
    values = params(run)
    cel = run["metadata"]["annotations"]["pipelinesascode.tekton.dev/on-cel-expression"]
    git_tag = re.search(r'target_branch\.matches\("\^refs/tags/([^"]*)\$"\)', cel)
    repository, tag = values["output-image"].rsplit(":", 1)
    patterns = []
    for template in [tag, *values.get("additional-tags", [])]:
        pattern = re.escape(template).replace(re.escape("{{revision}}"), "[0-9a-f]{40}")
        if "{{git_tag}}" in template:
            assert git_tag, f"{path.name}: {{{{git_tag}}}} without a tag trigger"
            pattern = pattern.replace(re.escape("{{git_tag}}"), f"(?:{git_tag.group(1)})")
        assert "{{" not in pattern, template
        patterns.append(re.compile(f"{re.escape(repository)}:{pattern}"))
    return patterns


def produced_tags(*, lasting: bool) -> list[re.Pattern[str]]:
    """Tags pushed by the PipelineRuns (lasting: only by those whose tags do not expire)."""
    runs = [p for p in tekton_files() if load(p)["kind"] == "PipelineRun"]
    return [
        pattern
        for path in runs
        if not (lasting and "image-expires-after" in params(load(path)))
        for pattern in produced(path)
    ]


REFERENCE = re.compile(
    rf"(?P<repository>{re.escape(IMAGE)}|{re.escape(BUNDLE_IMAGE)})"
    r"(?::(?P<tag>(?:[A-Za-z0-9_.-]|\{\{[a-z_]+\}\})+))?"
)
# Placeholders the documentation writes in tags, and a value each stands for.
PLACEHOLDERS = {"{{revision}}": "0123456789abcdef0123456789abcdef01234567", "X.Y.Z": "1.2.3"}


def used_references() -> list[tuple[str, str]]:
    """(file, repository:tag) for each tagged image or bundle reference in the Task and the docs."""
    files = [TASK, ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
    found = []
    for path in files:
        if path.is_file():
            for match in REFERENCE.finditer(path.read_text(encoding="utf-8")):
                if match["tag"]:
                    tag = match["tag"].rstrip(".")
                    for placeholder, value in PLACEHOLDERS.items():
                        tag = tag.replace(placeholder, value)
                    found.append((path.name, f"{match['repository']}:{tag}"))
    return found


def test_every_tag_used_is_produced() -> None:
    used = used_references()
    assert any(name == TASK.name for name, _ in used)
    patterns = produced_tags(lasting=False)
    missing = [(name, ref) for name, ref in used if not any(p.fullmatch(ref) for p in patterns)]
    assert missing == []


def tag_triggered(cel: str, git_tag: str) -> bool:
    """Whether the on-cel-expression's target_branch clause accepts a push of refs/tags/GIT_TAG."""
    [(function, argument)] = re.findall(r'target_branch\.(startsWith|matches)\("([^"]*)"\)', cel)
    ref = f"refs/tags/{git_tag}"
    return ref.startswith(argument) if function == "startsWith" else bool(re.search(argument, ref))


@pytest.mark.parametrize("path", [TAG, BUNDLE], ids=lambda p: p.name)
def test_a_tag_build_pushes_exactly_the_tags_its_trigger_accepts(path: Path) -> None:
    """The produced() model is the trigger: a git tag it accepts is a tag the run pushes."""
    cel = load(path)["metadata"]["annotations"]["pipelinesascode.tekton.dev/on-cel-expression"]
    repository = params(load(path))["output-image"].rsplit(":", 1)[0]
    prefix = "task-v" if path == BUNDLE else "v"
    for version, release in [
        ("1.2.3", True),
        ("0.1.0", True),
        ("10.20.30-rc.1", True),
        ("1", False),
        ("1.2", False),
        ("endor", False),
        ("1.2.3+build.5", False),  # `+` is no OCI tag character
        ("1.2.3/x", False),
    ]:
        git_tag = prefix + version
        pushed = any(p.fullmatch(f"{repository}:{git_tag}") for p in produced(path))
        assert tag_triggered(cel, git_tag) == pushed == release, git_tag
    other = "v1.2.3" if path == BUNDLE else "task-v1.2.3"
    assert not tag_triggered(cel, other)


def test_the_tasks_default_is_produced_by_every_push() -> None:
    [image] = [p for p in load(TASK)["spec"]["params"] if p["name"] == "image"]
    assert any(p.fullmatch(image["default"]) for p in produced(PUSH))


def test_produced_tags_are_odhs_and_the_release() -> None:
    def tags(path: Path) -> set[str]:
        values = params(load(path))
        return {values["output-image"].rsplit(":", 1)[1], *values.get("additional-tags", [])}

    assert tags(PUSH) == {"{{revision}}", "latest", "odh-incubating", "odh-incubating-{{revision}}"}
    assert tags(TAG) == {"{{git_tag}}"}
    assert any(p.fullmatch(f"{IMAGE}:v{package_version()}") for p in produced(TAG))
    assert not any(p.fullmatch(f"{IMAGE}:task-v{package_version()}") for p in produced(TAG))
    assert all(p.pattern.startswith(re.escape(BUNDLE_IMAGE)) for p in produced(BUNDLE))


def test_a_tag_nothing_produces_is_found() -> None:
    lasting = produced_tags(lasting=True)
    everything = produced_tags(lasting=False)
    pull_request = f"{IMAGE}:odh-pr-{'a' * 40}"
    assert any(p.fullmatch(pull_request) for p in everything)
    assert not any(p.fullmatch(pull_request) for p in lasting), "expiring tags are not lasting"
    for ref in (f"{IMAGE}:stable", f"{IMAGE}:v1", f"{BUNDLE_IMAGE}:v0.1.0", f"{IMAGE}:{'a' * 7}"):
        assert not any(p.fullmatch(ref) for p in everything), ref
    for ref in (f"{IMAGE}:latest", f"{IMAGE}:{'a' * 40}", f"{BUNDLE_IMAGE}:task-v0.1.0"):
        assert any(p.fullmatch(ref) for p in lasting), ref


# --------------------------------------------------------------------------- Task and bundle


def test_task_metadata_is_the_catalogs_and_the_packages() -> None:
    meta = load(TASK)["metadata"]
    assert meta["labels"]["app.kubernetes.io/version"] == package_version()
    notes = meta["annotations"]
    assert notes["tekton.dev/platforms"] == "linux/amd64,linux/arm64"
    for key in (
        "tekton.dev/pipelines.minVersion",
        "tekton.dev/categories",
        "tekton.dev/tags",
        "tekton.dev/displayName",
    ):
        assert notes[key], key


def test_bundle_run_builds_the_task_alone() -> None:
    run = load(BUNDLE)
    values = params(run)
    assert (ROOT / values["path-context"]) == TASK, "the bundle holds the Task, no PipelineRun"
    assert values["output-image"] == f"{BUNDLE_IMAGE}:{{{{git_tag}}}}"
    ref = ref_params(run)
    assert run["spec"]["pipelineRef"]["resolver"] == "bundles"
    assert ref["name"] == "tekton-bundle-builder-oci-ta" and ref["kind"] == "pipeline"
    assert ref["bundle"].startswith(
        "quay.io/konflux-ci/tekton-catalog/pipeline-tekton-bundle-builder-oci-ta@sha256:"
    )


def run_release_task(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "release-task"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_release_task_pins_the_image_by_digest(tmp_path: Path) -> None:
    copy = tmp_path / "task.yaml"
    shutil.copy(TASK, copy)
    result = run_release_task(FAKE_DIGEST, str(copy))
    assert result.returncode == 0, result.stderr
    pinned = f"{IMAGE}:v{package_version()}@{FAKE_DIGEST}"
    assert result.stdout.strip().endswith(pinned)
    before = TASK.read_text().splitlines()
    after = copy.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [(f"      default: {IMAGE}:latest", f"      default: {pinned}")]
    document = load(copy)
    assert problems(document) == []
    [image] = [p for p in document["spec"]["params"] if p["name"] == "image"]
    assert image["default"] == pinned
    # The pinned tag is the one the release run pushed.
    assert any(p.fullmatch(pinned.split("@", maxsplit=1)[0]) for p in produced(TAG))
    # Pinning again (a new digest for the same version) replaces it.
    again = run_release_task("sha256:" + "f" * 64, str(copy))
    assert again.returncode == 0 and load(copy)["spec"]["params"][0]["default"].endswith("f" * 64)


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:abc",
        "0123456789abcdef" * 4,
        "sha256:" + "A" * 64,
        "sha512:" + "0" * 64,
        "sha256:" + "0" * 64 + "\n",  # `$` alone would accept a trailing newline
    ],
)
def test_release_task_refuses_a_bad_digest(tmp_path: Path, digest: str) -> None:
    copy = tmp_path / "task.yaml"
    shutil.copy(TASK, copy)
    result = run_release_task(digest, str(copy))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "is not a digest" in result.stderr
    assert "Traceback" not in result.stderr
    assert copy.read_bytes() == TASK.read_bytes()


def test_release_task_refuses_a_missing_file(tmp_path: Path) -> None:
    result = run_release_task(FAKE_DIGEST, str(tmp_path / "absent.yaml"))
    assert result.returncode == 1 and "absent.yaml" in result.stderr


# --------------------------------------------------------------------------- .ci checks


def fake_wheel(folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(b"")


def pure_wheels(folder: Path) -> None:
    for package in locked_packages():
        fake_wheel(folder, f"{package.replace('-', '_')}-1.0-py3-none-any.whl")


def check_wheels(run: Path, x86: Path, aarch64: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / ".ci" / "prefetch-input"),
            "check-wheels",
            *map(str, (run, x86, aarch64, *LOCKS)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_wheels_accepts_the_pipelinerun(tmp_path: Path) -> None:
    for arch in ("x86_64", "aarch64"):
        pure_wheels(tmp_path / arch)
        (tmp_path / arch / "rpds_py-1.0-py3-none-any.whl").unlink()
        fake_wheel(tmp_path / arch, f"rpds_py-1.0-cp312-cp312-manylinux_2_17_{arch}.whl")
    result = check_wheels(PUSH, tmp_path / "x86_64", tmp_path / "aarch64")
    assert result.returncode == 0, result.stderr
    assert "compiled (wheels only, both architectures): rpds-py" in result.stdout


def test_check_wheels_refuses_a_compiled_package_outside_the_filter(tmp_path: Path) -> None:
    run = load(PUSH)
    for param in run["spec"]["params"]:
        if param["name"] == "prefetch-input":
            param["value"] = param["value"].replace("rpds-py,", "")
    copy = tmp_path / "run.yaml"
    copy.write_text(json.dumps(run))
    for arch in ("x86_64", "aarch64"):
        pure_wheels(tmp_path / arch)
        fake_wheel(tmp_path / arch, f"rpds_py-1.0-cp312-cp312-manylinux_2_17_{arch}.whl")
    result = check_wheels(copy, tmp_path / "x86_64", tmp_path / "aarch64")
    assert result.returncode == 1
    assert "binary filter lacks rpds-py" in result.stderr
    assert "rpds-py ships compiled code but is not in the binary filter" in result.stderr


def test_check_wheels_refuses_a_compiled_package_without_an_arm_wheel(tmp_path: Path) -> None:
    pure_wheels(tmp_path / "x86_64")
    pure_wheels(tmp_path / "aarch64")
    fake_wheel(tmp_path / "x86_64", "rpds_py-1.0-cp312-cp312-manylinux_2_17_x86_64.whl")
    fake_wheel(tmp_path / "aarch64", "rpds_py-1.0-cp311-cp311-manylinux_2_17_aarch64.whl")
    result = check_wheels(PUSH, tmp_path / "x86_64", tmp_path / "aarch64")
    assert result.returncode == 1
    assert "rpds-py ships compiled code but has no cp312 wheel for aarch64" in result.stderr


def test_check_prefetch_skips_without_hermeto(tmp_path: Path) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("bash", "dirname", "cat"):
        found = shutil.which(tool)
        assert found
        (tools / tool).symlink_to(found)
    result = subprocess.run(
        ["bash", str(ROOT / ".ci" / "check-prefetch")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PATH": str(tools)},
    )
    assert result.returncode == 0, result.stderr
    script = (ROOT / ".ci" / "check-prefetch").read_text()
    [commit] = re.findall(r"^HERMETO_COMMIT=([0-9a-f]{40})$", script, re.MULTILINE)
    assert "skipped, `hermeto` is not on PATH" in result.stdout
    assert f"checkout {commit}" in result.stdout
    assert "/opt/hermeto/bin/pip install /opt/hermeto-src" in result.stdout


def test_ci_runs_the_konflux_checks() -> None:
    run = (ROOT / ".ci" / "run").read_text()
    assert "bash .ci/check-prefetch\n" in run
    assert "tests/test_tekton.py" in run
    locks = (ROOT / ".ci" / "check-locks").read_text()
    assert ".ci/prefetch-input check-wheels .tekton/nim-build-push.yaml" in locks


def test_ci_lints_and_types_its_python_helpers() -> None:
    """The extensionless Python scripts in .ci/ get ruff, ruff format and strict mypy too."""
    helpers = {
        f".ci/{path.name}"
        for path in (ROOT / ".ci").iterdir()
        if path.is_file() and "python" in path.read_text(errors="replace").partition("\n")[0]
    }
    assert {".ci/prefetch-input", ".ci/release-task", ".ci/vendor-tekton-schemas"} <= helpers
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    [select] = [line for line in lines if line.startswith("mapfile -t ci_python ")]
    listed = subprocess.run(
        ["bash", "-c", f'{select}; printf "%s\\n" "${{ci_python[@]}}"'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert set(listed) == helpers
    for command in ("ruff check ", "ruff format --check ", "mypy --scripts-are-modules "):
        [line] = [line for line in lines if line.startswith(command)]
        assert line.endswith(' "${ci_python[@]}"'), line


def test_the_build_stage_copies_what_the_wheel_build_reads() -> None:
    """Containerfile's build stage: pyproject.toml, its readme, hatch's version file, the package.

    .ci/check-prefetch builds the wheel from these COPY sources alone, as the image does.
    """
    stages = (ROOT / "Containerfile").read_text().split("\nFROM ")
    copied = [
        word.rstrip("/")
        for line in stages[1].splitlines()
        if line.startswith("COPY ")
        for word in line.split()[1:-1]
        if not word.startswith("--")
    ]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = [
        "pyproject.toml",
        pyproject["project"]["readme"],
        pyproject["tool"]["hatch"]["version"]["path"],
        *pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"],
        *pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"],
    ]
    for path in wanted:
        assert any(path == source or path.startswith(f"{source}/") for source in copied), path
    script = (ROOT / ".ci" / "check-prefetch").read_text()
    assert '--wheel-dir "$work/dist" "$work/context"' in script


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("absent.yaml", None, "absent.yaml: [Errno 2]"),
        ("task.yaml", TASK.read_text(), "no prefetch-input param in spec.params"),
        ("bundle.yaml", BUNDLE.read_text(), "no prefetch-input param in spec.params"),
        ("broken.yaml", "spec: [", "broken.yaml: "),
        (
            "notjson.yaml",
            "spec: {params: [{name: prefetch-input, value: '[{'}]}",
            "prefetch-input is not JSON",
        ),
    ],
)
def test_prefetch_input_refuses_a_run_without_one(
    tmp_path: Path, name: str, text: str | None, message: str
) -> None:
    run = tmp_path / name
    if text is not None:
        run.write_text(text)
    wheels = [str(tmp_path), str(tmp_path), *map(str, LOCKS)]
    for args in (["json", str(run)], ["check-wheels", str(run), *wheels]):
        result = subprocess.run(
            [sys.executable, str(ROOT / ".ci" / "prefetch-input"), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith("prefetch-input: error: ") and message in result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
