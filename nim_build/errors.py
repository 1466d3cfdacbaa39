"""The error family: every expected failure is a NimBuildError with a one-line message.

The CLI maps these to exit code 1 and prints the message; anything else is a bug.
"""

from __future__ import annotations

from collections.abc import Sequence

TYPE_CHECKING = False  # no `typing` import: the CLI imports this module at start-up
if TYPE_CHECKING:
    from nim_build.steps.validate.problems import Problem

INLINE_ITEMS = 3  # more items than this (failed models, ...) go one per line above the error
LISTED_ABOVE = "listed above"  # the error line's tail when they do


class NimBuildError(Exception):
    """Base of every expected failure; `str(error)` is the one-line cause."""

    def __init__(self, message: str, details: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        # Lines the CLI prints before the cause, one per item (e.g. each failed model).
        self.details = details


class UsageError(NimBuildError):
    """Bad command-line input (exit code 2)."""


class InputFileError(NimBuildError):
    """A file named on the command line is missing or unreadable or malformed."""


class OutputError(NimBuildError):
    """An output could not be written; the previous file is left untouched."""


class ValidationFailed(NimBuildError):
    """Output that breaks the contract; `problems` holds every one of them.

    Defined here (exported by nim_build.steps.validate) so that the CLI can catch it without
    importing the validation libraries.
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        if not self.problems:
            message = "validation failed"
        elif len(self.problems) == 1:
            message = f"validation failed: {self.problems[0]}"
        else:
            message = f"validation failed with {len(self.problems)} problems, the first: "
            message += str(self.problems[0])
        super().__init__(message)


def itemize(items: Sequence[str], separator: str = ", ") -> tuple[str, tuple[str, ...]]:
    """A few items inline ("a, b"), else LISTED_ABOVE and one detail line each.

    Returns the tail of the error line and its `details`: no error is one 3,000-character line.
    """
    if len(items) <= INLINE_ITEMS:
        return separator.join(items), ()
    return LISTED_ABOVE, tuple(f"  {item}" for item in items)
