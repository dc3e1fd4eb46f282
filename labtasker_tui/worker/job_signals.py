"""Signalling a job: its process group, SIGTERM then SIGKILL, and the parent-death signal
that makes the job's direct child die with the loop (Linux ``PR_SET_PDEATHSIG``)."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import sys
from typing import Any

_PR_SET_PDEATHSIG = 1


@functools.cache
def child_setup() -> Any:
    """A preexec function: the job's direct child gets SIGTERM when the loop dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def setup() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:   # the loop died before prctl took effect
            os._exit(1)

    return setup


def signal_group(proc: asyncio.subprocess.Process, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


async def stop_job(proc: asyncio.subprocess.Process, grace: float = 5.0) -> None:
    signal_group(proc, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except TimeoutError:
        signal_group(proc, signal.SIGKILL)

