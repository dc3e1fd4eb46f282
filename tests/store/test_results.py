"""Results grouped by swept parameters (store/results.py) against a plain Python computation
over the same tasks, on SQLite and PostgreSQL: group keys (1 == 1.0, "1" apart, key order,
missing, null, arrays as values), status counts, metric counts (missing, NaN strings, other
values, booleans), mean, sample std (statistics.stdev), min, max and best task."""

from __future__ import annotations

import asyncio
import math
import random
import statistics
from typing import Any

import pytest

from labtasker_tui.query import filter_to_sql, parse_filter
from labtasker_tui.results_model import (
    MISSING,
    classify,
    is_seed_path,
    value_key,
)
from labtasker_tui.store.results import ResultsError, compute_results, group_filter
from labtasker_tui.store.task_store import Selection, open_store

STATUSES = ["pending", "running", "success", "failed", "cancelled"]
LRS: list[Any] = [1, 1.0, 0.1, "0.1", True, None, [1, 2], MISSING, 1e-3]
MODELS: list[Any] = ["vit", "resnet", "[bold]x[/]", {"a": 1, "b": 2}, {"b": 2, "a": 1}]


def _metric(rng: random.Random, offset: float) -> Any:
    r = rng.random()
    if r < 0.08:
        return MISSING
    if r < 0.12:
        return None
    if r < 0.16:
        return rng.choice(["NaN", "Infinity", "-Infinity"])
    if r < 0.19:
        return rng.choice([True, False, "high", [1], {"v": 1}])
    if r < 0.3:
        return rng.randint(-5, 5)
    return offset + rng.uniform(-1, 1) * (1e-3 if offset else 1)


def make_records(seed: int = 11, n: int = 160) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        args: dict[str, Any] = {"model": rng.choice(MODELS), "seed": i % 4,
                                "opt": {"m": rng.choice([0.9, 0.99])}, "const": 7}
        lr = rng.choice(LRS)
        if lr is not MISSING:
            args["lr"] = lr
        summary: dict[str, Any] = {}
        for name, offset in (("acc", 0.0), ("loss", 1e9)):
            v = _metric(rng, offset)
            if v is not MISSING:
                summary.setdefault("m", {})[name] = v
        if i % 9 == 0:
            summary["flat"] = 2.5  # a constant: std 0 exactly
        out.append({"status": rng.choice(STATUSES), "args": args, "summary": summary,
                    "task_name": f"t{i}"})
    return out


def get(doc: dict[str, Any], path: str) -> Any:
    node: Any = doc
    for k in path.split("."):
        if not isinstance(node, dict) or k not in node:
            return MISSING
        node = node[k]
    return node


def reference(tasks: list[dict[str, Any]], by: list[str], metrics: list[str],
              best: str = "max") -> dict[tuple[Any, ...], dict[str, Any]]:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for t in tasks:
        key = tuple(value_key(get(t, p)) for p in by)
        groups.setdefault(key, []).append(t)
    out = {}
    for key, members in groups.items():
        g: dict[str, Any] = {"count": len(members),
                             "status": {s: sum(t["status"] == s for t in members)
                                        for s in STATUSES}}
        for m in metrics:
            kinds = [classify(get(t, m)) for t in members]
            nums = [(get(t, m), t["task_id"]) for t in members if classify(get(t, m)) == "number"]
            xs = [x for x, _ in nums]
            stat: dict[str, Any] = {k: kinds.count(k) for k in ("missing", "nonfinite", "other")}
            stat["n"] = len(xs)
            stat["mean"] = statistics.fmean(xs) if xs else None
            stat["std"] = statistics.stdev(xs) if len(xs) > 1 else None
            stat["min"] = min(xs) if xs else None
            stat["max"] = max(xs) if xs else None
            if xs:
                target = max(xs) if best == "max" else min(xs)
                stat["best"] = min(i for x, i in nums if x == target)
            else:
                stat["best"] = None
            g[m] = stat
        out[key] = g
    return out


def close(a: Any, b: Any, rel: float = 1e-9) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


@pytest.fixture
def loaded(db_url, queue):
    records = make_records()
    store = open_store(db_url, queue)

    async def load() -> list[dict[str, Any]]:
        await store.import_records(records)
        tasks = [t.model_dump() for t in await store.list()]
        assert len(tasks) == len(records)
        return tasks

    tasks = asyncio.run(load())
    yield store, tasks
    asyncio.run(store.close())


def run(coro):
    return asyncio.run(coro)


def check_against_reference(res, tasks, best="max") -> None:
    ref = reference(tasks, res.by, res.metrics, best)
    got = {g.key: g for g in res.groups}
    assert set(got) == set(ref)
    for key, want in ref.items():
        g = got[key]
        assert g.count == want["count"], key
        assert g.statuses == want["status"], key
        for m in res.metrics:
            s, w = g.metrics[m], want[m]
            assert (s.n, s.missing, s.nonfinite, s.other) == (
                w["n"], w["missing"], w["nonfinite"], w["other"]), (key, m)
            assert close(s.mean, w["mean"]) and close(s.std, w["std"]), (key, m, s, w)
            assert s.min == w["min"] and s.max == w["max"], (key, m)
            assert s.best == w["best"], (key, m)


def test_aggregates_match_python(loaded):
    store, tasks = loaded
    by = ["args.lr", "args.model"]
    metrics = ["summary.m.acc", "summary.m.loss", "summary.flat"]
    res = run(compute_results(store, by=by, metrics=metrics))
    assert res.by == by and res.metrics == metrics
    check_against_reference(res, tasks)
    # 1 and 1.0 are one group, "0.1" apart from 0.1, key order ignored, missing its own group
    keys = {g.key[0] for g in res.groups}
    assert value_key(1) in keys and value_key("0.1") in keys and value_key(0.1) in keys
    assert value_key(MISSING) in keys and value_key([1, 2]) in keys
    models = {g.key[1] for g in res.groups}
    assert value_key({"a": 1, "b": 2}) in models
    assert len([k for k in models if k[0] == 5]) == 1
    # a group of 1 and 1.0 shows the canonical 1
    assert any(g.values[0] == 1 and type(g.values[0]) is int for g in res.groups)
    # the constant metric has std exactly 0 where it has two or more values
    flat = [g.metrics["summary.flat"] for g in res.groups if g.metrics["summary.flat"].n > 1]
    assert flat and all(s.std == 0.0 for s in flat)


def test_best_min_and_filter(loaded, db_url):
    store, tasks = loaded
    dialect = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    text = "args.opt.m == 0.9 and status in ['running', 'success', 'failed', 'cancelled']"
    sel = Selection(where=filter_to_sql(parse_filter(text), dialect))
    res = run(compute_results(store, sel, by=["args.model"], metrics=["summary.m.acc"],
                              best="min"))
    subset = [t for t in tasks if t["args"]["opt"]["m"] == 0.9 and t["status"] != "pending"]
    assert res.total == len(subset)
    check_against_reference(res, subset, best="min")


def test_default_by_varying_paths_and_seeds(loaded):
    store, tasks = loaded
    res = run(compute_results(store))
    # const never varies; seed is averaged over; lr (missing in some) and nested opt.m vary;
    # the array value [1, 2] is a value: no args.lr.0 path; model is a string in some tasks
    # and an object in others: one path, its objects are values (no args.model.a)
    assert res.by == ["args.lr", "args.model", "args.opt.m"]
    assert res.over == ["args.seed"]
    assert res.metrics == ["summary.flat", "summary.m.acc", "summary.m.loss"]
    check_against_reference(res, tasks)
    res = run(compute_results(store, over=["args.seed", "args.opt.m"]))
    assert res.by == ["args.lr", "args.model"] and res.over == ["args.seed", "args.opt.m"]
    res = run(compute_results(store, over=[]))
    assert "args.seed" in res.by and res.over == []


def test_no_tasks_and_no_grouping(db_url, queue):
    store = open_store(db_url, queue)
    try:
        res = run(compute_results(store))
        assert res.groups == [] and res.by == [] and res.metrics == []
        run(store.import_records([{"args": {"x": 1}, "summary": {"acc": 0.5},
                                   "status": "success"}]))
        res = run(compute_results(store))
        assert res.by == [] and len(res.groups) == 1 and res.groups[0].count == 1
        assert res.groups[0].metrics["summary.acc"].std is None  # one value: no sample std
    finally:
        run(store.close())


@pytest.mark.parametrize(("kw", "message"), [
    ({"by": ["args..lr"]}, "empty key"),
    ({"by": ["created_at"]}, "timestamp"),
    ({"by": ["nosuch.x"]}, "cannot facet"),
    ({"metrics": ["status"]}, "JSON path"),
    ({"metrics": ["summary"]}, "key below"),
    ({"by": ["args"]}, "whole document"),
    ({"best": "median"}, "max or min"),
    ({"by": ["args.seed"], "over": ["args.seed"]}, "both"),
])
def test_bad_input(sqlite_url, kw, message):
    store = open_store(sqlite_url)
    try:
        with pytest.raises(ResultsError, match=message) as info:
            run(compute_results(store, **kw))
        assert info.value.exit_code == 2
    finally:
        run(store.close())


def test_seed_names():
    for p in ("args.seed", "args.seeds", "args.data_seed", "args.seed_model", "args.RNG",
              "args.rng-init", "args.random_state", "args.train.torch_seed"):
        assert is_seed_path(p), p
    for p in ("args.seeded", "args.seedling", "args.strength", "args.lr", "args.seedx"):
        assert not is_seed_path(p), p


def test_group_filter_selects_the_group(loaded, db_url):
    store, tasks = loaded
    dialect = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    res = run(compute_results(store, by=["args.opt.m", "args.model"], metrics=[]))
    for g in res.groups:
        text = group_filter("status in ['pending', 'success', 'failed', 'cancelled']",
                            res.by, list(g.values))
        sel = Selection(where=filter_to_sql(parse_filter(text), dialect))
        n = run(store.count(sel))
        assert n == g.count - g.statuses["running"], text


def test_best_found_when_the_database_spells_it_differently(loaded, monkeypatch):
    """A best value the IN prefilter misses (PostgreSQL: a decimal longer than its float8)
    is looked for among all the metric's numbers."""
    from sqlalchemy import false

    from labtasker_tui.store import results as results_module

    store, tasks = loaded
    monkeypatch.setattr(results_module, "_equals_one_of", lambda *a: false())
    res = run(compute_results(store, by=["args.model"], metrics=["summary.m.acc"]))
    check_against_reference(res, tasks)
    assert any(g.metrics["summary.m.acc"].best for g in res.groups)


def test_numbers_near_the_float_limit(sqlite_url):
    store = open_store(sqlite_url)
    try:
        xs = [1.5e308, 1.7e308, 1.6e308]
        run(store.import_records([{"args": {"x": 1}, "summary": {"big": x},
                                   "status": "success"} for x in xs]))
        res = run(compute_results(store, by=[], metrics=["summary.big"]))
        s = res.groups[0].metrics["summary.big"]
        assert s.n == 3 and s.max == 1.7e308 and math.isclose(s.mean, statistics.fmean(
            [x / 1e308 for x in xs]) * 1e308)
        assert math.isclose(s.std, statistics.stdev([x / 1e308 for x in xs]) * 1e308)
        assert s.as_dict()["mean"] == s.mean
    finally:
        run(store.close())
