"""`nim-build generate --record` against answers padded with fields no step reads.

Starts the fake NGC in this process with `--models` models (default 600), each metadata
answer padded with one extra field of `--padding` bytes (default 1 MB, under the 1 MiB
answer cap), runs `generate --record` as a child process, then replays the snapshot with
`--from-snapshot`. Prints the recording run's wall time and peak RSS (wait4), the snapshot's
size, and whether the replay wrote the same ConfigMap byte for byte.

    python benchmarks/bench_record.py [--models 600] [--padding 1000000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_hostile import run_measured  # noqa: E402 - beside this script

from tests.fake_ngc import FakeNgc, synthetic_models  # noqa: E402

MiB = 1 << 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=600)
    parser.add_argument("--padding", type=int, default=1_000_000, help="bytes per answer")
    args = parser.parse_args()
    models = synthetic_models(args.models, seed=15)
    padding = "x" * args.padding  # one string shared by every answer: this process stays small
    for model in models:
        model.extras = {"padding": padding}
    nim_build = [sys.executable, "-m", "nim_build", "generate", "-q"]
    with FakeNgc(models) as fake, tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        snapshot, live, replayed = work / "snap.json", work / "live.yaml", work / "replay.yaml"
        record = [*nim_build, "--api-url", fake.url, "--output", str(live)]
        seconds, code, rss, last = run_measured([*record, "--record", str(snapshot)], work)
        print(f"models: {args.models}, each answer padded with {args.padding:,} bytes")
        print(f"record: exit {code}, {seconds:.1f} s wall, peak RSS {rss:.0f} MiB  {last}")
        if code != 0:
            sys.exit(1)
        size = snapshot.stat().st_size
        print(f"snapshot: {size:,} bytes ({size / MiB:.2f} MiB)")
        replay = [*nim_build, "--from-snapshot", str(snapshot), "--output", str(replayed)]
        seconds, code, rss, last = run_measured(replay, work)
        same = code == 0 and replayed.read_bytes() == live.read_bytes()
        answer = "yes" if same else "NO"
        print(f"replay: exit {code}, {seconds:.1f} s, peak RSS {rss:.0f} MiB  {last}")
        print(f"replayed ConfigMap identical to the recorded run's: {answer}")


if __name__ == "__main__":
    main()
