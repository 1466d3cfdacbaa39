"""The `nim-build` command line: parse, dispatch, map errors to exit codes. Nothing else."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

from nim_build.commands import (
    detect_eu,
    diff,
    generate,
    mirror_configmap,
    mirror_list,
    run,
    validate,
)
from nim_build.errors import NimBuildError, UsageError
from nim_build.steps.validate import ValidationFailed

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
COMMANDS: dict[str, tuple[ModuleType, str]] = {
    "detect-eu": (detect_eu, "list the models that answer HTTP 451 here (run from the EU)"),
    "generate": (generate, "fetch all NIM metadata into the nim-models-data ConfigMap"),
    "validate": (validate, "check a ConfigMap or EU list against the schemas and limits"),
    "diff": (diff, "compare two ConfigMaps, model by model and field by field"),
    "run": (run, "the release pipeline: generate, validate, diff, guard, write, report"),
    "mirror-list": (mirror_list, "air-gap: the NIM images to mirror, in a mirroring tool's format"),
    "mirror-configmap": (mirror_configmap, "air-gap: a ConfigMap of what a mirror registry holds"),
}
# A key typed in the wrong place must not come back in an error message or a log line.
_KEY_PATTERN = re.compile(r"nvapi-[^\s'\"]+")


def redact(text: str) -> str:
    return _KEY_PATTERN.sub("nvapi-***", text)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {redact(message)}\n")


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="nim-build",
        description="Fetch NVIDIA NIM model metadata from NGC into the nim-models-data ConfigMap.",
    )
    verbosity = _Parser(add_help=False)
    group = verbosity.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="store_true", help="also show each retry")
    group.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    for name, (module, summary) in COMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=summary, parents=[verbosity])
        module.add_arguments(sub)
        sub.set_defaults(handler=module.run)
    return parser


def _configure_logging(verbose: bool, quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter("%(message)s"))
    logger = logging.getLogger("nim_build")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose, args.quiet)
    try:
        return int(args.handler(args))
    except ValidationFailed as error:
        for problem in error.problems:
            print(redact(str(problem)), file=sys.stderr)
        print(f"nim-build: error: {redact(str(error))}", file=sys.stderr)
        return EXIT_FAILURE
    except UsageError as error:
        parser.print_usage(sys.stderr)
        print(f"nim-build: error: {redact(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except NimBuildError as error:
        print(f"nim-build: error: {redact(str(error))}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("nim-build: interrupted; outputs left as they were", file=sys.stderr)
        return 130
