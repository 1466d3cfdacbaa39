"""`nim-build place` against a manifests tree shaped like odh-model-controller's config/,
rendered by the real `kubectl kustomize` (Debian package `kubectl`)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from nim_build.kustomize import KustomizeError
from nim_build.kustomize.wiring import with_resource
from tests.conftest import NGC_DATA, CliResult, github_outputs

TREE = NGC_DATA / "odh-manifests"
PLACED = "config/nim/nim-models-data.yaml"
WIRED = ("--kustomization", "config/default/kustomization.yaml")
RENDERED = ("--render", "config/base", "--expect-namespace", "opendatahub")
DEPLOYS = f"{PLACED} deploys: rendered from config/base into namespace opendatahub\n"
KUBECTL = "kubectl"  # the Debian package, and its program


def _kustomize_version() -> str | None:
    """kubectl's built-in kustomize version ("v5.5.0"); None without kubectl or version."""
    if shutil.which("kubectl") is None:
        return None
    done = subprocess.run(
        ["kubectl", "version", "--client"], capture_output=True, text=True, timeout=30, check=False
    )
    found = re.search(r"Kustomize Version: (v\d+)", done.stdout)
    return found.group(1) if found else None


_VERSION = _kustomize_version()
# odh-model-controller's kustomizations use `labels`, `replacements` and `envs`: kustomize v4+.
needs_kubectl = pytest.mark.skipif(
    _VERSION is None or int(_VERSION[1:]) < 4,
    reason=f"needs kubectl with kustomize v4 or later (Debian package {KUBECTL}); "
    f"found {_VERSION or 'none'}",
)


@pytest.fixture(scope="module")
def demo_configmap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    subprocess.run(
        [sys.executable, "-m", "nim_build", "-q", "generate", "--demo"],
        cwd=folder,
        env={**os.environ, "NGC_API_URL": "http://127.0.0.1:9"},
        check=True,
        timeout=120,
    )
    return folder / "build/demo/nim-models-data.yaml"


@pytest.fixture
def tree(workdir: Path, demo_configmap: Path) -> Path:
    """A fresh copy of the manifests tree as `repo/`, the demo ConfigMap beside it."""
    shutil.copytree(TREE, workdir / "repo")
    shutil.copy(demo_configmap, workdir / "cm.yaml")
    return workdir / "repo"


@pytest.fixture
def place(run_subprocess: Callable[..., CliResult]) -> Callable[..., CliResult]:
    def run(*options: str, env: dict[str, str] | None = None) -> CliResult:
        return run_subprocess("place", "cm.yaml", "--repo", "repo", *options, env=env)

    return run


def _files(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `root`: its bytes and mtime."""
    return {
        path.relative_to(root).as_posix(): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _kustomize(folder: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        ["kubectl", "kustomize", str(folder)], capture_output=True, check=True, timeout=60
    )
    return [doc for doc in YAML(typ="safe").load_all(done.stdout) if doc]


def _actions(workdir: Path) -> dict[str, str]:
    return {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(workdir / "github_output")}


# --------------------------------------------------------------------------- wiring and render


@needs_kubectl
def test_first_wiring_renders_once_into_the_namespace(
    tree: Path, workdir: Path, place: Callable[..., CliResult]
) -> None:
    default = tree / "config/default/kustomization.yaml"
    before = default.read_text()
    result = place("--path", PLACED, *WIRED, *RENDERED, env=_actions(workdir))
    assert (result.code, result.out) == (0, DEPLOYS), result.err
    assert (tree / PLACED).read_bytes() == (workdir / "cm.yaml").read_bytes()
    # One line added under the last entry; every other byte (comments, order) as it was.
    assert default.read_text() == before.replace("- ../server\n", "- ../server\n- ../nim\n")
    unit = YAML(typ="safe").load(tree / "config/nim/kustomization.yaml")
    assert unit["resources"] == ["nim-models-data.yaml"]
    # The real renderer, asked directly: one nim-models-data, in opendatahub.
    found = [
        doc["metadata"]
        for doc in _kustomize(tree / "config/base")
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "nim-models-data"
    ]
    assert [meta["namespace"] for meta in found] == ["opendatahub"]
    assert github_outputs(workdir / "github_output") == {
        "deploys": "true",
        "namespace": "opendatahub",
        "placement": DEPLOYS.strip(),
    }


@needs_kubectl
def test_second_run_changes_no_byte(tree: Path, place: Callable[..., CliResult]) -> None:
    assert place("--path", PLACED, *WIRED, *RENDERED).code == 0
    first = _files(tree)
    time.sleep(0.01)  # a rewrite would show in the mtimes
    again = place("--path", PLACED, *WIRED, *RENDERED)
    assert (again.code, again.out) == (0, DEPLOYS)
    assert _files(tree) == first
    assert again.err.count(": unchanged") == 3


@needs_kubectl
def test_already_wired_tree_is_left_alone(tree: Path, place: Callable[..., CliResult]) -> None:
    default = tree / "config/default/kustomization.yaml"
    default.write_text(default.read_text().replace("- ../server\n", "- ../server\n- ../nim/\n"))
    unit = tree / "config/nim/kustomization.yaml"
    unit.parent.mkdir()
    unit.write_text("# ours\nresources:\n- ./nim-models-data.yaml  # the NIM models\n")
    wired = _files(tree)
    result = place("--path", PLACED, *WIRED, *RENDERED)
    assert (result.code, result.out) == (0, DEPLOYS), result.err
    after = _files(tree)
    assert {name: after[name] for name in wired} == wired  # only the ConfigMap is new
    assert set(after) - set(wired) == {PLACED}


@needs_kubectl
def test_not_rendered_names_the_kustomization_to_add_it_to(
    tree: Path, workdir: Path, place: Callable[..., CliResult]
) -> None:
    result = place("--path", PLACED, *RENDERED, env=_actions(workdir))
    assert result.code == 1
    assert result.out == ""
    line = (
        f"{PLACED} is not rendered from config/base: add `../nim` to the resources of "
        "config/base/kustomization.yaml or of a kustomization it includes (--kustomization "
        "does that)"
    )
    assert result.error == f"nim-build: error: {line}"
    assert (tree / PLACED).exists()  # placed all the same: the PR shows it, marked
    assert github_outputs(workdir / "github_output") == {
        "deploys": "false",
        "namespace": "",
        "placement": line,
    }


@needs_kubectl
def test_wired_into_a_kustomization_the_overlay_does_not_include(
    tree: Path, place: Callable[..., CliResult]
) -> None:
    (tree / "config/overlays/extra").mkdir(parents=True)
    (tree / "config/overlays/extra/kustomization.yaml").write_text("resources: []\n")
    result = place("--path", PLACED, "--kustomization", "config/overlays/extra", *RENDERED)
    assert result.code == 1
    assert result.error.endswith(
        "config/overlays/extra/kustomization.yaml lists it, but config/base does not include "
        "config/overlays/extra: add `../overlays/extra` to the resources of "
        "config/base/kustomization.yaml"
    )


@needs_kubectl
def test_wrong_namespace(tree: Path, place: Callable[..., CliResult]) -> None:
    # config/default alone sets the controller's own namespace, not the applications one.
    result = place(
        "--path", PLACED, *WIRED, "--render", "config/default", "--expect-namespace", "opendatahub"
    )
    assert result.code == 1
    assert result.error == (
        f"nim-build: error: {PLACED} is rendered from config/default into namespace "
        "odh-model-controller-system, not into opendatahub (--expect-namespace)"
    )


@needs_kubectl
def test_render_that_fails(tree: Path, workdir: Path, place: Callable[..., CliResult]) -> None:
    server = tree / "config/server/kustomization.yaml"
    server.write_text(server.read_text() + "  - missing.yaml\n")
    result = place("--path", PLACED, *WIRED, *RENDERED, env=_actions(workdir))
    assert result.code == 1
    assert result.error.startswith(
        "nim-build: error: `kubectl kustomize config/base` failed (exit code 1): "
    )
    assert "missing.yaml" in result.error
    assert github_outputs(workdir / "github_output")["deploys"] == "false"


@needs_kubectl
def test_overlay_that_changes_the_data(tree: Path, place: Callable[..., CliResult]) -> None:
    base = tree / "config/base/kustomization.yaml"
    base.write_text(
        base.read_text()
        + "- patch: '{kind: ConfigMap, apiVersion: v1, metadata: {name: nim-models-data},"
        + " data: {extra: x}}'\n"
    )
    result = place("--path", PLACED, *WIRED, *RENDERED)
    assert result.code == 1
    assert "is rendered from config/base with other data" in result.error


@needs_kubectl
def test_renamed_by_a_name_prefix_is_not_rendered(
    tree: Path, place: Callable[..., CliResult]
) -> None:
    default = tree / "config/default/kustomization.yaml"
    default.write_text(default.read_text().replace("# namePrefix:", "namePrefix:"))
    result = place("--path", PLACED, *WIRED, *RENDERED)
    assert result.code == 1
    assert f"{PLACED} is not rendered from config/base" in result.error


@needs_kubectl
def test_rendered_twice(tree: Path, place: Callable[..., CliResult]) -> None:
    # A second overlay takes config/nim into another namespace beside config/base's.
    for folder, text in {
        "config/other": "namespace: other\nresources:\n- ../nim\n",
        "config/both": "resources:\n- ../base\n- ../other\n",
    }.items():
        (tree / folder).mkdir()
        (tree / folder / "kustomization.yaml").write_text(text)
    result = place("--path", PLACED, *WIRED, "--render", "config/both")
    assert result.code == 1
    assert result.error == (
        f"nim-build: error: {PLACED}: config/both renders 2 ConfigMaps named nim-models-data "
        "(namespaces opendatahub, other); exactly one may deploy"
    )


def _fake_kubectl(workdir: Path, script: str) -> dict[str, str]:
    """PATH with a stand-in `kubectl` running `script` first."""
    bin_folder = workdir / "bin"
    bin_folder.mkdir()
    fake = bin_folder / "kubectl"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    return {"PATH": f"{bin_folder}{os.pathsep}{os.environ['PATH']}"}


def test_endless_output_is_cut(tree: Path, workdir: Path, place: Callable[..., CliResult]) -> None:
    result = place("--path", PLACED, "--render", "config/base", env=_fake_kubectl(workdir, "yes"))
    assert result.code == 1
    assert result.error == (
        "nim-build: error: `kubectl kustomize config/base` printed more than 16 MiB; stopped"
    )


def test_a_large_render_is_refused_before_it_is_parsed(
    tree: Path, workdir: Path, place: Callable[..., CliResult]
) -> None:
    # odh-model-controller's config/base renders 138 KB; parsing takes ~1.5 s per MB, outside
    # the render's time limit, so a tree that renders 20 MB of valid YAML stops at the cap.
    document = "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n"
    document += "".join(f"  k{i}: v\n" for i in range(1000))
    (workdir / "big.yaml").write_text(document * (20_000_000 // len(document)))
    env = _fake_kubectl(workdir, f"cat {workdir / 'big.yaml'}")
    started = time.monotonic()
    result = place("--path", PLACED, "--render", "config/base", env=env)
    assert time.monotonic() - started < 10
    assert result.code == 1
    assert result.error == (
        "nim-build: error: `kubectl kustomize config/base` printed more than 16 MiB; stopped"
    )


def test_render_timeout_stops_a_hung_kubectl(
    tree: Path, workdir: Path, place: Callable[..., CliResult]
) -> None:
    # Our own stand-in for a hung tool; the other render tests run the real kubectl.
    env = _fake_kubectl(workdir, "sleep 60")
    started = time.monotonic()
    result = place("--path", PLACED, "--render", "config/base", "--render-timeout", "1", env=env)
    assert time.monotonic() - started < 20  # the sleep (its child) was killed too
    assert result.code == 1
    assert result.error == (
        "nim-build: error: `kubectl kustomize config/base` did not finish within 1 s and was "
        "stopped (it renders offline: a remote base cannot be fetched)"
    )


def test_no_renderer_names_the_package(
    tree: Path, workdir: Path, place: Callable[..., CliResult]
) -> None:
    empty = workdir / "empty-bin"
    empty.mkdir()
    result = place("--path", PLACED, "--render", "config/base", env={"PATH": str(empty)})
    assert result.code == 1
    assert "neither kubectl nor kustomize is on PATH (install the package kubectl)" in result.error


# --------------------------------------------------------------------------- refusals


def test_without_render_it_only_places(
    tree: Path, workdir: Path, place: Callable[..., CliResult]
) -> None:
    result = place("--path", PLACED, *WIRED, env=_actions(workdir))
    assert (result.code, result.out) == (0, f"placed {PLACED} (not rendered)\n")
    assert github_outputs(workdir / "github_output")["deploys"] == "false"


def test_a_broken_configmap_is_never_placed(
    tree: Path, workdir: Path, place: Callable[..., CliResult]
) -> None:
    (workdir / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\ndata: [1]\n")
    before = _files(tree)
    result = place("--path", PLACED, *WIRED)
    assert result.code == 1
    assert result.error.startswith("nim-build: error: cm.yaml: ")
    assert _files(tree) == before


def _outside(workdir: Path) -> Path:
    outside = workdir / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "kustomization.yaml").write_text("resources: []\n")
    return outside


ESCAPES: dict[str, Callable[[Path], tuple[str, ...]]] = {
    "dotdot path": lambda _: ("--path", "config/../../x.yaml"),
    "absolute path": lambda w: ("--path", str(w / "repo" / PLACED)),
    "dotdot kustomization": lambda _: ("--path", PLACED, "--kustomization", "../outside"),
    "absolute render": lambda w: ("--path", PLACED, "--render", str(w / "repo/config/base")),
    "dotdot render": lambda _: ("--path", PLACED, "--render", "config/../../outside"),
}


@pytest.mark.parametrize("name", ESCAPES)
def test_paths_leading_out_are_refused(
    name: str, tree: Path, workdir: Path, place: Callable[..., CliResult]
) -> None:
    outside = _outside(workdir)
    before = _files(workdir)
    result = place(*ESCAPES[name](workdir))
    assert result.code == 2, result.err
    assert "--repo" in result.error
    assert _files(workdir) == before
    del outside


SYMLINKS = {
    # link inside the tree -> where it points, relative to the workdir; the options
    "folder": ("repo/config/nim", "outside", ("--path", PLACED)),
    "file": ("repo/" + PLACED, "outside/cm.yaml", ("--path", PLACED)),
    "unit kustomization": (
        "repo/config/nim/kustomization.yaml",
        "outside/kustomization.yaml",
        ("--path", PLACED),
    ),
    "parent kustomization": (
        "repo/config/extra/kustomization.yaml",
        "outside/kustomization.yaml",
        ("--path", PLACED, "--kustomization", "config/extra/kustomization.yaml"),
    ),
    "overlay": (
        "repo/config/elsewhere",
        "outside",
        ("--path", PLACED, "--render", "config/elsewhere"),
    ),
}


@pytest.mark.parametrize("name", SYMLINKS)
def test_symlinks_leading_out_are_refused(
    name: str, tree: Path, workdir: Path, place: Callable[..., CliResult]
) -> None:
    link, target, options = SYMLINKS[name]
    _outside(workdir)
    (workdir / link).parent.mkdir(parents=True, exist_ok=True)
    (workdir / link).symlink_to(workdir / target)
    before = _files(workdir)
    result = place(*options)
    assert result.code == 2, result.err
    assert "a symlink leads out of --repo repo" in result.error
    assert _files(workdir) == before


def test_a_symlink_inside_the_checkout_is_followed(
    tree: Path, workdir: Path, place: Callable[..., CliResult]
) -> None:
    (tree / "manifests").mkdir()
    (tree / "config/nim").symlink_to(tree / "manifests")
    result = place("--path", PLACED)
    assert result.code == 0, result.err
    assert (tree / "manifests/nim-models-data.yaml").is_file()


def test_another_file_at_the_path_is_not_replaced(
    tree: Path, place: Callable[..., CliResult]
) -> None:
    result = place("--path", "config/manager/manager.yaml")
    assert result.code == 2
    assert "refusing to overwrite config/manager/manager.yaml" in result.error


@pytest.mark.parametrize("runner_file", ["cm.yaml", f"repo/{PLACED}"])
def test_the_runner_files_are_none_of_its_files(
    tree: Path, workdir: Path, place: Callable[..., CliResult], runner_file: str
) -> None:
    """$GITHUB_OUTPUT appended to the ConfigMap it reads or places would break it."""
    (workdir / runner_file).parent.mkdir(parents=True, exist_ok=True)
    (workdir / runner_file).touch()
    before = _files(workdir)
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(workdir / runner_file)}
    result = place("--path", PLACED, *WIRED, env=env)
    assert result.code == 2
    assert result.error.startswith("nim-build: error: $GITHUB_OUTPUT and ")
    assert _files(workdir) == before


# --------------------------------------------------------------------------- the round trip


def test_flow_style_and_missing_resources_are_extended() -> None:
    flow = "# keep me\nnamespace: x  # and me\nresources: [a.yaml, ../b]\n"
    changed = with_resource(flow, "../nim", "k.yaml")
    assert changed is not None
    assert "# keep me" in changed and "# and me" in changed
    assert YAML(typ="safe").load(changed)["resources"] == ["a.yaml", "../b", "../nim"]
    none = with_resource("# only a comment\nnamespace: x\n", "../nim", "k.yaml")
    assert none is not None
    assert YAML(typ="safe").load(none) == {"namespace": "x", "resources": ["../nim"]}
    assert with_resource("resources:\n  - ../nim/\n", "../nim", "k.yaml") is None


def test_a_kustomization_that_is_not_one_is_an_error() -> None:
    with pytest.raises(KustomizeError, match=r"k.yaml: `resources` is not a list of paths"):
        with_resource("resources: ../nim\n", "../nim", "k.yaml")
    with pytest.raises(KustomizeError, match=r"k.yaml: not valid YAML"):
        with_resource("resources: [\n", "../nim", "k.yaml")


def test_the_renderer_gets_no_key_or_token(
    tree: Path, workdir: Path, place: Callable[..., CliResult]
) -> None:
    # A kustomization is untrusted input: whatever kubectl runs for it sees only what it needs.
    env = _fake_kubectl(workdir, f"env > {workdir / 'seen'}; exit 1")
    secrets = ("NGC_API_KEY", "GITHUB_TOKEN", "GH_TOKEN", "ACTIONS_RUNTIME_TOKEN", "AWS_SECRET")
    env |= {name: f"secret-{name}" for name in secrets}
    result = place("--path", PLACED, "--render", "config/base", env=env)
    assert result.code == 1
    seen = (workdir / "seen").read_text()
    assert "secret-" not in seen
    assert f"PATH={env['PATH']}\n" in seen


def test_a_kustomization_it_cannot_wire_still_says_why_in_the_outputs(
    tree: Path, workdir: Path, place: Callable[..., CliResult]
) -> None:
    # Exit 1 opens the pull request marked as not deploying: its line must say why.
    (tree / "config/default/kustomization.yaml").write_text("resources: ../runtimes\n")
    result = place("--path", PLACED, *WIRED, *RENDERED, env=_actions(workdir))
    assert result.code == 1
    line = "config/default/kustomization.yaml: `resources` is not a list of paths"
    assert result.error == f"nim-build: error: {line}"
    assert github_outputs(workdir / "github_output") == {
        "deploys": "false",
        "namespace": "",
        "placement": line,
    }


def test_a_symlink_loop_is_refused_before_any_write(
    tree: Path, workdir: Path, place: Callable[..., CliResult]
) -> None:
    unit = tree / "config/nim/kustomization.yaml"
    unit.parent.mkdir()
    unit.symlink_to("kustomization.yaml")  # itself
    before = _files(workdir)
    result = place("--path", PLACED, *WIRED)
    assert result.code == 2, result.err
    assert result.error == (
        "nim-build: error: --path config/nim/kustomization.yaml: a symlink loop"
    )
    assert _files(workdir) == before


def test_a_huge_kustomization_is_refused_before_any_write(
    tree: Path, workdir: Path, place: Callable[..., CliResult]
) -> None:
    # ~13 s per MB to parse and extend: a hostile checkout must not make a run take hours.
    default = tree / "config/default/kustomization.yaml"
    default.write_text("resources:\n" + "- ../runtimes\n" * 100_000)
    before = _files(tree)
    started = time.monotonic()
    result = place("--path", PLACED, *WIRED, env=_actions(workdir))
    assert time.monotonic() - started < 10
    assert result.code == 1
    assert result.error == (
        "nim-build: error: config/default/kustomization.yaml: larger than 1 MiB; not a "
        "kustomization nim-build edits"
    )
    assert _files(tree) == before
    assert github_outputs(workdir / "github_output")["deploys"] == "false"
