"""Who asked for something and from where: what every flow records its work under."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from store import Surface


def _ignore(progress: object) -> None:
    pass


def _nobody() -> bool:
    return False


@dataclass(frozen=True)
class Asker:
    """A person (a Slack user ID, or ``os:<user>`` at a terminal) asking on a surface.

    ``progress`` receives what a long flow has done so far (a checklist half run), for a
    surface that shows work as it goes; the others ignore it. ``orchestrator`` answers whether
    the asker is one; it is asked only when a rule needs it, because a user group costs a call
    to Slack.
    """

    actor: str
    surface: Surface
    channel: str | None = None
    progress: Callable[[object], None] = field(default=_ignore, compare=False)
    orchestrator: Callable[[], bool] = field(default=_nobody, compare=False)

    @property
    def role(self) -> str:
        """Kept with a rating: whether an orchestrator set it decides who may lower it."""
        return "orchestrator" if self.orchestrator() else "requester"
