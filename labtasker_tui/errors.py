"""The one error base. Each error carries its exit code and the one line a user reads.

Bad input (``UserError`` and its kinds: filters, sorts, arguments, templates) exits 2 and
changes nothing; ``StoreError`` (the database could not be used) exits 1. The CLI maps errors
in ``cli/context.translate_errors``; the app in ``tui/errors.describe``. Kept free of imports so
every layer may raise them.
"""

from __future__ import annotations


class LabtaskerError(Exception):
    """Base of every error labtasker-tui raises on purpose."""

    exit_code: int = 1

    @property
    def user_message(self) -> str:
        """The one line shown to the user (``Error: `` is added by the front end)."""
        return str(self)


class UserError(LabtaskerError, ValueError):
    """Bad input: the command changes nothing and exits 2."""

    exit_code = 2


class NotFoundError(UserError):
    """Ids that name no task."""


class ConflictError(UserError):
    """A task changed since it was read (optimistic version check)."""


class StoreError(LabtaskerError, RuntimeError):
    """The database could not be used (locked, unreachable, newer schema): exit 1."""

    exit_code = 1
