"""What every command shares: the database URL, the queue, error handling and a runner."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .process import (  # noqa: F401 - re-exported: click-free, for the fast entry too
    default_interrupts,
    exit_on_interrupt,
    guard_pipe,
    interactive,
)

if TYPE_CHECKING:
    from ..store.task_store import TaskStore

T = TypeVar("T")


@dataclass
class AppContext:
    db: str | None
    queue: str
    # read commands refuse a missing SQLite file; init, submit and import create it
    create: bool = False

    @property
    def url(self) -> str:
        from ..store.location import resolve_url

        return resolve_url(self.db)

    @property
    def may_create(self) -> bool:
        """Whether a missing SQLite file is created: by the commands that write (init, submit,
        import), and by every command on the zero-set-up default (no --db and no
        $LABTASKER_TUI_DB: the per-user database). A named path that does not exist is a
        typo to report, never a new empty database."""
        from ..settings import ENV_DB

        return self.create or not (self.db or os.environ.get(ENV_DB))

    def store(self) -> TaskStore:
        from ..store.task_store import open_store

        return open_store(self.url, self.queue, create=self.may_create)

    def require_database(self) -> None:
        """Before the app opens: a missing SQLite file is an error (exit 2), not created."""
        if self.may_create:
            return
        from ..store.location import NoDatabaseError, check_database

        try:
            check_database(self.url, create=False)
        except NoDatabaseError as exc:
            raise BadInput(str(exc)) from None


pass_app = click.make_pass_decorator(AppContext)


def pass_app_creating(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Like ``pass_app`` for commands that create the database when it does not exist."""

    @pass_app
    @functools.wraps(fn)
    def wrapper(app: AppContext, *args: Any, **kwargs: Any) -> Any:
        app.create = True
        return fn(app, *args, **kwargs)

    return wrapper


class BadInput(click.ClickException):
    """Bad input: one line on stderr, exit 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


class RuntimeFailure(click.ClickException):
    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


def database_error(message: str, url: str | None) -> RuntimeFailure:
    """``database error: MESSAGE (where)``: the file or server it is about."""
    where = ""
    if url:
        from ..store.location import display_url, sqlite_path

        path = sqlite_path(url)
        where = f" ({path if path is not None else display_url(url)})"
    return RuntimeFailure(f"database error: {message}{where}")


def translate_errors(exc: BaseException, url: str | None = None) -> click.ClickException | None:
    """Map core exceptions to exit codes: bad input 2, runtime 1 (``url``: named in
    database errors)."""
    from ..errors import LabtaskerError
    from ..query.errors import FilterError

    if isinstance(exc, FilterError) and exc.column is not None:
        click.echo("\n".join(exc.render().splitlines()[:-1]), err=True)  # caret, not last line
    if isinstance(exc, LabtaskerError):
        cls = BadInput if exc.exit_code == 2 else RuntimeFailure
        return cls(exc.user_message)
    from sqlalchemy.exc import DBAPIError, OperationalError

    if isinstance(exc, (OperationalError, DBAPIError)):
        from ..query.sqlite_functions import take_error

        cause = take_error(exc)  # a filter function that gave up (regex time bound)
        if cause is not None:
            return translate_errors(cause)
        orig = getattr(exc, "orig", None)
        msg = str(orig or exc).strip().splitlines()[0]
        return database_error(msg, url)
    if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
        return RuntimeFailure(str(exc))
    return None


def run(app: AppContext, fn: Callable[[TaskStore], Awaitable[T]]) -> T:
    """Run ``fn(store)`` on a fresh event loop, closing the store and mapping errors."""

    broken_pipe = False

    async def main() -> T:
        nonlocal broken_pipe
        store = app.store()
        try:
            return await fn(store)
        except BrokenPipeError:
            broken_pipe = True
            return None  # type: ignore[return-value]
        finally:
            await store.close()

    import asyncio  # here, not at the top: the direct SQLite reads never load it

    try:
        result = asyncio.run(main())
        if broken_pipe:
            raise BrokenPipeError
        return result
    except click.ClickException:
        raise
    except Exception as exc:  # noqa: BLE001 - everything becomes a one-line message
        mapped = translate_errors(exc, app.url)
        if mapped is None:
            raise
        raise mapped from None


def stdin_ids() -> list[str]:
    """Task ids piped on stdin, one per line; blank lines ignored. [] if stdin is a TTY."""
    if sys.stdin is None or sys.stdin.isatty():
        return []
    return [line.strip() for line in sys.stdin if line.strip()]
