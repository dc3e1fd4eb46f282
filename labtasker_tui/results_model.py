"""Results grouped by swept parameters: the shapes, the arithmetic and the columns, without
a database (``store/results.py`` runs the SQL; the CLI and the app render these).

Definitions (documented in the README, tested in tests/store/test_results.py):

- A *group* is one combination of values of the ``by`` paths. Values keep their JSON type
  and compare as the filter's ``==`` does: ``1`` and ``1.0`` are one group (shown as ``1``),
  ``"1"`` and ``true`` are others; objects ignore key order; a task without the path has the
  value *missing* (its own group); an array is one value (never split into elements).
- For each metric path and group: ``n`` counts the tasks whose value is a finite JSON number
  (``true``/``false`` are not numbers); ``nonfinite`` counts the strings ``"NaN"``,
  ``"Infinity"`` and ``"-Infinity"`` (how the job API stores non-finite floats, issue 9);
  ``missing`` counts tasks without the path or with ``null``; ``other`` counts every other
  value (strings, booleans, arrays, objects). ``n + nonfinite + missing + other`` is the
  group's task count. ``mean``, ``std`` (the *sample* standard deviation, n - 1 in the
  denominator, as ``statistics.stdev``; none below 2 values), ``min``, ``max`` and ``best``
  (the task with the highest value, or the lowest with ``best="min"``; ties: the smallest task
  id) are over the ``n`` numbers only.
- Default ``by``: every leaf path under ``args`` whose value differs between the tasks of the
  filter (a path some tasks lack also differs), except seed-like paths (:func:`is_seed_path`),
  which the results are averaged *over*. Default metrics: every leaf path under ``summary``
  that holds a number in some task of the filter.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .lifecycle import STATUSES


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: A task without the path (distinct from JSON ``null``).
MISSING: Any = _Missing()

#: How the job API (issue 9) stores NaN, +inf and -inf: counted as ``nonfinite``.
NONFINITE = ("NaN", "Infinity", "-Infinity")

#: The last key of a seed-like path: ``seed``, ``seeds``, ``rng``, ``random_state``,
#: ``random_seed``, or a name starting ``seed_``/``rng_`` or ending ``_seed``/``_rng``
#: (``-`` works as ``_``; any case). ``data_seed``, ``seed_model``, ``RNG`` are seeds;
#: ``seeded``, ``seedling``, ``strength`` are not.
SEED_NAME = re.compile(r"^(seeds?|rng|random_state|random_seed)$|^(seed|rng)[_-]|[_-](seed|rng)$",
                       re.IGNORECASE)

BEST_MODES = ("max", "min")


def is_seed_path(path: str) -> bool:
    """Whether ``path`` (``args.train.seed``) names a seed by its last key."""
    return bool(SEED_NAME.search(path.rsplit(".", 1)[-1]))


# -- values -----------------------------------------------------------------------------------


def canonical(v: Any) -> Any:
    """1.0 -> 1 (an integral float below 2**53): numbers are one value whatever the spelling."""
    if type(v) is float and v.is_integer() and abs(v) < 2**53:
        return int(v)
    return v


def value_key(v: Any) -> tuple[Any, ...]:
    """A hashable, orderable key equal for values the filter's ``==`` finds equal."""
    if v is MISSING:
        return (9,)
    if v is None:
        return (3,)
    if isinstance(v, bool):
        return (2, v)
    if isinstance(v, (int, float)):
        return (0, canonical(v))
    if isinstance(v, str):
        return (1, v)
    if isinstance(v, list):
        return (4, tuple(value_key(x) for x in v))
    if isinstance(v, dict):
        return (5, tuple(sorted((str(k), value_key(x)) for k, x in v.items())))
    return (6, repr(v))


def is_number(v: Any) -> bool:
    """A finite JSON number (booleans are not numbers)."""
    return (isinstance(v, (int, float)) and not isinstance(v, bool)
            and (not isinstance(v, float) or math.isfinite(v)))


def classify(v: Any) -> str:
    """``number``, ``nonfinite``, ``missing`` or ``other`` (see the module docstring)."""
    if v is MISSING or v is None:
        return "missing"
    if is_number(v):
        return "number"
    if isinstance(v, str) and v in NONFINITE:
        return "nonfinite"
    return "other"


# -- arithmetic -------------------------------------------------------------------------------


@dataclass
class Moments:
    """Count, mean and sum of squared deviations of some numbers (mergeable: Chan et al.)."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0  # in units of scale² (numbers near the float limit are scaled down)
    lo: Any = None
    hi: Any = None
    scale: float = 1.0

    @classmethod
    def of(cls, xs: Sequence[int | float]) -> Moments:
        """The corrected two-pass algorithm with exact sums (the precise path): the second
        pass also sums the deviations, which removes the rounding of the mean itself."""
        if not xs:
            return cls()
        n = len(xs)
        try:
            mean = math.fsum(xs) / n
        except OverflowError:  # numbers near the float limit: the same on a smaller scale
            scale = max(abs(x) for x in xs)
            small = cls.of([x / scale for x in xs])
            return cls(n, small.mean * scale, small.m2, min(xs), max(xs), scale)
        devs = [x - mean for x in xs]
        d = math.fsum(devs)
        m2 = math.fsum(e * e for e in devs) - d * d / n
        return cls(n, mean + d / n, m2, min(xs), max(xs))

    def merge(self, other: Moments) -> Moments:
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        n = self.n + other.n
        scale = max(self.scale, other.scale)
        d = (other.mean - self.mean) / scale
        m2 = (self.m2 * (self.scale / scale) ** 2 + other.m2 * (other.scale / scale) ** 2
              + d * d * self.n * other.n / n)
        return Moments(n, self.mean + (other.mean - self.mean) * other.n / n, m2,
                       min(self.lo, other.lo), max(self.hi, other.hi), scale)

    @property
    def std(self) -> float | None:
        if self.n < 2:
            return None
        return math.sqrt(max(self.m2, 0.0) / (self.n - 1)) * self.scale


@dataclass
class MetricStats:
    """One metric within one group (see the module docstring for the counts)."""

    path: str
    n: int = 0
    nonfinite: int = 0
    missing: int = 0
    other: int = 0
    mean: float | None = None
    std: float | None = None
    min: Any = None
    max: Any = None
    best: str | None = None  # task id
    best_value: Any = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (a std beyond the float range, from numbers near it, is None)."""
        return {"n": self.n, "mean": _finite(self.mean), "std": _finite(self.std),
                "min": self.min,
                "max": self.max, "best": self.best, "best_value": self.best_value,
                "missing": self.missing, "nonfinite": self.nonfinite, "other": self.other}


def _finite(x: float | None) -> float | None:
    return x if x is None or math.isfinite(x) else None


@dataclass
class Group:
    values: tuple[Any, ...]  # one per ``by`` path; MISSING when absent
    count: int
    statuses: dict[str, int]
    metrics: dict[str, MetricStats] = field(default_factory=dict)

    @property
    def key(self) -> tuple[tuple[Any, ...], ...]:
        return tuple(value_key(v) for v in self.values)


@dataclass
class Results:
    by: list[str]
    over: list[str]  # the seed-like paths averaged over (reported, not grouped)
    metrics: list[str]
    best: str  # max | min
    groups: list[Group]

    @property
    def total(self) -> int:
        return sum(g.count for g in self.groups)

    def as_dict(self) -> dict[str, Any]:
        return {"by": self.by, "over": self.over, "metrics": self.metrics, "best": self.best,
                "total": self.total, "groups": [{
                    "values": {p: v for p, v in zip(self.by, g.values, strict=True)
                               if v is not MISSING},
                    "missing": [p for p, v in zip(self.by, g.values, strict=True)
                                if v is MISSING],
                    "count": g.count, "status": dict(g.statuses),
                    "metrics": {m: s.as_dict() for m, s in g.metrics.items()},
                } for g in self.groups]}


# -- columns (the table, CSV and the app share them) -------------------------------------------

#: per-metric columns, by suffix: ``summary.acc:mean``
METRIC_FIELDS = ("n", "mean", "std", "min", "max", "best", "missing", "nonfinite", "other")
#: the ones the table and the app show (the counts of excluded values are summed in ``excl``)
SHOWN_METRIC_FIELDS = ("n", "mean", "min", "max", "best")


def column_names(res: Results, *, shown: bool = False) -> list[str]:
    """Column keys: the ``by`` paths, ``tasks``, the statuses, then ``METRIC:FIELD``.
    ``shown``: the table's (fewer metric fields; statuses no group has are left out)."""
    fields = SHOWN_METRIC_FIELDS if shown else METRIC_FIELDS
    statuses = [s for s in STATUSES if not shown or any(g.statuses.get(s) for g in res.groups)]
    return [*res.by, "tasks", *statuses,
            *(f"{m}:{f}" for m in res.metrics for f in fields)]


def cell(res: Results, group: Group, column: str) -> Any:
    """The raw value of ``column`` for ``group`` (MISSING for an absent group value)."""
    if column in res.by:
        return group.values[res.by.index(column)]
    if column == "tasks":
        return group.count
    if column in STATUSES:
        return group.statuses.get(column, 0)
    metric, _, fld = column.rpartition(":")
    stats = group.metrics.get(metric)
    if stats is None or fld not in METRIC_FIELDS:
        raise KeyError(column)
    return getattr(stats, fld)


def sort_key(v: Any) -> tuple[Any, ...]:
    """Order of a column's cells: numbers, strings, ..., then None/missing last."""
    if v is None:
        return (8,)
    return value_key(v)


def sort_groups(res: Results, column: str | None = None, *, descending: bool = False
                ) -> list[Group]:
    """Groups by ``column`` (empty cells last either way), else by their values."""
    if column is None:
        return sorted(res.groups, key=lambda g: g.key)
    filled = [g for g in res.groups if cell(res, g, column) not in (None, MISSING)]
    empty = [g for g in res.groups if cell(res, g, column) in (None, MISSING)]
    filled.sort(key=lambda g: (sort_key(cell(res, g, column)), g.key), reverse=descending)
    return filled + sorted(empty, key=lambda g: g.key)


def check_column(res: Results, column: str) -> str:
    """``column`` when it is one of ``res``'s columns, else ValueError naming them."""
    names = column_names(res)
    if column not in names:
        metric_cols = ", ".join(f"METRIC:{f}" for f in METRIC_FIELDS)
        raise ValueError(f"unknown column {column!r}: use a --by path, tasks, a status or "
                         f"{metric_cols}")
    return column


# -- text -------------------------------------------------------------------------------------


def number_text(v: Any, digits: int = 4) -> str:
    if v is None:
        return ""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int):
        return str(v)
    return f"{v:.{digits}g}"


def value_text(v: Any) -> str:
    """A group value as the table shows it: strings bare, other JSON as JSON."""
    import json

    if v is MISSING:
        return "(missing)"
    if isinstance(v, str):
        return v if v else '""'
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return repr(canonical(v))
    return json.dumps(v, ensure_ascii=False)


def csv_text(v: Any) -> str:
    """A cell for CSV: empty for missing/none, strings bare, other JSON as JSON."""
    import json

    if v is MISSING or v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, float):
        return repr(v)
    return json.dumps(v, ensure_ascii=False)


def cell_text(res: Results, group: Group, column: str) -> str:
    """The table's text of one cell (``mean`` also shows ``± std``; ids are shortened)."""
    v = cell(res, group, column)
    if column in res.by:
        return value_text(v)
    fld = column.rpartition(":")[2] if ":" in column else ""
    if fld == "mean":
        if v is None:
            return "—"
        std = group.metrics[column.rpartition(":")[0]].std
        return number_text(v) + (f" ± {number_text(std, 2)}" if std is not None else "")
    if fld == "best":
        return v[:8] if v else "—"
    if fld in ("min", "max"):
        return number_text(v, 6) if v is not None else "—"
    return str(v)


def column_label(res: Results, column: str) -> str:
    if ":" not in column or column in res.by:
        return column
    metric, _, fld = column.rpartition(":")
    short = metric.split(".", 1)[1] if metric.startswith("summary.") else metric
    return f"{short} {'mean ± std' if fld == 'mean' else fld}"


def excluded_text(res: Results) -> list[str]:
    """One line per metric with excluded values: how many were missing, NaN/inf, other."""
    lines = []
    for m in res.metrics:
        totals = {k: sum(getattr(g.metrics[m], k) for g in res.groups if m in g.metrics)
                  for k in ("missing", "nonfinite", "other")}
        if any(totals.values()):
            parts = [f"{n:,} {label}" for label, n in (
                ("missing", totals["missing"]), ("NaN/Infinity", totals["nonfinite"]),
                ("not numbers", totals["other"])) if n]
            lines.append(f"{m}: excluded {', '.join(parts)}")
    return lines


def merge_statuses(parts: Iterable[dict[str, int]]) -> dict[str, int]:
    out = dict.fromkeys(STATUSES, 0)
    for p in parts:
        for k, n in p.items():
            out[k] = out.get(k, 0) + n
    return out


# -- the app's grouping from a view's columns --------------------------------------------------


def spec_from_columns(columns: Iterable[str]) -> tuple[list[str] | None, list[str] | None]:
    """(by, metrics) from the task list's extra columns: ``args``/``metadata`` paths group,
    ``summary`` paths are the metrics; None for either when no column names one (then the
    defaults apply). A ``:width`` suffix is ignored. This is how a saved view remembers a
    results grouping: the results screen saves it as the view's columns."""
    by: list[str] = []
    metrics: list[str] = []
    for spec in columns:
        path = re.sub(r":\d+$", "", spec.strip())
        root = path.split(".", 1)[0]
        if "." not in path:
            continue
        target = metrics if root == "summary" else by if root in ("args", "metadata") else None
        if target is not None and path not in target:
            target.append(path)
    return by or None, metrics or None
