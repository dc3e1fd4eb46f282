"""Where a task's output lives: ``<logs>/<task_id>/run.log``, one rule for the loop that
writes it and the CLI and TUI that read it.

The logs folder is ``.labtasker/logs`` beside a project's SQLite file, else under the working
directory. Only a canonical UUID becomes a folder name (an id is data: it must not climb out
of the logs folder). Light on purpose: the TUI imports it without the worker engine.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from .store.location import PROJECT_DIR, sqlite_path

LOG_FILE = "run.log"
STATUS_FILE = "status.json"


def log_root_for(url: str, cwd: Path | None = None) -> Path:
    """``<dir>/.labtasker/logs`` next to a project's SQLite file, else under the cwd."""
    path = sqlite_path(url)
    if path is not None and path.parent.name == PROJECT_DIR:
        return path.parent / "logs"
    return (cwd or Path.cwd()) / PROJECT_DIR / "logs"


def canonical_task_id(task_id: str) -> bool:
    """Only a canonical UUID may become a directory name under the log root."""
    try:
        return str(uuid.UUID(task_id)) == task_id
    except (ValueError, TypeError, AttributeError):
        return False


def task_log_dir(root: Path, task_id: str) -> Path | None:
    """``root/<task_id>`` (resolved), or None when the id may not name a folder there."""
    if not canonical_task_id(task_id):
        return None
    root = root.resolve()
    path = (root / task_id).resolve()
    return path if path.parent == root else None


def log_path(url: str, task_id: str, root: Path | None = None) -> Path:
    """``<logs>/<task_id>/run.log`` (``root``: the logs folder, else the rule above)."""
    return (root or log_root_for(url)) / task_id / LOG_FILE
