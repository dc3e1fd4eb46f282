"""Seed a database and save SVG (and PNG) screenshots of the main TUI screens.

    .venv/bin/python scripts/screenshots.py [--out screenshots] [--no-png]

PNGs need `rsvg-convert` (Debian: apt-get install librsvg2-bin). Output is deterministic:
fixed task ids and timestamps, a frozen clock."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from textual.pilot import Pilot  # noqa: E402
from textual.widgets import TextArea  # noqa: E402
from tui import seed as seed_module  # noqa: E402
from tui.conftest import settle  # noqa: E402
from tui.progress_seed import seed_progress  # noqa: E402
from tui.seed import FIXED_NOW, seed, task_uuid  # noqa: E402

from labtasker_tui.tui.app import LIGHT, LabtaskerApp  # noqa: E402

Scene = Callable[[Pilot], Awaitable[None]]


def _realistic(records):
    """The test seed's records with plausible results: accuracy in [0, 1], loss > 0."""
    def make(n: int = 30) -> list[dict]:
        out = records(n)
        for i, rec in enumerate(out):
            if "acc" in rec.get("summary", {}):
                acc = 0.62 + 0.3 * ((i * 37) % 29) / 29
                rec["summary"] = {"acc": round(acc, 4), "loss": round(1.6 - 1.4 * acc, 3)}
        return out
    return make


seed_module.records = _realistic(seed_module.records)


async def task_list(pilot: Pilot) -> None:
    pass


async def detail(pilot: Pilot) -> None:
    await pilot.press("down", "down", "down", "space", "down", "space", "d")


async def filtered(pilot: Pilot) -> None:
    await pilot.press("slash", *"args.lr >= 0.03 and model ==")


async def editor(pilot: Pilot) -> None:
    await pilot.press("space", "down", "space", "e")
    await settle(pilot.app, pilot)
    area = pilot.app.screen.query_one(TextArea)
    area.load_text(area.text.replace("priority: 20", "priority: high", 1))


async def assign(pilot: Pilot) -> None:
    await pilot.press("1", "a")
    await settle(pilot.app, pilot)
    await pilot.press("equals_sign", *"args.lr=0.3")


async def delete(pilot: Pilot) -> None:
    await pilot.press("4", "a")
    await settle(pilot.app, pilot)
    await pilot.press("x")


async def submit(pilot: Pilot) -> None:
    await pilot.press("n", *"-- --lr 0.05 --model vit-b16 --opt.momentum 0.95 --debug")


async def palette(pilot: Pilot) -> None:
    await pilot.press("ctrl+p", *"task")


async def filter_screen(pilot: Pilot) -> None:
    await pilot.press("f")
    await settle(pilot.app, pilot)
    pilot.app.screen.set_text("args.lr >= 0.03 and status in ['success', 'failed']")
    await pilot.pause(0.4)


async def filter_facets(pilot: Pilot) -> None:
    await filter_screen(pilot)
    await settle(pilot.app, pilot)
    await pilot.press("f3")
    pilot.app.screen.pick_path("args.lr")  # a numeric path: ranges
    await pilot.pause(0.1)


LOG_TASK = task_uuid(3)  # running on gpu-a@node1/0
LOG_TEXT = "".join(
    [f"[{LOG_TASK[:8]}] resnet18 lr=0.01 seed=2 on cuda:0\n",
     "loading dataset cifar100 (50000 train / 10000 test)\n"]
    + [f"epoch {e:3d}/200  train_loss={2.9 - e * 0.021:.3f}  val_acc={0.31 + e * 0.0061:.4f}"
       f"  lr={0.01 * 0.97 ** e:.5f}\n" for e in range(1, 71)]
    + ["epoch  71/200  33%|████████▎                | 130/391 [00:14<00:28,  9.1it/s]\r",
       "epoch  71/200  51%|████████████▊            | 200/391 [00:22<00:21,  9.0it/s]"])


async def log_screen(pilot: Pilot) -> None:
    table = pilot.app.screen.table
    table.move_cursor(row=table.get_row_index(LOG_TASK), animate=False)
    await pilot.press("l")


async def extra_columns(pilot: Pilot) -> None:
    pilot.app.screen.set_columns(["args.model", "summary.acc", "summary.loss"])


async def column_picker(pilot: Pilot) -> None:
    await pilot.press("O")
    await pilot.pause()
    await pilot.press("down", "down", "down", "space", "down")


async def results_screen(pilot: Pilot) -> None:
    await pilot.press("R")
    await settle(pilot.app, pilot)
    await pilot.press(*["right"] * 9, "s")  # sort by the accuracy's mean, highest first


async def help_screen(pilot: Pilot) -> None:
    await pilot.press("question_mark")


SCENES: list[tuple[str, Scene, tuple[int, int], str | None]] = [
    ("task-list", task_list, (120, 36), None),
    ("task-list-light", task_list, (120, 36), LIGHT),
    ("detail-pane", detail, (120, 36), None),
    ("filter-error", filtered, (120, 36), None),
    ("editor", editor, (120, 36), None),
    ("assign-preview", assign, (120, 36), None),
    ("delete-confirm", delete, (120, 36), None),
    ("submit-form", submit, (120, 36), None),
    ("command-palette", palette, (120, 36), None),
    ("help", help_screen, (120, 36), None),
    ("log-screen", log_screen, (120, 36), None),
    ("extra-columns", extra_columns, (120, 36), None),
    ("filter-screen", filter_screen, (120, 36), None),
    ("filter-facets", filter_facets, (120, 36), None),
    ("task-list-80x24", task_list, (80, 24), None),
    ("column-picker", column_picker, (120, 36), None),
    ("results", results_screen, (140, 36), None),
    ("log-screen-80x24", log_screen, (80, 24), None),
    ("submit-form-80x24", submit, (80, 24), None),
]


async def running_only(pilot: Pilot) -> None:
    await pilot.press("2")


#: shot after progress reports and finished runs are added to the database (the list shows
#: the progress column; the ETA line has a history)
PROGRESS_SCENES: list[tuple[str, Scene, tuple[int, int], str | None]] = [
    ("task-list-progress", task_list, (120, 36), None),
    ("task-list-progress-running", running_only, (150, 30), None),
]


async def shoot(url: str, out: Path, scenes: list | None = None) -> list[Path]:
    paths = []
    for name, scene, size, theme in SCENES if scenes is None else scenes:
        app = LabtaskerApp(url, now=lambda: FIXED_NOW, live=False, db_label=".labtasker/tasks.db")
        async with app.run_test(size=size, notifications=True) as pilot:
            if theme:
                app.theme = theme
            await settle(app, pilot)
            await scene(pilot)
            await settle(app, pilot)
            await pilot.pause(0.3)
            path = out / f"{name}.svg"
            path.write_text(app.export_screenshot(title="labtasker-tui"), encoding="utf-8")
            paths.append(path)
            print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return paths


def to_png(svg: Path) -> None:
    """rsvg-convert trims leading no-break spaces of text runs: use plain preserved spaces."""
    text = svg.read_text(encoding="utf-8").replace("&#160;", " ")
    text = re.sub(r"<svg ", '<svg xml:space="preserve" ', text, count=1)
    with tempfile.NamedTemporaryFile("w", suffix=".svg", delete=False) as fh:
        fh.write(text)
    subprocess.run(["rsvg-convert", "-b", "#1e1e1e", fh.name, "-o", str(svg.with_suffix(".png"))],
                   check=True)
    Path(fh.name).unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "screenshots"))
    parser.add_argument("--no-png", action="store_true")
    opts = parser.parse_args()
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / ".labtasker"  # run.log files go to .labtasker/logs
        log = project / "logs" / LOG_TASK / "run.log"
        log.parent.mkdir(parents=True)
        log.write_text(LOG_TEXT, encoding="utf-8")
        url = f"sqlite+aiosqlite:///{project}/tasks.db"
        os.chdir(tmp)  # paths on screen are shown relative to the working directory
        asyncio.run(seed(url, 60))
        paths = asyncio.run(shoot(url, out))
        asyncio.run(seed_progress(url))
        paths += asyncio.run(shoot(url, out, PROGRESS_SCENES))
    if not opts.no_png:
        if shutil.which("rsvg-convert") is None:
            print("rsvg-convert not found: skipping PNGs (apt-get install librsvg2-bin)")
        else:
            for path in paths:
                to_png(path)
            print(f"converted {len(paths)} PNGs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
