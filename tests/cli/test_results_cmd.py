"""`labtasker-tui results`: the three formats (CSV read back by the csv module, JSON by json),
sorting, --best/--minimize, the filter, and bad input (exit 2, one line, nothing written)."""

from __future__ import annotations

import csv
import io
import json
import statistics

import pytest
from click.testing import CliRunner

from labtasker_tui.cli.main import cli

RECORDS = [
    {"status": st, "args": {"lr": lr, "model": model, "seed": seed},
     "summary": ({"acc": acc, "loss": 1 - acc} if acc is not None else {"acc": "NaN"})}
    for lr, model, seed, st, acc in [
        (0.1, "vit", 0, "success", 0.5), (0.1, "vit", 1, "success", 0.7),
        (0.1, "vit", 2, "failed", None), (0.1, "[bold]x[/]", 0, "success", 0.9),
        (0.1, "[bold]x[/]", 1, "success", 0.8), (1, "vit", 0, "success", 0.3),
        (1.0, "vit", 1, "success", 0.2), (1, "vit", 2, "pending", None),
    ]
]


@pytest.fixture
def lt(db_url, queue):
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(cli, ["--db", db_url, "--queue", queue, *args], input=input,
                             catch_exceptions=False)

    res = invoke("import", "-", input="\n".join(json.dumps(r) for r in RECORDS) + "\n")
    assert res.exit_code == 0, res.output
    return invoke


def test_csv_and_json_agree_with_python(lt):
    res = lt("results", "--format", "csv")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [(r["args.lr"], r["args.model"]) for r in rows] == [
        ("0.1", "[bold]x[/]"), ("0.1", "vit"), ("1", "vit")]
    vit = rows[1]
    assert (vit["tasks"], vit["success"], vit["failed"]) == ("3", "2", "1")
    assert vit["summary.acc:n"] == "2" and vit["summary.acc:nonfinite"] == "1"
    assert float(vit["summary.acc:mean"]) == pytest.approx(0.6)
    assert float(vit["summary.acc:std"]) == pytest.approx(statistics.stdev([0.5, 0.7]))
    assert vit["summary.loss:missing"] == "1"
    # 1 and 1.0 are one group: three tasks, one pending (no metric: missing)
    one = rows[2]
    assert one["tasks"] == "3" and one["pending"] == "1" and one["summary.acc:missing"] == "0"
    assert one["summary.acc:nonfinite"] == "1"
    data = json.loads(lt("results", "--format", "json").stdout)
    assert data["by"] == ["args.lr", "args.model"] and data["over"] == ["args.seed"]
    assert data["metrics"] == ["summary.acc", "summary.loss"] and data["total"] == 8
    g = data["groups"][1]
    assert g["values"] == {"args.lr": 0.1, "args.model": "vit"}
    assert g["metrics"]["summary.acc"]["best"] == vit["summary.acc:best"]


def test_sort_best_and_filter(lt):
    res = lt("results", "--format", "json", "--sort", "-summary.acc:mean")
    means = [g["metrics"]["summary.acc"]["mean"] for g in json.loads(res.stdout)["groups"]]
    assert means == sorted(means, reverse=True)
    res = lt("results", "--format", "json", "--sort", "summary.acc:mean:desc")
    assert [g["metrics"]["summary.acc"]["mean"] for g in json.loads(res.stdout)["groups"]] \
        == means
    best_max = json.loads(lt("results", "--format", "json", "--metric", "summary.loss").stdout)
    best_min = json.loads(lt("results", "--format", "json", "--metric", "summary.loss",
                             "--minimize").stdout)
    assert best_max["best"] == "max" and best_min["best"] == "min"
    for a, b in zip(best_max["groups"], best_min["groups"], strict=True):
        s, t = a["metrics"]["summary.loss"], b["metrics"]["summary.loss"]
        assert s["best_value"] == s["max"] and t["best_value"] == t["min"]
        if s["n"] > 1:
            assert s["best"] != t["best"]
    res = lt("results", "-f", "args.model == 'vit'", "--by", "args.seed", "--format", "json")
    data = json.loads(res.stdout)
    assert data["by"] == ["args.seed"] and data["total"] == 6
    assert [g["values"]["args.seed"] for g in data["groups"]] == [0, 1, 2]


def test_table_is_inert_and_aligned(lt):
    res = lt("results", "--metric", "summary.acc")
    assert res.exit_code == 0
    lines = res.stdout.splitlines()
    assert lines[0].startswith("8 tasks in 3 groups · by args.lr, args.model · over args.seed")
    assert "[bold]x[/]" in res.stdout  # shown as typed
    assert "0.6 ± 0.14" in res.stdout
    assert "summary.acc: excluded 2 NaN/Infinity" in res.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--by", "args..x"], "--by: invalid path"),
    (["--metric", "status"], "--metric: 'status' is not a JSON path"),
    (["--over", "created_at"], "--over: cannot facet created_at"),
    (["--sort", "nope"], "--sort: unknown column 'nope'"),
    (["--best", "max", "--minimize"], "contradicts"),
    (["-f", "args.lr >"], "Invalid filter"),
])
def test_bad_input_exit_2(lt, args, message):
    before = lt("export").stdout
    res = lt("results", *args)
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert lt("export").stdout == before


def test_bad_format_exit_2(lt):
    res = lt("results", "--format", "xml")
    assert res.exit_code == 2 and "xml" in res.output


def test_control_characters_are_shown_inert(lt):
    res = lt("import", "-", input=json.dumps(
        {"args": {"lr": 0.5, "model": "\x1b]0;pwned\x07vit", "seed": 9}}) + "\n")
    assert res.exit_code == 0
    out = lt("results", "--by", "args.model").stdout
    assert "\x1b" not in out and "\\x1b]0;pwned\\x07vit" in out
    rows = list(csv.reader(io.StringIO(lt("results", "--by", "args.model", "--format",
                                          "csv").stdout)))
    assert ["\x1b]0;pwned\x07vit"] == [r[0] for r in rows if "pwned" in r[0]]  # data: exact
