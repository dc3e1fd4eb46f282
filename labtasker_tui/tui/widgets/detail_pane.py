"""Read-only YAML view of the task under the cursor."""

from __future__ import annotations

import yaml
from textual.widgets import TextArea

from ...models import FIELD_ORDER, Task


def task_yaml(task: Task) -> str:
    record = {k: getattr(task, k) for k in FIELD_ORDER}
    for key, value in record.items():
        if hasattr(value, "isoformat"):
            record[key] = value.isoformat()
    return yaml.safe_dump(record, sort_keys=False, allow_unicode=True, width=1000)


class DetailPane(TextArea):
    """Syntax-highlighted YAML of one task (tree-sitter yaml grammar)."""

    def __init__(self, **kwargs) -> None:
        super().__init__("", language="yaml", read_only=True, soft_wrap=True,
                         show_line_numbers=False, **kwargs)
        self.task_id: str | None = None

    def show_task(self, task: Task | None) -> None:
        self.task_id = task.task_id if task else None
        self.load_text(task_yaml(task) if task else "# no task selected\n")
