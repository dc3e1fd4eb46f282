"""What the program does around a headless command, without click: Ctrl-C ends it at once,
a reader closing the pipe early ends it quietly, and whether the full-screen app applies.

Shared by the click commands (re-exported by :mod:`.context`) and the fast entry
(:mod:`.fast_path`), which must not load click."""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

_interrupt_watch: threading.Event | None = None


def exit_on_interrupt() -> None:
    """Ctrl-C ends a headless command at once: one line on stderr, exit 130.

    SIGINT is blocked and awaited by a watcher thread, so it takes effect even while the main
    thread is inside SQLite (a busy wait on a locked database lasts up to 30 s) or a driver's
    connect. Exiting mid-transaction is safe: the database rolls the transaction back, as after
    a crash. Called only by the real program (not by in-process tests) and not for ``loop``,
    which handles Ctrl-C itself."""
    global _interrupt_watch
    if (_interrupt_watch is not None or not hasattr(signal, "pthread_sigmask")
            or threading.current_thread() is not threading.main_thread()):
        return
    stop = _interrupt_watch = threading.Event()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})

    def watch() -> None:
        while not stop.is_set():
            if signal.sigtimedwait({signal.SIGINT}, 0.2) is not None and not stop.is_set():
                os.write(2, b"\nInterrupted.\n" if os.isatty(2) else b"Interrupted.\n")
                os._exit(130)

    threading.Thread(target=watch, name="interrupt-watch", daemon=True).start()


def default_interrupts() -> None:
    """Before the full-screen app: SIGINT back to the main thread (the app reads Ctrl-C as a
    key; its child processes must not inherit a blocked SIGINT)."""
    global _interrupt_watch
    if _interrupt_watch is None:
        return
    _interrupt_watch.set()
    _interrupt_watch = None
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def guard_pipe(fn: Any) -> None:
    """`ls | head` closes the pipe early: exit quietly instead of a traceback."""
    try:
        fn()
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(0) from None


def interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()
