"""Keys typed ahead of an input reach that input, never the list behind it.

Textual delivers a key in hops (app -> focused widget -> its parents -> screen -> app, where
the bindings are looked up), each through a message queue. A burst such as ``/`` followed by
``try summary`` is therefore already on its way to the task table when the ``/`` binding
runs: without care, ``r`` then reset the task under the cursor. The rules here:

* a key that opens an input moves the focus *synchronously* (``Screen.set_focus``), so
  every key the app forwards afterwards goes to the input;
* a key that reaches a screen while its input is focused (or before anything is focused)
  without having passed through the input (inputs tag the keys they see, :func:`tag`) was
  on its way elsewhere: the screen sends it on to the input, see :meth:`TypeAhead.reroute`;
* a key that bubbles up inside a screen that is no longer the active one is a stray from
  before a modal opened: it goes to the modal's :meth:`TypeAhead.type_ahead` (which types it
  into its input) or is dropped, never to a binding.
"""

from __future__ import annotations

import time
from typing import Any

from textual import events
from textual.widget import Widget
from textual.widgets import Input

_SEEN = "_labtasker_seen_by_input"


def tag(event: events.Key) -> None:
    """Record that ``event`` went through a text input (called from the input's _on_key)."""
    setattr(event, _SEEN, True)


def via_input(event: events.Key) -> bool:
    return bool(getattr(event, _SEEN, False))


class TypeAheadInput(Input):
    """An Input that tags the keys it sees (see :func:`tag`)."""

    async def _on_key(self, event: events.Key) -> None:
        tag(event)
        await super()._on_key(event)


def copy_key(event: events.Key) -> events.Key:
    """A fresh Key event, marked forwarded so the app does not route it a second time."""
    key = events.Key(event.key, event.character)
    key._set_forwarded()
    return key


def send_key(target: Widget, event: events.Key) -> None:
    key = copy_key(event)
    # sent by the app, as a typed key is: it then bubbles all the way up to the app, where
    # its binding (enter, backspace, escape) is looked up from the focused input
    key.set_sender(target.app)
    target.post_message(key)


def swallow(event: events.Key) -> None:
    event.stop()
    event.prevent_default()


class TypeAhead:
    """Mixin for a screen whose first job is typing into one text widget.

    Call :meth:`input_ready` from ``on_mount`` with that widget: it gets the focus at once and
    the keys buffered until then, in order. Keys arriving at the screen itself (nothing
    focused yet, or printable keys that never went through the input) are rerouted too."""

    _ta_target: Widget | None = None
    _ta_buffer: list[events.Key] | None = None

    def type_ahead(self, event: events.Key) -> None:
        """A key typed before this screen could take it (sent by the screen below)."""
        if self._ta_target is not None:
            send_key(self._ta_target, event)
        else:
            if self._ta_buffer is None:
                self._ta_buffer = []
            self._ta_buffer.append(copy_key(event))

    def input_ready(self, target: Widget) -> None:
        self.set_focus(target)  # type: ignore[attr-defined]
        self._ta_target = target
        for key in self._ta_buffer or []:
            send_key(target, key)
        self._ta_buffer = None

    def reroute(self, event: events.Key) -> bool:
        """Handle a key that reached the screen: True when it was typed into the input."""
        if via_input(event):
            return False
        focused = self.focused  # type: ignore[attr-defined]
        if self._ta_target is None:
            if focused is None:
                swallow(event)
                self.type_ahead(event)
                return True
            return False
        if focused is self._ta_target:
            swallow(event)
            send_key(self._ta_target, event)
            return True
        return False


#: the longest keys typed after a key that opens an input are held for it (then dropped)
TYPE_AHEAD_WAIT = 5.0


class TypeAheadHost:
    """Mixin for the list screen: after a key that opens a modal or screen, hold the keys
    typed next and hand them to what opens (a :class:`TypeAhead`), or drop them when nothing
    opens: replaying them as list keys could run commands that were typed as text."""

    type_ahead: list[events.Key] | None = None  # keys held while an input opens
    _type_ahead_timer: Any = None
    _type_ahead_since = 0.0

    def hold_keys(self) -> None:
        """The key just pressed opens something: hold the next keys for it."""
        self.type_ahead = []
        self._type_ahead_since = time.monotonic()
        if self._type_ahead_timer is None:
            self._type_ahead_timer = self.set_interval(  # type: ignore[attr-defined]
                0.05, self._type_ahead_check)

    def _flush_type_ahead(self, top: Any, event: events.Key | None = None) -> None:
        held, self.type_ahead = self.type_ahead or [], None
        self._stop_type_ahead_timer()
        if isinstance(top, TypeAhead):
            for key in held + ([event] if event is not None else []):
                top.type_ahead(key)

    def _type_ahead_check(self) -> None:
        if self.type_ahead is None:
            self._stop_type_ahead_timer()
            return
        app = self.app  # type: ignore[attr-defined]
        if app.screen is not self:
            self._flush_type_ahead(app.screen)
            return
        waited = time.monotonic() - self._type_ahead_since
        opening = any(w.node is self and w.group == "action" and not w.is_finished
                      for w in app.workers)
        if waited > TYPE_AHEAD_WAIT or (waited > 0.2 and not opening):
            held, self.type_ahead = self.type_ahead, None
            self._stop_type_ahead_timer()
            if held:
                self.notify(  # type: ignore[attr-defined]
                    f"ignored {len(held)} key{'s' * (len(held) != 1)} typed while an input"
                    " was opening", severity="warning", timeout=4)

    def _stop_type_ahead_timer(self) -> None:
        if self._type_ahead_timer is not None:
            self._type_ahead_timer.stop()
            self._type_ahead_timer = None

    def on_screen_suspend(self) -> None:
        if self.type_ahead is not None:
            self._flush_type_ahead(self.app.screen)  # type: ignore[attr-defined]
