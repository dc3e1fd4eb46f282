"""Shared fixtures: a fresh SQLite database per test, and PostgreSQL when a server is given."""

from __future__ import annotations

import os
import tempfile
import uuid

import pytest

PG_URL = os.environ.get("LABTASKER_TUI_TEST_PG")

os.environ.pop("NO_COLOR", None)
# the direct SQLite path caches compiled filters per user: keep the tests' cache out of $HOME
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="labtasker-test-cache-")


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'tasks.db'}"


def _backends() -> list:
    params = [pytest.param("sqlite", id="sqlite")]
    params.append(pytest.param("pg", id="pg", marks=pytest.mark.skipif(
        not PG_URL, reason="set LABTASKER_TUI_TEST_PG to a PostgreSQL URL to run (.ci/run does)")))
    return params


@pytest.fixture(params=_backends())
def db_url(request, tmp_path) -> str:
    """A database URL; on PostgreSQL a shared server, isolated by a fresh queue name."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'tasks.db'}"
    return PG_URL  # type: ignore[return-value]


@pytest.fixture
def queue(db_url) -> str:
    return "q" + uuid.uuid4().hex[:12]
