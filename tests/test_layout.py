"""The layout stays navigable: small files, short functions, one room per capability."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "actions", "store")
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
# Listener modules that are surfaces or shared shapes, not capabilities.
NOT_CAPABILITIES = {"__init__", "commands", "buttons", "home"}


def _sources(root: Path = ROOT) -> list[Path]:
    return sorted(path for package in PACKAGES for path in (root / package).rglob("*.py"))


def long_files(root: Path = ROOT) -> list[str]:
    return [
        f"{path.relative_to(root)}: {count} lines"
        for path in _sources(root)
        if (count := len(path.read_text().splitlines())) > MAX_FILE_LINES
    ]


def long_functions(root: Path = ROOT) -> list[str]:
    found = []
    for path in _sources(root):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found.append(f"{path.relative_to(root)}:{node.lineno} {node.name}: {length}")
    return found


def test_no_file_is_over_the_line_limit() -> None:
    assert long_files() == []


def test_no_function_is_over_the_line_limit() -> None:
    assert long_functions() == []


def test_limits_would_catch_a_long_file_and_a_long_function(tmp_path: Path) -> None:
    (tmp_path / "bot").mkdir()
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "bot" / "long.py").write_text("def f():\n" + body + "\n" * MAX_FILE_LINES)
    assert long_files(tmp_path) == [f"bot/long.py: {MAX_FILE_LINES + MAX_FUNCTION_LINES + 1} lines"]
    assert long_functions(tmp_path) == [f"bot/long.py:1 f: {MAX_FUNCTION_LINES + 1}"]


def test_each_capability_has_its_flow_and_its_view_under_the_same_name() -> None:
    listeners = {path.stem for path in (ROOT / "bot" / "listeners").glob("*.py")}
    capabilities = listeners - NOT_CAPABILITIES
    assert capabilities, "no capability listeners found"
    for name in sorted(capabilities):
        assert (ROOT / "bot" / "flows" / f"{name}.py").exists(), name
        assert (ROOT / "bot" / "views" / f"{name}.py").exists(), name
