"""Command palette provider: every task-list action, by category."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from .actions import ACTIONS

EXTRA = [
    ("app.help", "view: help (keys)", "Show every key"),
    ("app.toggle_dark", "view: toggle dark / light theme", "Switch between dark and light"),
    ("app.quit", "app: quit", "Leave labtasker-tui"),
]

FILTER_SCREEN = [
    ("apply", "filter: apply to the task list", "Apply the filter  [enter / ctrl+s]"),
    ("toggle_syntax", "filter: rewrite in the other syntax", "Python ⇄ Mongo  [f2]"),
    ("show_tab('facets')", "filter: facet counts", "Values of a path, press one to add it  [f3]"),
    ("show_tab('examples')", "filter: worked examples", "Insert an example  [f4]"),
    ("show_tab('history')", "filter: history", "Filters applied before  [f5]"),
    ("toggle_sql", "filter: show / hide the SQL", "The WHERE clause it compiles to  [f7]"),
    ("cancel", "filter: back without applying", "Leave the filter screen  [esc]"),
]


class TaskCommands(Provider):
    """Offers the task list's actions, run on the screen the palette was opened from."""

    def _commands(self) -> list[tuple[str, str, str]]:
        from .screens.filter_screen import FilterScreen
        from .screens.task_list import SCREEN_ACTIONS, TaskListScreen

        out = []
        if isinstance(self.screen, TaskListScreen):
            out += [(spec.action, spec.title, f"{spec.help}  [{spec.key}]") for spec in ACTIONS]
            out += [(action, title, f"{help_text}  [{key}]")
                    for action, key, title, help_text in SCREEN_ACTIONS]
        elif isinstance(self.screen, FilterScreen):
            out += FILTER_SCREEN
        out += EXTRA
        return out

    async def _run(self, action: str) -> None:
        if action.startswith("app."):
            await self.app.run_action(action[4:])
        else:
            await self.screen.run_action(action)

    async def discover(self) -> Hits:
        for action, title, help_text in self._commands():
            yield DiscoveryHit(title, partial(self._run, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for action, title, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self._run, action),
                          help=help_text)
