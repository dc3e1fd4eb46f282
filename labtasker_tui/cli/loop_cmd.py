"""``labtasker-tui loop``: run a command over pending tasks, on one or many slots."""

from __future__ import annotations

from typing import Any

import click

EXAMPLES = """
\b
Examples:
  labtasker-tui loop -- python train.py --lr %(lr) --model %(model.name)
  labtasker-tui loop -c 'python train.py --lr %(lr) > out_%(lr).txt'
  labtasker-tui loop -f "args.lr > 0.01" --eta-max 1h30m -- python train.py --lr %(lr)
  labtasker-tui loop --gpus 0,1,2,3 -- python train.py --lr %(lr)   # one worker per GPU
  labtasker-tui loop --workers 8 --follow -c 'sh job.sh %(i)'         # 8 workers, keep waiting

\b
%(a.b) is replaced by the task's args.a.b. After `--` the command runs without a shell and
values are passed verbatim; with -c it runs through /bin/sh and every value is shell-quoted.
The placeholders are the required fields: a worker takes only tasks whose args have exactly
those keys (add more with --required-fields; `*` allows extra keys). A task whose value is
null fails (and is retried per max_retries). Jobs see LABTASKER_TASK_ID, LABTASKER_WORKER_ID,
LABTASKER_LOG_DIR, LABTASKER_TUI_DB and CUDA_VISIBLE_DEVICES (with --gpus); output also goes
to .labtasker/logs/<task_id>/run.log. Ctrl-C (or SIGTERM, SIGHUP) puts running tasks back to
pending and stops; a second Ctrl-C kills the jobs. Jobs never outlive their loop: if it is
killed (even with kill -9) a helper process kills them, and a job whose heartbeat cannot be
written (database down) is killed before its task can be given to another worker.

\b
When pending tasks exist but none matches (-f, or the exact-keys rule), the loop says why,
with counts of the keys that differ, and how to match them.
Exit codes: 0 done; 1 database error or a worker crashed; 2 bad input; 3 nothing to run:
pending tasks exist but none matched (never with --follow, which keeps waiting); 130 Ctrl-C.
"""


def _bad(option: str, message: str) -> click.ClickException:
    """One line on stderr, exit 2."""
    from .context import BadInput

    return BadInput(f"{option}: {message}")


def _duration(value: str | None, option: str, *, integer: bool = False,
              minimum: float = 0.0) -> Any:
    if value is None:
        return None
    import math

    from ..worker.config import MAX_SECONDS, parse_duration

    if value.strip().startswith("-"):
        raise _bad(option, f"must be positive, not {value!r}")
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise _bad(option, str(exc)) from None
    if not math.isfinite(seconds) or seconds > MAX_SECONDS:
        raise _bad(option, f"{value!r} is longer than 10 years")
    if seconds <= 0:
        raise _bad(option, "must be positive")
    if seconds < minimum:
        raise _bad(option, f"must be at least {minimum:g}s")
    if integer:
        return max(1, round(seconds))
    return seconds


def _exit_on_early_interrupt(ctx: click.Context) -> None:
    """Ctrl-C before the loop has its own handlers (while modules load, or while it waits for a
    locked database to register its workers) exits 130 at once: no job runs yet, and the
    database rolls back whatever transaction was open. The loop replaces this handler."""
    import os
    import signal

    def stop(_sig: int, _frame: object) -> None:
        os.write(2, b"Interrupted.\n")
        os._exit(130)

    previous = signal.signal(signal.SIGINT, stop)
    ctx.call_on_close(lambda: signal.signal(signal.SIGINT, previous))


@click.command("loop", epilog=EXAMPLES,
               context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-c", "--cmd", "--command", "command_str", metavar="CMD",
              help="Command string run with /bin/sh (values are shell-quoted).")
@click.option("-f", "--extra-filter", "filter_text", metavar="FILTER",
              help="Only tasks matching this filter (Python-like or MongoDB syntax).")
@click.option("--required-fields", metavar="a,b.c",
              help="Extra required arg paths, comma separated; `*` allows extra keys.")
@click.option("--eta-max", "--task-timeout", "eta_max", metavar="DURATION",
              help="Task timeout set at fetch (90, 50s, 1h30m, 1.5h); the job is stopped and"
                   " the task failed when exceeded.")
@click.option("--heartbeat-timeout", default="30", show_default=True, metavar="DURATION",
              help="A task whose worker stops heartbeating for this long is failed/retried"
                   " (at least 1s). A job whose heartbeat cannot be written for most of"
                   " this time is killed, so a task never runs twice.")
@click.option("--gpus", metavar="0,1,...",
              help="One worker per GPU (CUDA_VISIBLE_DEVICES); 0+1 gives a job two GPUs.")
@click.option("--workers", type=int, metavar="N",
              help="Number of parallel workers (spread over --gpus when both are given).")
@click.option("--follow", is_flag=True,
              help="Keep waiting for new tasks instead of exiting when none is left.")
@click.option("--poll-interval", default="2", show_default=True, metavar="DURATION",
              help="With --follow: how often an idle worker looks for new tasks.")
@click.option("--worker-name", metavar="NAME", help="A name for the worker(s) in `worker ls`.")
@click.option("--worker-id", metavar="ID",
              help="Re-use this worker id (created if new). One slot only.")
@click.option("--max-worker-failures", type=int, default=3, show_default=True, metavar="N",
              help="A worker stops after N task failures in total (0: never).")
@click.option("-q", "--quiet", is_flag=True, help="No per-task progress lines on stderr.")
@click.argument("argv", nargs=-1, type=click.UNPROCESSED, metavar="[-- COMMAND...]")
@click.pass_context
def loop(ctx: click.Context, command_str: str | None, filter_text: str | None,
         required_fields: str | None, eta_max: str | None, heartbeat_timeout: str,
         gpus: str | None, workers: int | None, follow: bool, poll_interval: str,
         worker_name: str | None,
         worker_id: str | None, max_worker_failures: int, quiet: bool,
         argv: tuple[str, ...]) -> None:
    """Run a command for each pending task: claim, run, heartbeat, report, repeat."""
    _exit_on_early_interrupt(ctx)
    from ..store.claims import parse_required
    from ..worker import template
    from ..worker.config import LoopConfig, parse_slots

    if command_str is not None and argv:
        raise click.UsageError("give the command either with -c or after --, not both")
    if command_str is None and not argv:
        raise click.UsageError("no command: use -c 'CMD' or -- COMMAND ARGS...")
    command: str | list[str] = command_str if command_str is not None else list(argv)
    if isinstance(command, str) and not command.strip():
        raise click.UsageError("empty command")
    try:
        template.validate(command)
        required = template.required_fields(command)
    except template.TemplateError as exc:
        raise click.UsageError(f"bad command template: {exc}") from None
    if required_fields:
        required += [f.strip() for f in required_fields.split(",")]
    from ..errors import UserError

    try:
        parse_required(required)
    except UserError as exc:
        raise _bad("--required-fields", str(exc)) from None
    try:
        slots = parse_slots(gpus, workers)
    except ValueError as exc:
        raise _bad("--gpus/--workers", str(exc)) from None
    if worker_id is not None:
        import uuid

        if len(slots) > 1:
            raise _bad("--worker-id", "only with a single worker")
        try:
            worker_id = str(uuid.UUID(worker_id))
        except ValueError:
            raise _bad("--worker-id", f"not a UUID: {worker_id!r}") from None
    if worker_name is not None and not worker_name.strip():
        raise _bad("--worker-name", "empty name")
    if max_worker_failures < 0:
        raise _bad("--max-worker-failures", "must be 0 or more")

    from .selectors import compile_filter

    compiled = compile_filter(filter_text)
    app = ctx.obj
    cfg = LoopConfig(
        url=app.url, queue=app.queue, command=command, required_fields=required,
        heartbeat_timeout=_duration(heartbeat_timeout, "--heartbeat-timeout", minimum=1.0),
        task_timeout=_duration(eta_max, "--eta-max/--task-timeout", integer=True), slots=slots,
        follow=follow, poll_interval=_duration(poll_interval, "--poll-interval", minimum=0.05),
        worker_max_failures=max_worker_failures, worker_name=worker_name,
        worker_id=worker_id,
        quiet=quiet)
    try:
        cfg.validate()
    except ValueError as exc:
        raise _bad("loop", str(exc)) from None
    ctx.exit(_run(app, cfg, compiled))


def _run(app: Any, cfg: Any, compiled: Any) -> int:
    import asyncio
    import os
    import sys

    from ..worker.runner import exit_code, run_loop

    async def main() -> int:
        store = app.store()
        abandoned = False
        try:
            if compiled is not None:
                from ..query import filter_to_sql

                cfg.where = filter_to_sql(compiled, store.dialect)
            stats = await run_loop(cfg, store=store)
            abandoned = stats.abandoned
            if stats.fatal and not stats.registered:  # e.g. a corrupt file: one line, exit 1
                from .context import database_error

                raise database_error(stats.fatal.removeprefix("database error: "), app.url)
            return exit_code(stats)
        finally:
            if abandoned:
                # a database call is still blocked in its thread (Ctrl-C while the database
                # was locked or unreachable): the jobs are gone, leave without waiting on it
                code = exit_code(stats)
                for stream in (sys.stdout, sys.stderr):
                    try:
                        stream.flush()
                    except (OSError, ValueError):
                        pass
                os._exit(code)
            await store.close()

    try:
        return asyncio.run(main())
    except click.ClickException:
        raise
    except Exception as exc:  # noqa: BLE001 - one-line message, exit 1 or 2
        from .context import translate_errors

        mapped = translate_errors(exc, app.url)
        if mapped is None:
            raise
        raise mapped from None
