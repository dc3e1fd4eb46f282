"""The pydantic-free checks of the submit path (plain_checks.py) agree with the pydantic
model: whatever they accept, the model accepts and normalises the same way (value and type);
whatever is doubtful goes to the model, which words the error."""

from __future__ import annotations

import pytest

from labtasker_tui.models import validate_fields
from labtasker_tui.plain_checks import check_fields

VALUES = {
    "task_name": ["grid-1", "a" * 100, "a" * 101, "", "bad name", None, 5, "ü"],
    "status": ["pending", "failed", "nope", None, 1],
    "heartbeat_timeout": [5, 5.5, 0, -1, 0.0, float("inf"), float("nan"), None, True, "5",
                          10**30],
    "task_timeout": [600, 600.0, 600.5, 0, -5, 2**63, 2**63 - 1, 1e30, None, True, "600"],
    "max_retries": [0, 3, -1, 2**63, None, True, 3.0, "3"],
    "retries": [0, 5, -1, None],
    "priority": [10, -(2**63), 2**63, -(2**63) - 1, 1.5, 2.0, None, False, "1"],
    "cmd": ["python x.py", ["python", "x.py"], ["a", 1], "a\x00b", None, 5, []],
    "args": [{"lr": 0.1}, {"a.b": 1}, {"a": -0.0}, {"a": float("nan")}, {"$x": 1}, {}, None,
             [1], {"a": {"b": [1, {"c.d": 2}]}}],
    "metadata": [{"tags": ["x"]}, {"": 1}, "x"],
    "summary": [{"acc": 0.5}, {"a": 2**64}],
}
CASES = [(k, v) for k, vs in VALUES.items() for v in vs]


def _typed(x):
    if isinstance(x, dict):
        return {k: _typed(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_typed(v) for v in x]
    return (type(x).__name__, x)


@pytest.mark.parametrize(("name", "value"), CASES, ids=[f"{k}={v!r}"[:40] for k, v in CASES])
def test_fast_checks_agree_with_the_model(name, value):
    fast = check_fields({name: value})
    try:
        model = validate_fields({name: value})
    except ValueError:
        assert fast is None, "accepted a value the model refuses"
        return
    if fast is not None:
        assert _typed(fast) == _typed(model)


def test_the_usual_submit_spec_needs_no_model():
    spec = {"args": {"lr": 0.1, "opt.m": 0.9}, "metadata": {}, "task_name": "g-1",
            "priority": 20, "cmd": "python train.py", "max_retries": 3,
            "heartbeat_timeout": 60.0, "task_timeout": 600}
    assert check_fields(spec) == validate_fields(spec)
    assert check_fields({"unknown": 1}) is None and check_fields({"task_id": "x"}) is None
