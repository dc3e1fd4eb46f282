"""Copying from the app: OSC 52 to the terminal *and* a local fallback, reporting which.

OSC 52 reaches the clipboard of the machine the terminal runs on (also over ssh), but many
terminals ignore it, or tmux swallows it without ``set-clipboard on``; the app cannot tell.
So the text also goes to the tmux paste buffer when inside tmux ($TMUX), else to the first
platform tool found (wl-copy, xclip, xsel, pbcopy), and the toast names what worked.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from typing import Any

from ..lifecycle import DEFAULT_HEARTBEAT_TIMEOUT, DEFAULT_MAX_RETRIES, DEFAULT_PRIORITY
from ..models import Task

TIMEOUT = 2.0


def local_tools() -> list[tuple[str, list[str]]]:
    """(label, argv) of the local clipboard commands to try, in order."""
    out: list[tuple[str, list[str]]] = []
    if os.environ.get("TMUX") and shutil.which("tmux"):
        out.append(("tmux buffer", ["tmux", "load-buffer", "-"]))
    if os.environ.get("WAYLAND_DISPLAY") and shutil.which("wl-copy"):
        out.append(("wl-copy", ["wl-copy"]))
    if os.environ.get("DISPLAY"):
        if shutil.which("xclip"):
            out.append(("xclip", ["xclip", "-selection", "clipboard", "-in"]))
        elif shutil.which("xsel"):
            out.append(("xsel", ["xsel", "--clipboard", "--input"]))
    if shutil.which("pbcopy"):
        out.append(("pbcopy", ["pbcopy"]))
    return out


def copy_local(text: str) -> tuple[str | None, str | None]:
    """Run the first local tool that works: (its label, None) or (None, why not)."""
    tools = local_tools()
    if not tools:
        return None, "no tmux or clipboard tool (wl-copy, xclip, xsel, pbcopy) found"
    errors = []
    for label, argv in tools:
        try:
            done = subprocess.run(argv, input=text.encode(), capture_output=True,
                                  timeout=TIMEOUT, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            errors.append(f"{label}: {exc}")
            continue
        if done.returncode == 0:
            return label, None
        errors.append(f"{label}: exit {done.returncode} "
                      f"{done.stderr.decode(errors='replace').strip()[:80]}")
    return None, "; ".join(errors)


def copy_report(local: str | None, why: str | None) -> str:
    if local:
        return f"copied through OSC 52 and the {local}"
    return f"sent through OSC 52 only (the terminal may ignore it): {why}"


def submit_line(task: Task) -> str:
    """A shell line that submits a copy of ``task``, every word shell-quoted, so running it
    gives back the same values, types included: args as ``-- --key value`` flags when they
    parse back exactly, else as JSON; metadata as JSON."""
    parts = ["labtasker-tui", "submit"]
    if task.task_name:
        parts += ["--name", task.task_name]
    if task.priority != DEFAULT_PRIORITY:
        parts += ["--priority", str(task.priority)]
    if task.max_retries != DEFAULT_MAX_RETRIES:
        parts += ["--max-retries", str(task.max_retries)]
    if task.heartbeat_timeout not in (None, DEFAULT_HEARTBEAT_TIMEOUT):
        parts += ["--heartbeat-timeout", f"{task.heartbeat_timeout:g}"]
    if task.task_timeout is not None:
        parts += ["--task-timeout", str(task.task_timeout)]
    if task.metadata:
        parts += ["--metadata", _json(task.metadata)]
    if task.cmd:
        cmd = task.cmd if isinstance(task.cmd, str) else shlex.join(task.cmd)
        parts += ["--cmd", cmd]
    if task.args:
        flags = _arg_flags(task.args)
        parts += ["--", *flags] if flags is not None else ["--args", _json(task.args)]
    return shlex.join(parts)


def _arg_flags(args: dict[str, Any]) -> list[str] | None:
    """``--lr 0.1 --opt.wd 0.0001`` when submit parses exactly ``args`` back from it (checked
    here by parsing), else None (then the args go as JSON)."""
    from ..args import parse_cli_args

    tokens: list[str] = []
    for key, value in _leaves(args):
        if isinstance(value, dict | list) or (isinstance(value, str) and value.startswith("-")):
            return None
        tokens += [f"--{key}", _literal(value)]
    try:
        parsed, dropped = parse_cli_args(tokens)
    except Exception:  # noqa: BLE001 - any doubt: JSON
        return None
    same = not dropped and json.dumps(parsed, sort_keys=True) == json.dumps(args, sort_keys=True)
    return tokens if same else None


def _leaves(value: dict[str, Any], prefix: str = ""):
    for key, sub in value.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(sub, dict) and sub:
            yield from _leaves(sub, path)
        else:
            yield path, sub


def _literal(value: Any) -> str:
    """A value as submit casts it back (Python literals; a string that would read as a
    number or a name stays a string by being quoted)."""
    if isinstance(value, str):
        import ast

        try:
            ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return value
    return repr(value)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
