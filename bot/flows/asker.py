"""Who asked for something and from where: what every flow records its work under."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from store import Surface


def _ignore(progress: object) -> None:
    pass


@dataclass(frozen=True)
class Asker:
    """A person (a Slack user ID, or ``os:<user>`` at a terminal) asking on a surface.

    ``progress`` receives what a long flow has done so far (a checklist half run), for a
    surface that shows work as it goes; the others ignore it.
    """

    actor: str
    surface: Surface
    channel: str | None = None
    progress: Callable[[object], None] = field(default=_ignore, compare=False)
