"""agri: agricultural product tracing (ISO/IEC TR 30176, use case 1). Entry point ``agri``.

The hooks wire the domain modules to the platform:

- twin types (``twins/``): field gateway, plot, lot, tag reader;
- devices (:mod:`.devices`): a CoAP sensor node per plot posting SenML, MQTT tag readers; each a
  ledger participant with its own key, and a ledger writer (:mod:`.ledger`) that signs every
  accepted reading with the key bound to its device id;
- Tortoise models (:mod:`.models`): product codes (unique, never reused), the record index,
  disclosures;
- routes (:mod:`.routes`): participants post signed records and ask for codes; anyone traces a code;
- simulators (:mod:`.simulator`): the demo's devices and its storyline;
- a public Dash trace page (:mod:`.pages`), records checked in the visitor's browser.

Domain modules, usable without a platform: ``epcis``, ``records``, ``builders``, ``sealing``,
``product_codes``, ``trace``, ``field_model``, ``client`` (what a participant runs to sign).
"""

from __future__ import annotations

import json
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twinledger import hookimpl

if TYPE_CHECKING:
    from fastapi import APIRouter

    from twinledger import DashPage, DeviceSpec, LedgerWriter, Platform, Service

    from .config import AgriSettings
    from .service import AgriService

PLUGIN_DIR = Path(__file__).parent
TWINS_DIR = PLUGIN_DIR / "twins"
MANIFEST_PATH = PLUGIN_DIR / "manifest.json"
NAME = "agri"
name = NAME  # the plugin name when the module is registered directly (tests), as its entry point names it

_services: weakref.WeakKeyDictionary[Platform, AgriService] = weakref.WeakKeyDictionary()


def manifest() -> dict[str, Any]:
    """The plugin's manifest (name, protocols, twin types), as shipped in ``manifest.json``."""
    data: dict[str, Any] = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    return data


def settings_of(platform: Platform) -> AgriSettings:
    from .config import load

    return load(platform.plugin_settings(NAME), demo=platform.with_simulators)


def service_of(platform: Platform) -> AgriService:
    """The plugin's service for ``platform`` (one per platform: tests run several)."""
    found = _services.get(platform)
    if found is None:
        from .service import AgriService

        found = _services[platform] = AgriService(platform, settings_of(platform))
    return found


@hookimpl
def twinledger_register_twin_types() -> list[Path]:
    return [TWINS_DIR]


@hookimpl
def twinledger_register_model_modules(platform: Platform) -> list[str]:
    return [f"{__name__}.models"]


@hookimpl
def twinledger_register_devices(platform: Platform) -> list[DeviceSpec]:
    from .devices import device_specs

    return device_specs(settings_of(platform))


@hookimpl
async def twinledger_on_startup(platform: Platform) -> None:
    from .devices import ensure_device_keys, ensure_twins
    from .participants import register_participants

    service = service_of(platform)
    await service.reindex()  # records appended just before a stop, not indexed yet
    await ensure_twins(platform, service.settings)
    await ensure_device_keys(platform, service.settings)
    await register_participants(platform, service.settings)


@hookimpl
def twinledger_register_ledger_writers(platform: Platform) -> list[LedgerWriter]:
    from .devices import device_ids
    from .ledger import readings_writer

    devices = device_ids(settings_of(platform))
    return [readings_writer(devices)] if devices else []  # no devices: no writer, nothing recorded


@hookimpl
def twinledger_register_routes(platform: Platform) -> list[APIRouter]:
    from .routes import routers

    return routers(service_of(platform))


@hookimpl
def twinledger_register_dash_pages(platform: Platform) -> list[DashPage]:
    from .pages import pages

    return pages(platform, service_of(platform))


@hookimpl
def twinledger_register_simulators(platform: Platform) -> list[Service]:
    from .simulator import AgriSimulator

    return [AgriSimulator(platform, service_of(platform))]


__all__ = ["MANIFEST_PATH", "NAME", "PLUGIN_DIR", "TWINS_DIR", "manifest", "service_of", "settings_of"]
