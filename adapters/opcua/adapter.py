"""The OPC UA adapter: one client session per device server, subscriptions to its mapped nodes.

Each device (``endpoint = "opc.tcp://..."``) gets a supervisor task: connect (with the device's
security policy), resolve each point's node (node id or browse path), create one subscription
(``publishing_ms``) with monitored items (``sampling_ms``), then wait for the connection to be
lost; on loss or failure it reconnects with exponential backoff and subscribes again (a device
server that restarts has forgotten the subscription). Data changes become signals with the
item's source timestamp as device time. Commands write the mapped variables (in their OPC UA
data type) or call the mapped methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

from twinledger import Command, DeadLetter
from twinledger.devices import AdapterHealth, AdapterStatus, Device, Reading
from twinledger_adapters.opcua.security import client_certificate

if TYPE_CHECKING:
    from pathlib import Path

    from twinledger import Outcome, Platform
    from twinledger.config import OpcUaSettings


@dataclass
class _Session:
    """A device's live connection: client, resolved nodes, the data types of writable ones."""

    device: Device
    client: Client | None = None
    nodes: dict[str, Node] = field(default_factory=dict)  # point key → node
    keys: dict[Any, list[str]] = field(default_factory=dict)  # node id → point keys (a node may feed several)
    types: dict[str, ua.VariantType] = field(default_factory=dict)
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class _Handler:
    """asyncua calls this for every data change, synchronously: map and submit, nothing else."""

    def __init__(self, adapter: OpcUaAdapter, session: _Session) -> None:
        self.adapter = adapter
        self.session = session

    def datachange_notification(self, node: Node, val: Any, data: Any) -> None:
        try:
            self.adapter.changed(self.session, node, val, data)
        except Exception:  # one bad notification must not stop the others
            self.adapter.status.failed(dead_letter=False)
            self.adapter.status.log.exception("data_change_failed", device=self.session.device.id, node=str(node))

    def status_change_notification(self, status: Any) -> None:
        self.session.lost.set()


class _LossReportedBySupervisor(logging.Filter):
    """Drops asyncua's "Publish iteration crashed" traceback when the connection is closed.

    When a device server goes away (restarts, or stops before the adapter at the demo's end),
    asyncua's publish loop logs that traceback every second until the session is disconnected.
    The supervisor reports the same loss once (``device_unavailable`` with the reason, and the
    device's health) and disconnects at once, so the traceback only repeats it. A publish failure
    for any other reason still gets through.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (isinstance(error, ConnectionError) and str(record.msg).startswith("Publish iteration crashed"))


_PUBLISH_LOG = logging.getLogger("asyncua.client.ua_session.UaSession")  # asyncua's UaSession.logger
_LOSS_REPORTED = _LossReportedBySupervisor()


class OpcUaAdapter:
    protocol = "opcua"

    def __init__(self, platform: Platform, settings: OpcUaSettings, *, name: str = "opcua") -> None:
        self.name = name
        self.platform = platform
        self.settings = settings
        self.status = AdapterStatus(name, "opcua")
        self.sessions: dict[str, _Session] = {}
        self._cert: tuple[Path, Path] | None = None

    async def start(self) -> None:
        _PUBLISH_LOG.addFilter(_LOSS_REPORTED)  # once per process: the same filter object is not added twice
        devices = self.platform.devices.of_protocol("opcua")
        if any(d.spec.security_policy != "None" for d in devices):
            self._cert = await client_certificate(self.settings, self.platform.settings.data_dir)
        for device in devices:
            session = _Session(device)
            device.health.connected = False
            session.task = asyncio.create_task(self._supervise(session), name=f"opcua:{device.id}")
            self.sessions[device.id] = session
        self._update_status()

    async def stop(self) -> None:
        for session in self.sessions.values():
            if session.task is not None:
                session.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await session.task
            await self._disconnect(session)
        self.sessions.clear()
        self.status.connected = False

    async def wait_connected(self, device_id: str, within: float = 20.0) -> None:
        device = self.sessions[device_id].device
        async with asyncio.timeout(within):
            while device.health.connected is not True:  # noqa: ASYNC110 - health is a plain flag
                await asyncio.sleep(0.02)

    def _update_status(self) -> None:
        down = [s.device.id for s in self.sessions.values() if s.device.health.connected is not True]
        if not self.sessions:
            self.status.up("no OPC UA devices")
        elif down:
            self.status.down(f"not connected: {', '.join(down)}")
        else:
            self.status.up(f"{len(self.sessions)} device server(s) connected")

    # -- connection supervisor ------------------------------------------------------------------

    async def _supervise(self, session: _Session) -> None:
        device = session.device
        delay = self.settings.reconnect_min_s
        while True:
            try:
                await self._connect(session)
                delay = self.settings.reconnect_min_s
                device.health.connected = True
                self.status.log.info("device_connected", device=device.id, endpoint=device.spec.endpoint)
                self._update_status()
                await session.lost.wait()
                reason = "the connection to the device server was lost"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
            if device.health.connected is not False:
                self.status.log.warning("device_unavailable", device=device.id, reason=reason)
            device.health.connected = False
            device.health.last_error = reason[:300]
            self._update_status()
            await self._disconnect(session)
            await asyncio.sleep(delay * (0.75 + random.random() / 2))
            delay = min(delay * 2, self.settings.reconnect_max_s)

    async def _connect(self, session: _Session) -> None:
        device = session.device
        spec = device.spec
        assert spec.endpoint is not None
        client = Client(spec.endpoint, timeout=5, watchdog_intervall=1.0)
        client.application_uri = self.settings.application_uri
        client.session_timeout = int(self.settings.session_timeout_s * 1000)
        if spec.security_policy == "Basic256Sha256":
            assert self._cert is not None
            mode = getattr(ua.MessageSecurityMode, spec.security_mode)
            await client.set_security(
                SecurityPolicyBasic256Sha256,
                certificate=str(self._cert[0]),
                private_key=str(self._cert[1]),
                server_certificate=spec.certificate,
                mode=mode,
            )
        session.client = client
        session.lost = asyncio.Event()
        lost = session.lost

        async def on_lost(exc: Exception) -> None:
            lost.set()

        client.connection_lost_callback = on_lost
        await client.connect()
        session.nodes.clear()
        session.keys.clear()
        session.types.clear()
        for key, point in device.points.items():
            if point.spec.node:
                node = client.get_node(point.spec.node)
            else:
                assert point.spec.browse_path is not None
                node = await client.nodes.root.get_child(point.spec.browse_path.split("/"))
            session.nodes[key] = node
            session.keys.setdefault(node.nodeid, []).append(key)
        subscription = await client.create_subscription(spec.publishing_ms, _Handler(self, session))
        by_interval: dict[float, list[Node]] = {}
        monitored: set[Any] = set()
        for key, node in session.nodes.items():
            if node.nodeid in monitored:
                continue  # one monitored item per node, whatever number of points it feeds
            monitored.add(node.nodeid)
            interval = device.points[key].spec.sampling_ms
            by_interval.setdefault(interval if interval is not None else spec.publishing_ms, []).append(node)
        for interval, nodes in by_interval.items():
            results = await subscription.subscribe_data_change(nodes, sampling_interval=ua.Double(interval))
            bad = [(n, r) for n, r in zip(nodes, results, strict=True) if isinstance(r, ua.StatusCode)]
            if bad:
                raise ConnectionError(f"monitoring refused for {[(str(n), str(r)) for n, r in bad]}")

    async def _disconnect(self, session: _Session) -> None:
        client, session.client = session.client, None
        if client is not None:
            try:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.disconnect(), 3)
            finally:
                # a server that is gone (or a disconnect cut short by the timeout or a stop) leaves
                # the socket open: close it whatever happened (does nothing if already closed)
                client.disconnect_socket()

    # -- data changes (hot path) ----------------------------------------------------------------

    def changed(self, session: _Session, node: Node, value: Any, data: Any) -> None:
        now = time.time()
        device = session.device
        self.status.seen(now)
        device.health.seen(now)
        keys = session.keys.get(node.nodeid)
        if not keys:
            return
        dv = data.monitored_item.Value
        ts = dv.SourceTimestamp or dv.ServerTimestamp
        device_ts = ts.timestamp() if ts is not None else None
        status = dv.StatusCode
        if status is not None and not status.is_good():
            self.status.failed(dead_letter=False)
            device.health.failed(f"{keys[0]}: {status}", dead_letter=False)
            return
        plain = _plain(value)
        readings = [Reading(key, plain, None, device_ts) for key in keys]
        signals, rejected = device.signals(readings, source=f"opcua:{device.id}")
        for r in rejected:
            self.status.failed()
            device.health.failed(r.reason)
            letter = DeadLetter(
                f"opcua:{device.id}",
                f"opcua:{r.error}",
                r.reason,
                repr(value).encode()[:4096],
                detail={"node": str(node.nodeid), "key": r.key},
            )
            self.platform.registry.submit_dead_letter(letter)
        for signal in signals:
            self.platform.registry.submit(signal).add_done_callback(partial(self._done, device))

    def _done(self, device: Device, fut: asyncio.Future[Outcome]) -> None:
        if fut.cancelled() or fut.exception() is not None or fut.result().error is not None:
            self.status.failed()
            device.health.failed("a data change was not committed or was refused")

    # -- commands -------------------------------------------------------------------------------

    async def deliver(self, command: Command) -> bool:
        """Write mapped variables / call mapped methods on the device server; False if no OPC UA device feeds it."""
        owners = [
            self.sessions[d.id]
            for d in self.platform.devices.owners(command.thing_id, "opcua")
            if d.id in self.sessions
        ]
        if not owners:
            return False
        session = owners[0]
        device = session.device
        client = session.client
        if client is None or device.health.connected is not True:
            raise ConnectionError(f"OPC UA device {device.id!r} ({device.spec.endpoint}) is not connected")
        for prop, value in command.properties.items():
            method = device.method_for(command.feature, prop)
            if method is not None:
                obj = await _node(client, method.object)
                meth = await _node(client, method.method)
                args = [command.properties.get(name, value) for name in method.args] or [value]
                await obj.call_method(meth.nodeid, *args)
                continue
            point = device.point_for(command.thing_id, f"/features/{command.feature}/properties/{prop}")
            if point is None or point.key not in session.nodes:
                raise ValueError(f"Device {device.id!r} has no node for {command.feature}/{prop}")
            node = session.nodes[point.key]
            vtype = session.types.get(point.key)
            if vtype is None:
                vtype = session.types[point.key] = await node.read_data_type_as_variant_type()
            await node.write_value(ua.DataValue(ua.Variant(device.value_for(point, value), vtype)))
        self.status.log.info(
            "command_sent",
            device=device.id,
            thing=command.thing_id,
            feature=command.feature,
            correlation_id=command.correlation_id,
        )
        return True

    def health(self) -> AdapterHealth:
        return self.status.health()


async def _node(client: Client, ref: str) -> Node:
    if ref.startswith(("ns=", "i=", "s=", "g=", "b=")):
        return client.get_node(ref)
    return await client.nodes.root.get_child(ref.split("/"))


def _plain(value: Any) -> Any:
    """OPC UA values as JSON-friendly Python values (enums → int, datetimes → ISO strings)."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)
