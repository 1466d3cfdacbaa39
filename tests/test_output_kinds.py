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


def assert_refused(result: CliResult, fake: FakeNgc | None, *, error: str) -> None:
    assert result.code == 2, result.err
    assert "Traceback" not in result.err
    assert result.error == f"nim-build: error: {error}"
    if fake is not None:
        assert fake.request_count == 0


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


def test_detect_eu_does_not_replace_a_configmap(
    run_cli: Run, fake_ngc: FakeNgc, configmap: Path
) -> None:
    before = snapshot_of(configmap)
    result = run_cli("detect-eu", "--api-url", fake_ngc.url, "--output", "CM.yaml", API_KEY)
    assert_refused(
        result,
        fake_ngc,
        error="refusing to overwrite CM.yaml (--output): it is not an EU list (a JSON array); "
        "name another file, or move it away",
    )
    assert snapshot_of(configmap) == before


@pytest.mark.parametrize(
    "argv",
    [
        ["mirror-list", "CM.yaml", "--format", "mapping"],
        ["mirror-configmap", "CM.yaml", "--plain-http"],
    ],
    ids=["mirror-list", "mirror-configmap"],
)
def test_mirror_commands_do_not_replace_their_input(
    run_cli: Run, configmap: Path, argv: list[str]
) -> None:
    before = snapshot_of(configmap)
    result = run_cli(*argv, "--registry", UNREACHABLE_REGISTRY, "--output", "CM.yaml")
    assert_refused(
        result,
        None,
        error="refusing to overwrite CM.yaml (--output): it is the input CONFIGMAP CM.yaml "
        "of this run",
    )
    assert snapshot_of(configmap) == before


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (
            ["run", "--report", "x.py"],
            "refusing to overwrite x.py (--report): it is not a nim-build report; "
            "name another file, or move it away",
        ),
        (
            ["generate", "--record", "x.py"],
            "refusing to overwrite x.py (--record): it is not a nim-build snapshot; "
            "name another file, or move it away",
        ),
    ],
    ids=["report", "record"],
)
def test_report_and_record_do_not_replace_a_python_file(
    run_cli: Run, fake_ngc: FakeNgc, python_file: Path, argv: list[str], error: str
) -> None:
    before = snapshot_of(python_file)
    result = run_cli(*argv, "--api-url", fake_ngc.url, API_KEY)
    assert_refused(result, fake_ngc, error=error)
    assert snapshot_of(python_file) == before
    assert not (python_file.parent / "generated").exists()


# --------------------------------------------------------------------------- other paths to it


def test_a_hard_link_to_the_input_is_refused(run_cli: Run, configmap: Path) -> None:
    os.link(configmap, configmap.with_name("hard.yaml"))
    before = snapshot_of(configmap)
    result = run_cli(
        "mirror-list", "CM.yaml", "--format", "skopeo", "--registry", "m.example", "--output",
        "hard.yaml",
    )  # fmt: skip
    assert_refused(
        result,
        None,
        error="refusing to overwrite hard.yaml (--output): it is the input CONFIGMAP CM.yaml "
        "of this run (the same file)",
    )
    assert snapshot_of(configmap) == before


def test_a_link_to_the_input_is_refused(run_cli: Run, configmap: Path) -> None:
    (configmap.parent / "link.yaml").symlink_to("CM.yaml")
    before = snapshot_of(configmap)
    result = run_cli(
        "mirror-configmap", "CM.yaml", "--registry", UNREACHABLE_REGISTRY, "--output", "link.yaml"
    )
    assert_refused(
        result,
        None,
        error=f"refusing to overwrite link.yaml (--output, a link to {configmap}): it is the "
        "input CONFIGMAP CM.yaml of this run (the same file)",
    )
    assert snapshot_of(configmap) == before


def test_a_link_to_a_foreign_file_is_refused(
    run_cli: Run, fake_ngc: FakeNgc, python_file: Path
) -> None:
    (python_file.parent / "out.yaml").symlink_to("x.py")
    before = snapshot_of(python_file)
    result = run_cli("generate", "--api-url", fake_ngc.url, "--output", "out.yaml", API_KEY)
    assert_refused(
        result,
        fake_ngc,
        error=f"refusing to overwrite out.yaml (--output, a link to {python_file}): it is not "
        "a ConfigMap; name another file, or move it away",
    )
    assert snapshot_of(python_file) == before


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (
            ["generate", "--record", "key.txt", "--api-key-file", "key.txt"],
            "refusing to overwrite key.txt (--record): it is the input --api-key-file key.txt "
            "of this run",
        ),
        (
            ["detect-eu", "--output", "[].json", "--api-key-file", "[].json"],
            "refusing to overwrite [].json (--output): it is the input --api-key-file [].json "
            "of this run",
        ),
    ],
    ids=["record-over-key", "output-over-key"],
)
def test_an_output_over_the_key_file_is_refused(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path, argv: list[str], error: str
) -> None:
    # The key file even looks like an EU list here: being an input is refused first.
    name = argv[argv.index("--api-key-file") + 1]
    (workdir / name).write_text(f"{API_KEY}\n", encoding="utf-8")
    before = snapshot_of(workdir / name)
    assert_refused(run_cli(*argv, "--api-url", fake_ngc.url), fake_ngc, error=error)
    assert snapshot_of(workdir / name) == before


def test_the_replayed_snapshot_is_no_output(run_cli: Run, workdir: Path) -> None:
    shutil.copy(demo_snapshot_path(), workdir / "snap.json")
    before = snapshot_of(workdir / "snap.json")
    result = run_cli("detect-eu", "--from-snapshot", "snap.json", "--output", "snap.json")
    assert_refused(
        result,
        None,
        error="refusing to overwrite snap.json (--output): it is the input --from-snapshot "
        "snap.json of this run",
    )
    assert snapshot_of(workdir / "snap.json") == before


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
    before = snapshot_of(configmap.with_name("list"))
    assert_refused(
        run_cli("mirror-configmap", *argv, "--plain-http"),
        None,
        error="refusing to overwrite list (--output): it is not a ConfigMap; "
        "name another file, or move it away",
    )
    assert snapshot_of(configmap.with_name("list")) == before


def test_a_link_to_its_own_output_is_written_through(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    (workdir / "real.json").write_text("[]\n", encoding="utf-8")
    (workdir / "link.json").symlink_to("real.json")
    result = run_cli("detect-eu", "--api-url", fake_ngc.url, "--output", "link.json", API_KEY)
    assert result.code == 0, result.err
    assert (workdir / "link.json").is_symlink()
