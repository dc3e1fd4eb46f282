"""Textual ``Binding`` objects made from the action registry (``tui/actions.py``).

Every binding carries its registry id, so ``App.set_keymap`` (fed by ``tui/keymap.py``)
remaps it; the footer shows the bindings that have a footer label, in registry order.
"""

from __future__ import annotations

from textual.binding import Binding

from .actions import ActionSpec, in_scope


def binding(spec: ActionSpec) -> Binding:
    return Binding(spec.keys, spec.action, spec.footer or spec.title, show=bool(spec.footer),
                   tooltip=spec.help, id=spec.id, priority=spec.priority)


def bindings(scope: str) -> list[Binding]:
    """The ``BINDINGS`` of the screen (or app) that owns ``scope``."""
    return [binding(spec) for spec in in_scope(scope)]
