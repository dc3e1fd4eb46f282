"""`u` / `U` in the task list: undo / redo the newest journaled change of the queue.

The preview ("undo: restore 371 deleted tasks") is confirmed in a :class:`ConfirmModal`
first; a task changed since the change refuses the undo and shows the conflict instead; the
undo applies only if the journal's newest entry is still the one shown (store/journal.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import EXPECTED, describe
from .confirm import ConfirmModal

if TYPE_CHECKING:
    from .task_list import TaskListScreen


def preview_message(plan) -> tuple[str, str]:
    """The dialog text (plain, never markup): what undo does, then which entry it reverses
    and who made it."""
    e = plan.entry
    n = len(plan.steps)
    return (f"{plan.preview}?",
            f"entry {e.id}: {e.summary}\nby {e.who} ({e.actor}), {n:,} task{'s' * (n != 1)}")


def conflict_message(plan) -> str:
    shown = "\n".join(plan.conflicts[:5])
    more = f"\n… and {len(plan.conflicts) - 5} more" if len(plan.conflicts) > 5 else ""
    return (f"{plan.verb} of entry {plan.entry.id} ({plan.entry.summary}) refused:"
            f" {len(plan.conflicts)} of {len(plan.steps)} tasks changed since; nothing"
            f" written.\n{shown}{more}")


async def run_undo(screen: TaskListScreen, *, redo: bool = False) -> None:
    """Preview, confirm, apply, then a toast and a reload (runs in the screen's worker)."""
    from ...store import journal

    verb = "Redo" if redo else "Undo"
    try:
        plan = await journal.preview(screen.store, redo=redo)
    except EXPECTED as exc:  # nothing to undo (a UserError), database errors
        screen.notify(describe(exc)[0], title=verb, severity="warning")
        return
    if plan.conflicts:
        screen.notify(conflict_message(plan), title=f"{verb} refused", severity="error",
                      timeout=12)
        return
    message, detail = preview_message(plan)
    ok = await screen.app.push_screen_wait(
        ConfirmModal(message, detail=detail, title=verb, yes=verb))
    if not ok:
        return
    try:
        done = await journal.undo(screen.store, redo=redo, expect=plan.entry.id)
    except EXPECTED as exc:
        screen.fail(exc, f"{verb} failed")
        return
    again = "U redoes it" if not redo else "u undoes it"
    screen.after_write(f"{done.preview} ({again})")
