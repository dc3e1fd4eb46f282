"""Errors the store raises: UserError -> exit 2 (bad input, nothing changed); StoreError -> 1."""

from __future__ import annotations


class UserError(ValueError):
    """Bad input: the command changes nothing and exits 2."""


class NotFoundError(UserError):
    """Ids that name no task."""


class ConflictError(UserError):
    """A task changed since it was read (optimistic version check)."""


class StoreError(RuntimeError):
    """The database could not be used (locked, unreachable, newer schema): exit 1."""
