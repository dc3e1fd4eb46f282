"""The app's start-up on an existing SQLite file with the current schema: checked with sqlite3,
no probe through a second engine; the app's store skips its own schema check."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner

from labtasker_tui.cli.main import cli
from labtasker_tui.tui import app as app_module


def test_a_current_sqlite_file_opens_without_the_probe(tmp_path, monkeypatch):
    db = tmp_path / "t.db"
    assert CliRunner().invoke(cli, ["--db", str(db), "submit", "-q", "--", "--a", "1"]
                              ).exit_code == 0
    seen: dict[str, Any] = {}

    async def no_probe(url: str, queue: str) -> None:
        raise AssertionError("probed")

    def fake_run(self: Any) -> int:
        seen["ready"] = self.store._ready
        return 0

    monkeypatch.setattr(app_module, "_probe", no_probe)
    monkeypatch.setattr(app_module.LabtaskerApp, "run", fake_run)
    assert app_module.run_app(f"sqlite+aiosqlite:///{db}") == 0
    assert seen == {"ready": True}


def test_an_older_or_missing_schema_still_takes_the_probe(tmp_path, monkeypatch):
    import sqlite3

    db = tmp_path / "old.db"
    sqlite3.connect(db).close()  # a file without the schema: the probe creates it
    probed: list[str] = []
    real = app_module._probe

    async def probe(url: str, queue: str) -> None:
        probed.append(url)
        await real(url, queue)

    monkeypatch.setattr(app_module, "_probe", probe)
    monkeypatch.setattr(app_module.LabtaskerApp, "run", lambda self: 0)
    assert app_module.run_app(f"sqlite+aiosqlite:///{db}") == 0
    assert probed
