"""Read-only YAML view of the task under the cursor."""

from __future__ import annotations

from datetime import datetime

import yaml
from textual.widgets import TextArea

from ...eta import DEFAULT_STALLED_AFTER, RunningTask, progress_text
from ...eta import is_stalled as stalled_at
from ...models import FIELD_ORDER, Task
from ...safe_text import inert_lines
from ...timefmt import elapsed
from ...worker_states import WorkerInfo
from ..worker_info import worker_label

#: what the task is and what it gave first; bookkeeping (ids, times, retries) after
DETAIL_FIRST = ("args", "summary", "metadata", "task_name", "status")
DETAIL_ORDER = DETAIL_FIRST + tuple(k for k in FIELD_ORDER if k not in DETAIL_FIRST)


def task_yaml(task: Task, worker: WorkerInfo | None = None, now: datetime | None = None,
              run: RunningTask | None = None,
              stalled_after: float = DEFAULT_STALLED_AFTER) -> str:
    """The task as YAML, args, summary and metadata first; a running task's worker, run time
    and progress (``run``, flagged when stalled) as trailing comments."""
    record = {k: getattr(task, k) for k in DETAIL_ORDER}
    for key, value in record.items():
        if hasattr(value, "isoformat"):
            record[key] = value.isoformat()
    text = yaml.safe_dump(record, sort_keys=False, allow_unicode=True, width=1000)
    notes: dict[str, str] = {}
    if task.worker_id:
        notes["worker_id:"] = worker_label(task.worker_id, worker, long=True)
    if task.status == "running" and task.start_time is not None and now is not None:
        notes["start_time:"] = f"running for {elapsed(task.start_time, now)}"
        if run is not None and run.progress is not None:
            done = progress_text(run.progress, run.step, run.total,
                                 stalled=stalled_at(run, now, stalled_after))
            moved = f", moved {elapsed(run.moved_at, now)} ago" if run.moved_at else ""
            notes["start_time:"] += f" · progress {done}{moved}"
    # YAML escapes C0/C1 controls itself but keeps bidi controls and separators as they are
    if not notes:
        return inert_lines(text)
    lines = text.split("\n")  # not splitlines(): a value may hold U+2028
    for i, line in enumerate(lines):
        for prefix, note in notes.items():
            if line.startswith(prefix):
                lines[i] = f"{line}  # {note}"
    return inert_lines("\n".join(lines))


class DetailPane(TextArea):
    """Syntax-highlighted YAML of one task (tree-sitter yaml grammar)."""

    def __init__(self, **kwargs) -> None:
        super().__init__("", language="yaml", read_only=True, soft_wrap=True,
                         show_line_numbers=False, **kwargs)
        self.task_id: str | None = None

    def show_task(self, task: Task | None, worker: WorkerInfo | None = None,
                  now: datetime | None = None, run: RunningTask | None = None,
                  stalled_after: float = DEFAULT_STALLED_AFTER) -> None:
        self.task_id = task.task_id if task else None
        self.load_text(task_yaml(task, worker, now, run, stalled_after) if task
                       else "# no task selected\n")
