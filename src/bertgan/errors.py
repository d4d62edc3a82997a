"""The error types a user sees.

Library code raises :class:`UsageError` with a message that names the file, line or field and says how to fix
it; the CLI prints that message alone (no traceback) and exits with status 2. :class:`NonFiniteError` — a training
run whose loss or weights became NaN or infinite — is printed the same way and exits with status 3, after the last
finite checkpoint has been left as it was.
"""


class UsageError(Exception):
    """Bad input from the user: a file, flag or field that cannot be used as given."""

    exit_code = 2


class NonFiniteError(UsageError):
    """Training produced a NaN or infinite loss or weight: the run stopped, its last good checkpoint kept."""

    exit_code = 3
