"""Shared fixtures: the fake NGC, the test key, CLI runners, and a no-network guard."""

from __future__ import annotations

import json
import logging
import os
import pty
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.fake_ngc import DEFAULT_KEY, FakeModel, FakeNgc, default_models
from tests.registry import make_proxy, make_registry, token_issuer  # noqa: F401  (fixtures)

API_KEY = DEFAULT_KEY
ROOT = Path(__file__).resolve().parents[1]
NGC_DATA = ROOT / "tests" / "data"
UNROUTABLE_URL = "http://127.0.0.1:9"  # discard port: connection refused at once
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


# --------------------------------------------------------------------------- signals


def pytest_configure(config: pytest.Config) -> None:
    """SIGINT and SIGTERM back to their defaults, for this process and every process it starts.

    A shell without job control (`.ci/run &`, `setsid`, some CI runners) starts its commands
    with SIGINT ignored, and an ignored signal stays ignored in every child, so the Ctrl-C
    tests would wait for nothing. A handled signal (Python's KeyboardInterrupt, SIG_DFL) is
    reset to the default by exec: the fake servers, registries and CLI runs started by the
    tests get the defaults however the suite was started.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGTERM) == signal.SIG_IGN:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


# --------------------------------------------------------------------------- no network


def _check_address(family: int, address: Any) -> None:
    if family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = address[0] if isinstance(address, tuple) else address
    if host not in _LOOPBACK:
        raise RuntimeError(f"test tried to reach {address!r}: only 127.0.0.1 is allowed")


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """Keys registered for redaction by one test (process-wide) do not redact in the next."""
    from nim_build import safe_text

    secrets = safe_text._SECRETS
    with secrets._lock:
        values, pattern = set(secrets._values), secrets.pattern
    yield
    with secrets._lock:
        secrets._values, secrets.pattern = values, pattern


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches anything but 127.0.0.1, and no real key or proxy leaks in."""
    monkeypatch.setenv("NGC_API_URL", UNROUTABLE_URL)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    for name in (
        "NGC_API_KEY",
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "ALL_PROXY",
        "https_proxy",
        "http_proxy",
        "all_proxy",
        "GITHUB_ACTIONS",
        "GITHUB_OUTPUT",
        "GITHUB_STEP_SUMMARY",
    ):
        monkeypatch.delenv(name, raising=False)

    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        _check_address(self.family, address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check_address(self.family, address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in (None, *_LOOPBACK):
            raise RuntimeError(f"test tried to resolve {host!r}: only 127.0.0.1 is allowed")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


# --------------------------------------------------------------------------- fake NGC


@pytest.fixture
def api_key() -> str:
    return API_KEY


@pytest.fixture
def make_fake_ngc() -> Iterator[Callable[..., FakeNgc]]:
    """`make_fake_ngc(models, **kw)`: a started FakeNgc, stopped after the test."""
    started: list[FakeNgc] = []

    def make(models: list[FakeModel] | None = None, **kwargs: Any) -> FakeNgc:
        fake = FakeNgc(default_models() if models is None else models, **kwargs).start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.stop()


@pytest.fixture
def fake_ngc(make_fake_ngc: Callable[..., FakeNgc]) -> FakeNgc:
    """A fake NGC serving `default_models()` as seen from outside the EU (no 451)."""
    return make_fake_ngc(default_models())


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder, so default outputs (generated/...) land in tmp_path."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --------------------------------------------------------------------------- CLI runners


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str

    @property
    def error(self) -> str:
        """The one `nim-build: error:` line (asserts there is exactly one)."""
        lines = [line for line in self.err.splitlines() if line.startswith("nim-build: error:")]
        assert len(lines) == 1, f"expected one error line, stderr was:\n{self.err}"
        return lines[0]


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process CLI runs back off for milliseconds, not seconds (attempts stay as given)."""
    from nim_build.ngc import RetryPolicy

    class FastPolicy(RetryPolicy):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("backoff_base", 0.01)
            kwargs.setdefault("backoff_max", 0.05)
            super().__init__(**kwargs)

    monkeypatch.setattr("nim_build.commands._source.RetryPolicy", FastPolicy, raising=False)


@pytest.fixture
def run_cli(
    capsys: pytest.CaptureFixture[str], fast_retries: None
) -> Iterator[Callable[..., CliResult]]:
    """`run_cli("generate", "--api-url", url, ...)`: `nim_build.cli.main` in-process."""
    from nim_build.cli import main

    logger = logging.getLogger("nim_build")
    saved = (list(logger.handlers), logger.level, logger.propagate)

    def run(*argv: str) -> CliResult:
        capsys.readouterr()
        try:
            code = main(list(argv))
        except SystemExit as exit_:  # argparse: --help, usage errors
            code = exit_.code if isinstance(exit_.code, int) else 1
        finally:
            logger.handlers.clear()  # main's handler holds the captured stderr
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    yield run
    logger.handlers[:], logger.level, logger.propagate = saved


@pytest.fixture
def run_subprocess(workdir: Path) -> Callable[..., CliResult]:
    """`run_subprocess("generate", ..., env={...})`: `python -m nim_build` in `workdir`."""

    def run(*argv: str, env: dict[str, str] | None = None, timeout: float = 60) -> CliResult:
        environment = {**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})}
        done = subprocess.run(
            [sys.executable, "-m", "nim_build", *argv],
            cwd=workdir,
            env=environment,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            check=False,
        )
        return CliResult(done.returncode, done.stdout, done.stderr)

    return run


def stderr_on_a_terminal(argv: list[str], *, cwd: Path, env: dict[str, str]) -> str:
    """What `python -m nim_build ARGV` shows on stderr when that is a terminal (a pty);
    stdout goes nowhere. The run must succeed."""
    controller, terminal = pty.openpty()
    command = [sys.executable, "-m", "nim_build", *argv]
    with subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=terminal
    ) as process:
        os.close(terminal)
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(timeout=60) == 0
    os.close(controller)
    return b"".join(chunks).decode("utf-8")


# --------------------------------------------------------------------------- GitHub Actions


@pytest.fixture
def actions(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Pretend to run inside GitHub Actions: $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY files."""
    outputs, summary = workdir / "github_output", workdir / "step_summary"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    return outputs, summary


def github_outputs(path: Path) -> dict[str, str]:
    """`name=value` lines of a $GITHUB_OUTPUT file."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return dict(pairs)


# --------------------------------------------------------------------------- output helpers


def read_configmap(path: Path) -> dict[str, Any]:
    """The ConfigMap document (safe YAML load)."""
    document: dict[str, Any] = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    return document


def read_entries(path: Path) -> dict[str, dict[str, Any]]:
    """Data values decoded: model name -> contract object (key order kept)."""
    data = read_configmap(path)["data"]
    return {str(name): json.loads(value) for name, value in data.items()}


def snapshot_of(path: Path) -> tuple[bytes, int]:
    """Bytes and mtime (ns) of a file, to show a failed run left it untouched."""
    return path.read_bytes(), path.stat().st_mtime_ns


def leftovers(folder: Path) -> list[str]:
    """Temporary files an interrupted atomic write would leave behind."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or "tmp" in p.name)
