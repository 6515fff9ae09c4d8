"""The demo's simulated farm (``twinledger_register_simulators``), speaking the real protocols:

- each plot's sensor node POSTs a SenML pack (RFC 8428, Content-Format 110) of its current sample
  to the platform's CoAP server every ``sample_interval_s``, and a camera snapshot reference every
  sixth time (confirmable requests, answered after commit);
- the tag readers publish the EPCs they read (JSON on Hono's ``telemetry/agri/<reader>``, QoS 1)
  to the broker the MQTT adapter uses: the packing line reads each packed box once, the dock
  reader keeps scanning them;
- the participants play the storyline (:mod:`.story`) once, so the demo has a product code to trace.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aiocoap
import gmqtt
import structlog
from aiocoap.numbers.codes import Code
from gmqtt.mqtt.constants import MQTTv50, MQTTv311

from twinledger import Platform, cancel_tasks

from .config import PlotSettings, ReaderSettings
from .field_model import (
    SENML_CONTENT_FORMAT,
    FieldModel,
    TagReaderModel,
    camera_image,
    senml_json,
    senml_pack,
    senml_snapshot,
)
from .service import AgriService
from .story import Story, play, trace_links

log = structlog.get_logger("twinledger.plugins.agri.simulator")


def _adapter(platform: Platform, name: str) -> Any:
    return next((a for _, a in platform.adapters if getattr(a, "name", None) == name), None)


class AgriSimulator:
    name = "agri.simulator"

    def __init__(self, platform: Platform, service: AgriService) -> None:
        self.platform = platform
        self.service = service
        self.settings = service.settings
        self.story: Story | None = None
        self.posted = 0  # SenML packs the platform accepted (2.04), for tests and the curious
        self.failed = 0
        self._coap: aiocoap.Context | None = None
        self._mqtt: gmqtt.Client | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        coap = _adapter(self.platform, "coap")
        if coap is not None:
            self._coap = await aiocoap.Context.create_client_context(transports=["udp6"])
            for i, plot in enumerate(self.settings.plots):
                self._tasks.append(asyncio.create_task(self._node(plot, coap.url, i), name=f"agri-node:{plot.node}"))
        mqtt = _adapter(self.platform, "mqtt")
        if mqtt is not None:
            client = gmqtt.Client(f"agri-readers-{uuid.uuid4().hex[:6]}")
            version = MQTTv311 if mqtt.settings.protocol == "3.1.1" else MQTTv50
            await client.connect(mqtt.host, mqtt.port, version=version)
            self._mqtt = client
        if self.settings.demo_story:
            self.story = await play(self.platform, self.service)
            if self._mqtt is not None and self.story.codes and self.settings.readers:
                self._tasks.append(asyncio.create_task(self._readers(self.story), name="agri-readers"))

    async def stop(self) -> None:
        await cancel_tasks(*self._tasks)
        self._tasks.clear()
        if self._mqtt is not None:
            await self._mqtt.disconnect()
            self._mqtt = None
        if self._coap is not None:
            await self._coap.shutdown()
            self._coap = None

    def urls(self) -> dict[str, str]:
        """For the demo's banner: where to trace a demo box."""
        http = self.platform.http
        if self.story is None or not self.story.codes or http is None:
            return {}
        return trace_links(http.url, self.story.codes[0])

    async def _node(self, plot: PlotSettings, server: str, index: int) -> None:
        model = FieldModel(seed=7 + index, plot=plot.id, utc_offset=timedelta(hours=2), soil_ph=plot.ph)
        query = f"?secret={plot.secret}" if plot.secret else ""
        uri = f"{server}/devices/{plot.node}{query}"
        n = 0
        while True:
            now = datetime.now(UTC)
            packs = [senml_pack(plot.node, [model.sample(now)])]
            if n % 6 == 0:
                image = camera_image(7 + index, plot.id, now, base_uri=f"https://cams.example/{plot.id}")
                packs.append(senml_snapshot(plot.node, image))
            for pack in packs:
                await self._post(uri, senml_json(pack))
            n += 1
            await asyncio.sleep(self.settings.sample_interval_s)

    async def _post(self, uri: str, payload: bytes) -> None:
        assert self._coap is not None
        request = aiocoap.Message(code=Code.POST, uri=uri, payload=payload, content_format=SENML_CONTENT_FORMAT)
        try:
            response = await self._coap.request(request).response
        except Exception as exc:  # the platform is stopping or restarting: try again next time
            self.failed += 1
            log.warning("agri_node_post_failed", uri=uri, error=repr(exc))
            return
        if response.code.is_successful():
            self.posted += 1
        else:
            self.failed += 1
            log.warning("agri_node_refused", uri=uri, code=str(response.code), reason=response.payload.decode()[:200])

    async def _readers(self, story: Story) -> None:
        readers: list[ReaderSettings] = self.settings.readers
        models = [TagReaderModel(seed=3 + i, reader=r.id, read_point=r.read_point) for i, r in enumerate(readers)]
        boxes = [c.epc_uri for c in story.codes]
        sequence = 1
        for read in models[0].reads(boxes, datetime.now(UTC), timedelta(seconds=1), sequence):
            self._publish(read.topic, read.encoded())
        sequence += len(boxes)
        dock = models[-1]
        while True:
            await asyncio.sleep(4 * self.settings.sample_interval_s)
            read = dock.read(boxes[sequence % len(boxes)], datetime.now(UTC), sequence)
            self._publish(read.topic, read.encoded())
            sequence += 1

    def _publish(self, topic: str, payload: bytes) -> None:
        if self._mqtt is not None:
            self._mqtt.publish(topic, payload, qos=1)
