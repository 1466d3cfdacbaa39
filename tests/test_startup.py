"""Start-up: `--version` and `--help` load no HTTP, YAML or schema library; the package's
public names load on first use (PEP 562)."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

import nim_build

ROOT = Path(__file__).resolve().parents[1]

HEAVY = ("requests", "urllib3", "ruamel", "jsonschema", "referencing", "tenacity", "yaml")

# Runs in a fresh interpreter: which top-level packages are loaded after `code`.
_PROBE = """
import sys
{code}
loaded = {{name.partition(".")[0] for name in sys.modules}}
print(" ".join(sorted(loaded & set(sys.argv[1:]))), file=sys.stderr)
"""


def _loaded_after(code: str) -> list[str]:
    probe = _PROBE.format(code=code)
    result = subprocess.run(
        [sys.executable, "-c", probe, *HEAVY],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return result.stderr.split()


@pytest.mark.parametrize(
    "argv",
    [
        ["--version"],
        ["--help"],
        *(
            [command, "--help"]
            for command in (
                "generate",
                "run",
                "detect-eu",
                "validate",
                "diff",
                "mirror-list",
                "mirror-configmap",
                "place",
            )
        ),
    ],
)
def test_version_and_help_import_no_heavy_library(argv: list[str]) -> None:
    # A command's options load no HTTP, YAML or schema library: each is imported to do work.
    code = (
        f"from nim_build.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
    )
    assert _loaded_after(code) == []


def test_a_command_imports_only_what_it_needs() -> None:
    # `validate` reads files: no HTTP client; a valid file needs no jsonschema either (the
    # fast schema verdict; jsonschema is loaded to say what is wrong).
    code = (
        "from nim_build.cli import main\n"
        "main(['validate', '-q', 'nim_build/data/demo-eu-restricted.json'])\n"
    )
    assert _loaded_after(code) == []


def test_import_nim_build_loads_nothing_heavy() -> None:
    assert _loaded_after("import nim_build; nim_build.__version__") == []


def test_every_public_name_resolves() -> None:
    for name in nim_build.__all__:
        assert getattr(nim_build, name) is not None, name
    assert set(dir(nim_build)) >= set(nim_build.__all__)
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = nim_build.no_such_name


def test_version_is_the_installed_distribution_version() -> None:
    assert nim_build.__version__ == importlib.metadata.version("nim-build")


def test_every_command_parses_with_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    from nim_build.cli import COMMANDS, build_parser

    parser = build_parser(load_all=True)
    for name in COMMANDS:
        with pytest.raises(SystemExit):
            parser.parse_args([name, "--help"])
        assert f"usage: nim-build {name}" in capsys.readouterr().out


def test_processes_the_tests_start_get_the_default_signal_handlers() -> None:
    # Even when the suite itself was started with SIGINT ignored (`setsid`, `.ci/run &`):
    # conftest.pytest_configure restores the defaults, which every child inherits.
    probe = (
        "import signal\n"
        "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler,"
        " signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["True", "True"]
