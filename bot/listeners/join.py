"""Join #N or Open a new incident: the reporter's answer to "is this the same problem?"."""

from __future__ import annotations

from slack_bolt import App

from bot.deps import Deps
from bot.flows.asker import Asker
from bot.flows.join import join_incident, recall
from bot.flows.rollback import Proposal, request_scenario
from bot.ids import ActionId
from bot.listeners.buttons import Button, Click, register_buttons
from bot.slack.cards import deliver_card
from bot.slack.messages import LiveMessage
from bot.slack.orchestrators import is_orchestrator
from bot.views.join import build_joined_note_view
from store import Surface


def handle_incident_join_button(deps: Deps, click: Click) -> None:
    _, kept = recall(deps, click.value, clicker=click.user)
    incident = join_incident(deps, click.number("incident"), kept, surface=Surface.SLACK)
    if incident.message_ts:
        note = build_joined_note_view(incident, click.user, kept.request.trigger)
        LiveMessage(click.client, incident.channel).start(
            {**note, "thread_ts": incident.message_ts}
        )
    click.tell(f"Added to incident #{incident.id}: its timeline and thread have your report.")


def handle_incident_new_button(deps: Deps, click: Click) -> None:
    _, kept = recall(deps, click.value, clicker=click.user)
    orchestrators = deps.settings.config.slack.orchestrators
    asker = Asker(
        click.user,
        Surface.SLACK,
        click.reply.channel,
        orchestrator=lambda: is_orchestrator(
            click.user, orchestrators=orchestrators, client=click.client
        ),
    )
    proposal = request_scenario(deps, kept.request, asker, join_check=False)
    assert isinstance(proposal, Proposal), "without the join check a report opens an incident"
    deliver_card(deps, proposal, click.reply)


BUTTONS = {
    ActionId.INCIDENT_JOIN: Button(handle_incident_join_button),
    ActionId.INCIDENT_NEW: Button(handle_incident_new_button),
}


def register(app: App) -> None:
    register_buttons(app, BUTTONS)
