"""The user's key remaps: ``keymap.toml`` in the per-user config folder. No Textual here.

The file (``labtasker-tui keys`` prints its path and the effective map)::

    [keymap]
    delete = "D"                       # a task-list action by its name
    "task_list.reset" = "R,ctrl+r"     # any action by its id (scope.name), several keys
    "filter.apply" = ["ctrl+s", "f9"]  # a list works too

Keys use Textual's names: letters (``D`` is shift+d), ``ctrl+x``, ``f9``, ``delete``,
``slash`` (or ``/``). A bare name means the task list's action when it has one, else the one
action of that name. A remapped action loses its default keys. An entry that names no action,
or whose keys are empty, is skipped with one message naming the file and its line; a file
that is not valid TOML is skipped as a whole; the defaults apply to whatever is skipped.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..settings import user_config_dir
from .actions import (
    ACTIONS,
    BY_ID,
    NOTES,
    SECTIONS,
    ActionSpec,
    help_section,
    keys_label,
    split_keys,
)

FILE_NAME = "keymap.toml"
_KEY = re.compile(r"^(?:[A-Za-z0-9_]+\+)*(?:[A-Za-z0-9_]+|[^\sA-Za-z0-9_,+])$")


def keymap_path() -> Path:
    return user_config_dir() / FILE_NAME


@dataclass
class Keymap:
    """The user's remaps (action id -> keys, comma separated) and what was wrong."""

    path: Path
    overrides: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def keys(self, spec: ActionSpec) -> str:
        """The keys that run ``spec`` now."""
        return self.overrides.get(spec.id, spec.keys)

    def message(self) -> str | None:
        """One message for all problems (None when the file was fine or absent)."""
        if not self.problems:
            return None
        return f"{self.path}: " + "; ".join(self.problems) + " — the default keys apply there"


def resolve(name: str) -> ActionSpec | None:
    """An action id, or a bare name (the task list's first, else the only one)."""
    if name in BY_ID:
        return BY_ID[name]
    if f"task_list.{name}" in BY_ID:
        return BY_ID[f"task_list.{name}"]
    found = [spec for spec in ACTIONS if spec.name == name]
    return found[0] if len(found) == 1 else None


def _line_of(text: str, name: str) -> str:
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip().lstrip("\"'")
        if stripped.startswith(name) and "=" in line:
            return f"line {number}: "
    return ""


def load_keymap(path: Path | None = None) -> Keymap:
    """Read the keymap file; never raises for its content (problems are collected)."""
    path = path or keymap_path()
    result = Keymap(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return result
    except OSError as exc:
        result.problems.append(f"cannot read it ({exc.strerror or exc})")
        return result
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # its message names the line and column
        result.problems.append(f"not valid TOML: {exc}")
        return result
    table = data.get("keymap", {})
    if not isinstance(table, dict):
        result.problems.append("[keymap] must be a table of action = \"keys\"")
        return result
    for other in sorted(set(data) - {"keymap"}):
        result.problems.append(f"{_line_of(text, other)}unknown section or entry {other!r}"
                               " (entries go under [keymap])")
    for name, value in table.items():
        where = _line_of(text, name)
        spec = resolve(name)
        if spec is None:
            result.problems.append(f"{where}unknown action {name!r} (`labtasker-tui keys`"
                                   " lists the ids)")
            continue
        keys = _keys_of(value)
        if keys is None:
            result.problems.append(f"{where}{name}: keys must be a string like \"x\" or"
                                   " \"ctrl+d,D\", or a list of them")
            continue
        bad = [k for k in keys if not _KEY.match(k)]
        if bad or not keys:
            result.problems.append(f"{where}{name}: not a key: {(bad or [''])[0]!r}")
            continue
        result.overrides[spec.id] = ",".join(keys)
    return result


def _keys_of(value: object) -> list[str] | None:
    if isinstance(value, str):
        return split_keys(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [k for v in value for k in split_keys(v)]
    return None


def help_sections(keymap: Keymap | None = None) -> list[tuple[str, list[tuple[str, str]]]]:
    """The help screen's rows (and `keys --markdown`'s): (section title, [(keys, text)]) in
    order, with the remaps applied; actions with the same help text in one section share a
    row (e.g. `?` on the task list and f1 everywhere)."""
    rows: dict[str, dict[str, list[str]]] = {}
    for spec in ACTIONS:
        keys = keymap.keys(spec) if keymap is not None else spec.keys
        section = rows.setdefault(help_section(spec), {})
        section.setdefault(spec.help, []).append(keys_label(keys))
    order = SECTIONS + [s for s in rows if s not in SECTIONS]
    out = []
    for title in order:
        entries = [(keys, text) for keys, text in NOTES.get(title, [])]
        entries += [(" / ".join(keys), text) for text, keys in rows.get(title, {}).items()]
        out.append((title, entries))
    return out
