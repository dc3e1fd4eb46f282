"""Property: args typed on the command line come back from `export` exactly (types included)."""

from __future__ import annotations

import json

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labtasker_tui.cli.main import cli

KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
SCALARS = st.one_of(
    INT64,
    # -0.0 is stored as 0.0 on every backend (PostgreSQL's jsonb cannot keep the sign)
    st.floats(allow_nan=False, allow_infinity=False, width=64).map(lambda f: f + 0.0),
    st.booleans(),
    st.none(),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3), max_leaves=6)
ARGS = st.recursive(
    st.dictionaries(KEYS, VALUES, min_size=1, max_size=4),
    lambda inner: st.dictionaries(KEYS, st.one_of(VALUES, inner), min_size=1, max_size=3),
    max_leaves=8,
)


def tokens(args: dict, prefix: str = "") -> list[str]:
    """`--a.b VALUE` tokens; values written as Python literals (strings quoted)."""
    out: list[str] = []
    for key, value in args.items():
        if isinstance(value, dict):
            out += tokens(value, f"{prefix}{key}.")
        else:
            out.append(f"--{prefix}{key}={value!r}")
    return out


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=ARGS)
def test_cli_args_survive_store_and_export(tmp_path_factory, args):
    db = tmp_path_factory.mktemp("rt") / "t.db"
    runner = CliRunner()
    res = runner.invoke(cli, ["--db", str(db), "submit", "-q", "--", *tokens(args)])
    assert res.exit_code == 0, (res.stderr, tokens(args))
    out = runner.invoke(cli, ["--db", str(db), "export"]).stdout
    [record] = [json.loads(line) for line in out.splitlines()]
    assert record["args"] == args
    # == treats 1 == 1.0 == True: compare the JSON spelling to check the types too
    assert json.dumps(record["args"], sort_keys=True) == json.dumps(args, sort_keys=True)
