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
to .labtasker/logs/<task_id>/run.log. Ctrl-C puts running tasks back to pending and stops;
a second Ctrl-C kills the jobs.
"""


def _duration(value: str | None, option: str, *, integer: bool = False) -> Any:
    if value is None:
        return None
    from ..worker.runner import parse_duration

    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None
    if seconds <= 0:
        raise click.BadParameter("must be positive", param_hint=option)
    if integer:
        return max(1, round(seconds))
    return seconds


@click.command("loop", epilog=EXAMPLES,
               context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-c", "--cmd", "--command", "command_str", metavar="CMD",
              help="Command string run with /bin/sh (values are shell-quoted).")
@click.option("-f", "--extra-filter", "filter_text", metavar="FILTER",
              help="Only tasks matching this filter (Python-like or MongoDB syntax).")
@click.option("--required-fields", metavar="a,b.c",
              help="Extra required arg paths, comma separated; `*` allows extra keys.")
@click.option("--eta-max", metavar="DURATION",
              help="Task timeout set at fetch (90, 50s, 1h30m, 1.5h); the job is stopped and"
                   " the task failed when exceeded.")
@click.option("--heartbeat-timeout", default="30", show_default=True, metavar="DURATION",
              help="A task whose worker stops heartbeating for this long is failed/retried.")
@click.option("--gpus", metavar="0,1,...",
              help="One worker per GPU (CUDA_VISIBLE_DEVICES); 0+1 gives a job two GPUs.")
@click.option("--workers", type=int, metavar="N",
              help="Number of parallel workers (spread over --gpus when both are given).")
@click.option("--follow", is_flag=True,
              help="Keep waiting for new tasks instead of exiting when none is left.")
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
         gpus: str | None, workers: int | None, follow: bool, worker_name: str | None,
         worker_id: str | None, max_worker_failures: int, quiet: bool,
         argv: tuple[str, ...]) -> None:
    """Run a command for each pending task: claim, run, heartbeat, report, repeat."""
    from ..worker import template
    from ..worker.claims import parse_required
    from ..worker.runner import LoopConfig, parse_slots

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
    from ..store.errors import UserError

    try:
        parse_required(required)
    except UserError as exc:
        raise click.BadParameter(str(exc), param_hint="--required-fields") from None
    try:
        slots = parse_slots(gpus, workers)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--gpus/--workers") from None
    if worker_id is not None:
        import uuid

        if len(slots) > 1:
            raise click.BadParameter("only with a single worker", param_hint="--worker-id")
        try:
            worker_id = str(uuid.UUID(worker_id))
        except ValueError:
            raise click.BadParameter(f"not a UUID: {worker_id!r}",
                                     param_hint="--worker-id") from None
    if worker_name is not None and not worker_name.strip():
        raise click.BadParameter("empty name", param_hint="--worker-name")
    if max_worker_failures < 0:
        raise click.BadParameter("must be 0 or more", param_hint="--max-worker-failures")

    from .selectors import compile_filter

    compiled = compile_filter(filter_text)
    app = ctx.obj
    cfg = LoopConfig(
        url=app.url, queue=app.queue, command=command, required_fields=required,
        heartbeat_timeout=_duration(heartbeat_timeout, "--heartbeat-timeout"),
        task_timeout=_duration(eta_max, "--eta-max", integer=True), slots=slots,
        follow=follow, worker_max_failures=max_worker_failures, worker_name=worker_name,
        worker_id=worker_id,
        quiet=quiet)
    ctx.exit(_run(app, cfg, compiled))


def _run(app: Any, cfg: Any, compiled: Any) -> int:
    import asyncio

    from ..worker.runner import exit_code, run_loop

    async def main() -> int:
        store = app.store()
        try:
            if compiled is not None:
                from ..query import filter_to_sql

                cfg.where = filter_to_sql(compiled, store.dialect)
            return exit_code(await run_loop(cfg, store=store))
        finally:
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
