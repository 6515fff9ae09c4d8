"""Twins as an OPC UA address space, for HMIs and SCADA clients (read-only).

With ``[opcua] serve_endpoint = "opc.tcp://127.0.0.1:4850/twinledger"`` the platform runs an
asyncua server where each twin fed by a registered device is an object (browse name: the thing
id) with one folder per feature and one variable per reported property (scalars; names as in
the twin, ``a/b`` for nested ones). Committed events update the variables, with the event's
device time as source timestamp. Namespace ``urn:twinledger:twins``; node ids
``ns=2;s={thing-id}/{feature}/{property}``.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from asyncua import ua
from asyncua.common.node import Node
from asyncua.server.server import Server

from twinledger import Subscriber, TwinEvent

if TYPE_CHECKING:
    from twinledger import Platform

NAMESPACE = "urn:twinledger:twins"


class TwinServer:
    name = "opcua.hmi-server"

    def __init__(self, platform: Platform, endpoint: str) -> None:
        self.platform = platform
        self.endpoint = endpoint
        self._server: Server | None = None
        self._idx = 0
        self._objects: dict[str, Node] = {}
        self._folders: dict[tuple[str, str], Node] = {}
        self._variables: dict[str, Node] = {}
        self._twins: set[str] = set()

    def urls(self) -> dict[str, str]:
        return {"OPC UA (twins)": self.endpoint}

    async def start(self) -> None:
        logging.getLogger("asyncua").setLevel(logging.ERROR)
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("twinledger twins")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        self._idx = await server.register_namespace(NAMESPACE)
        await server.start()
        self._server = server
        self._twins = {t for d in self.platform.devices for t in d.twins}
        for thing_id in sorted(self._twins):
            twin = await self.platform.registry.get(thing_id)
            if twin is not None:
                await self._sync(thing_id, twin.features, None)
        await self.platform.bus.subscribe(
            Subscriber("opcua.hmi", self._on_events, durable=False, filter=lambda e: e.thing_id in self._twins)
        )

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.platform.bus.unsubscribe("opcua.hmi")
        if self._server is not None:
            await self._server.stop()
            self._server = None

    async def _on_events(self, events: Sequence[TwinEvent]) -> None:
        latest: dict[str, TwinEvent] = {}
        for e in events:
            latest[e.thing_id] = e
        for thing_id, event in latest.items():
            twin = self.platform.registry.cached(thing_id)
            if twin is not None:
                await self._sync(thing_id, twin.features, event.device_ts or event.ts)

    async def _sync(self, thing_id: str, features: dict[str, Any], ts: float | None) -> None:
        assert self._server is not None
        obj = self._objects.get(thing_id)
        if obj is None:
            obj = await self._server.nodes.objects.add_object(
                ua.NodeId(ua.String(thing_id), ua.Int16(self._idx)), f"{self._idx}:{thing_id}"
            )
            self._objects[thing_id] = obj
        stamp = ua.DateTime.fromtimestamp(ts, datetime.UTC) if ts is not None else None
        for feature, body in features.items():
            for name, value in _scalars((body or {}).get("properties") or {}):
                node_id = f"{thing_id}/{feature}/{name}"
                variable = self._variables.get(node_id)
                if variable is None:
                    folder = self._folders.get((thing_id, feature))
                    if folder is None:
                        folder = await obj.add_folder(
                            ua.NodeId(ua.String(f"{thing_id}/{feature}"), ua.Int16(self._idx)), f"{self._idx}:{feature}"
                        )
                        self._folders[(thing_id, feature)] = folder
                    variable = await folder.add_variable(
                        ua.NodeId(ua.String(node_id), ua.Int16(self._idx)), f"{self._idx}:{name}", value
                    )
                    self._variables[node_id] = variable
                    continue
                await self._server.write_attribute_value(
                    variable.nodeid, ua.DataValue(ua.Variant(value), SourceTimestamp=stamp)
                )


def _scalars(props: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in props.items():
        if isinstance(value, dict):
            out += _scalars(value, f"{prefix}{key}/")
        elif isinstance(value, bool | int | float | str):
            out.append((prefix + key, value))
    return out
