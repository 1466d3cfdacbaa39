"""--record, --from-snapshot and --demo: replay without key or network, byte for byte."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from nim_build.ngc import (
    LiveSource,
    NgcError,
    RecordingSource,
    RetryPolicy,
    SnapshotSource,
)
from nim_build.ngc.snapshot import catalog_fields, model_fields
from tests.conftest import API_KEY, CliResult, leftovers, read_entries, snapshot_of
from tests.fake_ngc import FakeNgc, Fault, default_models, synthetic_models

Run = Callable[..., CliResult]
LLAMA = "llama-3.1-8b-instruct"


def test_record_then_replay_gives_the_same_configmap(
    run_cli: Run, fake_ngc: FakeNgc, workdir: Path
) -> None:
    live = run_cli(
        "generate",
        "--api-url",
        fake_ngc.url,
        "--output",
        "live.yaml",
        "--record",
        "snap.json",
        API_KEY,
    )
    assert live.code == 0, live.err
    fake_ngc.stop()  # nothing to talk to any more
    replay = run_cli("generate", "--from-snapshot", "snap.json", "--output", "replay.yaml")
    assert replay.code == 0, replay.err
    assert (workdir / "replay.yaml").read_bytes() == (workdir / "live.yaml").read_bytes()


def test_replay_sends_no_request(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    args = ("generate", "--api-url", fake_ngc.url, "--output", "out.yaml")
    assert run_cli(*args, "--record", "snap.json", API_KEY).code == 0
    fake_ngc.clear_requests()
    assert run_cli(*args, "--from-snapshot", "snap.json").code == 0
    assert fake_ngc.request_count == 0


def test_snapshot_never_holds_the_key(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    result = run_cli("generate", "--api-url", fake_ngc.url, "--record", "snap.json", "-v", API_KEY)
    assert result.code == 0, result.err
    raw = (workdir / "snap.json").read_bytes()
    assert API_KEY.encode() not in raw
    assert b"nvapi-" not in raw
    assert API_KEY not in result.out + result.err
    json.loads(raw)  # a JSON file


def test_recording_keeps_final_answers_after_retries(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path
) -> None:
    fake = make_fake_ngc(synthetic_models(30, seed=31))
    for model in fake.models[:5]:
        fake.fail(model, [Fault.http(503), Fault.dropped()])
    args = ("generate", "--api-url", fake.url)
    assert run_cli(*args, "--output", "live.yaml", "--record", "snap.json", API_KEY).code == 0
    assert run_cli(*args, "--output", "replay.yaml", "--from-snapshot", "snap.json").code == 0
    assert (workdir / "replay.yaml").read_bytes() == (workdir / "live.yaml").read_bytes()


def test_record_then_replay_detect_eu(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path
) -> None:
    fake = make_fake_ngc(default_models(eu=True))
    live = run_cli(
        "detect-eu",
        "--api-url",
        fake.url,
        "--output",
        "live.json",
        "--record",
        "snap.json",
        API_KEY,
    )
    assert live.code == 0, live.err
    fake.stop()
    replay = run_cli("detect-eu", "--from-snapshot", "snap.json", "--output", "replay.json")
    assert replay.code == 0, replay.err
    assert (workdir / "replay.json").read_bytes() == (workdir / "live.json").read_bytes()
    assert len(json.loads((workdir / "replay.json").read_text(encoding="utf-8"))) == 4


PADDING = "p" * 200_000  # a field no step reads, on every answer


def test_only_the_fields_the_pipeline_reads_are_recorded(
    run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path
) -> None:
    models = synthetic_models(20, seed=7)
    for model in models:
        model.extras = {"padding": PADDING, "labels": [{"key": "x", "values": ["y"] * 50}]}
    fake = make_fake_ngc(models)
    args = ("generate", "--api-url", fake.url)
    assert run_cli(*args, "--output", "live.yaml", "--record", "snap.json", API_KEY).code == 0
    text = (workdir / "snap.json").read_text(encoding="utf-8")
    assert PADDING[:1000] not in text
    assert len(text) < 40_000
    assert text.startswith('{\n "format": "nim-build-snapshot/1",\n')  # says what it is first
    document = json.loads(text)
    page = document["catalog"]["0/1000"]["body"]
    resource = page["results"][0]["resources"][0]
    assert sorted(resource) == ["attributes", "displayName", "resourceId"]
    assert [attribute["key"] for attribute in resource["attributes"]] == ["latestTag"]
    model = next(iter(document["repositories"].values()))["body"]
    assert sorted(model) == sorted(
        ["name", "displayName", "shortDescription", "namespace", "tags", "latestTag", "updatedDate"]
    )
    fake.stop()
    replay = run_cli("generate", "--from-snapshot", "snap.json", "--output", "replay.yaml")
    assert replay.code == 0, replay.err
    assert (workdir / "replay.yaml").read_bytes() == (workdir / "live.yaml").read_bytes()


def test_a_snapshot_too_large_to_replay_is_not_written(
    run_cli: Run,
    make_fake_ngc: Callable[..., FakeNgc],
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import nim_build.ngc.snapshot

    old = json.dumps({"format": "nim-build-snapshot/1"}, indent=1) + "\n"
    (workdir / "snap.json").write_text(old, encoding="utf-8")
    before = snapshot_of(workdir / "snap.json")
    monkeypatch.setattr(nim_build.ngc.snapshot, "MAX_INPUT_CHARS", 4_000)  # ~8 answers
    fake = make_fake_ngc(synthetic_models(30, seed=3))
    result = run_cli("generate", "--api-url", fake.url, "--record", "snap.json", API_KEY)
    assert result.code == 1
    assert result.error == (
        "nim-build: error: --record snap.json: the answers would take more than 0 Mi "
        "characters, more than --from-snapshot reads; not recorded"
    )
    assert snapshot_of(workdir / "snap.json") == before


def test_replay_without_an_answer_names_it(run_cli: Run, fake_ngc: FakeNgc, workdir: Path) -> None:
    args = ("generate", "--api-url", fake_ngc.url, "--record", "snap.json", API_KEY)
    assert run_cli(*args).code == 0
    document = json.loads((workdir / "snap.json").read_text(encoding="utf-8"))
    missing = next(key for key in document["repositories"] if key.endswith(LLAMA))
    del document["repositories"][missing]
    (workdir / "snap.json").write_text(json.dumps(document), encoding="utf-8")
    before = (workdir / "generated/nim-models-data.yaml").read_bytes()
    result = run_cli("generate", "--from-snapshot", "snap.json")
    assert result.code == 1
    assert "nim/meta/llama-3.1-8b-instruct" in result.error
    assert (workdir / "generated/nim-models-data.yaml").read_bytes() == before


@pytest.mark.parametrize("content", [None, "{not json", "[]", '{"format": "other"}'])
def test_bad_snapshot_is_a_one_line_error(run_cli: Run, workdir: Path, content: str | None) -> None:
    if content is not None:
        (workdir / "snap.json").write_text(content, encoding="utf-8")
    result = run_cli("generate", "--from-snapshot", "snap.json")
    assert result.code == 1
    assert "snap.json" in result.error
    assert "Traceback" not in result.err
    assert not (workdir / "generated").exists()


def test_library_record_and_replay(fake_ngc: FakeNgc, tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    live = LiveSource(fake_ngc.url, API_KEY, policy=RetryPolicy(attempts=2, backoff_base=0.01))
    fake_ngc.model(LLAMA).status = 451
    recorder = RecordingSource(live, path)
    recorded = [
        recorder.check_key(),
        recorder.catalog_page(0, 1000),
        recorder.repository("nim/meta/llama-3.1-8b-instruct"),
        recorder.repository("nim/baai/bge-m3"),
    ]
    recorder.close()
    assert not path.exists()  # nothing is written until the caller saves a good run
    recorder.save()
    requests = fake_ngc.request_count
    replay = SnapshotSource(path)
    replayed = [
        replay.check_key(),
        replay.catalog_page(0, 1000),
        replay.repository("nim/meta/llama-3.1-8b-instruct"),
        replay.repository("nim/baai/bge-m3"),
    ]
    assert [a.status for a in replayed] == [200, 200, 451, 200]
    # What the pipeline reads of each answer is kept, and only that.
    assert replayed[1].body == catalog_fields(recorded[1].body) != recorded[1].body
    assert [a.body for a in replayed[2:]] == [model_fields(a.body) for a in recorded[2:]]
    assert fake_ngc.request_count == requests
    with pytest.raises(NgcError, match="nim/baai/bge-large-zh-v1-5"):
        replay.repository("nim/baai/bge-large-zh-v1-5")
    assert API_KEY not in path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- --demo


def test_demo_generate_needs_no_key_and_no_network(run_cli: Run, workdir: Path) -> None:
    result = run_cli("generate", "--demo")
    assert result.code == 0, result.err
    output = workdir / "build/demo/nim-models-data.yaml"
    entries = read_entries(output)
    assert len(entries) >= 5
    assert all(entry["namespace"].startswith("nim/") for entry in entries.values())
    restricted = {name for name, entry in entries.items() if entry["euRestricted"]}
    assert restricted, "the demo EU list should mark some models"
    first = output.read_bytes()
    assert run_cli("generate", "--demo").code == 0
    assert output.read_bytes() == first
    assert not (workdir / "generated/nim-models-data.yaml").exists()


def test_demo_detect_eu(run_cli: Run, workdir: Path) -> None:
    result = run_cli("detect-eu", "--demo")
    assert result.code == 0, result.err
    written = json.loads((workdir / "build/demo/nim_eu_restricted.json").read_text("utf-8"))
    assert isinstance(written, list)


def test_demo_ignores_a_key_in_the_environment(
    run_cli: Run, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NGC_API_KEY", "legacy-key-not-checked")
    assert run_cli("generate", "--demo").code == 0


# --------------------------------------------------------------------------- never clobbered


@pytest.fixture
def recorded(run_cli: Run, make_fake_ngc: Callable[..., FakeNgc], workdir: Path) -> FakeNgc:
    """A fake with 20 models, recorded once into snap.json by a successful run."""
    fake = make_fake_ngc(synthetic_models(20, seed=5))
    result = run_cli("run", "--api-url", fake.url, "--record", "snap.json", API_KEY)
    assert result.code == 0, result.err
    return fake


def test_a_failed_run_keeps_the_snapshot(run_cli: Run, recorded: FakeNgc, workdir: Path) -> None:
    before = snapshot_of(workdir / "snap.json")
    recorded.fail(recorded.models[3], [Fault.http(404)])
    result = run_cli("run", "--api-url", recorded.url, "--record", "snap.json", API_KEY)
    assert result.code == 1
    assert snapshot_of(workdir / "snap.json") == before
    assert leftovers(workdir) == []


def test_a_refused_run_keeps_the_snapshot(run_cli: Run, recorded: FakeNgc, workdir: Path) -> None:
    before = snapshot_of(workdir / "snap.json")
    recorded.set_models(recorded.models[:10])  # the removal guard refuses
    result = run_cli("run", "--api-url", recorded.url, "--record", "snap.json", API_KEY)
    assert result.code == 1
    assert "refusing to write" in result.error
    assert snapshot_of(workdir / "snap.json") == before


@pytest.mark.parametrize(("signal_number", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_run_keeps_the_snapshot(
    recorded: FakeNgc,
    workdir: Path,
    signal_number: int,
    code: int,
) -> None:
    before = snapshot_of(workdir / "snap.json")
    output = snapshot_of(workdir / "generated/nim-models-data.yaml")
    slow = recorded.models[7]
    recorded.fail(slow, [Fault.slow(30)])
    recorded.clear_requests()
    options = ["--record", "snap.json", "--timeout", "3", "--retries", "1", API_KEY]
    process = subprocess.Popen(
        [sys.executable, "-m", "nim_build", "run", "--api-url", recorded.url, *options],
        cwd=workdir,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not recorded.requests_for(slow) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal_number)
    _, err = process.communicate(timeout=30)
    assert process.returncode == code, err
    assert "Traceback" not in err
    assert snapshot_of(workdir / "snap.json") == before
    assert snapshot_of(workdir / "generated/nim-models-data.yaml") == output
    assert leftovers(workdir) == []
    assert leftovers(workdir / "generated") == []


def test_the_snapshot_is_written_atomically(run_cli: Run, recorded: FakeNgc, workdir: Path) -> None:
    (workdir / "link.json").symlink_to(workdir / "snap.json")
    recorded.models[0].tags.append("9.9.9")
    result = run_cli("run", "--api-url", recorded.url, "--record", "link.json", API_KEY)
    assert result.code == 0, result.err
    # Written through, like every output: the link stays, its target is replaced whole.
    assert (workdir / "link.json").is_symlink()
    assert b"9.9.9" in (workdir / "snap.json").read_bytes()
    assert leftovers(workdir) == []


# A fake NGC of its own process (this one's GIL would pace the answers, and so the peak):
# `models` answers, each padded with ~1 MB holding one astral-plane character.
_PADDED_NGC = """
import sys, time
from tests.fake_ngc import FakeNgc, synthetic_models
models = synthetic_models(int(sys.argv[1]), seed=15)
padding = "\\U000e0041" + "x" * (900 << 10)  # a tag character; under the 1 MiB answer cap
for model in models:
    model.extras = {"padding": padding}
with FakeNgc(models) as fake:
    print(fake.url, flush=True)
    sys.stdin.read()  # until the test closes it
"""


def test_recording_padded_answers_keeps_rss_far_under_the_task_limit(tmp_path: Path) -> None:
    """600 answers of ~1 MB holding an astral-plane character (4 bytes a character once
    decoded), 64 at a time. Live memory stays near 100 MiB; RSS did too only once freed answers
    went back to the system (nim_build/http/heap.py): before, each thread's heap kept its
    high-water mark (300-900 MiB here; 490 MiB at the default --concurrency 16)."""
    root = Path(__file__).resolve().parents[1]
    with subprocess.Popen(
        [sys.executable, "-c", _PADDED_NGC, "600"],
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as server:
        assert server.stdout is not None and server.stdin is not None
        url = server.stdout.readline().strip()
        argv = ["generate", "-q", "--concurrency", "64", "--api-url", url, "--record", "s.json"]
        with subprocess.Popen(
            [sys.executable, "-m", "nim_build", *argv],
            env={**os.environ, "NGC_API_KEY": API_KEY},
            cwd=tmp_path,
            stderr=subprocess.PIPE,
            text=True,
        ) as child:
            assert child.stderr is not None
            err = child.stderr.read()
            _, status, usage = os.wait4(child.pid, 0)  # before Popen reaps it: its peak RSS
            child.returncode = os.waitstatus_to_exitcode(status)
        server.stdin.close()
    assert child.returncode == 0, err
    assert (tmp_path / "s.json").stat().st_size < 1 << 20
    assert usage.ru_maxrss < 256 * 1024  # KiB: half the Task's 512 MiB
