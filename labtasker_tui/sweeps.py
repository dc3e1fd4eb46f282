"""Sweeps: a spec of axes over task args, expanded into task specs. Pure, no I/O but reading a
sweep file.

A sweep is a base task (args, metadata, priority, cmd, …), a list of axes (each an args path
with a list of values, or a random distribution), zip groups (axes that advance together) and,
with random axes, a sample count and a seed. The value syntax is :mod:`.sweeps_syntax`.

Expansion order (deterministic): the grid is ``itertools.product`` over the axes in the order
written, the first axis outermost and the last varying fastest; a zip group stands where its
first member stands, its members advancing together. Random axes are drawn per sample: the
outermost loop is the sample (0 … samples-1) and each sample's draws are made once, in axis
order, then combined with every grid point. With ``random.Random(rng)`` the draws depend only
on the seed and the random axes in order, so the same spec expands to the same tasks on every
machine, and raising ``samples`` keeps the earlier samples' draws (they are a prefix).

Every task's metadata carries the sweep's identity, ``metadata.sweep = {"name": NAME, "id":
ID}`` (filter ``metadata.sweep.name == 'NAME'``), and its task name is the sweep's name unless
the base gives one. Tasks are written in expansion order and run in it (at equal priority).
"""

from __future__ import annotations

import itertools
import json
import random
import re
import secrets
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .args import parse_dict_literal
from .documents import check_json_value, expand_dotted, validate_keys
from .fields import SUBMIT_FIELDS
from .sweeps_syntax import (
    HARD_CAP,
    Distribution,
    RawAxis,
    SweepError,
    make_distribution,
    parse_axis_text,
    show_value,
)

__all__ = ["Axis", "SweepError", "SweepSpec", "DEFAULT_MAX_TASKS", "HARD_CAP", "SWEEP_KEY",
           "canonical_key", "missing_specs", "new_sweep_id", "generated_name", "load_file",
           "spec_from_cli", "spec_from_mapping", "spec_from_stored"]

DEFAULT_MAX_TASKS = 10_000
#: The metadata key every task of a sweep carries: {"name": ..., "id": ...}.
SWEEP_KEY = "sweep"
SWEEP_NAME = re.compile(r"[a-zA-Z0-9_-]{1,100}")
STORED_FORMAT = 1
_FILE_KEYS = ("name", "base", "axes", "zip", "samples", "rng")
_BASE_KEYS = tuple(f for f in SUBMIT_FIELDS)


@dataclass(frozen=True)
class Axis:
    """One swept args path: ``values`` (a grid axis) or ``dist`` (a random one). ``label`` is
    how the user wrote it, for messages."""

    path: str
    values: tuple[Any, ...] = ()
    dist: Distribution | None = None
    label: str = ""

    @property
    def varying(self) -> bool:
        return self.dist is not None or len(self.values) > 1

    @property
    def name(self) -> str:
        return self.label or self.path


@dataclass
class SweepSpec:
    """A sweep before expansion. ``base``: task spec fields (args, metadata, priority, cmd,
    task_name, max_retries, heartbeat_timeout, task_timeout)."""

    axes: list[Axis]
    base: dict[str, Any] = field(default_factory=dict)
    zips: list[tuple[str, ...]] = field(default_factory=list)
    samples: int | None = None
    rng: int | None = None
    name: str | None = None

    # -- checks -------------------------------------------------------------------------------

    @property
    def random_axes(self) -> list[Axis]:
        return [a for a in self.axes if a.dist is not None]

    @property
    def varying_paths(self) -> list[str]:
        return [a.path for a in self.axes if a.varying]

    def validate(self) -> None:
        """Every rule but the task cap; raises :class:`SweepError` naming the axis."""
        by_path: dict[str, Axis] = {}
        for axis in self.axes:
            if axis.path in by_path:
                raise SweepError(f"duplicate axis {axis.name} (also {by_path[axis.path].name})")
            if axis.dist is None and not axis.values:
                raise SweepError(f"axis {axis.name}: no values (an empty axis would make no "
                                 "tasks)")
            by_path[axis.path] = axis
            for value in axis.values:
                _check_value(value, axis.name)
        if not self.axes and not (self.base.get("args") or self.base.get("cmd")):
            raise SweepError("no axes: give args to sweep after `--` (--lr 1e-3,1e-2 --seed "
                             "0..4) or axes in the sweep file")
        zipped: dict[str, int] = {}
        for n, group in enumerate(self.zips):
            if len(group) < 2:
                raise SweepError(f"zip {','.join(group)}: name two or more axes to pair")
            lengths: dict[str, int] = {}
            for path in group:
                member = by_path.get(path)
                if member is None:
                    raise SweepError(f"zip {','.join(group)}: no axis {path!r} in this sweep")
                if member.dist is not None:
                    raise SweepError(f"zip {','.join(group)}: axis {member.name} is random; "
                                     "only value lists can be zipped")
                if path in zipped:
                    raise SweepError(f"axis {member.name} is in two zips")
                zipped[path] = n
                lengths[member.name] = len(member.values)
            if len(set(lengths.values())) > 1:
                shown = ", ".join(f"{k} has {v}" for k, v in lengths.items())
                raise SweepError(f"zip {','.join(group)}: the axes must have as many values "
                                 f"each ({shown})")
        if self.random_axes:
            if self.samples is None:
                names = ", ".join(a.name for a in self.random_axes)
                raise SweepError(f"random axis {names}: give the number of draws with "
                                 "--samples N (samples: N in a file)")
        elif self.samples is not None:
            raise SweepError("--samples: there is no random axis to draw (uniform, "
                             "loguniform, randint or choice)")
        if self.samples is not None and (isinstance(self.samples, bool)
                                         or not isinstance(self.samples, int)
                                         or not 1 <= self.samples <= HARD_CAP):
            raise SweepError(f"--samples: expected a whole number from 1 to {HARD_CAP:,}, "
                             f"got {self.samples!r}")
        if self.rng is not None and (isinstance(self.rng, bool) or not isinstance(self.rng, int)):
            raise SweepError(f"--rng: expected an integer seed, got {self.rng!r}")
        meta = self.base.get("metadata")
        if isinstance(meta, dict) and SWEEP_KEY in meta:
            raise SweepError(f"metadata.{SWEEP_KEY} is set by the sweep (its name and id); "
                             "use another key")
        if self.name is not None and not SWEEP_NAME.fullmatch(self.name):
            raise SweepError(f"sweep name {self.name!r}: use 1-100 letters, digits, '_' or '-'")

    def count(self) -> int:
        """How many tasks the spec expands to, without expanding it."""
        n = 1
        for block in self._blocks():
            n *= len(block[1])
        return n * (self.samples or 1)

    def check_cap(self, max_tasks: int, *, yes: bool) -> int:
        """The task count; more than ``max_tasks`` needs ``yes``; never above the hard cap."""
        n = self.count()
        if n > HARD_CAP:
            raise SweepError(f"the sweep expands to {n:,} tasks, more than {HARD_CAP:,}: "
                             "split it into several sweeps")
        if n > max_tasks and not yes:
            raise SweepError(f"the sweep expands to {n:,} tasks, more than --max-tasks "
                             f"{max_tasks:,}: check it with --dry-run, then confirm with --yes")
        return n

    # -- expansion ------------------------------------------------------------------------------

    def _blocks(self) -> list[tuple[list[str], list[tuple[Any, ...]]]]:
        """The product's factors in order: (paths, value tuples); a zip is one factor."""
        zip_of = {p: g for g in self.zips for p in g}
        by_path = {a.path: a for a in self.axes}
        blocks: list[tuple[list[str], list[tuple[Any, ...]]]] = []
        done: set[str] = set()
        for axis in self.axes:
            if axis.dist is not None or axis.path in done:
                continue
            group = zip_of.get(axis.path, (axis.path,))
            done.update(group)
            columns = [by_path[p].values for p in group]
            blocks.append((list(group), list(zip(*columns, strict=True))))
        return blocks

    def configurations(self) -> Iterator[dict[str, Any]]:
        """Each task's swept values ``{path: value}`` (every axis, in axis order), in
        expansion order."""
        blocks = self._blocks()
        order = [a.path for a in self.axes]
        randoms = self.random_axes
        rng = random.Random(self.rng if self.rng is not None else 0)
        for _ in range(self.samples or 1):
            draws = {a.path: a.dist.draw(rng) for a in randoms if a.dist is not None}
            for combo in itertools.product(*(values for _, values in blocks)):
                found = dict(draws)
                for (paths, _), values in zip(blocks, combo, strict=True):
                    found.update(zip(paths, values, strict=True))
                yield {p: found[p] for p in order}

    def task_specs(self, name: str, sweep_id: str) -> list[dict[str, Any]]:
        """The task specs (as ``submit --file`` takes them), in expansion order."""
        fixed = {k: v for k, v in self.base.items() if k not in ("args", "metadata")}
        fixed.setdefault("task_name", name)
        meta = dict(self.base.get("metadata") or {})
        meta[SWEEP_KEY] = {"name": name, "id": sweep_id}
        base_args = self.base.get("args") or {}
        return [{**fixed, "args": build_args(base_args, config), "metadata": _copy(meta)}
                for config in self.configurations()]

    # -- storage --------------------------------------------------------------------------------

    def to_stored(self) -> dict[str, Any]:
        """The spec as JSON (values already cast), for the sweeps table; see
        :func:`spec_from_stored`."""
        axes: list[dict[str, Any]] = []
        for a in self.axes:
            if a.dist is not None:
                axes.append({"path": a.path, "dist": a.dist.kind, "params": list(a.dist.params)})
            else:
                axes.append({"path": a.path, "values": list(a.values)})
        return {"format": STORED_FORMAT, "base": self.base, "axes": axes,
                "zip": [list(g) for g in self.zips], "samples": self.samples, "rng": self.rng}


def _check_value(value: Any, where: str) -> None:
    try:
        check_json_value(value, where)
    except ValueError as exc:
        raise SweepError(str(exc)) from None


def build_args(base_args: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """One task's args: ``config`` ({dotted path: value}) expanded as ``submit`` expands its
    args, laid over a copy of ``base_args`` (an axis replaces the base at its path)."""
    args = expand_dotted(dict(config), "args")
    if base_args:
        args = _overlay(_copy(dict(base_args)), args)
    validate_keys(args, "args")
    return args


def _overlay(target: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    for key, value in top.items():
        old = target.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            _overlay(old, value)
        else:
            target[key] = _copy(value)
    return target


def _copy(value: Any) -> Any:
    """A deep copy of a JSON value (several times faster than ``copy.deepcopy``)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


# -- identity and comparison ------------------------------------------------------------------

def canonical_key(args: Any) -> str:
    """Args as compared for "already present": :func:`labtasker_tui.canonical.canonical_text`
    (the dedup key's form: key order ignored, 1.0 is 1, true is not 1)."""
    from .canonical import canonical_text

    return canonical_text(args)


def missing_specs(specs: Sequence[dict[str, Any]], present: Iterable[Any]
                  ) -> list[dict[str, Any]]:
    """The specs whose args are not among ``present`` (args dicts of existing tasks), counted
    as multisets: a configuration the sweep makes twice needs two tasks."""
    have = Counter(canonical_key(a) for a in present)
    out = []
    for spec in specs:
        key = canonical_key(spec["args"])
        if have[key] > 0:
            have[key] -= 1
        else:
            out.append(spec)
    return out


def new_sweep_id() -> str:
    return secrets.token_hex(6)


def generated_name(spec: SweepSpec) -> str:
    """A readable default name: the varying axes' last path parts and 4 random hex digits
    (``lr-model-seed-3f9a``)."""
    parts = [re.sub(r"[^a-zA-Z0-9_-]", "_", p.rsplit(".", 1)[-1]) for p in spec.varying_paths]
    stem = "-".join(parts)[:80].strip("-") or "sweep"
    return f"{stem}-{secrets.token_hex(2)}"


# -- reading specs ----------------------------------------------------------------------------

def spec_from_cli(raw_axes: Sequence[RawAxis], zips: Sequence[str] = (),
                  base: Mapping[str, Any] | None = None, samples: int | None = None,
                  rng: int | None = None, name: str | None = None, *,
                  check: bool = True) -> SweepSpec:
    """A spec from the command line: the tokens after ``--`` (tokenised), ``--zip A,B``;
    ``check``: validated (else the caller completes it, then validates)."""
    axes = []
    for raw in raw_axes:
        values, dist = parse_axis_text(raw.text, raw.label, cast=not raw.short)
        axes.append(Axis(raw.key, tuple(values), dist, raw.label))
    spec = SweepSpec(axes, dict(base or {}), [_zip_group(z) for z in zips], samples, rng, name)
    if check:
        spec.validate()
    return spec


def _zip_group(text: str) -> tuple[str, ...]:
    names = [p.strip().removeprefix("--").replace("-", "_") for p in text.split(",")]
    if any(not p for p in names):
        raise SweepError(f"--zip {text!r}: an empty axis name (write --zip lr,wd)")
    return tuple(names)


def spec_from_mapping(doc: Any, where: str, *, check: bool = True) -> SweepSpec:
    """A spec from a parsed sweep file (see the format in :func:`load_file`)."""
    if not isinstance(doc, dict):
        raise SweepError(f"{where}: expected a mapping with axes (and name, base, zip, "
                         "samples, rng)")
    unknown = [k for k in doc if k not in _FILE_KEYS]
    if unknown:
        raise SweepError(f"{where}: unknown key {unknown[0]!r} (one of {', '.join(_FILE_KEYS)})")
    base = doc.get("base") or {}
    if not isinstance(base, dict):
        raise SweepError(f"{where}: base: expected a mapping of task fields")
    bad = [k for k in base if k not in _BASE_KEYS]
    if bad:
        raise SweepError(f"{where}: base: unknown field {bad[0]!r} (one of "
                         f"{', '.join(_BASE_KEYS)})")
    base = dict(base)
    for key in ("args", "metadata"):
        if key in base:
            base[key] = _document(base[key], f"{where}: base.{key}")
    raw_axes = doc.get("axes") or {}
    if not isinstance(raw_axes, dict):
        raise SweepError(f"{where}: axes: expected a mapping of args paths to values")
    axes = []
    for key, value in raw_axes.items():
        label = f"axes.{key}"
        path = str(key).removeprefix("args.").replace("-", "_")
        if isinstance(value, str):
            values, dist = parse_axis_text(value, label)
            axes.append(Axis(path, tuple(values), dist, label))
        elif isinstance(value, list):
            axes.append(Axis(path, tuple(value), None, label))
        elif isinstance(value, dict):
            raise SweepError(f"{where}: {label}: expected a list of values or a string "
                             "(1e-3,1e-2 · 0..4 · loguniform(1e-4,1e-1)), not a mapping")
        else:
            axes.append(Axis(path, (value,), None, label))
    zips = doc.get("zip") or []
    if not isinstance(zips, list) or not all(isinstance(z, list | str) for z in zips):
        raise SweepError(f"{where}: zip: expected a list of axis lists ([[lr, wd]])")
    groups = [_zip_group(z) if isinstance(z, str) else
              tuple(str(p).removeprefix("args.").replace("-", "_") for p in z) for z in zips]
    name = doc.get("name")
    if name is not None and not isinstance(name, str):
        raise SweepError(f"{where}: name: expected a string")
    spec = SweepSpec(axes, base, groups, doc.get("samples"), doc.get("rng"), name)
    if check:
        spec.validate()
    return spec


def _document(value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, str):
        doc = parse_dict_literal(value, where)
        return doc or {}
    if not isinstance(value, dict):
        raise SweepError(f"{where}: expected a mapping")
    _check_value(value, where)
    doc = expand_dotted(value, where)
    validate_keys(doc, where)
    return doc


def spec_from_stored(doc: Mapping[str, Any], name: str) -> SweepSpec:
    """The spec saved by :meth:`SweepSpec.to_stored`."""
    if doc.get("format") != STORED_FORMAT:
        raise SweepError(f"sweep {name!r}: its stored spec has format {doc.get('format')!r}, "
                         f"which this labtasker-tui does not read (it reads {STORED_FORMAT})")
    axes = []
    for a in doc["axes"]:
        if "dist" in a:
            axes.append(Axis(a["path"], (), make_distribution(a["dist"], a["params"], a["path"])))
        else:
            axes.append(Axis(a["path"], tuple(a["values"])))
    spec = SweepSpec(axes, dict(doc.get("base") or {}), [tuple(z) for z in doc.get("zip", [])],
                     doc.get("samples"), doc.get("rng"), name)
    spec.validate()
    return spec


def load_file(path: str, text: str, *, check: bool = True) -> SweepSpec:
    """A sweep file: JSON (``.json``) or YAML, a mapping of::

        name: lr-grid              # optional (else --name, else a generated name)
        base:                      # what every task shares: submit's task spec fields
          args: {epochs: 10}
          metadata: {owner: ada}
          priority: 20
          cmd: python train.py
        axes:                      # args path -> a list of values, a string in the command
          lr: [0.001, 0.01, 0.1]   #   line's syntax, or one value (fixed)
          model: vit,resnet
          seed: 0..4
          opt.momentum: [0.9, 0.99]
          wd: loguniform(1e-5,1e-3)
        zip: [[lr, opt.momentum]]  # axes that advance together (same length)
        samples: 20                # draws of the random axes
        rng: 7                     # their seed

    List values are taken as YAML/JSON gives them (a YAML ``1e-3`` is the number 0.001, as
    in YAML 1.2); string values are parsed and cast as on the command line.
    """
    if path.endswith(".json"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SweepError(f"{path}: line {exc.lineno}: invalid JSON: {exc.msg}") from None
        except RecursionError:
            raise SweepError(f"{path}: invalid JSON: nested too deeply") from None
    else:
        import yaml

        try:
            doc = yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f"line {mark.line + 1}: " if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise SweepError(f"{path}: {at}invalid YAML: {problem}") from None
        except RecursionError:
            raise SweepError(f"{path}: invalid YAML: nested too deeply") from None
    return spec_from_mapping(doc, path, check=check)


_LOADER: Any = None


def _loader() -> Any:
    """yaml.SafeLoader that also reads ``1e-3`` as a float (YAML 1.2; 1.1 wants ``1.0e-3``)."""
    global _LOADER
    if _LOADER is None:
        import yaml

        class Loader(yaml.SafeLoader):
            pass

        Loader.add_implicit_resolver(
            "tag:yaml.org,2002:float",
            re.compile(r"^[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
            list("-+0123456789."))
        _LOADER = Loader
    return _LOADER


# -- presenting -----------------------------------------------------------------------------

def table_rows(spec: SweepSpec) -> tuple[list[str], list[list[Any]]]:
    """(header, rows) of the configurations: one column per varying path (every path when
    none varies)."""
    paths = spec.varying_paths or [a.path for a in spec.axes]
    rows = [[config[p] for p in paths] for config in spec.configurations()]
    return paths, rows


def format_table(header: list[str], rows: list[list[Any]], *, numbered: bool = True) -> str:
    """An aligned text table (with a row number first when ``numbered``)."""
    cells = [["#", *header]] + [[str(i), *(show_value(v) for v in row)]
                                for i, row in enumerate(rows, 1)]
    if not numbered:
        cells = [c[1:] for c in cells]
    widths = [max(len(r[c]) for r in cells) for c in range(len(cells[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
                     for r in cells)


def summary_line(spec: SweepSpec) -> str:
    """``lr (3) × model (2) × seed (5) = 30 tasks``; zips and samples named."""
    parts = []
    by_path = {a.path: a for a in spec.axes}
    zip_of = {p: g for g in spec.zips for p in g}
    done: set[str] = set()
    for axis in spec.axes:
        if not axis.varying or axis.path in done or axis.dist is not None:
            continue
        group = zip_of.get(axis.path, (axis.path,))
        done.update(group)
        if len(group) > 1:
            parts.append(f"zip({', '.join(group)}) ({len(by_path[group[0]].values)})")
        else:
            parts.append(f"{axis.path} ({len(axis.values)})")
    if spec.random_axes:
        draws = ", ".join(f"{a.path}~{a.dist.text()}" for a in spec.random_axes if a.dist)
        parts.append(f"{spec.samples} samples of {draws} (rng {spec.rng})")
    n = spec.count()
    return f"{' × '.join(parts) or 'no varying axis'} = {n:,} task{'s' * (n != 1)}"
