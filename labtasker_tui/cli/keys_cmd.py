"""`labtasker-tui keys`: the app's effective key map (the registry after the user's remaps).

Reads ``tui/actions.py`` (plain data) and ``tui/keymap.py``; never imports Textual, so it
answers as fast as the other headless commands.
"""

from __future__ import annotations

import click


@click.command("keys", epilog="""
\b
Remap a key in the keymap file (its path is printed first), e.g.:
  [keymap]
  delete = "D"                     # a task-list action by its name
  "task_list.reset" = "R,ctrl+r"   # any action by its id, several keys
  "filter.apply" = ["ctrl+s", "f9"]
A remapped action loses its default keys; `*` marks the remapped ones.
""")
@click.option("--markdown", is_flag=True,
              help="Print the help screen's table in Markdown (the README's key table).")
@click.option("--scope", metavar="SCOPE", default=None,
              help="Only this scope: app, task_list, filter, editor, log, columns, submit.")
def keys(markdown: bool, scope: str | None) -> None:
    """Print every action of the app: id, keys (after your remaps), scope and title."""
    from ..tui.actions import ACTIONS, SCOPES, keys_label
    from ..tui.keymap import help_sections, load_keymap

    if scope is not None and scope not in SCOPES:
        raise click.BadParameter(f"one of {', '.join(SCOPES)}", param_hint="--scope")
    keymap = load_keymap()
    specs = [s for s in ACTIONS if scope is None or s.scope == scope]
    if markdown:
        click.echo("| keys | what |\n| --- | --- |")
        for title, rows in help_sections(keymap):
            if rows:
                click.echo(f"| **{title}** | |")
            for keys_text, text in rows:
                cells = [keys_text.replace("|", r"\|"), text.replace("|", r"\|")]
                click.echo(f"| `{cells[0]}` | {cells[1]} |")
        return
    state = "" if keymap.path.exists() else " (absent: the defaults apply)"
    click.echo(f"keymap file: {keymap.path}{state}")
    if (problem := keymap.message()) is not None:
        click.echo(f"Warning: {problem}", err=True)
    rows = [(spec.id + ("*" if spec.id in keymap.overrides else ""),
             keys_label(keymap.keys(spec)), spec.scope, spec.title) for spec in specs]
    widths = [max(len(r[i]) for r in rows + [("ACTION", "KEYS", "SCOPE", "")])
              for i in range(3)]
    click.echo(f"{'ACTION':<{widths[0]}}  {'KEYS':<{widths[1]}}  {'SCOPE':<{widths[2]}}  TITLE")
    for row in rows:
        click.echo(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}"
                   f"  {row[3]}")
