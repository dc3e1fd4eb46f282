"""labtasker-tui: task queues for experiments, from the terminal.

Jobs started by ``labtasker-tui loop`` can use :func:`task_info` and :func:`report`; both are
loaded on first use so ``import labtasker_tui`` stays cheap.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["report", "task_info"]


def __getattr__(name: str) -> Any:
    if name in ("task_info", "report"):
        from . import jobapi

        return getattr(jobapi, name)
    raise AttributeError(f"module 'labtasker_tui' has no attribute {name!r}")
