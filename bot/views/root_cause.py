"""Scenario 3, step 3: the root-cause questions, posted in the incident's thread after the
email rollback, so the 30 minutes of analysis start where the incident is told."""

from __future__ import annotations

from bot.views.blocks import Message, context, message, section
from store import Incident

QUESTIONS = (
    "What was removed that broke the system?",
    "Was there a dependency we missed?",
    "Did frontend code still rely on old system?",
    "Were webhooks properly redirected?",
)
SAFE_REMOVAL = (
    "Identify ALL dependencies on old email system",
    "Ensure new email module handles all use cases",
    "Create migration script for data if needed",
    "Test removal in isolated branch",
    "Document removal steps",
)


def build_root_cause_view(incident: Incident) -> Message:
    """The procedure's four questions, then its safe removal plan, for the thread to answer."""
    asked = "\n".join(f"{number}. {text}" for number, text in enumerate(QUESTIONS, start=1))
    plan = "\n".join(f"{number}. {text}" for number, text in enumerate(SAFE_REMOVAL, start=1))
    return message(
        f"Incident #{incident.id}: root cause analysis (30 minutes)",
        [
            section(f"*Root cause analysis* (30 minutes): answer in this thread.\n{asked}"),
            section(
                f"*Then a safe removal plan*, before the email removal is tried again:\n{plan}"
            ),
            context("From the procedure's Scenario 3 (email system failure), steps 3 and 4."),
        ],
    )
