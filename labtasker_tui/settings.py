"""Environment variable names, per-user directories and database constants: spelled here once.

Directories come from platformdirs (imported when first asked, to keep one-liners fast).
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "labtasker-tui"

# Read by the CLI, the job API and the store.
ENV_DB = "LABTASKER_TUI_DB"
ENV_QUEUE = "LABTASKER_TUI_QUEUE"
ENV_JOURNAL = "LABTASKER_TUI_JOURNAL"
ENV_JOURNAL_KEEP = "LABTASKER_TUI_JOURNAL_KEEP"
ENV_JOURNAL_DAYS = "LABTASKER_TUI_JOURNAL_DAYS"
# A running task whose progress has not moved for this long is stalled (eta.py; "30m").
ENV_STALLED_AFTER = "LABTASKER_TUI_STALLED_AFTER"
# The job API writes a progress-only report at most once per this many seconds (jobapi.py).
ENV_PROGRESS_INTERVAL = "LABTASKER_TUI_PROGRESS_INTERVAL"
# Set by `loop` for each job it starts (read by the job API).
ENV_TASK_ID = "LABTASKER_TASK_ID"
ENV_WORKER_ID = "LABTASKER_WORKER_ID"
ENV_LOG_DIR = "LABTASKER_LOG_DIR"

DEFAULT_QUEUE = "default"

BUSY_TIMEOUT_MS = 30_000
SCHEMA_VERSION = 4
"""v2: JSON columns repaired and guarded by a json_valid CHECK on SQLite (store/migrations.py).
v3: the edit journal (tables journal and journal_tasks, store/journal.py).
v4: tasks.args_hash (labtasker_tui/canonical.py) and its index; the sweeps
table (store/sweeps.py); task_runs (progress reports and finish times, store/progress.py)."""


def env(name: str) -> str | None:
    """The variable's value, or None when unset or empty."""
    return os.environ.get(name) or None


def default_queue() -> str:
    return env(ENV_QUEUE) or DEFAULT_QUEUE


def user_data_dir() -> Path:
    """Where the zero-set-up database lives (``~/.local/share/labtasker-tui`` on Linux)."""
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def user_state_dir() -> Path:
    """Filter history and other state (``~/.local/state/labtasker-tui`` on Linux)."""
    import platformdirs

    return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))


def user_config_dir() -> Path:
    """The keymap and other configuration (``~/.config/labtasker-tui`` on Linux)."""
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
