"""Atomic writes: no temp file survives a failure, Ctrl-C or SIGTERM; outputs are locked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from nim_build.atomic import output_lock, write_atomically
from nim_build.errors import OutputError
from tests.conftest import leftovers


def test_an_exception_mid_write_removes_the_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.yaml"
    target.write_text("old\n", encoding="utf-8")

    def interrupted(descriptor: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, "new\n")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert leftovers(tmp_path) == []


def test_unencodable_text_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="cannot be encoded as UTF-8"):
        write_atomically(tmp_path / "out.yaml", "a\ud800")
    assert list(tmp_path.iterdir()) == []


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from nim_build.atomic import write_atomically
    from nim_build.interrupts import Terminated, sigterm_raises

    target = Path(sys.argv[1])
    try:
        with sigterm_raises():
            print("ready", flush=True)
            for turn in range(1_000_000):
                write_atomically(target, "ab"[turn % 2] * 20_000_000)
    except Terminated:
        sys.exit(143)
    """
)


@pytest.mark.parametrize("delay", [0.0, 0.13, 0.37, 0.71])
def test_sigterm_during_writes_leaves_no_temp_file(tmp_path: Path, delay: float) -> None:
    target = tmp_path / "big.txt"
    process = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(target)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    time.sleep(delay)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 143
    assert leftovers(tmp_path) == []
    if target.exists():  # whole or not at all
        content = target.read_bytes()
        assert len(content) == 20_000_000
        assert content in (b"a" * 20_000_000, b"b" * 20_000_000)


def test_the_lock_makes_a_second_writer_wait(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.yaml"  # its folder does not exist yet
    order: list[str] = []
    holding = threading.Event()

    def second() -> None:
        holding.wait()
        with output_lock(target, wait=30):
            order.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    with output_lock(target):
        holding.set()
        time.sleep(0.5)
        order.append("first")
    thread.join(timeout=30)
    assert order == ["first", "second"]
    assert not (tmp_path / "sub").exists()  # locking creates nothing


def test_a_lock_held_too_long_is_a_one_line_error(tmp_path: Path) -> None:
    target = tmp_path / "out.yaml"
    held = output_lock(target)
    refused = pytest.raises(OutputError, match=r"another nim-build run .* after 0\.3 s")
    with held, refused, output_lock(target, wait=0.3):
        pass


def test_runs_through_links_to_one_file_take_turns(tmp_path: Path) -> None:
    real = tmp_path / "real" / "out.yaml"
    real.parent.mkdir()
    real.write_text("", encoding="utf-8")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "out.yaml").symlink_to(real)
    (tmp_path / "b" / "out.yaml").symlink_to(real)
    refused = pytest.raises(OutputError, match=r"another nim-build run")
    first, second = (output_lock(tmp_path / name / "out.yaml", wait=0.3) for name in "ab")
    with first, refused, second:
        pass


def _peak_while(action: Callable[[], object]) -> int:
    """Bytes Python allocated at most while `action` ran (tracemalloc)."""
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_large_old_file_of_another_size_is_not_read(tmp_path: Path) -> None:
    target = tmp_path / "out.yaml"
    with target.open("wb") as stream:
        stream.truncate(256 << 20)  # sparse: 256 MiB that cost no disk
    peak = _peak_while(lambda: write_atomically(target, "new\n"))
    assert peak < 4 << 20
    assert target.read_bytes() == b"new\n"


def test_an_old_file_of_the_same_size_is_compared_in_chunks(tmp_path: Path) -> None:
    target = tmp_path / "out.yaml"
    size = 16 << 20  # small: a forked child's peak RSS counts the test process's (wait4)
    with target.open("wb") as stream:
        stream.truncate(size)  # sparse zeros
    text = "\0" * (size - 1) + "x"  # the same size; differs in the last byte only
    peak = _peak_while(lambda: write_atomically(target, text))
    # The encoded new text plus 1 MiB chunks: never a second whole copy for the old file.
    assert peak < size + (4 << 20)
    with target.open("rb") as stream:
        stream.seek(size - 1)
        assert stream.read() == b"x"
    assert write_atomically(target, text) is False  # now identical: not touched


def test_a_missing_folder_is_created_only_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "new" / "deeper" / "out.yaml"
    with pytest.raises(OutputError, match=r"the folder .*deeper does not exist"):
        write_atomically(target, "x\n")
    assert not (tmp_path / "new").exists()
    assert write_atomically(target, "x\n", create_parents=True)
    assert target.read_text(encoding="utf-8") == "x\n"
