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


class TaskCommands(Provider):
    """Offers the task list's actions, run on the screen the palette was opened from."""

    def _commands(self) -> list[tuple[str, str, str]]:
        from .screens.task_list import TaskListScreen

        out = []
        if isinstance(self.screen, TaskListScreen):
            out += [(spec.action, spec.title, f"{spec.help}  [{spec.key}]") for spec in ACTIONS]
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
