"""The layering rule, enforced.

bot uses actions and store; actions and store never use Slack or bot; actions never uses store.
The local-only tooling (the emulator, the console, the demo) lives in bot/local, and nothing but
bot/local itself and the CLI's entry points imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SLACK = ("slack_bolt", "slack_sdk")


def _imports(package: str, root: Path = ROOT) -> list[tuple[str, str]]:
    found = []
    for path in sorted((root / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(root)), alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((str(path.relative_to(root)), node.module))
    return found


def _top(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize("package", ["actions", "store"])
def test_lower_layers_never_import_slack_or_bot(package: str) -> None:
    bad = [(f, m) for f, m in _imports(package) if _top(m) in (*SLACK, "bot")]
    assert bad == []


def test_actions_never_import_store() -> None:
    assert [(f, m) for f, m in _imports("actions") if _top(m) == "store"] == []


def test_store_uses_only_shared_pieces_of_actions() -> None:
    allowed = {"actions.errors", "actions.redact"}
    bad = [(f, m) for f, m in _imports("store") if _top(m) == "actions" and m not in allowed]
    assert bad == []


def test_only_settings_reads_the_environment() -> None:
    readers = []
    for package in ("bot", "actions", "store"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            if "os.environ" in text or "os.getenv" in text:
                readers.append(str(path.relative_to(ROOT)))
    allowed = {
        "bot/settings.py",
        "bot/cli.py",
        "bot/local/demo/service.py",
        "bot/local/demo/sandbox.py",
    }
    assert set(readers) <= allowed, readers


LOCAL_ALLOWED = {"bot/cli.py"}


def _imports_of_local(root: Path = ROOT) -> list[tuple[str, str]]:
    found = []
    for package in ("bot", "actions", "store"):
        for file, module in _imports(package, root):
            inside_local = file.startswith("bot/local/")
            if module.startswith("bot.local") and not inside_local and file not in LOCAL_ALLOWED:
                found.append((file, module))
    return found


def test_production_code_never_imports_local_tooling() -> None:
    assert _imports_of_local() == []


def test_local_rule_would_catch_a_violation(tmp_path: Path) -> None:
    (tmp_path / "bot" / "flows").mkdir(parents=True)
    (tmp_path / "bot" / "flows" / "probe.py").write_text("from bot.local.emulator import X\n")
    (tmp_path / "bot" / "local").mkdir()
    (tmp_path / "bot" / "local" / "ok.py").write_text("from bot.local.emulator import X\n")
    assert _imports_of_local(tmp_path) == [("bot/flows/probe.py", "bot.local.emulator")]


def test_import_rules_would_catch_a_violation(tmp_path: Path) -> None:
    # The checker above must be able to fail: feed it a file that breaks the rule.
    (tmp_path / "actions").mkdir()
    probe = tmp_path / "actions" / "_probe_violation.py"
    probe.write_text("import slack_bolt\nfrom store import Store\n")
    found = _imports("actions", root=tmp_path)
    assert ("actions/_probe_violation.py", "slack_bolt") in found
    assert ("actions/_probe_violation.py", "store") in found
