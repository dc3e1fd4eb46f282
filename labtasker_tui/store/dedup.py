"""Deduplication of submitted configurations: which new rows repeat a task already in their
queue (or an earlier row of the same batch), what the policy does with them, and the report
line. Pure Python (no SQLAlchemy): the store and the direct SQLite submit both fetch the
candidates (tasks of the queue with the same ``args_hash``) and hand them here.

A configuration is a task's args (compared as the filter ``args == {...}`` compares them:
:mod:`labtasker_tui.canonical`) and its cmd. Each spec is *new*, *present* (its configuration
is in the queue; counted under the status of that copy: success, then running, pending,
failed, cancelled when there are several), or *repeated* (it repeats an earlier spec of the
same batch whose configuration is not in the queue).

Policies: ``allow`` writes every spec (and reports); ``skip`` writes only the new ones;
``error`` writes nothing when any spec is present or repeated; ``off`` does not look.
``requeue_failed``: a configuration whose copy in the queue failed is reset to pending
(attempts reset) instead of being submitted again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..canonical import canonical_text
from ..errors import UserError

Dedup = Literal["off", "allow", "skip", "error"]
POLICIES: tuple[str, ...] = ("allow", "skip", "error")
#: Which copy stands for a configuration present several times, best first.
_RANK = ("success", "running", "pending", "failed", "cancelled")
#: The report's order of statuses.
_SHOWN = ("success", "failed", "running", "pending", "cancelled")
#: The columns a candidate is read with, in this order.
CANDIDATE_COLUMNS = ("task_id", "queue", "args_hash", "args", "cmd", "status", "version",
                     "last_modified")


class DuplicateError(UserError):
    """``--dedup error`` met a duplicate: nothing was written (exit 2)."""


@dataclass
class SubmitOutcome:
    """What a submit or import did (or, with ``--dedup error``, found)."""

    policy: str
    total: int = 0
    #: ids of the tasks written, in input order
    ids: list[str] = field(default_factory=list)
    #: specs whose configuration is already in the queue, by the status of that copy
    present: dict[str, int] = field(default_factory=dict)
    #: specs that repeat an earlier spec of the same batch (configuration not in the queue)
    repeated: int = 0
    #: ids of failed copies reset to pending (``requeue_failed``)
    requeued: list[str] = field(default_factory=list)
    #: import --replace: existing ids overwritten
    replaced: int = 0

    @property
    def new(self) -> int:
        return self.total - sum(self.present.values()) - self.repeated

    @property
    def duplicates(self) -> int:
        return sum(self.present.values()) + self.repeated

    def report(self) -> str:
        """``48 new · 16 already present: 12 success, 3 failed, 1 running``."""
        n = sum(self.present.values())
        line = f"{self.new:,} new · {n:,} already present"
        if n:
            line += ": " + ", ".join(f"{self.present[s]:,} {s}" for s in _SHOWN
                                     if self.present.get(s))
        if self.repeated:
            line += f" · {self.repeated:,} repeated in the input"
        return line


def config_key(row: dict[str, Any]) -> tuple[str, int | None, str, str]:
    """(queue, args_hash, canonical args, canonical cmd) of a row."""
    return (row["queue"], row["args_hash"], canonical_text(row["args"]),
            canonical_text(row["cmd"]))


@dataclass
class DedupPlan:
    """The rows to insert and the failed copies to reset, with the outcome to report."""

    outcome: SubmitOutcome
    insert: list[dict[str, Any]]
    #: candidate rows (mappings of CANDIDATE_COLUMNS) to reset to pending
    requeue: list[Any]


def plan(rows: list[dict[str, Any]], candidates: list[Any], policy: Dedup,
         requeue_failed: bool, *, excluded_ids: frozenset[str] = frozenset()) -> DedupPlan:
    """Decide what a batch writes. ``candidates``: the tasks of the rows' queues with the
    rows' hashes (mappings with :data:`CANDIDATE_COLUMNS`); ``excluded_ids``: tasks the write
    replaces (import --replace), not counted as present. Raises :class:`DuplicateError` under
    ``error`` when anything repeats."""
    out = SubmitOutcome(policy=policy, total=len(rows))
    if policy == "off":
        out.ids = [r["task_id"] for r in rows]
        return DedupPlan(out, rows, [])
    by_hash: dict[tuple[str, int | None], list[Any]] = {}
    for c in candidates:
        if c["task_id"] not in excluded_ids:
            by_hash.setdefault((c["queue"], c["args_hash"]), []).append(c)
    present: dict[tuple[str, int | None, str, str], Any] = {}  # key -> representative copy
    if by_hash:
        for key_h, copies in by_hash.items():
            for c in copies:
                key = (*key_h, canonical_text(c["args"]), canonical_text(c["cmd"]))
                best = present.get(key)
                if best is None or _better(c, best):
                    present[key] = c
    # earlier rows of the batch by (queue, hash, cmd); their args are compared only on a hit
    seen: dict[tuple[str, int | None, str], list[dict[str, Any]]] = {}
    insert: list[dict[str, Any]] = []
    requeue: dict[str, Any] = {}
    for row in rows:
        copy = None
        if (row["queue"], row["args_hash"]) in by_hash:
            copy = present.get(config_key(row))
        if copy is not None:
            status = str(copy["status"])
            out.present[status] = out.present.get(status, 0) + 1
            if requeue_failed and status == "failed":
                requeue.setdefault(str(copy["task_id"]), copy)
            elif policy == "allow":
                insert.append(row)
            continue
        near = seen.setdefault((row["queue"], row["args_hash"], canonical_text(row["cmd"])), [])
        if near and _same_args(row, near):
            out.repeated += 1
            if policy == "allow":
                insert.append(row)
            continue
        near.append(row)
        insert.append(row)
    if policy == "error" and out.duplicates:
        raise DuplicateError(f"--dedup error: {out.report()}; nothing written")
    out.ids = [r["task_id"] for r in insert]
    out.requeued = list(requeue)
    return DedupPlan(out, insert, list(requeue.values()))


def _same_args(row: dict[str, Any], earlier: list[dict[str, Any]]) -> bool:
    text = canonical_text(row["args"])
    return any(canonical_text(e["args"]) == text for e in earlier)


def _better(a: Any, b: Any) -> bool:
    """Whether copy ``a`` stands for its configuration rather than ``b``: the better status,
    then the latest change."""
    ra, rb = _rank(a["status"]), _rank(b["status"])
    if ra != rb:
        return ra < rb
    return str(a["last_modified"]) > str(b["last_modified"])


def _rank(status: str) -> int:
    return _RANK.index(status) if status in _RANK else len(_RANK)


def check_policy(policy: str) -> Dedup:
    if policy not in ("off", *POLICIES):
        raise UserError(f"--dedup: expected one of {', '.join(POLICIES)}, got {policy!r}")
    return policy  # type: ignore[return-value]
