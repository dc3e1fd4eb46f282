"""The app's one mapping from an exception to what a notification says.

``describe(exc)`` gives (message, severity): labtasker-tui's own errors (``errors.py``)
speak for themselves (``user_message``); database errors give the driver's first line
(never the SQL); anything else is a bug and is named by its type. ``EXPECTED`` is what a
store call may raise on purpose or from the database: handlers catch that tuple, and
:class:`ReportsWorkerErrors` reports whatever else escapes a worker (also via ``describe``).
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy.exc import SQLAlchemyError

from ..errors import LabtaskerError

Severity = Literal["information", "warning", "error"]

#: errors a store call may raise: ours, the database's (SQLAlchemy wraps the drivers'),
#: the file system's
EXPECTED: tuple[type[BaseException], ...] = (LabtaskerError, SQLAlchemyError, OSError)


def describe(exc: BaseException) -> tuple[str, Severity]:
    """The one line a notification shows for ``exc``, and its severity."""
    if isinstance(exc, LabtaskerError):
        return exc.user_message, "error"
    if isinstance(exc, SQLAlchemyError):
        orig = getattr(exc, "orig", None)  # the driver's error, without SQL and parameters
        return f"database: {_first_line(orig if orig is not None else exc)}", "error"
    if hasattr(exc, "render") and hasattr(exc, "message"):  # a parser's caret error
        return str(exc.message), "error"
    return f"{type(exc).__name__}: {_first_line(exc)}", "error"


def message(exc: BaseException) -> str:
    return describe(exc)[0]


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class ReportsWorkerErrors:
    """Mixin for screens (and the app): an error that escapes one of its workers (a bug:
    expected errors are handled where they happen) becomes one notification instead of
    ending the action silently (the workers run with ``exit_on_error=False``)."""

    def on_worker_state_changed(self, event: Any) -> None:
        from textual.worker import WorkerState

        error = event.worker.error
        if event.state == WorkerState.ERROR and error is not None:
            text, severity = describe(error)
            notify = self.notify  # type: ignore[attr-defined]
            notify(text, title="Unexpected error", severity=severity, markup=False)
