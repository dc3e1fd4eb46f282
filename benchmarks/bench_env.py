"""What every benchmark does before timing processes of ours."""

from __future__ import annotations

import compileall
import os
from pathlib import Path


def compiled_like_an_install() -> None:
    """Run from compiled modules, as an installed package does (pip writes the .pyc files of
    what it installs; an editable checkout gets them here). With PYTHONDONTWRITEBYTECODE set,
    as in some shells and CI images, every process of ours would otherwise compile its sources
    again (50-80 ms each) while the peers it is compared with do not."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    compileall.compile_dir(str(Path(__file__).resolve().parent.parent / "labtasker_tui"),
                           quiet=1)
