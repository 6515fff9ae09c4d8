"""CoAP resources where devices POST/PUT their readings (the platform as a CoAP server).

- ``/devices/{device-id}``: SenML (JSON or CBOR) or a JSON object of data points, mapped through
  the device's points like MQTT messages.
- ``/things/{thing-id}/{twin path}``: a JSON value put (PUT) or merged (POST) at that path of a
  twin the device owns (``?device=ID``), or a SenML pack whose record names are paths below it.

Both take ``?secret=`` when the device has one. A confirmable request is answered only after the
change is committed: 2.04 Changed (2.01 Created when it created something); 4.00 Bad Request with
the reason as payload for a bad payload or a change the twin type refuses; 4.01 for a wrong
secret; 4.04 for an unknown device; 4.13 for a payload over ``ingest.max_message_bytes``; 4.15 for
an unsupported Content-Format; 5.03 when the
database could not commit (the device should retry).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiocoap
from aiocoap import resource
from aiocoap.numbers.codes import Code

from twinledger import DeadLetter, Outcome, Signal, TwinError
from twinledger.devices import Device, decode, senml
from twinledger.devices.decoding import PayloadFormat
from twinledger.errors import StorageError

if TYPE_CHECKING:
    from twinledger import Platform
    from twinledger.devices import AdapterStatus

FORMATS: dict[int | None, PayloadFormat | None] = {
    None: None,  # sniffed
    50: "json",
    senml.JSON_CONTENT_FORMAT: "senml+json",
    senml.CBOR_CONTENT_FORMAT: "senml+cbor",
}


class Refused(Exception):
    def __init__(self, code: Code, error: str, reason: str, device: Device | None = None) -> None:
        super().__init__(reason)
        self.code, self.error, self.reason, self.device = code, error, reason, device


def _text(code: Code, text: str) -> aiocoap.Message:
    return aiocoap.Message(code=code, payload=text.encode()[:1024], content_format=0)


Builder = Callable[["IngestResource", aiocoap.Message, str, float], tuple[list[Signal], Device]]


class IngestResource(resource.Resource, resource.PathCapable):  # type: ignore[misc]
    """Request handling shared by both resources: authenticate, decode, submit, answer after commit."""

    def __init__(self, platform: Platform, status: AdapterStatus, build: Builder) -> None:
        super().__init__()
        self.platform = platform
        self.status = status
        self.build = build

    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        return await self._handle(request, "merge")

    async def render_put(self, request: aiocoap.Message) -> aiocoap.Message:
        return await self._handle(request, "put")

    async def _handle(self, request: aiocoap.Message, op: str) -> aiocoap.Message:
        now = time.time()
        self.status.seen(now)
        try:
            limit = self.platform.settings.ingest.max_message_bytes
            if len(request.payload) > limit:
                reason = f"The request has {len(request.payload):,} bytes; the limit is {limit:,}."
                raise Refused(Code.REQUEST_ENTITY_TOO_LARGE, "coap:payload.tooLarge", reason)
            signals, device = self.build(self, request, op, now)
            futures = [self.platform.registry.submit(s) for s in signals]
            outcomes: list[Outcome] = list(await asyncio.gather(*futures))
        except Refused as exc:
            return await self._refuse(request, exc)
        except StorageError:
            self.status.failed(dead_letter=False)
            return _text(Code.SERVICE_UNAVAILABLE, "The platform could not commit the change; retry later.")
        failed = [o.error for o in outcomes if o.error is not None]
        if failed:  # the registry kept them as dead letters
            self.status.failed()
            device.health.failed(failed[0].message)
            return _text(Code.BAD_REQUEST, "; ".join(e.message for e in failed))
        created = any(o.event is not None and o.event.action == "created" for o in outcomes)
        return aiocoap.Message(code=Code.CREATED if created else Code.CHANGED)

    async def _refuse(self, request: aiocoap.Message, exc: Refused) -> aiocoap.Message:
        self.status.failed()
        if exc.device is not None:
            exc.device.health.failed(exc.reason)
        letter = DeadLetter(
            f"coap:{exc.device.id if exc.device else '?'}",
            exc.error,
            exc.reason,
            request.payload[:65536],
            detail={"uri": request.get_request_uri(), "code": str(request.code)},
        )
        try:
            await self.platform.registry.submit_dead_letter(letter)
        except StorageError:
            return _text(Code.SERVICE_UNAVAILABLE, "The platform could not store the request; retry later.")
        return _text(exc.code, exc.reason)

    def device(self, device_id: str, request: aiocoap.Message) -> Device:
        device = self.platform.devices.get(device_id)
        if device is None or device.protocol != "coap":
            raise Refused(Code.NOT_FOUND, "coap:device.unknown", f"No CoAP device {device_id!r} is registered.")
        if device.spec.secret is not None and _query(request).get("secret") != device.spec.secret:
            raise Refused(
                Code.UNAUTHORIZED,
                "coap:device.unauthorized",
                f"Wrong or missing secret for device {device_id!r}.",
                device,
            )
        device.health.seen(time.time())
        return device

    def payload_format(self, request: aiocoap.Message, device: Device) -> PayloadFormat | None:
        cf = request.opt.content_format
        number = int(cf) if cf is not None else None
        if number not in FORMATS:
            raise Refused(
                Code.UNSUPPORTED_CONTENT_FORMAT,
                "coap:payload.unsupported",
                f"Content-Format {number} is not supported: send JSON (50), SenML JSON (110) or SenML CBOR (112).",
                device,
            )
        return FORMATS[number]


def device_signals(res: IngestResource, request: aiocoap.Message, op: str, now: float) -> tuple[list[Signal], Device]:
    """``/devices/{device-id}``: readings mapped through the device's points."""
    path = request.opt.uri_path
    if len(path) != 1 or not path[0]:
        raise Refused(Code.NOT_FOUND, "coap:path.unknown", "POST to /devices/{device-id}.")
    device = res.device(path[0], request)
    fmt = res.payload_format(request, device)
    try:
        readings = decode(request.payload, fmt=fmt, now=now, time_key=device.spec.time_key)
    except TwinError as exc:
        raise Refused(Code.BAD_REQUEST, "coap:payload.invalid", exc.message, device) from None
    signals, rejected = device.signals(readings, source=f"coap:{device.id}", raw=request.payload)
    if rejected:
        reason = "; ".join(r.reason for r in rejected)
        raise Refused(Code.BAD_REQUEST, f"coap:{rejected[0].error}", reason, device)
    return signals, device


def thing_signals(res: IngestResource, request: aiocoap.Message, op: str, now: float) -> tuple[list[Signal], Device]:
    """``/things/{thing-id}/{path}``: a value at a twin path, for a device that owns the twin."""
    path = request.opt.uri_path
    if len(path) < 2:
        raise Refused(Code.NOT_FOUND, "coap:path.unknown", "Use /things/{thing-id}/features/{id}/properties/...")
    thing_id, twin_path = path[0], "/" + "/".join(path[1:])
    device_id = _query(request).get("device")
    if not device_id:
        raise Refused(Code.UNAUTHORIZED, "coap:device.missing", "Name the sending device with ?device=ID.")
    device = res.device(device_id, request)
    if not device.owns(thing_id):
        reason = f"Device {device.id!r} does not feed the thing {thing_id!r}."
        raise Refused(Code.UNAUTHORIZED, "coap:thing.forbidden", reason, device)
    fmt = res.payload_format(request, device)
    source = f"coap:{device.id}"
    try:
        if fmt == "senml+cbor":
            records = senml.decode_cbor(request.payload, now=now)
        else:
            value = _json(request.payload)
            if fmt != "senml+json" and not isinstance(value, list):
                signal = Signal(
                    thing_id, twin_path, value, op="put" if op == "put" else "merge", source=source, raw=request.payload
                )
                return [signal], device
            records = senml.resolve(value, now=now)
    except TwinError as exc:
        raise Refused(Code.BAD_REQUEST, "coap:payload.invalid", exc.message, device) from None
    patch: dict[str, Any] = {}
    for rec in records:
        node = patch
        parts = rec.name.split("/")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = rec.value if rec.value is not None else rec.sum
    ts = max((r.time for r in records if r.time is not None), default=None)
    signal = Signal(thing_id, twin_path, patch, op="merge", source=source, device_ts=ts, raw=request.payload)
    return [signal], device


def _json(payload: bytes) -> Any:
    import orjson

    from twinledger.errors import PayloadInvalid

    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PayloadInvalid(f"The payload is not valid JSON: {exc}.") from None


def _query(request: aiocoap.Message) -> dict[str, str]:
    out = {}
    for item in request.opt.uri_query:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def site(platform: Platform, status: AdapterStatus) -> resource.Site:
    root = resource.Site()
    root.add_resource([".well-known", "core"], resource.WKCResource(root.get_resources_as_linkheader))
    root.add_resource(["devices"], IngestResource(platform, status, device_signals))
    root.add_resource(["things"], IngestResource(platform, status, thing_signals))
    return root
