"""The database step on a rollback's card (Scenario 5): what it will do, and what it did.

Before approval the card says which migrations go, the down SQL that takes each back (or the
command that runs once), and what data that drops, counted now, since it is lost unless it is
restored from the backup. After the run it says where the backup is and how to restore it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actions.rollback_plan import RollbackPlan
from actions.sql_text import is_transaction_wrapper, split_statements
from bot.views.blocks import escape
from bot.views.incident import plural

_SHOWN = 8


def build_database_plan_text(plan: RollbackPlan) -> str | None:
    """The card's database section before approval; None when the plan crosses no migration."""
    if not plan.migrations_crossed:
        return None
    crossed = plural(len(plan.migrations_crossed), "schema migration")
    names = _names(plan.migrations_crossed)
    database = plan.database
    if database is None or database.unavailable:
        why = (
            f" The database step is unavailable: {escape(database.unavailable)}."
            if database
            else ""
        )
        return (
            f":warning: This goes back past {crossed}: {names}.{why} The plan has no database "
            "step: approving leaves the database at the newer schema."
        )
    if not database.needed:
        return (
            f":information_source: The code goes back past {crossed} ({names}), none of them "
            "applied to the database: it needs no rollback."
        )
    applied = plural(len(database.migrations), "migration")
    lines = [
        f":floppy_disk: *Database step*: {applied} applied after the target, taken back newest "
        f"first: {_names([m.name for m in database.migrations])}.",
    ]
    if database.command:
        lines.append(
            f"Runs once: `{escape(' '.join(database.command))}` (not transactional, so there is "
            "no dry run; the migrations table is read before and after)."
        )
    else:
        for script in database.scripts[:_SHOWN]:
            count = sum(1 for s in split_statements(script.sql) if not is_transaction_wrapper(s))
            lines.append(f"• `{escape(script.path)}`: {plural(count, 'statement')}")
        lines.append(
            "Order: pg_dump backup, a dry run (rolled back), then one transaction that checks the "
            "migrations table lists exactly the target's, and commits. Then the code."
        )
    if database.at_risk:
        risks = ", ".join(
            f"{escape(item.what)} ({'not there now' if item.count is None else _count(item)})"
            for item in database.at_risk[:_SHOWN]
        )
        lines.append(f":warning: *Dropped*, so lost unless restored from the backup: {risks}.")
    return "\n".join(lines)


def build_database_result_text(facts: Mapping[str, Any]) -> str | None:
    """What the database step did, for the card while and after the rollback runs."""
    backup = facts.get("db_backup")
    if not backup:
        return None
    size = int(facts.get("db_backup_bytes") or 0)
    lines = [f":floppy_disk: *Database backup*: `{escape(str(backup))}` ({_size(size)})."]
    if facts.get("db_rolled_back"):
        if facts.get("db_already"):
            lines.append("*Database*: already at the target's migrations; nothing ran twice.")
        else:
            statements = int(facts.get("db_statements") or 0)
            ran = f" ({plural(statements, 'statement')})" if statements else ""
            lines.append(f"*Database rolled back*{ran}: the migrations table lists the target's.")
    restore = facts.get("db_restore")
    if restore:
        lines.append(f"Restore it by hand: `{escape(str(restore))}`")
    return "\n".join(lines)


def _names(names: Any) -> str:
    shown = [f"`{escape(str(name))}`" for name in list(names)[:_SHOWN]]
    more = len(list(names)) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _count(item: Any) -> str:
    return plural(int(item.count), "row" if item.what.startswith("table") else "value")


def _size(size: int) -> str:
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    if size >= 1_000:
        return f"{size / 1_000:.1f} kB"
    return plural(size, "byte")
