"""The labtasker-tui Textual app and its entry point :func:`run_app`."""

from __future__ import annotations

import asyncio
import contextvars
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from textual.app import App

from ..store.location import display_url
from ..store.task_store import READ_TAG, Selection, TaskStore, open_store
from .bindings import bindings
from .commands import TaskCommands
from .errors import ReportsWorkerErrors
from .keymap import Keymap, load_keymap
from .screens.help import HelpScreen
from .screens.task_list import TaskListScreen

T = TypeVar("T")
DARK, LIGHT = "textual-dark", "textual-light"


def utc_now() -> datetime:
    return datetime.now(UTC)


class LabtaskerApp(ReportsWorkerErrors, App[int]):
    """Owns the store, the theme and the global keys; the task list does the rest."""

    CSS_PATH = "styles/app.tcss"
    TITLE = "labtasker-tui"
    COMMANDS: ClassVar = App.COMMANDS | {TaskCommands}
    BINDINGS: ClassVar = bindings("app")

    def __init__(
        self,
        url: str,
        queue: str = "default",
        *,
        filter_text: str | None = None,
        status: str | None = None,
        ids: list[str] | None = None,
        sort: list[tuple[str, bool]] | None = None,
        edit: bool = False,
        now: Callable[[], datetime] = utc_now,
        live: bool = True,
        store: TaskStore | None = None,
        db_label: str | None = None,
        log_root: Path | None = None,
    ) -> None:
        super().__init__()
        self.url = url
        self.queue = queue
        self.filter_text = filter_text or ""
        self.status = status
        self.ids = ids
        self.sort = list(sort or [])
        self.edit_at_start = edit
        self.now = now
        self.live = live
        self.store: TaskStore = store or open_store(url, queue)
        self.store.actor = "app"  # type: ignore[attr-defined]  # journal entries say "app"
        self.db_label = db_label or display_url(url)
        self.log_root = log_root  # None: the worker engine's rule (next to the database)
        self.theme = DARK
        self.db_tasks: set[asyncio.Task] = set()  # store reads run by db_task, not yet done
        self.keymap: Keymap = load_keymap()  # the user's remaps (keymap.toml), by action id

    def title_text(self) -> str:
        from .markup import esc

        return f" labtasker-tui  ·  queue [b]{esc(self.queue)}[/b]  ·  {esc(self.db_label)}"

    def log_file(self, task_id: str) -> Path:
        """Where the worker engine writes this task's output on this machine."""
        from ..log_paths import log_path

        return log_path(self.url, task_id, self.log_root)

    def on_mount(self) -> None:
        self.set_keymap(self.keymap.overrides)
        screen = TaskListScreen(filter_text=self.filter_text, status=self.status, ids=self.ids,
                                sort=self.sort)
        self.push_screen(screen)
        if (problem := self.keymap.message()) is not None:
            self.notify(problem, title="Keymap", severity="warning", timeout=12, markup=False)
        if self.edit_at_start:
            self.run_worker(self._edit_at_start(screen), exit_on_error=False)

    async def _edit_at_start(self, screen: TaskListScreen) -> None:
        """`update` without assignments: edit the selected tasks, then leave."""
        sel = Selection(ids=self.ids, status=self.status, where=None)
        if self.filter_text:
            from .screens.task_list import compile_where

            try:
                sel.where = compile_where(self.filter_text, self.store.dialect)
            except Exception as exc:  # noqa: BLE001 - the filter given to `update` is user
                # input: a parser or compiler fault ends the command with exit 2, as bad input
                self.exit(2, message=f"Error: {getattr(exc, 'message', exc)}")
                return
        saved = await screen.open_editor(sel)
        self.exit(0 if saved is not None else 1)

    def db_task(self, coro: Coroutine[Any, Any, T], tag: str) -> Awaitable[T]:
        """Run a store read as its own task whose reads carry ``tag`` (READ_TAG, for
        store.interrupt_reads), shielded from the cancellation of the awaiting worker."""
        ctx = contextvars.copy_context()
        ctx.run(READ_TAG.set, tag)
        task = asyncio.get_running_loop().create_task(coro, context=ctx)
        self.db_tasks.add(task)
        task.add_done_callback(_forget(self.db_tasks))
        return asyncio.shield(task)

    async def on_unmount(self) -> None:
        # end the reads still running (their SQLite statements are interrupted) first
        self.store.interrupt_reads()
        if self.db_tasks:
            await asyncio.wait(list(self.db_tasks), timeout=2.0)
        try:  # a read cancelled mid-statement can leave aiosqlite's close waiting forever
            await asyncio.wait_for(self.store.close(), 3.0)
        except TimeoutError:
            pass

    def action_toggle_dark(self) -> None:
        self.theme = LIGHT if self.theme == DARK else DARK

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())


def _forget(tasks: set[asyncio.Task]) -> Callable[[asyncio.Task], None]:
    def done(task: asyncio.Task) -> None:
        tasks.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: an interrupted read of a superseded load is no news
    return done


def _current_sqlite(url: str) -> bool:
    """Whether ``url`` is an existing SQLite file with this version's schema (checked with
    ``sqlite3``, as the headless direct path checks it): the app then needs no probe."""
    import sqlite3

    from ..store.location import sqlite_path
    from ..store.sqlite_direct import open_existing

    path = sqlite_path(url)
    if path is None:
        return False
    try:
        con = open_existing(path)
    except sqlite3.Error:
        return False  # the probe reports it
    if con is None:
        return False
    con.close()
    return True


async def _probe(url: str, queue: str) -> None:
    store = open_store(url, queue)
    try:
        await store.change_seq()  # opens the file and checks the schema; no 1M-row count
    finally:
        await store.close()


def run_app(
    url: str,
    queue: str = "default",
    *,
    filter_text: str | None = None,
    status: str | None = None,
    ids: list[str] | None = None,
    sort: list[tuple[str, bool]] | None = None,
    edit: bool = False,
) -> int:
    """Run the TUI; returns the exit code (1 when the database cannot be opened)."""
    store = None
    if _current_sqlite(url):  # start-up: no second engine just to check the schema
        store = open_store(url, queue)
        store.schema_is_current()
    else:
        try:
            asyncio.run(_probe(url, queue))
        except Exception as exc:  # noqa: BLE001 - any file or URL: whatever stops it opening
            # (not a database, a missing driver, a newer schema) is one line and exit 1
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            print(f"Error: cannot open the database {display_url(url)}: {reason}",
                  file=sys.stderr)
            return 1
    app = LabtaskerApp(url, queue, filter_text=filter_text, status=status, ids=ids, sort=sort,
                       edit=edit, store=store)
    result = app.run()
    return int(result) if result is not None else int(app.return_code or 0)
