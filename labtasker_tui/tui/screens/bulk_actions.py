"""The task list's actions on tasks (delete, reset, cancel, priority, assign, edit, undo).

Each bulk action runs through :meth:`BulkActions.run_bulk`: resolve the target (the marks,
else the cursor task), freeze it (the exact tasks and versions), ask (a confirmation with its
count, or a prompt with a live preview), apply to exactly what was shown or refuse with
nothing written, then one toast, clear the marks and reload. The journal records every write
(``u`` undoes it).
"""

from __future__ import annotations

import shlex
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from textual import work

from ...errors import ConflictError, NotFoundError, UserError
from ...models import Task
from ...store.task_store import Selection, SelectionChanged
from ..errors import EXPECTED, message
from ..marks import Frozen, Target
from .confirm import ConfirmModal
from .prompt import PromptModal

if TYPE_CHECKING:
    from textual.app import App

    from ...store.task_store import TaskStore
    from ..marks import Marks
    from ..widgets.task_table import TaskTable

EDIT_LIMIT = 500
Ask = Callable[[Frozen], Awaitable[Any]]  # None / False / "" = cancelled, else the answer
Apply = Callable[[Frozen, Any], Awaitable[str]]  # writes; returns the toast


def assignment_compute(text: str) -> Callable[[Task], dict[str, Any]]:
    """`args.lr=0.3 priority=5` -> compute(task) -> changes for store.update."""
    from ...args import apply_assignments

    tokens = shlex.split(text)
    if not tokens:
        raise UserError("nothing to assign: write field=value, e.g. args.lr=0.3")
    for tok in tokens:
        if "=" not in tok:
            raise UserError(f"not an assignment: {tok!r} (expected field=value)")

    def compute(task: Task) -> dict[str, Any]:
        return apply_assignments(task.model_dump(), tokens, reset_pending=False)

    return compute


class BulkActions:
    """Mixed into TaskListScreen: the actions that write tasks."""

    if TYPE_CHECKING:  # what the screen provides
        app: App
        store: TaskStore
        table: TaskTable
        marks: Marks
        sort: list[tuple[str, bool]]
        cursor_task: Task | None

        def notify(self, message: str, *, title: str = "", severity: Any = "information",
                   timeout: float | None = None, markup: bool = False) -> None: ...
        def clear_marks(self) -> None: ...
        def reload(self) -> None: ...
        def selection(self, *, with_status: bool = True) -> Selection: ...

    def targets(self) -> Target | None:
        """What an action acts on: the marks, else the cursor task."""
        target = self.marks.target(self.table.cursor_task_id)
        if target is None:
            self.notify("no task selected", severity="warning")
        return target

    async def freeze(self, target: Target) -> Frozen | None:
        """The target's tasks and versions now: what the confirmation shows is applied."""
        try:
            state = await self.store.selection_state(target.sel)
        except EXPECTED as exc:
            self.fail(exc, "Cannot read the selection")
            return None
        if not state:
            self.notify("no task matches any more", severity="warning")
            return None
        return Frozen(target, {k: v for k, (v, _) in state.items()},
                      [k for k, (_, st) in state.items() if st == "running"])

    def after_write(self, text: str, *, clear: bool = True) -> None:
        self.notify(text)
        if clear:
            self.clear_marks()
        self.reload()

    def fail(self, exc: BaseException, title: str) -> None:
        self.notify(message(exc), title=title, severity="error", timeout=8)

    async def run_bulk(self, verb: str, ask: Ask, apply: Apply,
                       target: Target | None = None) -> None:
        """Target (default: the marks, else the cursor task), freeze, ask, apply exactly what
        was shown, toast, reload."""
        target = target or self.targets()
        frozen = None if target is None else await self.freeze(target)
        if frozen is None:
            return
        answer = await ask(frozen)
        if answer is None or answer is False or answer == "":
            return
        try:
            done = await apply(frozen, answer)
        except EXPECTED as exc:
            self.fail(exc, f"{verb} refused" if isinstance(exc, ConflictError)
                      else f"{verb} failed")
            self.reload()
            return
        self.after_write(done)

    def confirm(self, text: str, title: str, yes: str, *, when: bool = True) -> Ask:
        """Ask with a yes/no dialog (``text`` formatted with the frozen label), or not at all
        when ``when`` is false for a single task."""
        async def ask(frozen: Frozen) -> bool:
            if frozen.n <= 1 and not when:
                return True
            return bool(await self.app.push_screen_wait(ConfirmModal(
                text.format(label=frozen.label), title=title, yes=yes)))
        return ask

    def update_with(self, verb: str, **kwargs: Any) -> Apply:
        """Apply ``compute`` (the answer) to exactly the frozen tasks at their frozen versions,
        or refuse (nothing written) when any of them changed or vanished since."""
        async def apply(frozen: Frozen, compute: Callable[[Task], dict[str, Any]]) -> str:
            sel = Selection(ids=list(frozen.shown))
            try:
                plan = await self.store.update(sel, compute, dry_run=True, **kwargs)
                now = {c.before.task_id: c.before.version for c in plan}
                if now != frozen.shown:
                    moved = sum(1 for k, v in frozen.shown.items() if now.get(k) != v)
                    raise SelectionChanged(
                        f"selection changed: {moved:,} of the {len(frozen.shown):,} tasks"
                        " shown changed or were deleted since; nothing changed; run again")
                await self.store.apply_update(sel, plan)
            except NotFoundError as exc:
                raise SelectionChanged(f"selection changed: {exc} (deleted since it was"
                                       " shown); nothing changed; run again") from exc
            changed = sum(1 for c in plan if c.changed)
            return f"{verb}: {changed:,} of {len(plan):,} task{'s' * (len(plan) != 1)} changed"
        return apply

    # -- the actions ----------------------------------------------------------------------

    @work(group="action", exit_on_error=False)
    async def action_delete(self) -> None:
        async def ask(frozen: Frozen) -> tuple[dict[str, int], bool] | None:
            shown, force = dict(frozen.shown), False
            if not await self.app.push_screen_wait(ConfirmModal(
                    f"Delete {frozen.label}? (u undoes it.)", title="Delete", yes="Delete")):
                return None
            if frozen.running:
                r = len(frozen.running)
                of = "it is" if len(shown) == 1 else (
                    f"{r:,} of them {'is' if r == 1 else 'are'}")
                them = "it" if r == 1 else "them"
                force = await self.app.push_screen_wait(ConfirmModal(
                    f"{of} running (a worker is executing {them}): delete {them} too?",
                    title="Running tasks", yes="Delete them too", no="Skip them"))
                if not force:
                    for task_id in frozen.running:
                        shown.pop(task_id, None)
                    if not shown:
                        self.notify("nothing deleted: the selected tasks are running")
                        return None
            return shown, force

        async def apply(frozen: Frozen, answer: tuple[dict[str, int], bool]) -> str:
            shown, force = answer
            deleted = await self.store.delete(Selection(ids=list(shown)), shown=shown,
                                              force=force)
            skipped = len(frozen.shown) - len(shown)
            return (f"Deleted {len(deleted):,} task{'s' * (len(deleted) != 1)}"
                    + (f" (skipped {skipped:,} running)" if skipped else ""))

        await self.run_bulk("Delete", ask, apply)

    @work(group="action", exit_on_error=False)
    async def action_reset(self) -> None:
        ask = self.confirm("Reset {label} to pending (retries 0)?", "Reset", "Reset",
                           when=False)
        await self.run_bulk("Reset to pending", _answer(ask, lambda t: {}),
                            self.update_with("Reset to pending", reset_pending=True))

    @work(group="action", exit_on_error=False)
    async def action_requeue(self) -> None:
        """The failed tasks of the current filter back to pending, attempts reset (as
        `labtasker-tui requeue -f FILTER`)."""
        sel = self.store.requeue_selection(self.selection())
        ask = self.confirm("Requeue {label} (back to pending, attempts reset)? (u undoes it.)",
                           "Requeue failed", "Requeue")
        await self.run_bulk("Requeued", _answer(ask, lambda t: {}),
                            self.update_with("Requeued", reset_pending=True),
                            Target(sel, 0, "failed"))

    @work(group="action", exit_on_error=False)
    async def action_sweep_fill(self) -> None:
        """Submit what the cursor task's sweep is missing (as `labtasker-tui sweep fill NAME`:
        its stored spec, configurations already in the queue left out), after a preview."""
        from ...store.sweeps import plan_fill, write_sweep

        task = self.cursor_task
        sweep = task.metadata.get("sweep") if task is not None else None
        name = sweep.get("name") if isinstance(sweep, dict) else None
        if not isinstance(name, str):
            self.notify("the task under the cursor is not part of a sweep (metadata.sweep)",
                        title="Sweep fill", severity="warning")
            return
        try:
            plan = await plan_fill(self.store, name)
        except EXPECTED as exc:
            self.fail(exc, "Sweep fill failed")
            return
        if plan is None:
            self.notify(f"no sweep named {name!r} in this queue", title="Sweep fill",
                        severity="warning")
            return
        total = len(plan.specs)
        if not plan.missing:
            self.notify(f"sweep {name}: nothing is missing ({total:,} configurations)")
            return
        n = plan.missing
        if not await self.app.push_screen_wait(ConfirmModal(
                f"Sweep {name}: submit the {n:,} missing task{'s' * (n != 1)} of {total:,}?"
                " (u undoes it.)", title="Sweep fill", yes="Submit")):
            return
        try:
            done = await write_sweep(self.store, name, plan.record.sweep_id, plan.record.spec,
                                     plan.specs, fill=True)
        except EXPECTED as exc:
            self.fail(exc, "Sweep fill failed")
            self.reload()
            return
        k, skipped = len(done.ids), done.outcome.duplicates
        self.after_write(f"Sweep {name}: submitted {k:,} missing task{'s' * (k != 1)}"
                         + (f" ({skipped:,} already in the queue)" if skipped else ""),
                         clear=False)

    @work(group="action", exit_on_error=False)
    async def action_cancel_tasks(self) -> None:
        ask = self.confirm("Cancel {label}?", "Cancel tasks", "Cancel them", when=False)
        await self.run_bulk("Cancelled", _answer(ask, lambda t: {"status": "cancelled"}),
                            self.update_with("Cancelled"))

    @work(group="action", exit_on_error=False)
    async def action_priority(self) -> None:
        async def ask(frozen: Frozen) -> Callable[[Task], dict[str, Any]] | None:
            label = frozen.label
            current = self.cursor_task.priority if self.cursor_task else 10

            async def check(text: str) -> tuple[bool, str]:
                try:
                    int(text)
                except ValueError:
                    return False, "priority must be an integer (higher runs first)"
                return True, f"{label} → priority {int(text)}"

            text = await self.app.push_screen_wait(PromptModal(
                f"Priority for {label}", value=str(current), preview=check))
            if text is None:
                return None
            value = int(text)
            return lambda t: {"priority": value}

        await self.run_bulk("Priority set", ask, self.update_with("Priority set"))

    @work(group="action", exit_on_error=False)
    async def action_assign(self) -> None:
        async def ask(frozen: Frozen) -> Callable[[Task], dict[str, Any]] | None:
            sel = Selection(ids=list(frozen.shown))

            async def preview(text: str) -> tuple[bool, str]:
                try:
                    plan = await self.store.update(sel, assignment_compute(text), dry_run=True)
                except (UserError, ValueError) as exc:  # the text is being typed
                    return False, message(exc)
                changed = sum(1 for c in plan if c.changed)
                return True, (f"{len(plan):,} task{'s' * (len(plan) != 1)},"
                              f" {changed:,} will change")

            text = await self.app.push_screen_wait(PromptModal(
                f"Assign on {frozen.label}", placeholder="args.lr=0.3 priority=5",
                help_text="field=value pairs; values are Python literals (quote to force a"
                          " string)", preview=preview))
            if not text:
                return None
            try:
                return assignment_compute(text)
            except (UserError, ValueError) as exc:
                self.fail(exc, "Assign failed")
                return None

        await self.run_bulk("Assigned", ask, self.update_with("Assigned"))

    @work(group="action", exit_on_error=False)
    async def action_undo(self, redo: bool = False) -> None:
        """u / U: undo / redo the newest change after a preview (screens/undo.py)."""
        from .undo import run_undo

        await run_undo(self, redo=redo)

    @work(group="action", exit_on_error=False)
    async def action_edit(self) -> None:
        target = self.targets()
        if target is None:
            return
        await self.open_editor(target.sel)

    async def open_editor(self, sel: Selection) -> int | None:
        """Open the in-app editor on ``sel``: tasks saved (0 = none changed), None = cancelled."""
        from .editor import EditorScreen

        try:
            tasks = await self.store.list(sel, sort=self.sort, limit=EDIT_LIMIT + 1)
        except EXPECTED as exc:
            self.fail(exc, "Cannot open the editor")
            return None
        if not tasks:
            self.notify("no tasks to edit", severity="warning")
            return None
        if len(tasks) > EDIT_LIMIT:
            tasks = tasks[:EDIT_LIMIT]
            self.notify(f"editing the first {EDIT_LIMIT} tasks only", severity="warning")
        saved = await self.app.push_screen_wait(EditorScreen(self.store, tasks))
        if saved:
            self.after_write(f"Saved {saved} task{'s' * (saved != 1)}")
        return saved


def _answer(ask: Ask, compute: Callable[[Task], dict[str, Any]]) -> Ask:
    """A confirmation whose yes is a fixed change."""
    async def wrapped(frozen: Frozen) -> Callable[[Task], dict[str, Any]] | None:
        return compute if await ask(frozen) else None
    return wrapped
