"""The ``labtasker-tui`` program: the fast entry (:mod:`.fast_path`) for the read commands
shell loops repeat, else the click command group (:mod:`.main`). Imports nothing heavy."""

from __future__ import annotations

import sys


def main() -> None:
    from .fast_path import run_fast

    code = run_fast(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from .main import main as click_main

    click_main()
