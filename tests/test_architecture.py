"""Imports point down: headless commands never load Textual; the core never loads cli/tui."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "labtasker_tui"
CORE_MODULES = ["models", "lifecycle", "args", "documents", "fields", "formats", "timefmt"]


def loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\n"
                          "print('\\n'.join(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_headless_submit_does_not_import_textual(tmp_path):
    code = (
        "import sys\n"
        f"sys.argv = ['labtasker-tui', '--db', r'{tmp_path / 't.db'}', 'submit', '-q', '--',"
        " '--x', '1']\n"
        "from labtasker_tui.cli.main import cli\n"
        "try:\n    cli(prog_name='labtasker-tui')\nexcept SystemExit:\n    pass\n"
    )
    mods = loaded_after(code)
    assert "labtasker_tui.cli.submit_cmd" in mods  # the command really ran
    assert not any(m == "textual" or m.startswith("textual.") for m in mods)


def test_core_modules_do_not_import_cli_tui_or_textual():
    code = "\n".join(f"import labtasker_tui.{m}" for m in CORE_MODULES) + (
        "\nimport labtasker_tui.store.task_store\nimport labtasker_tui.query")
    mods = loaded_after(code)
    bad = {m for m in mods if m.startswith(("labtasker_tui.cli", "labtasker_tui.tui",
                                            "textual", "click"))}
    assert not bad


def test_core_sources_do_not_name_upper_layers():
    for path in list(PKG.glob("*.py")) + list((PKG / "store").glob("*.py")) + list(
            (PKG / "query").glob("*.py")):
        text = path.read_text()
        for needle in ("from .cli", "from ..cli", "from .tui", "from ..tui", "import textual",
                       "from textual"):
            assert needle not in text, f"{path.name} imports an upper layer: {needle}"


def test_no_eval_anywhere():
    import re

    for path in PKG.rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"(?<![\w.])eval\(", text), f"eval( in {path}"
        assert not re.search(r"(?<![\w.])exec\(", text), f"exec( in {path}"


def test_no_import_cycle_between_modules():
    """No two modules import each other, directly or through others (imports made only for
    type checking excluded). grimp is import-linter's graph builder."""
    grimp = __import__("grimp")
    graph = grimp.build_graph("labtasker_tui", exclude_type_checking_imports=True)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    assert cycles == []
