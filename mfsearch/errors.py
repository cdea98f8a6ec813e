"""Errors that carry a message meant for the user, not a traceback."""


class UserError(Exception):
    """Bad input from the user: the CLI prints the message on one line and exits 2."""

    exit_code = 2
