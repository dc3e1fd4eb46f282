"""Output of the read commands, shared by their click commands and the fast entry
(:mod:`.fast_path`): no click here. ``count``'s table or JSON, ids, tasks in every ``ls``
format (:class:`TaskWriter`) and ``export``'s JSON lines."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

#: ``export``'s order: oldest first (then by id: created_at and task_id are the tie-breakers).
EXPORT_ORDER = [("created_at", False)]


def write_counts(counts: dict[str, int], fmt: str) -> None:
    """``count``'s output: per status then the total (a table, or one JSON object)."""
    total = sum(counts.values())
    if fmt == "json":
        import json

        sys.stdout.write(json.dumps({**counts, "total": total}) + "\n")
    else:
        sys.stdout.write("".join(f"{key:<10}{n:>12,}\n" for key, n in counts.items())
                         + f"{'total':<10}{total:>12,}\n")
    sys.stdout.flush()


def write_ids(chunks: Iterable[str]) -> None:
    """``ls -q``: chunks of newline-joined ids."""
    sys.stdout.writelines(c + "\n" for c in chunks)


def write_export(batches: Iterable[list[Any]]) -> None:
    """``export``: one JSON line per task."""
    from ..formats import task_jsonl

    write = sys.stdout.write
    for tasks in batches:
        write("".join([task_jsonl(t) + "\n" for t in tasks]))


class TaskWriter:
    """Tasks in one output format, a batch at a time (the store's and the direct path's)."""

    def __init__(self, kind: str, columns: list[str] | None, sort_keys: list[tuple[str, bool]],
                 out: Any) -> None:
        self.kind, self.columns, self.out = kind, columns, out
        self.first = True
        self.absent = {p for p, _ in sort_keys if "." in p}  # JSON paths no task has yet
        if kind == "json":
            out.write("[")

    @property
    def shows_progress(self) -> bool:
        """Whether the table has the `progress` column (its runs come from the store)."""
        return bool(self.columns) and self.kind == "table" and "progress" in (self.columns or ())

    def batch(self, tasks: list[Any], runs: dict[str, Any] | None = None) -> None:
        """Write a batch; ``runs``: the running tasks' progress, for a `progress` column."""
        from ..formats import write_chunk

        if self.columns and self.kind == "table":
            _write_table(tasks, self.out, first=self.first, columns=self.columns, runs=runs)
        else:
            write_chunk(tasks, self.kind, self.out, first=self.first)
        self.first = self.first and not tasks
        if self.absent:
            self.absent = {p for p in self.absent if not any(_has_path(t, p) for t in tasks)}

    def close(self) -> None:
        if self.kind == "json":
            from ..formats import json_close

            self.out.write(json_close(not self.first))
        if self.absent and not self.first:
            self.out.flush()
            sys.stderr.write(f"Warning: no listed task has {', '.join(sorted(self.absent))}: "
                             "that sort key orders nothing (check the spelling)\n")
            sys.stderr.flush()


def _write_table(tasks: list[Any], out: Any, *, first: bool, columns: list[str],
                 runs: dict[str, Any] | None = None) -> None:
    """The table with extra columns (aligned per batch, like the plain table); `progress`
    shows the run's progress of running tasks (``runs``)."""
    from datetime import UTC, datetime

    from ..formats import TABLE_COLUMNS, table_row
    from ..tui.cells import column_labels, column_text, progress_cell

    if not tasks:
        return
    now = datetime.now(UTC)
    stalled_after = _stalled_after() if runs is not None else 0.0

    def cell(t: Any, p: str) -> str:
        if p == "progress" and runs is not None:
            return progress_cell(t, runs.get(t.task_id), now, stalled_after) or "-"
        return column_text(t, p, now) or "-"

    head = [list(TABLE_COLUMNS) + [label.upper() for label in column_labels(columns)]]
    rows = (head if first else []) + [
        table_row(t, now) + [cell(t, p) for p in columns] for t in tasks]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")


def _stalled_after() -> float:
    from ..eta import stalled_after_setting
    from .context import BadInput

    try:
        return stalled_after_setting()
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def _has_path(task: Any, path: str) -> bool:
    head, *rest = path.split(".")
    node = getattr(task, head, None)
    for seg in rest:
        if not isinstance(node, dict) or seg not in node:
            return False
        node = node[seg]
    return True
