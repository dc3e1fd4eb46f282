"""`sweep`: expand a sweep (axes in submit's own argument syntax, or a YAML/JSON file) into
tasks, all in one transaction; `sweep fill NAME` submits what a sweep is missing; `sweep ls`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from .context import AppContext, BadInput, pass_app, pass_app_creating, run

if TYPE_CHECKING:
    from ..store.sweeps import SweepWrite
    from ..sweeps import SweepSpec

EXAMPLES_SWEEP = """
\b
Examples:
  labtasker-tui sweep -- --lr 1e-3,1e-2,1e-1 --model vit,resnet --seed 0..4   # 30 tasks
  labtasker-tui sweep --name lr-grid --dry-run -- --lr 1e-3,1e-2 --opt.momentum 0.9,0.99
  labtasker-tui sweep --zip lr,wd -- --lr 1e-3,1e-2 --wd 1e-4,1e-5 --seed 0..2  # 6 tasks
  labtasker-tui sweep --samples 20 --rng 7 -- --lr 'loguniform(1e-4,1e-1)' --bs 'choice(32,64)'
  labtasker-tui sweep --file sweep.yaml --dry-run --format csv
  labtasker-tui sweep fill lr-grid                    # submit what is missing (deleted, ...)
  labtasker-tui sweep fill lr-grid -- --lr 1e-3,1e-2,1e-1 --opt.momentum 0.9,0.99  # extend
  labtasker-tui sweep ls
  labtasker-tui ls -f "metadata.sweep.name == 'lr-grid'"
\b
Axis values: a,b,c (cast as submit casts) · 0..4 (inclusive) · 0..10..2 (step) ·
  '[1,2]',[3,4] (commas in quotes/brackets do not split) · a\\,b (a literal comma) ·
  uniform(lo,hi) · loguniform(lo,hi) · randint(lo,hi) · choice(a,b,...) (need --samples).
  Order: the product of the axes as written, the last fastest; a --zip group stands where its
  first axis stands; random samples are the outermost loop. One value = fixed (the base).
"""

FORMATS = ("table", "json", "csv")


class SweepGroup(click.Group):
    """``sweep [OPTIONS] -- AXES`` runs ``sweep new``; ``sweep fill|ls|new`` as usual."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["new", *args]
        return super().parse_args(ctx, args)


@click.group(cls=SweepGroup, epilog=EXAMPLES_SWEEP)
def sweep() -> None:
    """Submit a sweep: every combination of the values of the args after `--` (sweep new),
    all in one transaction; each task's metadata.sweep names its sweep."""


def _spec_options(fn: Any) -> Any:
    """Options that make or change a spec (new, and fill with a new spec)."""
    for opt in reversed([
        click.option("--file", "file", type=click.File("r", encoding="utf-8"), default=None,
                     help="A YAML or JSON sweep file (name, base, axes, zip, samples, rng)."),
        click.option("--zip", "zips", multiple=True, metavar="A,B",
                     help="Axes that advance together, same length (repeatable)."),
        click.option("--samples", type=int, default=None,
                     help="Draws of the random axes (each combined with the grid)."),
        click.option("--rng", type=int, default=None,
                     help="Seed of the random draws (default: a new one, printed and kept)."),
        click.option("--args", "args_text", metavar="DICT",
                     help="Base args (JSON or a Python dict); the axes override them."),
        click.option("--metadata", "metadata_text", metavar="DICT",
                     help="Base metadata (JSON or a Python dict)."),
        click.option("--task-name", "task_name", default=None,
                     help="Every task's name (default: the sweep's name)."),
        click.option("--priority", type=int, default=None, help="Higher runs first (10)."),
        click.option("--cmd", "cmd", default=None, help="Command string stored on each task."),
        click.option("--max-retries", type=int, default=None, help="Attempts (default 3)."),
        click.option("--heartbeat-timeout", type=float, default=None, help="Seconds (60)."),
        click.option("--task-timeout", type=int, default=None, help="Seconds (none)."),
    ]):
        fn = opt(fn)
    return fn


def _run_options(fn: Any) -> Any:
    for opt in reversed([
        click.option("--dry-run", is_flag=True,
                     help="Print the configurations and the count; write nothing."),
        click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                     help="--dry-run's output (table, json or csv)."),
        click.option("--max-tasks", type=click.IntRange(min=1), default=None,
                     help="More tasks than this need --yes (default 10,000)."),
        click.option("-y", "--yes", is_flag=True, help="Allow more than --max-tasks."),
        click.option("-q", "--quiet", is_flag=True, help="Print only the new task ids."),
        click.option("--dedup", type=click.Choice(["skip", "allow", "error"]), default="skip",
                     help="Configurations (args, cmd) already in the queue: leave them out"
                          " (skip, the default), submit them again (allow), or write nothing"
                          " and exit 2 (error)."),
        click.option("--requeue-failed", is_flag=True,
                     help="Failed tasks with a configuration of this sweep go back to pending"
                          " (attempts reset), in the same transaction."),
    ]):
        fn = opt(fn)
    return fn


@sweep.command("new", epilog=EXAMPLES_SWEEP)
@click.option("--name", default=None, help="The sweep's name (default: generated, printed).")
@_spec_options
@_run_options
@click.argument("tokens", nargs=-1, type=click.UNPROCESSED)
@pass_app_creating
def new(app: AppContext, name: str | None, tokens: tuple[str, ...], dry_run: bool, fmt: str,
        max_tasks: int | None, yes: bool, quiet: bool, dedup: str, requeue_failed: bool,
        **spec_opts: Any) -> None:
    """Submit a new sweep: the product of the axes after `--` (or of a sweep file)."""
    from ..sweeps import new_sweep_id

    spec = _make_spec(tokens, spec_opts, name=name)
    n = _checked_count(spec, max_tasks, yes, dry_run)
    if dry_run:
        _print_dry_run(spec, spec.task_specs(spec.name or "NAME", "ID"), fmt, n, None)
        return
    sweep_name = spec.name or _free_name(app, spec)
    sweep_id = new_sweep_id()
    done = submit_specs(app, sweep_name, sweep_id, spec, _expand(spec, sweep_name, sweep_id),
                        fill=False, dedup=dedup, requeue_failed=requeue_failed)
    _report(done, quiet, f"Submitted {len(done.ids):,} task{'s' * (len(done.ids) != 1)}: "
                         f"sweep {done.record.name} (id {done.record.sweep_id}).", spec)


@sweep.command("fill", epilog=EXAMPLES_SWEEP)
@click.argument("name")
@_spec_options
@_run_options
@click.argument("tokens", nargs=-1, type=click.UNPROCESSED)
@pass_app
def fill(app: AppContext, name: str, tokens: tuple[str, ...], dry_run: bool, fmt: str,
         max_tasks: int | None, yes: bool, quiet: bool, dedup: str, requeue_failed: bool,
         **spec_opts: Any) -> None:
    """Submit the tasks a sweep is missing: its spec expanded again, less the configurations
    its tasks already have (any status; args compared canonically). With axes after `--` or
    --file, that new spec replaces the stored one (extending the sweep); unchanged options
    (base, --rng, --samples) are kept from the stored spec."""
    from ..store.sweeps import get_sweep, present_args
    from ..sweeps import missing_specs, spec_from_stored

    record = run(app, lambda store: get_sweep(store, name))
    if record is None:
        raise BadInput(f"no sweep named {name!r} in queue {app.queue!r} (see `sweep ls`)")
    stored = _user_errors(lambda: spec_from_stored(record.spec, name))
    changed = bool(tokens) or spec_opts.get("file") is not None
    spec = _make_spec(tokens, spec_opts, name=name, stored=stored) if changed else stored
    if not changed and any(v not in (None, ()) for v in spec_opts.values()):
        raise BadInput("options that change the spec need the axes too (after `--` or "
                       "--file); without them, fill uses the stored spec as it is")
    n = _checked_count(spec, max_tasks, yes, dry_run)
    specs = _expand(spec, name, record.sweep_id)
    if dry_run:
        present = run(app, lambda store: present_args(store, record.sweep_id))
        todo = missing_specs(specs, present)
        _print_dry_run(spec, todo, fmt, n, len(specs) - len(todo))
        return
    done = submit_specs(app, name, record.sweep_id, spec, specs, fill=True, dedup=dedup,
                        requeue_failed=requeue_failed)
    _report(done, quiet, f"Sweep {name}: submitted {len(done.ids):,} missing task"
                         f"{'s' * (len(done.ids) != 1)} ({done.present:,} already present).",
            spec)


@sweep.command("ls")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_app
def ls(app: AppContext, fmt: str) -> None:
    """The sweeps of the queue, with their tasks' counts by status."""
    from ..lifecycle import STATUSES
    from ..store.sweeps import list_sweeps, sweep_counts

    async def go(store: Any) -> list[tuple[Any, dict[str, int]]]:
        return [(r, await sweep_counts(store, r)) for r in await list_sweeps(store)]

    rows = run(app, go)
    if fmt == "json":
        click.echo(json.dumps([{"name": r.name, "id": r.sweep_id,
                                "created_at": r.created_at.isoformat(),
                                "updated_at": r.updated_at.isoformat(),
                                "tasks": sum(c.values()), "by_status": c}
                               for r, c in rows], ensure_ascii=False))
        return
    if not rows:
        click.echo(f"No sweeps in queue {app.queue!r}.", err=True)
        return
    from ..sweeps import format_table

    header = ["name", "id", "tasks", *STATUSES, "updated"]
    body = [[r.name, r.sweep_id, sum(c.values()), *(c[s] for s in STATUSES),
             r.updated_at.strftime("%Y-%m-%d %H:%M")] for r, c in rows]
    click.echo(format_table(header, body, numbered=False))


# -- the parts ---------------------------------------------------------------------------------

def submit_specs(app: AppContext, name: str, sweep_id: str, spec: SweepSpec,
                 specs: list[dict[str, Any]], *, fill: bool, dedup: str = "skip",
                 requeue_failed: bool = False) -> SweepWrite:
    """The one place a sweep's tasks are written (one transaction, with the spec), through
    the queue's deduplication (``--dedup``, ``--requeue-failed``)."""
    from ..store.sweeps import write_sweep

    stored = spec.to_stored()
    return run(app, lambda store: write_sweep(store, name, sweep_id, stored, specs, fill=fill,
                                              policy=dedup, requeue_failed=requeue_failed))


def _free_name(app: AppContext, spec: SweepSpec) -> str:
    """A generated name not yet used in the queue."""
    from ..store.sweeps import get_sweep
    from ..sweeps import generated_name

    while True:
        name = generated_name(spec)
        if run(app, lambda store, name=name: get_sweep(store, name)) is None:
            return name


def _user_errors(fn: Any) -> Any:
    """Core errors (exit 2) raised outside a store call, as one-line BadInput."""
    from ..errors import UserError

    try:
        return fn()
    except UserError as exc:
        raise BadInput(exc.user_message) from None


def _make_spec(tokens: tuple[str, ...], opts: dict[str, Any], *, name: str | None,
               stored: SweepSpec | None = None) -> SweepSpec:
    """The spec from a file or the tokens after `--`, with the base options laid over it
    (over ``stored``'s base, rng and samples when extending a sweep)."""
    from ..args import parse_dict_literal
    from ..sweeps import spec_from_cli

    file = opts.pop("file")
    zips = opts.pop("zips")
    samples, rng = opts.pop("samples"), opts.pop("rng")
    base_opts = {"args": opts.pop("args_text"), "metadata": opts.pop("metadata_text"),
                 "task_name": opts.pop("task_name"), "priority": opts.pop("priority"),
                 "cmd": opts.pop("cmd"), "max_retries": opts.pop("max_retries"),
                 "heartbeat_timeout": opts.pop("heartbeat_timeout"),
                 "task_timeout": opts.pop("task_timeout")}

    def make() -> SweepSpec:
        from ..sweeps_syntax import tokenise_axes

        base: dict[str, Any] = dict(stored.base) if stored is not None else {}
        for key, value in base_opts.items():
            if value is None:
                continue
            if key in ("args", "metadata"):
                value = parse_dict_literal(value, key) or {}
            base[key] = value
        if file is not None:
            if tokens or zips:
                raise BadInput("--file holds the axes: give no axes after `--` and no --zip")
            from ..sweeps import load_file

            spec = load_file(getattr(file, "name", "<file>"), file.read(), check=False)
            spec.base = {**spec.base, **{k: v for k, v in base.items()
                                         if base_opts.get(k) is not None}}
            if name is not None:
                spec.name = name
        else:
            raw_axes, dropped = tokenise_axes(list(tokens))
            for flag in dropped:
                click.echo(f"Warning: {flag} has no value and was dropped "
                           f"(write {flag}=VALUE to keep it)", err=True)
            spec = spec_from_cli(raw_axes, zips, base, None, None, name, check=False)
        if samples is not None:
            spec.samples = samples
        elif spec.samples is None and stored is not None and spec.random_axes:
            spec.samples = stored.samples
        if rng is not None:
            spec.rng = rng
        elif spec.rng is None and stored is not None:
            spec.rng = stored.rng
        if spec.random_axes and spec.rng is None:
            import secrets

            spec.rng = secrets.randbelow(2 ** 31)
        if not spec.random_axes:
            spec.rng = None
        spec.validate()
        return spec

    return _user_errors(make)  # type: ignore[no-any-return]


def _checked_count(spec: SweepSpec, max_tasks: int | None, yes: bool, dry_run: bool) -> int:
    from ..sweeps import DEFAULT_MAX_TASKS

    cap = max_tasks or DEFAULT_MAX_TASKS
    n = _user_errors(lambda: spec.check_cap(cap, yes=yes or dry_run))
    if dry_run and n > cap and not yes:
        click.echo(f"Note: {n:,} tasks is more than --max-tasks {cap:,}: submitting needs --yes.",
                   err=True)
    return int(n)


def _expand(spec: SweepSpec, name: str, sweep_id: str) -> list[dict[str, Any]]:
    return _user_errors(lambda: spec.task_specs(name, sweep_id))  # type: ignore[no-any-return]


def _print_dry_run(spec: SweepSpec, specs: list[dict[str, Any]], fmt: str, n: int,
                   present: int | None) -> None:
    """The configurations of ``specs`` (checked as the store checks them), one row each."""
    from datetime import UTC, datetime

    from ..store.rows import new_task_row
    from ..sweeps import format_table, summary_line

    now = datetime.now(UTC)
    for i, task_spec in enumerate(specs):
        try:
            new_task_row(task_spec, "q", now)
        except ValueError as exc:
            raise BadInput(f"task {i + 1}: {exc}") from None
    paths = spec.varying_paths or [a.path for a in spec.axes]
    rows = [[_at(s["args"], p) for p in paths] for s in specs]
    if fmt == "json":
        click.echo(json.dumps([dict(zip(paths, r, strict=True)) for r in rows],
                              ensure_ascii=False))
    elif fmt == "csv":
        import csv
        import sys

        from ..sweeps_syntax import show_value

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(paths)
        writer.writerows([[show_value(v) for v in r] for r in rows])
    elif rows:
        click.echo(format_table(paths, rows))
    line = summary_line(spec)
    if present is not None:
        line += f"; {present:,} present, {len(specs):,} missing"
    name = f" · sweep {spec.name}" if spec.name else ""
    click.echo(f"{line}{name} · dry run, nothing written", err=True)


def _at(args: dict[str, Any], path: str) -> Any:
    value: Any = args
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _report(done: SweepWrite, quiet: bool, message: str, spec: SweepSpec) -> None:
    from .submit_cmd import report_outcome

    report_outcome(done.outcome, quiet, only_duplicates=not done.outcome.total,
                   label="missing from the sweep: " if done.present else "")
    if quiet:
        for task_id in done.ids:
            click.echo(task_id)
        return
    click.echo(message)
    if spec.random_axes:
        click.echo(f"Random draws: {spec.samples} samples, rng {spec.rng} (kept with the sweep; "
                   "`sweep fill` draws the same).", err=True)
