"""Every example of README.md and docs/*.md runs as written (rules: docs/development.md).

One item per fenced `sh`, `console` or `python` block, named FILE:LINE. Each block runs alone in
a fresh temporary folder with the installed `nim-build` first on PATH and NGC_API_URL /
NGC_API_KEY pointing at a fake NGC; a block that mentions $MIRROR also gets a local registry
holding the air-gap example's images. `<!-- skip: needs REASON -->` before a block skips it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import API_KEY
from tests.doc_pages import Block, blocks, example_pages, pages
from tests.fake_ngc import FakeNgc
from tests.registry import Registry, TinyImage, push_image

RUNNABLE = ("sh", "console", "python")
# Shell that would be shown and never run: label it `sh`/`console` (runs) or `text` (output).
SHELL_UNRUN = ("", "bash", "shell", "zsh", "shell-session", "sh-session")
TIMEOUT = 120
# The images of the air-gap example (docs/air-gap.md), as the mirror holds them.
MIRRORED = {
    "airgap/nim/baai/bge-large-zh-v1-5": "1.5.0",
    "airgap/nim/meta/llama-3.1-8b-instruct": "latest",
    "airgap/nim/nvidia/llama-3.3-nemotron-super-49b-v1": "1",
}

EXAMPLES = [block for page in example_pages() for block in blocks(page) if block.lang in RUNNABLE]


def console_script(text: str) -> str:
    """The commands of a console block: `$ ` lines and their `\\` continuations; no output."""
    commands: list[str] = []
    continued = False
    for line in text.splitlines():
        if continued:
            commands.append(line)
        elif line.startswith("$ "):
            commands.append(line[2:])
        else:
            continue
        continued = line.endswith("\\")
    return "\n".join(commands) + "\n"


def _command(block: Block, folder: Path) -> list[str]:
    if block.lang == "python":
        script = folder / "example.py"
        script.write_text(block.text, encoding="utf-8")
        return [sys.executable, script.name]
    text = console_script(block.text) if block.lang == "console" else block.text
    return ["bash", "-euo", "pipefail", "-c", text]


def _mirror(root: Path) -> Registry:
    registry = Registry(root).start()  # skips, naming the package, without docker-registry
    image = TinyImage.build()
    for repository, tag in MIRRORED.items():
        push_image(registry.session(), registry.url, repository, [tag], image)
    return registry


def _environment(folder: Path, fake: FakeNgc) -> dict[str, str]:
    scripts = str(Path(sys.executable).parent)  # where `nim-build` is installed
    home = folder.parent / "home"
    home.mkdir()
    environment = {
        **os.environ,
        "PATH": scripts + os.pathsep + os.environ.get("PATH", ""),
        "NGC_API_URL": fake.url,
        "NGC_API_KEY": API_KEY,
        "HOME": str(home),
    }
    for name in ("XDG_RUNTIME_DIR", "REGISTRY_AUTH_FILE", "PYTHONPATH"):
        environment.pop(name, None)
    return environment


@pytest.mark.parametrize("block", EXAMPLES, ids=[block.id for block in EXAMPLES])
def test_the_example_runs(
    block: Block, tmp_path: Path, make_fake_ngc: Callable[..., FakeNgc]
) -> None:
    if block.skip:
        pytest.skip(f"{block.id}: {block.skip}")
    folder = tmp_path / "work"
    folder.mkdir()
    environment = _environment(folder, make_fake_ngc())
    registry = _mirror(tmp_path / "registry") if "MIRROR" in block.text else None
    try:
        if registry is not None:
            environment["MIRROR"] = registry.host
        done = subprocess.run(
            _command(block, folder),
            cwd=folder,
            env=environment,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    finally:
        if registry is not None:
            registry.stop()
    assert done.returncode == 0, (
        f"{block.id} exited {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    )


def test_every_page_is_found() -> None:
    names = {page.name for page in pages()}
    assert {"README.md", "reference.md", "konflux.md", "development.md"} <= names
    assert any(block.lang in RUNNABLE for page in pages() for block in blocks(page))


def unrun_commands(page: Path) -> list[str]:
    """`LINE (lang)` of every block that is shell but not run: no language, `bash`, `shell`,
    …, or `$ ` command lines in a block shown as something else (`text`, `yaml`, …)."""
    return [
        f"{block.line} ({block.lang or 'no language'})"
        for block in blocks(page)
        if block.lang in SHELL_UNRUN
        or (
            block.lang not in RUNNABLE
            and any(line.startswith("$ ") for line in block.text.splitlines())
        )
    ]


@pytest.mark.parametrize("page", pages(), ids=lambda page: page.name)
def test_every_shell_block_is_run(page: Path) -> None:
    assert unrun_commands(page) == []


def test_unrun_shell_blocks_are_reported(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```\nnim-build x\n```\n```bash\nls\n```\n```text\n$ ls\nout\n```\n"
        "```text\nout\n```\n```sh\nls\n```\n"
    )
    assert unrun_commands(page) == ["1 (no language)", "4 (bash)", "7 (text)"]


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("$ a\nout\n$ b \\\n    c\nout\n", "a\nb \\\n    c\n"),
        ("no commands\n", "\n"),
    ],
)
def test_console_blocks_run_their_commands_only(text: str, script: str) -> None:
    assert console_script(text) == script
