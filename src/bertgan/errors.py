"""The one error type for bad input.

Library code raises :class:`UsageError` with a message that names the file, line or field and says how to fix
it; the CLI prints that message alone (no traceback) and exits with status 2.
"""


class UsageError(Exception):
    """Bad input from the user: a file, flag or field that cannot be used as given."""
