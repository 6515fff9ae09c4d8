"""The plugin's state per platform, and what ``on_startup`` prepares: twins, keys, the farm policy.

No module-level state: tests run several platforms in one process, each with its own
:class:`AquaRuntime` (``runtime_of(platform)``).

At start, for every configured farm:

- the farm, gateway and pond twins exist (created once; a pond's state is never overwritten), all
  under one policy whose id is the farm's thing id and whose ``owner`` entry is the farmer;
- the gateway is a ledger participant (role ``device``) with a platform-held Ed25519 key: it
  signs the pond events and incident records it vouches for; its public key is the gateway
  twin's ``publicKey`` attribute;
- the farmer is a participant (role ``farmer``) with a platform-held key: the platform signs the
  farmer's consent records when the farmer grants or revokes with the API token alone; a farmer
  with their own key registers its public half and signs consent on their side instead
  (:func:`.portal.grant_signed`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

import structlog

from twinledger import Signal

from .config import AquaConfig, FarmConfig, load_config
from .series import AERATOR_DESIRED, value_set_by

if TYPE_CHECKING:
    from twinledger import Platform

    from .simulator import FarmGatewayServer, MqttFarmGateway
    from .tracking import IncidentRecorder

log = structlog.get_logger("twinledger.aqua")

__all__ = ["AquaRuntime", "prepare", "restore_command_starts", "runtime_of"]

_RUNTIMES: WeakKeyDictionary[Any, AquaRuntime] = WeakKeyDictionary()


@dataclass
class AquaRuntime:
    config: AquaConfig
    gateways: dict[str, FarmGatewayServer | MqttFarmGateway] = field(default_factory=dict)  # simulators, by gateway id
    # pond → platform time of the command that started its aerator (rebuilt from history at start)
    command_started: dict[str, float] = field(default_factory=dict)
    incidents: IncidentRecorder | None = None

    @property
    def pond_ids(self) -> frozenset[str]:
        return self.config.pond_ids()


def runtime_of(platform: Platform) -> AquaRuntime:
    runtime = _RUNTIMES.get(platform)
    if runtime is None:
        config = load_config(platform.plugin_settings("aqua"), demo=platform.with_simulators)
        runtime = _RUNTIMES[platform] = AquaRuntime(config)
    return runtime


def farm_doc(farm: FarmConfig) -> dict[str, Any]:
    return {
        "policyId": farm.id,
        "definition": "aqua:farm:1.0.0",
        "attributes": {
            "name": farm.name,
            "farmer": farm.farmer,
            "country": farm.country,
            "timezone": farm.timezone,
            "gateways": [farm.gateway.id],
            "ponds": [p.id for p in farm.ponds],
        },
    }


def gateway_doc(farm: FarmConfig, public_key: str) -> dict[str, Any]:
    gw = farm.gateway
    return {
        "policyId": farm.id,
        "definition": "aqua:farm-gateway:1.0.0",
        "attributes": {
            "farm": farm.id,
            "protocol": gw.protocol,
            "endpoint": gw.endpoint,
            "publicKey": public_key,
            "ponds": [p.id for p in farm.ponds],
        },
    }


def pond_doc(farm: FarmConfig, index: int) -> dict[str, Any]:
    pond = farm.ponds[index]
    return {
        "policyId": farm.id,
        "definition": "aqua:pond:1.0.0",
        "attributes": {
            "farm": farm.id,
            "gateway": farm.gateway.id,
            "name": pond.name or pond.key,
            "areaM2": pond.area_m2,
            "depthM": pond.depth_m,
            "species": pond.species,
            "aeratorSotr": pond.aerator_sotr_kg_h,
        },
        "features": {
            "oxygen": {"properties": {"setPoint": pond.set_point, "hysteresis": pond.hysteresis}},
            "ph": {"properties": {"low": 6.5, "high": 9.0}},
            "temperature": {"properties": {}},
            "aerator": {"properties": {"on": False, "mode": pond.mode, "minOnTime": pond.min_on_time_s}},
            "feeder": {"properties": {"dailyRationKg": 20.0, "mealsPerDay": 2}},
            "production": {"properties": {}},
        },
    }


async def _key_b64url(platform: Platform, participant: str, role: str, name: str) -> str:
    ledger = platform.ledger
    if ledger.participants.get(participant) is None:
        await ledger.register_participant(participant, role, name)
    held = [k for k in ledger.participants.keys_of(participant) if k.platform_held]
    key = held[-1] if held else await ledger.create_key(participant)
    return base64.urlsafe_b64encode(key.public_key).rstrip(b"=").decode()


async def prepare(platform: Platform, runtime: AquaRuntime) -> None:
    """Twins, policies and keys of the configured farms (idempotent: runs at every start)."""
    for farm in runtime.config.farms:
        await platform.policies.ensure(farm.id, [farm.farmer])
        public = await _key_b64url(platform, farm.gateway.id, "device", f"gateway of {farm.name}")
        await _key_b64url(platform, farm.farmer, "farmer", f"farmer of {farm.name}")
        wanted = {
            farm.id: farm_doc(farm),
            farm.gateway.id: gateway_doc(farm, public),
            **{pond.id: pond_doc(farm, i) for i, pond in enumerate(farm.ponds)},
        }
        signals = [  # created once: the twins' state (and the farmer's changes) survive restarts
            Signal(thing_id, "/", doc, op="put", source="plugin:aqua", if_none_match=True)
            for thing_id, doc in wanted.items()
            if await platform.registry.get(thing_id) is None
        ]
        for outcome in await platform.registry.apply_many(signals):
            if outcome.error is not None:
                raise outcome.error
        log.info("aqua_farm_ready", farm=farm.id, ponds=len(farm.ponds), gateway=farm.gateway.id)


async def restore_command_starts(platform: Platform, runtime: AquaRuntime) -> None:
    """After a restart, the start time of every aerator commanded on, from the pond's history.

    The aerator rule's minimum on-time counts from the event that set the desired ``on`` to true
    (its commit time, on the platform clock). That event is in the twin's history, so a restart
    while the aerator runs gives the rule the same start time it had (runs before the rules engine).
    """
    for pond in sorted(runtime.pond_ids):
        twin = await platform.registry.get(pond)
        if twin is None or twin.desired("aerator", "on") is not True or pond in runtime.command_started:
            continue
        before: int | None = twin.revision
        while before is not None and before > 0:
            page = await platform.registry.history(pond, to_revision=before, newest_first=True, limit=500)
            found = next((e for e in page if value_set_by(e, AERATOR_DESIRED) is True), None)
            if found is not None:
                runtime.command_started[pond] = found.ingest_ts_us / 1e6
                log.info("aqua_aerator_start_restored", pond=pond, revision=found.revision)
                break
            before = page[-1].revision - 1 if page else None
