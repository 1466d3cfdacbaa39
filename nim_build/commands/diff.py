"""`nim-build diff`: compare two ConfigMaps, model by model and field by field."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from nim_build.models import ModelEntry
from nim_build.safe_text import escape_json_text, redact
from nim_build.steps.diff import diff
from nim_build.steps.report import render_markdown

from ._configmaps import read_configmap
from ._stdio import write_stdout


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "old", type=Path, metavar="OLD", help="the ConfigMap before (- reads stdin)"
    )
    parser.add_argument("new", type=Path, metavar="NEW", help="the ConfigMap after (or -)")
    parser.add_argument(
        "--format",
        choices=("markdown", "json"),
        default="markdown",
        help="Markdown report or JSON (default: %(default)s)",
    )
    parser.add_argument(
        "--exit-code",
        action="store_true",
        help="exit with 1 when there are differences, like git diff --exit-code",
    )


def _entries(path: Path) -> dict[str, ModelEntry]:
    # Checked like `validate` checks it: an empty or foreign file is refused, not a 0-model diff.
    return read_configmap(path).entries


def run(args: argparse.Namespace) -> int:
    new = _entries(args.new)
    changes = diff(_entries(args.old), new)
    if args.format == "json":
        text = json.dumps(changes.to_json(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"
        # U+2028, C1 controls: \u escapes, never raw in a log; a key-shaped string: redacted.
        text = escape_json_text(redact(text))
    else:
        text = render_markdown(changes, new)
    write_stdout(text)
    return 1 if args.exit_code and not changes.is_empty else 0
