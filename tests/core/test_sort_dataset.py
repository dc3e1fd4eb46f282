"""`ls -S PATH` over the 400 adversarial tasks follows the BSON cross-type order (spec §3.4)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
import reference_eval as ref
from click.testing import CliRunner

from labtasker_tui.cli.main import cli

TASKS = Path(__file__).resolve().parents[3] / "shared" / "filters" / "tasks.json"
PATHS = ["args.lr", "args.model", "args.nums", "args.layers.0.units", "metadata.tags",
         "metadata.nested.a.b.c", "summary.best.acc", "args.model.arch.depth", "args.missing"]

pytestmark = pytest.mark.skipif(not TASKS.exists(), reason=f"{TASKS} not found")


@pytest.fixture(scope="module")
def dataset_db(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('sort') / 'tasks.db'}"
    res = CliRunner().invoke(cli, ["--db", url, "import", "-q", str(TASKS)])
    assert res.exit_code == 0, res.stderr
    return url


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("desc", [False, True], ids=["asc", "desc"])
def test_sorted_listing_is_monotone_in_bson_order(dataset_db, path, desc):
    res = CliRunner().invoke(cli, ["--db", dataset_db, "ls", "-S",
                                   f"{path}:{'desc' if desc else 'asc'}", "--format", "jsonl"])
    assert res.exit_code == 0, res.stderr
    docs = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(docs) == 400
    keys = [ref.sort_key(d, tuple(path.split(".")), desc) for d in docs]
    cmp = functools.cmp_to_key(ref._sort_cmp)
    plain = [k for k in keys if not isinstance(k, (dict, list))]
    assert plain == sorted(plain, key=cmp, reverse=desc)
    # ties fall back to created_at then task_id: the order is total and repeatable
    again = CliRunner().invoke(cli, ["--db", dataset_db, "ls", "-q", "-S",
                                     f"{path}:{'desc' if desc else 'asc'}"])
    assert again.stdout.split() == [d["task_id"] for d in docs]
