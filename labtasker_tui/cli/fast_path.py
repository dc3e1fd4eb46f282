"""The program's fast entry for the read commands scripts repeat in shell loops: ``count``,
``ls`` (headless) and ``export`` on a SQLite file, answered through the direct sqlite3 path
without loading click (a third of such a command's own time).

Only plain spellings are taken here: ``--db``/``--queue`` then the command and its options,
each option as ``--name VALUE``, ``--name=VALUE`` or ``-x VALUE``, with valid values, a
filter already in the compiled-filter cache, whole ids. Anything else (help, an unknown or
bundled option, a value click would refuse, a new filter, another database, the app) returns
None before anything is written or opened for writing, and :mod:`.main` runs the command
through click: errors are click's, word for word. Tests compare both ways' output and exit
codes.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

_QUEUE = re.compile(r"[a-zA-Z0-9_-]{1,100}")
_SELECTORS = {"-f": "filter", "--extra-filter": "filter", "-s": "status", "--status": "status",
              "--name": "name", "--task-name": "name", "--id": "ids", "--task-id": "ids"}
_VALUES: dict[str, dict[str, str]] = {
    "count": {**_SELECTORS, "--format": "fmt"},
    "export": _SELECTORS,
    "ls": {**_SELECTORS, "-S": "sort", "--sort": "sort", "--limit": "limit",
           "--offset": "offset", "--format": "fmt", "--view": "view", "--columns": "columns"},
}
_FLAGS: dict[str, dict[str, str]] = {
    "count": {}, "export": {},
    "ls": {"-q": "quiet", "--quiet": "quiet", "--no-pager": "no_pager"},
}
_FORMATS = {"count": ("table", "json"), "ls": ("table", "yaml", "json", "jsonl")}
_MULTIPLE = ("ids", "sort")


class Target:
    """The database and queue (what :class:`.context.AppContext` gives the direct reads)."""

    def __init__(self, db: str | None, queue: str) -> None:
        self.db, self.queue = db, queue

    @property
    def url(self) -> str:
        from ..store.location import resolve_url

        return resolve_url(self.db)


def parse(argv: list[str]) -> tuple[str, Target, dict[str, Any]] | None:
    """(command, target, options) for a plain spelling of count, ls or export; else None."""
    from ..settings import default_queue

    glob: dict[str, Any] = {}
    i = _options(argv, 0, {"--db": "db", "--queue": "queue"}, {}, glob, stop=True)
    if i is None or i >= len(argv) or argv[i] not in _VALUES:
        return None
    cmd = argv[i]
    opts: dict[str, Any] = {}
    if _options(argv, i + 1, _VALUES[cmd], _FLAGS[cmd], opts) is None:
        return None
    queue = glob.get("queue", default_queue())
    if not _QUEUE.fullmatch(queue) or not _valid(cmd, opts):
        return None
    return cmd, Target(glob.get("db"), queue), opts


def _options(argv: list[str], i: int, values: dict[str, str], flags: dict[str, str],
             out: dict[str, Any], stop: bool = False) -> int | None:
    """Read options from ``argv[i:]`` into ``out``; the index where they end (``stop``: at
    the first word that is not an option), or None for anything unusual."""
    while i < len(argv):
        arg = argv[i]
        if arg in flags:
            out[flags[arg]] = True
            i += 1
            continue
        if arg.startswith("--") and "=" in arg:
            name, value = arg.split("=", 1)
            i += 1
        elif arg in values and i + 1 < len(argv):
            name, value = arg, argv[i + 1]
            i += 2
        elif stop and not arg.startswith("-"):
            return i
        else:
            return None
        if name not in values or value == "--":
            return None
        dest = values[name]
        if dest in _MULTIPLE:
            out.setdefault(dest, []).append(value)
        else:
            out[dest] = value  # repeated: the last one, as click
    return i


def _valid(cmd: str, opts: dict[str, Any]) -> bool:
    from ..lifecycle import STATUSES

    if "status" in opts and opts["status"] not in STATUSES:
        return False
    if "fmt" in opts and opts["fmt"] not in _FORMATS[cmd]:
        return False
    if opts.get("filter", "").startswith("@"):  # a filter file: click reads it
        return False
    for key in ("limit", "offset"):
        if key in opts:
            if not (opts[key].isascii() and opts[key].isdigit()):
                return False
            opts[key] = int(opts[key])
    return True


def run_fast(argv: list[str]) -> int | None:
    """Run the command when this entry can (see the module docstring): its exit code, or
    None for click to run it."""
    parsed = parse(argv)
    if parsed is None:
        return None
    cmd, target, opts = parsed
    from .process import exit_on_interrupt, guard_pipe

    exit_on_interrupt()
    try:
        write = _prepare(cmd, target, opts)
    except Exception:  # noqa: BLE001 - whatever went wrong, click runs it and says it
        return None
    if write is None:
        return None
    try:
        guard_pipe(write)
    except Exception as exc:
        show = getattr(exc, "show", None)  # the direct path's errors are click's exceptions
        if show is None:
            raise
        show()
        return int(exc.exit_code)  # type: ignore[attr-defined]
    return 0


def _prepare(cmd: str, target: Target, opts: dict[str, Any]) -> Callable[[], None] | None:
    """Open the direct path for the command; the function that writes its output, or None
    when click must run it. Nothing is written here."""
    from . import direct_reads

    ids: list[str] = opts.get("ids", [])
    name, status = opts.get("name"), opts.get("status")
    filter_text: str | None = opts.get("filter")
    sort_keys: list[tuple[str, bool]] = []
    columns = None
    if cmd == "ls":
        if not (opts.get("quiet") or opts.get("no_pager") or "fmt" in opts):
            from .process import interactive

            if interactive():
                return None  # the app
        if "sort" in opts:
            from ..sorting import parse_sort_options

            sort_keys = parse_sort_options(opts["sort"])
        if "columns" in opts:
            from ..tui.cells import parse_columns

            columns = parse_columns(opts["columns"])
    con = direct_reads.connect(target, ids)
    if con is None:
        return None
    if cmd == "ls" and "view" in opts:
        found = direct_reads.view(con, target, opts["view"])
        if found is None:
            con.close()
            return None
        filter_text, sort_keys, columns = direct_reads.merge_view(found, filter_text,
                                                                  sort_keys, columns)
    if (cmd == "ls" and columns and "progress" in columns and not opts.get("quiet")
            and (opts.get("fmt") or "table") == "table"):
        con.close()  # the progress column reads the runs through the store (ls_cmd)
        return None
    if filter_text is not None and filter_text.strip():
        from ..store import sql_cache

        if sql_cache.lookup(filter_text) is None:  # a new filter: click parses and compiles
            con.close()
            return None
    plan = direct_reads.plan(target, filter_text, ids, con)
    if plan.con is None:
        return None
    app: Any = target
    return _writer(cmd, plan, app, tuple(ids), name, status, sort_keys, columns, opts)


def _writer(cmd: str, plan: Any, app: Any, ids: tuple[str, ...], name: str | None,
            status: str | None, sort_keys: list[tuple[str, bool]], columns: list[str] | None,
            opts: dict[str, Any]) -> Callable[[], None]:
    from . import direct_output, direct_reads

    if cmd == "count":
        return lambda: direct_output.write_counts(
            direct_reads.count_by_status(plan, app, ids, name, status), opts.get("fmt", "table"))
    if cmd == "export":
        return lambda: direct_output.write_export(direct_reads.task_batches(
            plan, app, ids, name, status, direct_output.EXPORT_ORDER, 0, 0, batch=1000))
    limit, offset = opts.get("limit", 0), opts.get("offset", 0)
    if opts.get("quiet"):
        return lambda: direct_output.write_ids(direct_reads.ids(
            plan, app, ids, name, status, limit, offset, sort_keys))

    def write() -> None:
        writer = direct_output.TaskWriter(opts.get("fmt") or "table", columns, sort_keys,
                                          sys.stdout)
        for tasks in direct_reads.task_batches(plan, app, ids, name, status, sort_keys, limit,
                                               offset, batch=500):
            writer.batch(tasks)
        writer.close()

    return write
