"""aqua: financial services for fish farming (ISO/IEC TR 30176, use case 2).

Pond sensors (dissolved oxygen, pH, water temperature) and the aerator and feeder of each pond
report through a farm gateway; a rule keeps oxygen above the pond's set point; every low-oxygen
incident and its handling is recorded in the ledger, signed by the gateway; with the farmer's
consent a bank or insurer obtains a credit report computed from that ledgered history.

The domain (free of platform wiring):

- ``twins/``: the twin types (WoT Thing Models) of farms, gateways and ponds;
- :mod:`.pond_model`, :mod:`.simulation`: the physics of a simulated pond and its loop;
- :mod:`.series`, :mod:`.analytics`: time series, trends, daily extremes, forecast, suggestions;
- :mod:`.incidents`: low-oxygen incidents and their handling;
- :mod:`.records`, :mod:`.credit`: ledger records in canonical JSON, the credit report.

The wiring (this module's hooks): :mod:`.config` (the farms), :mod:`.runtime` (twins, keys,
policies at start), :mod:`.devices` and :mod:`.simulator` (the farm gateways over OPC UA),
:mod:`.rules` (the aerator rule), :mod:`.tracking` (incidents into the ledger), :mod:`.ledger` (what
is recorded), :mod:`.portal` and :mod:`.routes` (consent, credit report, evaluations),
:mod:`.evidence` (checking a report offline), :mod:`.views` and :mod:`.pages`. See README.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from twinledger import hookimpl

if TYPE_CHECKING:
    from fastapi import APIRouter

    from twinledger import DashPage, DeviceSpec, LedgerWriter, Platform, Rule, Service, Subscriber

TWINS_DIR = Path(__file__).with_name("twins")
MANIFEST = Path(__file__).with_name("manifest.json")
name = "aqua"  # the plugin's name when registered by hand (tests); the entry point's name otherwise

__all__ = ["MANIFEST", "TWINS_DIR"]


@hookimpl
def twinledger_register_twin_types() -> list[Path]:
    return [TWINS_DIR]


@hookimpl
def twinledger_register_devices(platform: Platform) -> list[DeviceSpec]:
    from .devices import farm_devices
    from .runtime import runtime_of

    return [spec for farm in runtime_of(platform).config.farms for spec in farm_devices(farm)]


@hookimpl
async def twinledger_on_startup(platform: Platform) -> None:
    from .runtime import prepare, restore_command_starts, runtime_of

    runtime = runtime_of(platform)
    await prepare(platform, runtime)
    await restore_command_starts(platform, runtime)


@hookimpl
def twinledger_register_subscribers(platform: Platform) -> list[Subscriber]:
    from .runtime import runtime_of
    from .tracking import IncidentRecorder

    runtime = runtime_of(platform)
    if not runtime.config.farms:
        return []
    runtime.incidents = IncidentRecorder(platform, runtime)
    return [runtime.incidents.subscriber()]


@hookimpl
def twinledger_register_ledger_writers(platform: Platform) -> list[LedgerWriter]:
    from .ledger import pond_event_writer
    from .runtime import runtime_of

    runtime = runtime_of(platform)
    return [pond_event_writer(runtime)] if runtime.config.farms else []


@hookimpl
def twinledger_register_routes(platform: Platform) -> list[APIRouter]:
    from .routes import portal_router
    from .runtime import runtime_of

    return [portal_router(platform, runtime_of(platform))]


@hookimpl
def twinledger_register_dash_pages(platform: Platform) -> list[DashPage]:
    from .pages import aqua_pages
    from .runtime import runtime_of

    return aqua_pages(platform, runtime_of(platform))


@hookimpl
def twinledger_register_rules(platform: Platform) -> list[Rule]:
    from .rules import aerator_rule
    from .runtime import runtime_of

    runtime = runtime_of(platform)
    return [aerator_rule(platform, runtime)] if runtime.config.farms else []


@hookimpl
def twinledger_command_timeout(platform: Platform, thing_id: str, feature: str) -> float | None:
    from .runtime import runtime_of

    runtime = runtime_of(platform)
    if feature == "aerator" and thing_id in runtime.pond_ids:
        return runtime.config.confirm_timeout_s
    return None


@hookimpl
def twinledger_register_simulators(platform: Platform) -> list[Service]:
    from .runtime import runtime_of
    from .simulator import FarmGatewayServer, MqttFarmGateway

    runtime = runtime_of(platform)
    if not runtime.config.simulate:
        return []
    services: list[Service] = []
    for farm in runtime.config.farms:
        if farm.gateway.protocol == "opcua":
            gateway: FarmGatewayServer | MqttFarmGateway = FarmGatewayServer(farm, runtime.config)
        else:
            gateway = MqttFarmGateway(platform, farm, runtime.config)
        runtime.gateways[farm.gateway.id] = gateway
        services.append(gateway)
    if runtime.config.demo_story and runtime.config.farms:
        from .demo import DemoStory

        services.append(DemoStory(platform, runtime.config.farms[0]))
    return services
