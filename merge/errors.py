"""The one error type the merge raises for bad inputs or configs; the CLI prints it without a traceback."""


class MergeError(Exception):
    """A problem with the inputs, the recipe or the output location, described for the user."""
