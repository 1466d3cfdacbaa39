"""The `nim-build` command line: parse, dispatch, map errors to exit codes. Nothing else."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from nim_build import __version__
from nim_build.commands import DEPRECATION_NOTES
from nim_build.errors import NimBuildError, UsageError, ValidationFailed
from nim_build.interrupts import EXIT_INTERRUPTED, EXIT_TERMINATED, Terminated, sigterm_raises
from nim_build.safe_text import safe_line

TYPE_CHECKING = False  # no `typing` import: `--version` and `--help` start in milliseconds
if TYPE_CHECKING:
    from typing import Any, NoReturn

    from nim_build.commands._stdio import Direction

PROG = "nim-build"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
# name → (module, summary). A command's module (and the libraries it needs) is imported only
# when that command is parsed: `--version` and `--help` load no HTTP, YAML or schema library.
_COMMANDS_PACKAGE = "nim_build.commands"
COMMANDS: dict[str, tuple[str, str]] = {
    "detect-eu": ("detect_eu", "list the models that answer HTTP 451 here (run from the EU)"),
    "generate": ("generate", "fetch all NIM metadata into the nim-models-data ConfigMap"),
    "validate": ("validate", "check a ConfigMap or EU list against the schemas and limits"),
    "diff": ("diff", "compare two ConfigMaps, model by model and field by field"),
    "run": ("run", "the release pipeline: generate, validate, diff, guard, write, report"),
    "mirror-list": (
        "mirror_list",
        "air-gap: the NIM images to mirror, in a mirroring tool's format",
    ),
    "mirror-configmap": (
        "mirror_configmap",
        "air-gap: a ConfigMap of what a mirror registry holds",
    ),
    "place": (
        "place",
        "put a ConfigMap into a kustomize manifests checkout; check that it renders",
    ),
}
NGC_COMMANDS = frozenset({"detect-eu", "generate", "run"})
# What -v adds, per command; a command it adds nothing to accepts it but does not list it.
VERBOSE_HELP = dict.fromkeys(
    NGC_COMMANDS, "also show each retry and each model left out of the catalog"
) | {"mirror-configmap": "also show each retry"}
# Arguments that take `-`: stdin for an input, stdout for an output (elsewhere it is refused).
STDIO_ARGUMENTS: dict[str, dict[str, Direction]] = {
    "validate": {"paths": "in"},
    "diff": {"old": "in", "new": "in"},
    "generate": {"output": "out"},
    "mirror-list": {"configmap": "in", "output": "out"},
    "mirror-configmap": {"configmap": "in", "output": "out"},
}
KEY_SOURCES = "$NGC_API_KEY or --api-key-file PATH"
# The key leads the synopsis: an API_KEY argument still works (nim_metadata.sh's
# `generate KEY`) but other users see it in `ps`, and it stays in shell history.
NGC_USAGE = f"%(prog)s [options]   (NGC key: {KEY_SOURCES})"
NGC_KEY_NOTE = (
    f"The NGC key is read from {KEY_SOURCES}. A key given as the API_KEY argument still "
    "works, with a warning: other users see it in `ps`, and it stays in shell history."
)
COMMAND_PARSER = "command_parser"  # namespace attribute: the parser of the command given


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One prefix for every error, whichever subcommand's parser found it.
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, safe_line(f"{PROG}: error: {message}") + "\n")


class _Formatter(logging.Formatter):
    """Warnings get the `nim-build: warning:` prefix that matches `nim-build: error:`; every
    record goes through `safe_line` (one line, no key)."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno >= logging.WARNING:
            level = "error" if record.levelno >= logging.ERROR else "warning"
            text = f"{PROG}: {level}: {text.removeprefix(f'{level}: ')}"
        return safe_line(text)


class _LazyCommands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Subcommands whose options are added when the command is parsed, not before."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        name = values[0] if isinstance(values, list) and values else None
        command = COMMANDS.get(name) if isinstance(name, str) else None
        sub = self._name_parser_map.get(str(name))
        if command is not None and sub is not None and sub.get_default("handler") is None:
            load_command(sub, command[0])
        super().__call__(parser, namespace, values, option_string)


def load_command(sub: argparse.ArgumentParser, module_name: str) -> None:
    """Import a command's module; add its options and handler to its parser."""
    module = importlib.import_module(f"{_COMMANDS_PACKAGE}.{module_name}")
    module.add_arguments(sub)
    sub.set_defaults(handler=module.run)


def _add_verbosity(parser: argparse.ArgumentParser, verbose_help: str | None, *, top: bool) -> None:
    # Accepted before and after the command (like pip): the copy on each command must not
    # reset what was given before it, so it only sets a value when used.
    default = False if top else argparse.SUPPRESS
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default,
        help=verbose_help or argparse.SUPPRESS,
    )
    group.add_argument(
        "-q", "--quiet", action="store_true", default=default, help="only warnings and errors"
    )


def build_parser(*, load_all: bool = False) -> argparse.ArgumentParser:
    """The parser; each command's options are added when it is parsed (all now: `load_all`)."""
    parser = _Parser(
        prog=PROG,
        description="Fetch NVIDIA NIM model metadata from NGC into the nim-models-data "
        f"ConfigMap. NGC commands read the key from {KEY_SOURCES}.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_verbosity(parser, "more detail (NGC and registry commands: each retry)", top=True)
    # Not required: a bare `nim-build` prints the whole help (main), not a one-line error.
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser, action=_LazyCommands
    )
    for name, (module_name, summary) in COMMANDS.items():
        if name in NGC_COMMANDS:
            sub = commands.add_parser(
                name, help=summary, description=f"{summary}. {NGC_KEY_NOTE}", usage=NGC_USAGE
            )
        else:
            sub = commands.add_parser(name, help=summary, description=summary)
        _add_verbosity(sub, VERBOSE_HELP.get(name), top=False)
        sub.set_defaults(**{COMMAND_PARSER: sub})
        if load_all:
            load_command(sub, module_name)
    return parser


def _configure_logging(verbose: bool, quiet: bool) -> None:
    from nim_build.progress import LogHandler

    handler = LogHandler(sys.stderr)
    handler.setFormatter(_Formatter("%(message)s"))
    logger = logging.getLogger("nim_build")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)


def _fail(error: NimBuildError, lines: Sequence[object] = ()) -> None:
    """Each detail on its own line, then the one-line cause."""
    for line in (*lines, *error.details):
        print(safe_line(str(line)), file=sys.stderr)
    print(safe_line(f"{PROG}: error: {error}"), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # A command's leftover arguments are its error (argparse would report them from the top).
    args, unknown = parser.parse_known_args(argv)
    if args.command is None:  # like git: the help, and a failure (nothing was done)
        if unknown:
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    # Usage lines and errors come from the command's own parser, not the top-level one.
    command_parser: argparse.ArgumentParser = getattr(args, COMMAND_PARSER)
    if unknown:
        command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.verbose and args.quiet:
        command_parser.error("-q/--quiet and -v/--verbose cannot be combined")
    from nim_build.commands._stdio import stdio_misuse  # after parsing: not for --help

    misuse = stdio_misuse(command_parser, args, STDIO_ARGUMENTS.get(args.command, {}))
    if misuse:
        command_parser.error(misuse)
    _configure_logging(args.verbose, args.quiet)
    log = logging.getLogger("nim_build")
    for note in sorted(getattr(args, DEPRECATION_NOTES, ())):
        log.warning("%s", note)
    try:
        with sigterm_raises():
            return int(args.handler(args))
    except ValidationFailed as error:
        _fail(error, error.problems)
        return EXIT_FAILURE
    except UsageError as error:
        command_parser.print_usage(sys.stderr)
        _fail(error)
        return EXIT_USAGE
    except NimBuildError as error:
        _fail(error)
        return EXIT_FAILURE
    except KeyboardInterrupt as interrupt:
        how = "terminated" if isinstance(interrupt, Terminated) else "interrupted"
        # A signal during a write waits for it (interrupts.deferred): each output is whole.
        print(f"{PROG}: {how}; no output was left half-written", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(interrupt, Terminated) else EXIT_INTERRUPTED
