"""A command: desired property values of one twin feature, on their way to the device.

Setting ``/features/{feature}/desiredProperties`` on a twin is how anything (a rule, the API, an
operator) asks a device to change. The platform turns each such change into a :class:`Command`
and hands it to the adapter that owns the twin's device; the device confirms by reporting the
same values in ``properties``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Command:
    """Desired values for one feature of one twin.

    ``properties`` holds the desired values as set (nested like ``desiredProperties``);
    ``correlation_id`` identifies the command end to end (device responses carry it back);
    ``revision`` is the twin revision whose event set the desired values; ``deadline`` (epoch
    seconds) is when an unconfirmed command raises an alert.

    Example::

        Command("org.farm:pond-1", "aerator", {"on": True}, correlation_id="cmd-42", revision=17,
                deadline=1_763_700_030.0)
    """

    thing_id: str
    feature: str
    properties: dict[str, Any]
    correlation_id: str
    revision: int
    deadline: float
