"""Render a kustomize overlay: `kubectl kustomize` (or `kustomize build`) with limits.

The manifests are untrusted: the renderer runs with a wall-clock limit (its whole process
group is killed when it is reached), offline (a remote base fails at once instead of
cloning), with its output bounded in size and read back by a safe YAML loader.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from nim_build.kustomize import RENDER_TIMEOUT, RenderError
from nim_build.safe_text import clip, redact
from nim_build.steps.yaml_scalars import MAX_DEPTH, nested_too_deeply

# Bytes of rendered YAML: ~120x odh-model-controller's config/base (138 KB). Parsing takes
# ~1.5 s per MB after the renderer's time limit, so this also bounds that time.
MAX_OUTPUT = 16 << 20
_MAX_STDERR = 64 << 10  # bytes of the renderer's stderr kept
_STDERR_SHOWN = 300  # characters of it in the error line
_READ = 1 << 16
_UNROUTABLE = "http://127.0.0.1:9"  # the discard port: a proxy that refuses at once
PACKAGE = "kubectl"  # the Debian package that has `kubectl kustomize`
# The environment variables the renderer is given; every other one is left out.
_PASSED = frozenset({"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "LC_CTYPE", "TZ"})


def renderer() -> list[str]:
    """The command that renders a folder given last: `kubectl kustomize`, else `kustomize
    build`; RenderError naming the package when neither is on PATH."""
    kubectl = shutil.which("kubectl")
    if kubectl:
        return [kubectl, "kustomize"]
    kustomize = shutil.which("kustomize")
    if kustomize:
        return [kustomize, "build"]
    raise RenderError(
        "--render needs `kubectl kustomize` or `kustomize build`, and neither kubectl nor "
        f"kustomize is on PATH (install the package {PACKAGE})"
    )


def _offline() -> dict[str, str]:
    """Only the variables a renderer needs (never NGC_API_KEY, GITHUB_TOKEN and the like: a
    kustomization is untrusted), every proxy pointing nowhere and git limited to local files."""
    env = {name: value for name, value in os.environ.items() if name in _PASSED}
    env |= {"HTTP_PROXY": _UNROUTABLE, "HTTPS_PROXY": _UNROUTABLE, "ALL_PROXY": _UNROUTABLE}
    env |= {"GIT_ALLOW_PROTOCOL": "file", "GIT_TERMINAL_PROMPT": "0"}
    return env


@dataclass(frozen=True)
class Finished:
    code: int
    out: bytes
    err: bytes


def _stop(process: subprocess.Popen[bytes]) -> None:
    # The whole group: a child (git, a plugin) must not outlive it holding the pipes open.
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _read(process: subprocess.Popen[bytes], what: str, timeout: float, limit: int) -> Finished:
    out, err = bytearray(), bytearray()
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        for stream, buffer in ((process.stdout, out), (process.stderr, err)):
            if stream is not None:
                selector.register(stream, selectors.EVENT_READ, buffer)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise RenderError(
                    f"{what} did not finish within {timeout:g} s and was stopped "
                    "(it renders offline: a remote base cannot be fetched)"
                )
            for key, _ in selector.select(left):
                chunk = os.read(key.fd, _READ)
                if not chunk:
                    selector.unregister(key.fileobj)
                elif key.data is out:
                    if len(out) + len(chunk) > limit:
                        raise RenderError(f"{what} printed more than {limit >> 20} MiB; stopped")
                    out += chunk
                else:
                    err += chunk[: _MAX_STDERR - len(err)]
    try:
        code = process.wait(max(deadline - time.monotonic(), 0.01))
    except subprocess.TimeoutExpired:
        raise RenderError(f"{what} did not finish within {timeout:g} s and was stopped") from None
    return Finished(code, bytes(out), bytes(err))


def run_bounded(argv: list[str], what: str, timeout: float, limit: int = MAX_OUTPUT) -> Finished:
    """Run `argv` offline: its exit code, stdout (at most `limit` bytes) and stderr's start.

    RenderError naming `what` when it cannot start, takes longer than `timeout` seconds or
    prints too much; it is killed (with its children) in every case that does not finish.
    """
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_offline(),
            start_new_session=True,
        )
    except OSError as error:
        raise RenderError(f"{what}: cannot run: {error.strerror}") from error
    try:
        return _read(process, what, timeout, limit)
    finally:
        _stop(process)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


# klog's prefix on kubectl's error line, e.g.
# `E1130 09:44:41.462703  23457 run.go:72] "command failed" err=`
_KLOG = re.compile(r'^[EFIW]\d{4} [\d:.]+ +\d+ [\w.:]+\] "command failed" err=')


def _cause(stderr: bytes, root: Path) -> str:
    """The renderer's error in one line: checkout paths made relative, and its end kept,
    where kustomize puts the innermost cause (the file that is missing, the bad field)."""
    text = " ".join(stderr.decode("utf-8", "replace").split())
    text = _KLOG.sub("", text).strip('"')
    for folder in {str(root.absolute()), os.path.realpath(root)}:
        text = text.replace(folder + "/", "")
    text = redact(text) or "no message"
    return text if len(text) <= _STDERR_SHOWN else "…" + text[-(_STDERR_SHOWN - 1) :]


def render(folder: Path, root: Path, shown: str, timeout: float = RENDER_TIMEOUT) -> list[Any]:
    """The documents `folder` (inside the checkout `root`) renders to; `shown` names it."""
    command = renderer()
    what = f"`{Path(command[0]).name} {command[1]} {shown}`"
    finished = run_bounded([*command, str(folder)], what, timeout)
    if finished.code != 0:
        cause = _cause(finished.err, root)
        raise RenderError(f"{what} failed (exit code {finished.code}): {cause}")
    return parse_stream(finished.out, what)


def parse_stream(data: bytes, what: str) -> list[Any]:
    """The documents of a YAML stream, read by the safe loader; RenderError when it is not."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RenderError(f"{what} printed text that is not UTF-8") from error
    if nested_too_deeply(text):
        raise RenderError(f"{what} printed YAML nested more than {MAX_DEPTH} levels deep")
    yaml = YAML(typ="safe")
    try:
        return [document for document in yaml.load_all(text) if document is not None]
    except YAMLError as error:
        problem = clip(" ".join(str(error).split()), _STDERR_SHOWN)
        raise RenderError(f"{what} printed invalid YAML: {problem}") from error


def configmaps_named(documents: list[Any], name: str) -> list[dict[str, Any]]:
    """The ConfigMaps called `name` among rendered `documents`."""
    return [
        document
        for document in documents
        if isinstance(document, dict)
        and document.get("kind") == "ConfigMap"
        and isinstance(document.get("metadata"), dict)
        and document["metadata"].get("name") == name
    ]
