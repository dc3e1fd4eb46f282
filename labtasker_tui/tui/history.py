"""Filter history kept across sessions, one small JSON file per database.

The file lives under the user's state directory ($XDG_STATE_HOME/labtasker-tui/filter-history,
~/.local/state when unset; the platform's app-data folder on macOS and Windows), named by a
hash of the database URL without its password. A file (not a table) keeps the history private
to the user and needs no schema migration. Saving merges with what is on disk, so two apps on
the same database keep both their filters. Failures to read or write are ignored: history is a
convenience, never a reason to stop.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..settings import user_state_dir

LIMIT = 200


def state_dir() -> Path:
    return user_state_dir()


def database_key(url: str) -> str:
    """The URL without password, hashed: the same database gives the same file."""
    try:
        from sqlalchemy.engine import make_url

        from ..store.location import normalise_url

        url = make_url(normalise_url(url)).set(password=None).render_as_string(
            hide_password=False)
    except Exception:  # noqa: BLE001 - an odd URL still gets a stable key
        pass
    return hashlib.sha256(url.encode()).hexdigest()[:24]


def history_file(url: str) -> Path:
    return state_dir() / "filter-history" / f"{database_key(url)}.json"


def load(url: str) -> list[str]:
    """Oldest first."""
    try:
        data = json.loads(history_file(url).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    items = data.get("filters") if isinstance(data, dict) else None
    return [x for x in items if isinstance(x, str) and x.strip()] if isinstance(items, list) \
        else []


def remember(url: str, text: str) -> list[str]:
    """Add ``text`` as the newest entry (moved there if present); returns the new history."""
    items = [x for x in load(url) if x != text]
    if text.strip():
        items.append(text)
    items = items[-LIMIT:]
    path = history_file(url)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"filters": items}, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass
    return items
