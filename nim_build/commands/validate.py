"""`nim-build validate`: check ConfigMaps and EU lists against the schemas and limits."""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

from nim_build.inputs import read_text
from nim_build.safe_text import safe_line
from nim_build.steps.validate import check_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="a nim-models-data ConfigMap (YAML) or an EU list (.json)",
    )


def run(args: argparse.Namespace) -> int:
    # One short process building one tree per file: the cyclic collector would only walk it
    # again and again (~10% of validating 20,000 entries). Nothing here makes cycles.
    gc.disable()
    # Read every file first: a missing one is an error before any verdict is printed.
    texts = [(path, read_text(path)) for path in args.paths]
    failed = 0
    for path, text in texts:
        checked = check_text(text, str(path))
        for problem in checked.problems:
            print(safe_line(f"{path}: {problem}"), file=sys.stderr)
        if checked.problems:
            failed += 1
            count = len(checked.problems)
            print(f"{path}: {count} problem{'' if count == 1 else 's'}", file=sys.stderr)
        elif not args.quiet:
            what = "restricted models" if checked.kind == "EU list" else "models"
            print(f"{path}: OK ({checked.models:,} {what})", file=sys.stderr)
    return 1 if failed else 0
