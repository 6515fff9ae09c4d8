"""The plugin's settings: ``[plugin.agri]`` in the platform's configuration.

::

    [plugin.agri]
    company_prefixes = ["9521234"]         # GS1 company prefixes codes are issued under
    gateway = "org.farm:gateway-1"          # the field gateway twin
    sample_interval_s = 5.0                 # how often the simulated sensor nodes sample (demo)

    [[plugin.agri.plots]]
    id = "org.farm:plot-1"                  # the plot twin
    name = "North field"
    crop = "tomato"
    node = "agri-node-plot-1"               # its sensor node: a CoAP device posting SenML
    secret = "…"                            # optional: the node's CoAP ?secret=

    [[plugin.agri.readers]]
    id = "agri-reader-packing"              # an MQTT tag reader (Hono topic telemetry/agri/<id>)
    twin = "org.farm:reader-packing"
    read_point = "urn:twinledger:twin:org.farm:packing-line"

    [[plugin.agri.participants]]
    id = "org.lab:agrotest"                 # the subject of its API token
    role = "testing_agency"                 # farm | testing_agency | logistics_provider | seller
    public_key = "…"                        # Ed25519, PEM/base64/hex: it signs on its own side

    [plugin.agri.shelf_life_days]
    tomato = 10

Without plots or readers the plugin registers no devices (it still takes records and traces
codes); ``twinledger demo`` then runs the demo farm (two plots, a packing-line and a dock reader).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .product_codes import ContractTerms

NAME = "agri"


class PlotSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    crop: str
    node: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
    secret: str | None = None
    area_ha: float = 1.0
    time_zone_offset: str = "+02:00"
    ph: float = 6.5


class ReaderSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    twin: str
    read_point: str
    username: str | None = None


class ParticipantSettings(BaseModel):
    """A participant registered at start: its role and the public key it signs its records with."""

    model_config = ConfigDict(extra="forbid")

    id: str
    role: str = Field(pattern=r"^(farm|testing_agency|logistics_provider|seller)$")
    name: str | None = None
    public_key: str | None = None  # PEM, base64 or hex Ed25519 public key


class AgriSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company_prefixes: list[str] = Field(default_factory=lambda: ["9521234"], min_length=1)
    gateway: str = "org.farm:gateway-1"
    farm: str = "Green Acres"
    plots: list[PlotSettings] = Field(default_factory=list)
    readers: list[ReaderSettings] = Field(default_factory=list)
    participants: list[ParticipantSettings] = Field(default_factory=list)
    shelf_life_days: dict[str, float] = Field(default_factory=lambda: {"tomato": 10.0})
    default_shelf_life_days: float = 7.0
    sample_interval_s: float = Field(5.0, gt=0)
    demo_story: bool = True  # the demo's simulators also play the participants' storyline

    def terms(self) -> ContractTerms:
        return ContractTerms(
            shelf_life={crop: timedelta(days=d) for crop, d in self.shelf_life_days.items()},
            default_shelf_life=timedelta(days=self.default_shelf_life_days),
        )


DEMO_PLOTS = [
    PlotSettings(id="org.farm:plot-1", name="North field", crop="tomato", node="agri-node-plot-1"),
    PlotSettings(id="org.farm:plot-2", name="South field", crop="tomato", node="agri-node-plot-2", ph=6.8),
]
DEMO_READERS = [
    ReaderSettings(id="agri-reader-packing", twin="org.farm:reader-packing",
                   read_point="urn:twinledger:twin:org.farm:packing-line"),
    ReaderSettings(id="agri-reader-dock", twin="org.farm:reader-dock", read_point="urn:twinledger:twin:org.farm:dock"),
]  # fmt: skip


def load(raw: dict[str, Any], *, demo: bool = False) -> AgriSettings:
    """The settings; ``demo`` (``twinledger demo``) fills in the demo farm where the table names no devices."""
    settings = AgriSettings.model_validate(raw)
    if demo and not settings.plots and not settings.readers:
        settings = settings.model_copy(update={"plots": list(DEMO_PLOTS), "readers": list(DEMO_READERS)})
    return settings
