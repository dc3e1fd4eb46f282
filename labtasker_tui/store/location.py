"""Where the database lives: --db, $LABTASKER_TUI_DB, nearest .labtasker/tasks.db, user default."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UserError
from ..settings import ENV_DB, user_data_dir

PROJECT_DIR = ".labtasker"
DB_FILE = "tasks.db"


def find_project_db(start: Path | None = None) -> Path | None:
    """The nearest ``.labtasker/tasks.db`` walking up from ``start`` (as git finds .git)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / PROJECT_DIR / DB_FILE
        if candidate.is_file():
            return candidate
    return None


def normalise_url(url: str) -> str:
    """Accept plain paths and sync driver names; return an async SQLAlchemy URL."""
    if "://" not in url:
        return "sqlite+aiosqlite:///" + str(Path(url).expanduser().resolve())
    scheme, rest = url.split("://", 1)
    if scheme in ("sqlite", "sqlite+pysqlite"):
        return "sqlite+aiosqlite://" + rest
    if scheme in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+asyncpg"):
        return "postgresql+psycopg://" + rest
    return url


def resolve_url(cli_value: str | None = None) -> str:
    """The database URL by precedence; the source is not reported, only the URL."""
    if cli_value:
        return normalise_url(cli_value)
    env = os.environ.get(ENV_DB)
    if env:
        return normalise_url(env)
    found = find_project_db()
    if found is not None:
        return normalise_url(str(found))
    return normalise_url(str(user_data_dir() / DB_FILE))


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, or None for other databases and in-memory SQLite."""
    if not url.startswith("sqlite"):
        return None
    rest = url.split("://", 1)[1]
    if not rest.startswith("/") or rest in ("/", "/:memory:"):
        return None
    return Path(rest[1:].split("?", 1)[0])


def display_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        if ":" in cred:
            cred = cred.split(":", 1)[0] + ":***"
        return f"{scheme}://{cred}@{host}"
    return url


class NoDatabaseError(UserError):
    """A read command named a SQLite file that does not exist (a typo must not create one)."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"no database at {path} (create it with `labtasker-tui init` or"
                         " submit a task)")
        self.path = path


def check_database(url: str, *, create: bool) -> None:
    """Refuse a SQLite URL whose file is missing unless ``create``; with ``create``, make its
    folder. Other databases are not checked here (the server reports them)."""
    path = sqlite_path(url)
    if path is None:
        return
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.exists():
        raise NoDatabaseError(path)
