"""Textual ``Binding`` objects made from the action registry (``tui/actions.py``).

Every binding carries its registry id, so ``App.set_keymap`` (fed by ``tui/keymap.py``)
remaps it; the footer shows the bindings that have a footer label, in registry order.
"""

from __future__ import annotations

from textual.binding import Binding

from .actions import BY_ID, ActionSpec, in_scope, key_word


def binding(spec: ActionSpec) -> Binding:
    return Binding(spec.keys, spec.action, spec.footer or spec.title, show=bool(spec.footer),
                   tooltip=spec.help, id=spec.id, priority=spec.priority)


def bindings(scope: str) -> list[Binding]:
    """The ``BINDINGS`` of the screen (or app) that owns ``scope``."""
    return [binding(spec) for spec in in_scope(scope)]


def bound_keys(app: object, action_id: str) -> str:
    """The keys that run ``action_id`` now: the user's remap (the app's ``keymap``), else the
    registry's default."""
    spec = BY_ID[action_id]
    keymap = getattr(app, "keymap", None)
    return str(keymap.keys(spec)) if keymap is not None else spec.keys


def key_hint(app: object, action_id: str) -> str:
    """The key a dialog's hint or button names for ``action_id`` (`y`, `Escape`)."""
    return key_word(bound_keys(app, action_id))
