"""The security incident's tick: "Credentials rotated", after the rollback."""

from __future__ import annotations

from slack_bolt import App

from bot.deps import Deps
from bot.flows.rollback_resume import progress_of
from bot.flows.security import tick_credentials_rotated
from bot.ids import ActionId
from bot.listeners.buttons import Button, Click, register_buttons
from bot.slack.cards import card_of, progress_card
from bot.slack.orchestrators import is_orchestrator
from store import PlanState, Surface


def handle_credentials_rotated_button(deps: Deps, click: Click) -> None:
    incident_id = click.number("incident")
    known = deps.store.get_incident(incident_id)
    orchestrators = deps.settings.config.slack.orchestrators
    may = (known is not None and click.user == known.requester) or is_orchestrator(
        click.user, orchestrators=orchestrators, client=click.client
    )
    incident = tick_credentials_rotated(
        deps, incident_id, actor=click.user, may=may, surface=Surface.SLACK
    )
    done = [p for p in deps.store.plans_of(incident.id) if p.state is PlanState.DONE]
    live = card_of(click.client, done[-1]) if done else None
    if live is not None:
        live.finish(progress_card(deps, progress_of(deps, done[-1])))
    click.tell(f"Recorded: the exposed credentials of incident #{incident.id} are rotated.")


BUTTONS = {
    ActionId.CREDENTIALS_ROTATED: Button(handle_credentials_rotated_button),
}


def register(app: App) -> None:
    register_buttons(app, BUTTONS)
