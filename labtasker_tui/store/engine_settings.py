"""Constants shared by the engine, the schema and the sqlite3 fast path (no heavy imports)."""

from __future__ import annotations

BUSY_TIMEOUT_MS = 30_000
SCHEMA_VERSION = 3
"""v2: JSON columns repaired and guarded by a json_valid CHECK on SQLite (migrations.py).
v3: the edit journal (tables journal and journal_tasks, store/journal.py)."""
