"""Command palette provider, derived from the action registry (``tui/actions.py``): the
palette actions of the screen it was opened from, then the app's, each with its keys."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from .actions import ActionSpec, in_scope, keys_label


class TaskCommands(Provider):
    """Offers the screen's actions (run on that screen) and the app's (run on the app)."""

    def _scope(self) -> str | None:
        return getattr(self.screen, "ACTION_SCOPE", None)

    def _specs(self) -> list[ActionSpec]:
        scope = self._scope()
        specs = in_scope(scope) if scope and scope != "app" else []
        return [spec for spec in specs + in_scope("app") if spec.palette]

    def commands(self) -> list[tuple[str, str, str]]:
        """(action, palette title, help with the keys now bound) for each palette entry."""
        keymap = getattr(self.app, "keymap", None)
        out = []
        for spec in self._specs():
            keys = keymap.keys(spec) if keymap is not None else spec.keys
            action = f"app.{spec.action}" if spec.scope == "app" else spec.action
            # the palette reads help as markup: every `[` is text here (textual's escape()
            # leaves `[D]` alone, which the markup then takes for a tag)
            text = f"{spec.help}  [{keys_label(keys)}]".replace("[", "\\[")
            out.append((action, spec.title, text))
        return out

    async def run_command(self, action: str) -> None:
        if action.startswith("app."):
            await self.app.run_action(action[4:])
        else:
            await self.screen.run_action(action)

    async def discover(self) -> Hits:
        for action, title, help_text in self.commands():
            yield DiscoveryHit(title, partial(self.run_command, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for action, title, help_text in self.commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self.run_command, action),
                          help=help_text)
