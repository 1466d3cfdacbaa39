"""One module per command: `add_arguments(parser)` and `run(args) -> exit code`.

Kept free of imports: the CLI imports a command's module only when that command runs.
"""

DEPRECATION_NOTES = "deprecation_notes"  # namespace attribute: warnings found while parsing
