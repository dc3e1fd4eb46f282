"""Sweep expansion (labtasker_tui/sweeps.py, sweeps_syntax.py) against plain itertools."""

from __future__ import annotations

import itertools
import json
import math
import random

import pytest

from labtasker_tui.args import parse_cli_args
from labtasker_tui.errors import UserError
from labtasker_tui.sweeps import (
    SweepSpec,
    canonical_key,
    load_file,
    missing_specs,
    spec_from_cli,
    spec_from_stored,
)
from labtasker_tui.sweeps_syntax import SweepError, split_items, tokenise_axes


def cli_spec(tokens: list[str], zips=(), samples=None, rng=None, base=None) -> SweepSpec:
    axes, dropped = tokenise_axes(tokens)
    assert not dropped
    return spec_from_cli(axes, zips, base, samples, rng)


def args_of(spec: SweepSpec) -> list[dict]:
    return [s["args"] for s in spec.task_specs("n", "id")]


# -- the product, against itertools ------------------------------------------------------------

KEYS = ["lr", "model", "seed", "opt.momentum", "opt.beta", "data.aug", "bs", "x-y", "deep.a.b"]
ITEMS = ["1", "0.5", "1e-3", "-2", "vit", "True", "None", "'a,b'", "[1,2]", "{'k': 1}", "x.y",
         "1_000", "0x10", "'q'"]


def random_case(r: random.Random) -> tuple[list[str], list[str], list[list[str]], list[str]]:
    """(tokens, keys, item texts per axis, zip groups) of a random spec."""
    keys = r.sample(KEYS, r.randint(1, 5))
    if "opt.momentum" in keys and "opt" in keys:
        keys.remove("opt")
    texts = [list(dict.fromkeys(r.choice(ITEMS) for _ in range(r.randint(1, 4)))) for _ in keys]
    tokens = []
    for key, items in zip(keys, texts, strict=True):
        text = ",".join(items)
        tokens += [f"--{key}={text}"] if r.random() < 0.5 else [f"--{key}", text]
    zips: list[str] = []
    multi = [i for i, t in enumerate(texts) if len(t) > 1]
    if len(multi) >= 2 and r.random() < 0.5:
        a, b = r.sample(multi, 2)
        n = min(len(texts[a]), len(texts[b]))
        texts[a], texts[b] = texts[a][:n], texts[b][:n]
        tokens = []
        for key, items in zip(keys, texts, strict=True):
            tokens += [f"--{key}={','.join(items)}"]
        zips = [f"{keys[a]},{keys[b]}"]
    return tokens, keys, texts, zips


@pytest.mark.parametrize("seed", range(60))
def test_expansion_is_the_product_with_submit_casting(seed):
    r = random.Random(seed)
    tokens, keys, texts, zips = random_case(r)
    spec = cli_spec(tokens, zips)
    # the reference: itertools.product over the items (a zip group as one factor), each task's
    # args exactly what `submit -- --k=v ...` makes of that combination
    zipped = {k.replace("-", "_") for z in zips for k in z.split(",")}
    factors: list[list[list[tuple[str, str]]]] = []
    done: set[str] = set()
    for key, items in zip(keys, texts, strict=True):
        k = key.replace("-", "_")
        if k in done:
            continue
        if k in zipped:
            group = [g for g in zips[0].split(",")]
            cols = [texts[keys.index(g)] for g in group]
            factors.append([list(zip(group, vals, strict=True))
                            for vals in zip(*cols, strict=True)])
            done.update(g.replace("-", "_") for g in group)
        else:
            factors.append([[(key, item)] for item in items])
            done.add(k)
    expected = []
    for combo in itertools.product(*factors):
        pairs = dict(p for part in combo for p in part)
        expected.append(parse_cli_args([f"--{k}={pairs[k]}" for k in keys])[0])
    got = args_of(spec)
    assert got == expected
    assert spec.count() == len(expected)
    # the stored form expands to the same tasks
    assert args_of(spec_from_stored(json.loads(json.dumps(spec.to_stored())), "n")) == got


def test_the_issue_example_is_30_tasks_in_product_order():
    spec = cli_spec(["--lr", "1e-3,1e-2,1e-1", "--model", "vit,resnet", "--seed", "0..4"])
    got = args_of(spec)
    assert got == [{"lr": lr, "model": m, "seed": s} for lr, m, s in itertools.product(
        [1e-3, 1e-2, 1e-1], ["vit", "resnet"], range(5))]
    assert spec.varying_paths == ["lr", "model", "seed"]


def test_zip_pairs_axes_where_the_first_stands():
    spec = cli_spec(["--lr", "1,2,3", "--seed", "0..1", "--wd", "a,b,c"], zips=["lr,wd"])
    pairs = zip([1, 2, 3], "abc", strict=True)
    assert args_of(spec) == [{"lr": lr, "seed": s, "wd": wd}
                             for (lr, wd), s in itertools.product(pairs, [0, 1])]


def test_nested_paths_fixed_args_and_short_options():
    spec = cli_spec(["--opt.momentum", "0.9,0.99", "--opt.nesterov", "True", "-m", "1,2"])
    assert args_of(spec) == [{"opt": {"momentum": m, "nesterov": True}, "m": v}
                             for m in (0.9, 0.99) for v in ("1", "2")]
    assert spec.varying_paths == ["opt.momentum", "m"]


# -- value syntax -----------------------------------------------------------------------------

@pytest.mark.parametrize("text,values", [
    ("0..4", [0, 1, 2, 3, 4]),
    ("0..10..2", [0, 2, 4, 6, 8, 10]),
    ("0..9..4", [0, 4, 8]),
    ("-2..1", [-2, -1, 0, 1]),
    ("3..3", [3]),
    ("0..2,10", [0, 1, 2, 10]),
    ("'0..2'", ["0..2"]),
    ("../data,x", ["../data", "x"]),
    ("a\\,b,c", ["a,b", "c"]),
    ("'a,b',c", ["a,b", "c"]),
    ("[1,2],[3,4]", [[1, 2], [3, 4]]),
    ("{'a': 1, 'b': 2},{}", [{"a": 1, "b": 2}, {}]),
    ("(1,2)", [[1, 2]]),
    ("C:\\x", ["C:\\x"]),
    ("1e-3,inf,nan", [0.001, "inf", "nan"]),
])
def test_value_syntax(text, values):
    assert args_of(cli_spec(["--v", text])) == [{"v": v} for v in values]


def test_split_keeps_quoted_items_marked():
    assert split_items("'a',b", "--x") == [("'a'", True), ("b", False)]


@pytest.mark.parametrize("tokens,kw,message", [
    (["--lr", "5..1"], {}, "--lr: bad range '5..1': the start is above the end"),
    (["--lr", "a..b"], {}, "--lr: bad range 'a..b'"),
    (["--lr", "1.5..3"], {}, "--lr: bad range '1.5..3'"),
    (["--lr", "0..4..0"], {}, "--lr: bad range '0..4..0': the step must be a positive"),
    (["--lr", "1,,2"], {}, "--lr: empty value in '1,,2'"),
    (["--lr", "1,"], {}, "--lr: empty value"),
    (["--lr", ""], {}, "--lr: no values"),
    (["--lr", "1", "--lr", "2"], {}, "duplicate axis --lr"),
    (["--x-y", "1", "--x_y", "2"], {}, "duplicate axis --x_y (also given as --x-y)"),
    (["--lr", "1,2", "--wd", "1,2,3"], {"zips": ["lr,wd"]},
     "zip lr,wd: the axes must have as many values each (--lr has 2, --wd has 3)"),
    (["--lr", "1,2"], {"zips": ["lr,wd"]}, "zip lr,wd: no axis 'wd' in this sweep"),
    (["--lr", "1,2"], {"zips": ["lr"]}, "zip lr: name two or more axes"),
    (["--a", "1,2", "--b", "1,2", "--c", "1,2"], {"zips": ["a,b", "b,c"]},
     "axis --b is in two zips"),
    (["--lr", "gauss(0,1)"], {"samples": 3}, "--lr: unknown distribution 'gauss'"),
    (["--lr", "uniform(0,1)"], {}, "random axis --lr: give the number of draws with --samples"),
    (["--lr", "uniform(0,1)"], {"samples": 0}, "--samples: expected a whole number"),
    (["--lr", "1,2"], {"samples": 3}, "--samples: there is no random axis"),
    (["--lr", "uniform(1,0)"], {"samples": 3}, "--lr: uniform(1, 0): LOW must be below HIGH"),
    (["--lr", "uniform(0,nan)"], {"samples": 3}, "--lr: uniform() needs a number, got 'nan'"),
    (["--lr", "uniform(0,1e400)"], {"samples": 3}, "--lr: '1e400' is not a JSON value"),
    (["--lr", "loguniform(0,1)"], {"samples": 3}, "--lr: loguniform(0, 1): LOW must be above 0"),
    (["--lr", "randint(0,1.5)"], {"samples": 3}, "--lr: randint() needs an integer"),
    (["--lr", "uniform(0)"], {"samples": 3}, "--lr: uniform() takes two bounds"),
    (["--lr", "choice()"], {"samples": 3}, "--lr: choice() needs at least one value"),
    (["--lr", "uniform(0,1),2"], {"samples": 3}, "--lr: a distribution (uniform) must be"),
    (["--lr", "uniform(0,1)", "--wd", "1,2"], {"samples": 2, "zips": ["lr,wd"]},
     "axis --lr is random"),
    (["--lr", "1e400"], {}, "--lr: '1e400' is not a JSON value"),
    (["--opt", "1", "--opt.m", "1,2"], {}, "args: Conflict detected at key: opt"),
    (["lr", "1"], {}, "Unexpected token: lr"),
    ([], {}, "no axes"),
])
def test_bad_specs_name_their_axis(tokens, kw, message):
    with pytest.raises(UserError) as err:  # SweepError, or ArgsError from submit's casting
        spec = cli_spec(tokens, **kw)
        spec.task_specs("n", "id")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_metadata_sweep_key_is_reserved():
    with pytest.raises(SweepError, match="metadata.sweep is set by the sweep"):
        cli_spec(["--lr", "1"], base={"metadata": {"sweep": 1}})


def test_cap_needs_yes_and_hard_cap_is_absolute():
    spec = cli_spec(["--a", "0..999", "--b", "0..99"])
    assert spec.count() == 100_000
    with pytest.raises(SweepError, match="more than --max-tasks 10,000"):
        spec.check_cap(10_000, yes=False)
    assert spec.check_cap(10_000, yes=True) == 100_000
    huge = cli_spec(["--a", "0..9999", "--b", "0..999"])  # counted, never expanded
    with pytest.raises(SweepError, match="more than 1,000,000: split it"):
        huge.check_cap(10, yes=True)


# -- random draws -----------------------------------------------------------------------------

RANDOM = ["--lr", "loguniform(1e-4,1e-1)", "--u", "uniform(-1,1)", "--n", "randint(1,3)",
          "--c", "choice(vit,resnet,0..1)", "--seed", "0..1"]


def test_random_draws_are_reproducible_and_in_range():
    a = args_of(cli_spec(RANDOM, samples=50, rng=7))
    assert a == args_of(cli_spec(RANDOM, samples=50, rng=7))
    assert a != args_of(cli_spec(RANDOM, samples=50, rng=8))
    assert len(a) == 100
    assert all(1e-4 <= t["lr"] <= 1e-1 and -1 <= t["u"] <= 1 for t in a)
    assert {t["n"] for t in a} == {1, 2, 3} and {t["c"] for t in a} == {"vit", "resnet", 0, 1}
    # each sample's draws are shared by the grid points (seed 0 and 1 see the same draw)
    assert all(a[i] == {**a[i + 1], "seed": 0} for i in range(0, 100, 2))
    # the reference: random.Random(seed), sample by sample, axes in order
    r = random.Random(7)
    for i in range(50):
        lr = math.exp(r.uniform(math.log(1e-4), math.log(1e-1)))
        u, n = r.uniform(-1, 1), r.randint(1, 3)
        c = ["vit", "resnet", 0, 1][r.randrange(4)]
        assert a[2 * i] == {"lr": lr, "u": u, "n": n, "c": c, "seed": 0}


def test_more_samples_keep_the_earlier_draws():
    few = args_of(cli_spec(RANDOM, samples=5, rng=1))
    more = args_of(cli_spec(RANDOM, samples=8, rng=1))
    assert more[:10] == few


# -- files ------------------------------------------------------------------------------------

YAML = """
name: lr-grid
base:
  args: {epochs: 10, opt: {name: sgd}}
  metadata: {owner: ada}
  priority: 20
  cmd: python train.py
axes:
  lr: [1e-3, 1e-2]
  model: vit,resnet
  opt.momentum: [0.9, 0.99]
  seed: 0..1
  wd: "loguniform(1e-5,1e-3)"
zip: [[lr, opt.momentum]]
samples: 2
rng: 3
"""


def test_yaml_file_matches_the_command_line():
    spec = load_file("s.yaml", YAML)
    cli = cli_spec(["--lr", "1e-3,1e-2", "--model", "vit,resnet", "--opt.momentum", "0.9,0.99",
                    "--seed", "0..1", "--wd", "loguniform(1e-5,1e-3)"], zips=["lr,opt.momentum"],
                   samples=2, rng=3)
    tasks = spec.task_specs("lr-grid", "abc")
    assert spec.name == "lr-grid" and len(tasks) == 2 * 2 * 2 * 2
    assert [{k: v for k, v in t["args"].items() if k != "epochs"} | {"opt": {
        k: v for k, v in t["args"]["opt"].items() if k != "name"}} for t in tasks] == args_of(cli)
    first = tasks[0]
    assert first["args"]["epochs"] == 10 and first["args"]["opt"]["name"] == "sgd"
    assert first["metadata"] == {"owner": "ada", "sweep": {"name": "lr-grid", "id": "abc"}}
    assert first["priority"] == 20 and first["cmd"] == "python train.py"
    assert first["task_name"] == "lr-grid"


def test_json_file_values_are_taken_as_typed():
    spec = load_file("s.json", json.dumps({"axes": {"v": ["1", 1, 1.5, None], "w": "1,2"}}))
    assert [t["v"] for t in args_of(spec)][::2] == ["1", 1, 1.5, None]
    assert [t["w"] for t in args_of(spec)][:2] == [1, 2]


@pytest.mark.parametrize("text,message", [
    ("axes: {lr: []}", "axis axes.lr: no values"),
    ("axes: {lr: [1]}\nbogus: 1", "s.yaml: unknown key 'bogus'"),
    ("axes: {lr: [1]}\nbase: {owner: x}", "s.yaml: base: unknown field 'owner'"),
    ("axes: {lr: [.nan]}", "axes.lr"),
    ("axes: {lr: {a: 1}}", "s.yaml: axes.lr: expected a list of values or a string"),
    ("axes: [lr]", "s.yaml: axes: expected a mapping"),
    ("- 1", "s.yaml: expected a mapping"),
    ("axes: {lr: [1, 2]}\nzip: [[lr, wd]]", "zip lr,wd: no axis 'wd'"),
    ("axes: {lr: 'a..b'}", "axes.lr: bad range 'a..b'"),
    ("axes: {lr: [1}", "s.yaml: line 1: invalid YAML"),
])
def test_bad_files(text, message):
    with pytest.raises(SweepError) as err:
        load_file("s.yaml", text)
    assert message in str(err.value)


# -- comparing with what is present -----------------------------------------------------------

def test_canonical_key_ignores_key_order_and_integral_floats():
    assert canonical_key({"a": 1.0, "b": {"y": 2, "x": [3.0]}}) == \
        canonical_key({"b": {"x": [3], "y": 2}, "a": 1})
    assert canonical_key({"a": True}) != canonical_key({"a": 1})
    assert canonical_key({"a": 0.5}) != canonical_key({"a": 0})


def test_missing_specs_counts_multisets():
    specs = [{"args": {"a": i % 3}} for i in range(6)]  # each configuration twice
    present = [{"a": 0}, {"a": 0}, {"a": 1.0}, {"a": 7}]
    assert [s["args"] for s in missing_specs(specs, present)] == [{"a": 2}, {"a": 1}, {"a": 2}]


def test_extending_a_grid_adds_only_new_configurations():
    old = args_of(cli_spec(["--lr", "1,2", "--seed", "0..2"]))
    new_specs = cli_spec(["--lr", "1,2,3", "--seed", "0..2"]).task_specs("n", "id")
    assert [s["args"] for s in missing_specs(new_specs, old)] == [
        {"lr": 3, "seed": s} for s in range(3)]
