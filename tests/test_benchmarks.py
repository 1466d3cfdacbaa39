"""benchmarks/run_all.py's table: each time in the column that names it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

RUN_ALL = Path(__file__).resolve().parents[1] / "benchmarks" / "run_all.py"


def _run_all() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_all", RUN_ALL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_speed_up_row_puts_each_time_under_its_own_column() -> None:
    # Header: work | comparator | comparator (s) | nim-build (s) | ratio
    run_all = _run_all()
    stand_in, nim_build = run_all.Timing((20.0,)), run_all.Timing((1.0, 2.0, 3.0))
    row = run_all.Row("generate (speed-up)", "stand-in", stand_in, nim_build, speedup=True)
    cells = [cell.strip() for cell in row.line(False).strip("|").split("|")]
    assert cells[2:] == ["20.000 (20.000)", "2.000 (1.000)", "10.00\u00d7 (20.00\u00d7) faster"]
    floor_row = run_all.Row("generate", "floor client", run_all.Timing((1.0,)), nim_build)
    cells = [cell.strip() for cell in floor_row.line(False).strip("|").split("|")]
    assert cells[2:] == ["1.000 (1.000)", "2.000 (1.000)", "2.00\u00d7 (1.00\u00d7)"]
