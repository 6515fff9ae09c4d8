"""The farm's devices and twins: plot sensor nodes (CoAP, SenML) and tag readers (MQTT).

Each plot's sensor node is a CoAP device that POSTs SenML packs to ``/devices/<node>``; its record
names (``<node>/soil/ph``...) map to the plot twin's features (:data:`field_model.SENML_TO_TWIN`).
Each tag reader publishes JSON reads on Hono's ``telemetry/agri/<reader>``, feeding its twin's
``reads`` feature. Every device is also a ledger participant (role ``device``, id = device id)
with its own key: the readings writer (:mod:`.ledger`) signs each accepted reading with it.
"""

from __future__ import annotations

from typing import Any

from twinledger import DeviceSpec, Platform, PointSpec, Signal

from .config import AgriSettings
from .field_model import SENML_TO_TWIN

DEVICE_ROLE = "device"

_TAG_POINTS = {
    "epc": PointSpec(path="/features/reads/properties/lastEpc", type="string"),
    "antenna": PointSpec(path="/features/reads/properties/antenna", type="integer"),
    "rssi": PointSpec(path="/features/reads/properties/rssi", unit="dBm", type="number"),
    "seq": PointSpec(path="/features/reads/properties/readCount", type="integer"),
}


def device_specs(settings: AgriSettings) -> list[DeviceSpec]:
    specs = []
    for plot in settings.plots:
        points = {
            f"{plot.node}/{name}": PointSpec(
                path=f"/features/{feature}/properties/{prop}", unit=unit, type=None if unit is None else "number"
            )
            for name, (feature, prop, unit) in SENML_TO_TWIN.items()
        }
        specs.append(
            DeviceSpec(
                id=plot.node,
                protocol="coap",
                twins=[plot.id],
                points=points,
                secret=plot.secret,
                description=f"sensor node of {plot.name} ({plot.id}), behind {settings.gateway}",
            )
        )
    for reader in settings.readers:
        specs.append(
            DeviceSpec(
                id=reader.id,
                protocol="mqtt",
                twins=[reader.twin],
                points=_TAG_POINTS,
                username=reader.username,
                time_key="readAt",
                description=f"tag reader at {reader.read_point}",
            )
        )
    return specs


def device_ids(settings: AgriSettings) -> set[str]:
    return {p.node for p in settings.plots} | {r.id for r in settings.readers}


async def ensure_twins(platform: Platform, settings: AgriSettings) -> None:
    """Create the gateway, plot and reader twins the devices feed (left alone when they exist)."""
    if not settings.plots and not settings.readers:
        return
    wanted: list[tuple[str, dict[str, Any]]] = [
        (
            settings.gateway,
            {
                "definition": "agri:field-gateway:1.0.0",
                "attributes": {
                    "farm": settings.farm,
                    "protocol": "coap",
                    "plots": [p.id for p in settings.plots],
                    "devices": sorted(device_ids(settings)),
                },
            },
        )
    ]
    for p in settings.plots:
        wanted.append(
            (
                p.id,
                {
                    "definition": "agri:plot:1.0.0",
                    "attributes": {
                        "farm": settings.farm,
                        "name": p.name,
                        "crop": p.crop,
                        "areaHa": p.area_ha,
                        "gateway": settings.gateway,
                        "timeZoneOffset": p.time_zone_offset,
                    },
                },
            )
        )
    for r in settings.readers:
        wanted.append(
            (
                r.twin,
                {"definition": "agri:tag-reader:1.0.0", "attributes": {"readPoint": r.read_point, "protocol": "mqtt"}},
            )
        )
    for thing_id, doc in wanted:
        if await platform.registry.get(thing_id) is None:
            outcome = await platform.registry.apply(
                Signal(thing_id, "/", doc, op="put", source="plugin:agri", if_none_match=True, keep_rejected=False)
            )
            if outcome.error is not None and outcome.error.status != 412:
                raise outcome.error


async def ensure_device_keys(platform: Platform, settings: AgriSettings) -> None:
    """Each device a ledger participant with a platform-held key bound to its id (created once)."""
    ledger = platform.ledger
    for device in sorted(device_ids(settings)):
        await ledger.register_participant(device, DEVICE_ROLE, f"agri device {device}")
        if not any(k.platform_held for k in ledger.participants.keys_of(device)):
            await ledger.create_key(device)
