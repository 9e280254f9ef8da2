"""Security: after the rollback, the tick that says the exposed credentials were rotated.

Recorded once, with who ticked it (the timeline and the store); the incident's card shows it
from then on. The requester or an orchestrator may tick it.
"""

from __future__ import annotations

from actions.errors import InputError
from bot.deps import Deps
from store import Incident, Surface, TimelineAction

ROTATED_KEY = "credentials-rotated:{}"


def rotated_by(deps: Deps, incident_id: int) -> str | None:
    return deps.store.read_value(ROTATED_KEY.format(incident_id))


def tick_credentials_rotated(
    deps: Deps, incident_id: int, *, actor: str, may: bool, surface: Surface
) -> Incident:
    """Record the rotation; InputError says why not (another incident, nobody allowed, done)."""
    incident = deps.store.get_incident(incident_id)
    if incident is None or incident.scenario != "security":
        raise InputError("That is not a security incident; nothing was recorded.")
    if not may:
        raise InputError(
            f"Only whoever reported incident #{incident.id} or an orchestrator can tick it. "
            "Nothing was recorded."
        )
    already = rotated_by(deps, incident_id)
    if already is not None:
        raise InputError(f"Already ticked by <@{already}>; nothing more was recorded.")
    deps.store.write_value(ROTATED_KEY.format(incident_id), actor)
    deps.store.append_event(
        actor=actor,
        surface=surface,
        action=TimelineAction.CREDENTIALS_ROTATED,
        incident_id=incident_id,
        details={"scenario": incident.scenario},
    )
    return incident
