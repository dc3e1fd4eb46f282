"""Fault-injection suite: real processes against a real database file or server.

Every test here asserts on the database afterwards (counts, values, no task run twice).
Helpers: ``cli`` runs ``labtasker-tui`` in a child process; ``sqlite_db`` is a fresh,
initialised SQLite file; ``fault_url`` is SQLite always and PostgreSQL when
``LABTASKER_TUI_TEST_PG`` names a server (each test gets its own queue).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

PG_URL = os.environ.get("LABTASKER_TUI_TEST_PG")
CLI = [sys.executable, "-m", "labtasker_tui"]


def cli(db: str, *args: str, queue: str = "default", input: str | bytes | None = None,
        cwd: Path | str | None = None, timeout: float = 60, env: dict | None = None,
        text: bool = True) -> subprocess.CompletedProcess:
    """Run ``labtasker-tui --db DB --queue Q ARGS`` in a child process."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("NO_COLOR", None)
    return subprocess.run([*CLI, "--db", db, "--queue", queue, *args], input=input,
                          capture_output=True, text=text, cwd=cwd, timeout=timeout,
                          env=full_env)


def popen(db: str, *args: str, queue: str = "default", cwd: Path | str | None = None,
          env: dict | None = None, **kw) -> subprocess.Popen:
    full_env = {**os.environ, **(env or {})}
    return subprocess.Popen([*CLI, "--db", db, "--queue", queue, *args], cwd=cwd,
                            env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def wait_for(pred: Callable[[], object], timeout: float = 20.0, step: float = 0.05) -> object:
    """Poll ``pred`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout}s")


def sqlite_rows(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Read the file with the standard sqlite3 module (independent of the code under test)."""
    con = sqlite3.connect(path, timeout=30)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


@pytest.fixture
def sqlite_db(tmp_path) -> Path:
    """A fresh SQLite database file with the schema created through ``init``."""
    path = tmp_path / "tasks.db"
    res = cli(str(path), "init")
    assert res.returncode == 0, res.stderr
    return path


def _backends() -> list:
    return [pytest.param("sqlite", id="sqlite"),
            pytest.param("pg", id="pg", marks=pytest.mark.skipif(
                not PG_URL, reason="set LABTASKER_TUI_TEST_PG to run (.ci/run does)"))]


@pytest.fixture(params=_backends())
def fault_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "tasks.db"
        assert cli(str(path), "init").returncode == 0
        return f"sqlite:///{path}"
    return PG_URL  # type: ignore[return-value]


@pytest.fixture
def fault_queue() -> str:
    return "f" + uuid.uuid4().hex[:12]
