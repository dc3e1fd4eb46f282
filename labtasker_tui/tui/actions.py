"""Every task-list action once: binding key, palette title and help, derived everywhere."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActionSpec:
    action: str
    key: str
    title: str
    help: str
    footer: str = ""  # short footer label; empty = not shown in the footer


ACTIONS: list[ActionSpec] = [
    ActionSpec("filter", "slash", "filter: edit filter", "Focus the filter bar", "Filter"),
    ActionSpec("clear_filter", "ctrl+l", "filter: clear", "Remove the filter and status filter"),
    ActionSpec("status('pending')", "1", "filter: pending only", "Show pending tasks"),
    ActionSpec("status('running')", "2", "filter: running only", "Show running tasks"),
    ActionSpec("status('success')", "3", "filter: success only", "Show successful tasks"),
    ActionSpec("status('failed')", "4", "filter: failed only", "Show failed tasks"),
    ActionSpec("status('cancelled')", "5", "filter: cancelled only", "Show cancelled tasks"),
    ActionSpec("status('')", "0", "filter: all statuses", "Show every status"),
    ActionSpec("cycle_sort", "s", "view: cycle sort", "Sort by the next column", "Sort"),
    ActionSpec("sort_path", "S", "view: sort by path", "Sort by any field or JSON path"),
    ActionSpec("toggle_detail", "d", "view: toggle detail pane", "Show the task as YAML",
               "Detail"),
    ActionSpec("top", "g", "view: first task", "Go to the first task"),
    ActionSpec("bottom", "G", "view: last task", "Go to the last task"),
    ActionSpec("reload", "ctrl+r", "view: reload", "Reload the window and counts now"),
    ActionSpec("toggle_mark", "space", "mark: toggle", "Mark or unmark the cursor task", "Mark"),
    ActionSpec("extend_down", "shift+down", "mark: extend down",
               "Mark the cursor task and the one below"),
    ActionSpec("extend_up", "shift+up", "mark: extend up",
               "Mark the cursor task and the one above"),
    ActionSpec("mark_all", "a", "mark: all matching", "Mark every matching task"),
    ActionSpec("clear_marks", "A", "mark: clear", "Unmark every task", "Unmark"),
    ActionSpec("edit", "e", "task: edit as YAML", "Edit marked/cursor tasks in the app", "Edit"),
    ActionSpec("delete", "x,delete", "task: delete", "Delete marked/cursor tasks", "Delete"),
    ActionSpec("reset", "r", "task: reset to pending", "Reset marked/cursor tasks"),
    ActionSpec("cancel_tasks", "c", "task: cancel", "Cancel marked/cursor tasks"),
    ActionSpec("priority", "p", "task: set priority", "Change the priority"),
    ActionSpec("assign", "equals_sign", "task: assign fields", "e.g. args.lr=0.3"),
    ActionSpec("submit", "n", "task: submit new", "Submit a new task", "New"),
    ActionSpec("copy", "y", "task: copy submit command", "Copy a reproducible submit line"),
    ActionSpec("copy_ids", "Y", "mark: copy ids", "Copy the marked task ids, one per line"),
]
