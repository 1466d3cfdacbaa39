"""No command overwrites a file that is not its own kind of output, nor an input of its run.

Each refusal comes before any request: exit 2, one line naming the option and the file, and
the old file byte for byte as it was. An empty or missing file is fine to write; a file the
command wrote before is replaced; a link is written through unless its target is refused.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from nim_build.resources import demo_snapshot_path
from nim_build.steps.configmap import render_configmap
from tests.conftest import API_KEY, CliResult, snapshot_of
from tests.entries import real_shaped_entries
from tests.fake_ngc import FakeNgc

Run = Callable[..., CliResult]
PYTHON = "import os\nprint('a Python file')\n"
UNREACHABLE_REGISTRY = "127.0.0.1:9"  # never asked: every refusal comes first


def assert_refused(
    run_cli: Run, argv: tuple[str, ...], kept: Path, fake: FakeNgc | None, error: str
) -> None:
    """`nim-build ARGV`: exit 2 with `error`, no request sent, and `kept` as it was."""
    before = snapshot_of(kept)
    result = run_cli(*argv)
    assert result.code == 2, result.err
    assert "Traceback" not in result.err
    assert result.error == f"nim-build: error: {error}"
    if fake is not None:
        assert fake.request_count == 0
    assert snapshot_of(kept) == before


@pytest.fixture
def configmap(workdir: Path) -> Path:
    path = workdir / "CM.yaml"
    path.write_text(render_configmap(real_shaped_entries()), encoding="utf-8")
    return path


@pytest.fixture
def python_file(workdir: Path) -> Path:
    path = workdir / "x.py"
    path.write_text(PYTHON, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the cases


def assert_detect_eu_refuses(run_cli: Run, fake: FakeNgc, kept: Path) -> None:
    argv = ("detect-eu", "--api-url", fake.url, "--output", kept.name, API_KEY)
    error = (
        f"refusing to overwrite {kept.name} (--output): it is not an EU list (a JSON array of "
        "models); name another file, or move it away"
    )
    assert_refused(run_cli, argv, kept, fake, error)


def test_detect_eu_does_not_replace_a_configmap(
    run_cli: Run, fake_ngc: FakeNgc, configmap: Path
) -> None:
    assert_detect_eu_refuses(run_cli, fake_ngc, configmap)


@pytest.mark.parametrize(
    "command",
    [["mirror-list", "--format", "mapping"], ["mirror-configmap", "--plain-http"]],
    ids=["mirror-list", "mirror-configmap"],
)
def test_mirror_commands_do_not_replace_their_input(
    run_cli: Run, configmap: Path, command: list[str]
) -> None:
    argv = (*command, "CM.yaml", "--registry", UNREACHABLE_REGISTRY, "--output", "CM.yaml")
    error = "refusing to overwrite CM.yaml (--output): it is the input CONFIGMAP CM.yaml of this "
    error += "run"
    assert_refused(run_cli, argv, configmap, None, error)


@pytest.mark.parametrize(
    ("option", "kind"),
    [(["run", "--report"], "report"), (["generate", "--record"], "snapshot")],
    ids=["report", "record"],
)
def test_report_and_record_do_not_replace_a_python_file(
    run_cli: Run, fake_ngc: FakeNgc, python_file: Path, option: list[str], kind: str
) -> None:
    argv = (*option, "x.py", "--api-url", fake_ngc.url, API_KEY)
    error = (
        f"refusing to overwrite x.py ({option[1]}): it is not a nim-build {kind}; "
        "name another file, or move it away"
    )
    assert_refused(run_cli, argv, python_file, fake_ngc, error)
    assert not (python_file.parent / "generated").exists()


@pytest.mark.parametrize(
    "case",
    [
        ("GITHUB_OUTPUT", "--output", "CM.yaml"),
        ("GITHUB_STEP_SUMMARY", "--report", "CM.report.md"),
        ("GITHUB_OUTPUT", "--eu-restricted", "eu.json"),
    ],
)
def test_the_runner_files_are_no_file_of_the_run(
    run_cli: Run,
    fake_ngc: FakeNgc,
    configmap: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: tuple[str, str, str],
) -> None:
    """Appending `added=0` or the report to the ConfigMap (or any file the run uses) would
    break it: refused before any request, like two options naming one file."""
    variable, option, name = case
    configmap.with_name("eu.json").write_text("[]\n", encoding="utf-8")
    configmap.with_name("CM.report.md").write_text("## NIM model metadata\n", encoding="utf-8")
    kept = configmap.with_name(name)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv(variable, name)
    argv = ("run", "--api-url", fake_ngc.url, "--output", "CM.yaml", "--eu-restricted", "eu.json")
    error = f"${variable} and {option} name the same file, {name}"
    assert_refused(run_cli, (*argv, API_KEY), kept, fake_ngc, error)


# --------------------------------------------------------------------------- other paths to it


@pytest.mark.parametrize("link", ["hard", "symbolic"])
def test_a_link_to_the_input_is_refused(run_cli: Run, configmap: Path, link: str) -> None:
    output = configmap.with_name("link.yaml")
    if link == "hard":
        os.link(configmap, output)
    else:
        output.symlink_to(configmap.name)
    argv = ("mirror-list", "CM.yaml", "--format", "skopeo", "--registry", "m.example")
    shown = "--output" if link == "hard" else f"--output, a link to {configmap}"
    error = (
        f"refusing to overwrite link.yaml ({shown}): it is the input CONFIGMAP CM.yaml of this "
        "run (the same file)"
    )
    assert_refused(run_cli, (*argv, "--output", "link.yaml"), configmap, None, error)


def test_a_link_to_a_foreign_file_is_refused(
    run_cli: Run, fake_ngc: FakeNgc, python_file: Path
) -> None:
    (python_file.parent / "out.yaml").symlink_to("x.py")
    argv = ("generate", "--api-url", fake_ngc.url, "--output", "out.yaml", API_KEY)
    error = (
        f"refusing to overwrite out.yaml (--output, a link to {python_file}): it is not "
        "a ConfigMap; name another file, or move it away"
    )
    assert_refused(run_cli, argv, python_file, fake_ngc, error)


@pytest.mark.parametrize(
    ("command", "name"),
    [(("generate", "--record"), "key.txt"), (("detect-eu", "--output"), "[].json")],
)
def test_an_output_over_the_key_file_is_refused(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, command: tuple[str, str], name: str
) -> None:
    option = command[1]
    # "[].json" even looks like an EU list: being an input is refused first.
    (workdir / name).write_text(f"{API_KEY}\n", encoding="utf-8")
    argv = (*command, name, "--api-key-file", name, "--api-url", fake_ngc.url)
    error = f"refusing to overwrite {name} ({option}): it is the input --api-key-file {name} "
    error += "of this run"
    assert_refused(run_cli, argv, workdir / name, fake_ngc, error)


def test_the_replayed_snapshot_is_no_output(run_cli: Run, workdir: Path) -> None:
    shutil.copy(demo_snapshot_path(), workdir / "snap.json")
    argv = ("detect-eu", "--from-snapshot", "snap.json", "--output", "snap.json")
    error = (
        "refusing to overwrite snap.json (--output): it is the input --from-snapshot "
        "snap.json of this run"
    )
    assert_refused(run_cli, argv, workdir / "snap.json", None, error)


# --------------------------------------------------------------------------- what may be written


@pytest.mark.parametrize(
    "argv",
    [
        ["detect-eu", "--output", "out"],
        ["generate", "--output", "out"],
        ["run", "--report", "out"],
        ["generate", "--record", "out"],
    ],
)
@pytest.mark.parametrize("content", ["", "\n  \n"], ids=["empty", "blank"])
def test_an_empty_file_is_filled(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, argv: list[str], content: str
) -> None:
    (workdir / "out").write_text(content, encoding="utf-8")
    result = run_cli(*argv, "--api-url", fake_ngc.url, API_KEY)
    assert result.code == 0, result.err
    assert (workdir / "out").read_text(encoding="utf-8").strip()


def test_each_ngc_output_replaces_what_it_wrote_before(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path
) -> None:
    fake = make_fake_ngc()
    argv = ("--api-url", fake.url, "--record", "snap.json", API_KEY)
    for turn in range(2):
        assert run_cli("detect-eu", "--output", "eu.json", *argv).code == 0
        assert run_cli("run", "--report", "r.md", *argv).code == 0, turn
        # The second run writes something else.
        fake.models.remove(next(model for model in fake.models if model.pullable))
    assert json.loads((workdir / "eu.json").read_text(encoding="utf-8")) == []
    assert "removed" in (workdir / "r.md").read_text(encoding="utf-8")


def test_a_snapshot_of_the_earlier_sorted_layout_is_replaced(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    # Sorted keys put "catalog" (a whole page) before "format": beyond the first lines.
    shutil.copy(demo_snapshot_path(), workdir / "snap.json")
    assert '"format"' not in (workdir / "snap.json").read_text(encoding="utf-8")[:4096]
    result = run_cli("generate", "--api-url", fake_ngc.url, "--record", "snap.json", API_KEY)
    assert result.code == 0, result.err
    assert (workdir / "snap.json").read_text(encoding="utf-8").startswith('{\n "format": ')


@pytest.mark.parametrize("first", ["mapping", "oc-mirror", "skopeo", "itms"])
def test_mirror_list_replaces_its_own_list_in_any_format(
    run_cli: Run, configmap: Path, first: str
) -> None:
    argv = ("mirror-list", "CM.yaml", "--registry", "m.example", "--output", "list")
    assert run_cli(*argv, "--format", first).code == 0
    result = run_cli(*argv, "--format", "itms" if first == "mapping" else "mapping")
    assert result.code == 0, result.err


def test_mirror_configmap_does_not_replace_a_mirror_list(run_cli: Run, configmap: Path) -> None:
    argv = ("CM.yaml", "--registry", UNREACHABLE_REGISTRY, "--output", "list")
    assert run_cli("mirror-list", *argv, "--format", "oc-mirror").code == 0
    error = (
        "refusing to overwrite list (--output): it is not a ConfigMap; "
        "name another file, or move it away"
    )
    assert_refused(run_cli, ("mirror-configmap", *argv), configmap.with_name("list"), None, error)


@pytest.mark.parametrize(
    ("name", "argv"),
    [("my-app", ()), ("nim-models-data", ()), ("nim-models-data", ("--name", "other"))],
)
def test_mirror_configmap_does_not_replace_a_configmap_of_another_name(
    run_cli: Run, configmap: Path, name: str, argv: tuple[str, ...]
) -> None:
    """Like generate and run: a ConfigMap is the command's to replace only under its --name."""
    kept = configmap.with_name("app.yaml")
    kept.write_text(render_configmap(real_shaped_entries(), name=name), encoding="utf-8")
    args = ("CM.yaml", "--registry", UNREACHABLE_REGISTRY, "--output", "app.yaml", *argv)
    wanted = argv[-1] if argv else "nim-models-data-mirror"
    error = (
        f"refusing to overwrite app.yaml: it is not a {wanted} ConfigMap "
        "(name another --output, or move the file away)"
    )
    assert_refused(run_cli, ("mirror-configmap", *args), kept, None, error)


@pytest.mark.parametrize("command", ["generate", "run"])
def test_a_stream_holding_the_configmap_and_more_is_refused(
    run_cli: Run, fake_ngc: FakeNgc, configmap: Path, command: str
) -> None:
    """Our ConfigMap (header and name) followed by another resource: replacing the file would
    drop the other one."""
    secret = "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: kept\n"
    bundle = configmap.with_name("bundle.yaml")
    bundle.write_text(configmap.read_text(encoding="utf-8") + secret, encoding="utf-8")
    argv = (command, "--api-url", fake_ngc.url, "--output", "bundle.yaml", API_KEY)
    error = (
        "refusing to overwrite bundle.yaml: it is not a nim-models-data ConfigMap "
        "(name another --output, or move the file away)"
    )
    assert_refused(run_cli, argv, bundle, fake_ngc, error)


@pytest.mark.parametrize(
    "content", ['["keep", "me"]\n', '[\n  {"id": 1, "user": "me"}\n]\n', "[1]"]
)
def test_detect_eu_does_not_replace_another_json_array(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, content: str
) -> None:
    kept = workdir / "list.json"
    kept.write_text(content, encoding="utf-8")
    assert_detect_eu_refuses(run_cli, fake_ngc, kept)


@pytest.mark.parametrize(
    "content", ["[]", " [ ]\n", '[{"resourceId": "nim/meta/a", "name": "a"}]', "\ufeff[\n]"]
)
def test_detect_eu_replaces_an_eu_list_however_laid_out(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, content: str
) -> None:
    (workdir / "list.json").write_text(content, encoding="utf-8")
    result = run_cli("detect-eu", "--api-url", fake_ngc.url, "--output", "list.json", API_KEY)
    assert result.code == 0, result.err


@pytest.mark.parametrize("marker_at", ["head", "further in"])
def test_record_does_not_replace_a_file_quoting_the_snapshot_marker(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, marker_at: str
) -> None:
    """A test or a page of docs that shows a snapshot is no snapshot."""
    filler = "x = 1\n" * (1000 if marker_at == "further in" else 0)
    kept = workdir / "test_snapshot.py"
    kept.write_text(f"{filler}SNAPSHOT = '''{{\n \"format\": \"nim-build-snapshot/1\"\n}}'''\n")
    argv = ("generate", "--api-url", fake_ngc.url, "--record", kept.name, API_KEY)
    error = (
        f"refusing to overwrite {kept.name} (--record): it is not a nim-build snapshot; "
        "name another file, or move it away"
    )
    assert_refused(run_cli, argv, kept, fake_ngc, error)


def test_a_link_to_its_own_output_is_written_through(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    (workdir / "real.json").write_text("[]\n", encoding="utf-8")
    (workdir / "link.json").symlink_to("real.json")
    result = run_cli("detect-eu", "--api-url", fake_ngc.url, "--output", "link.json", API_KEY)
    assert result.code == 0, result.err
    assert (workdir / "link.json").is_symlink()
