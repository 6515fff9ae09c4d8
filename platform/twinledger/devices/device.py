"""A registered device at run time: its definition compiled for the hot path.

:meth:`Device.signals` turns readings (key, value, unit, time) into registry signals: each key is
looked up in the point mapping, converted to the twin's unit, type-checked, and the readings of
one twin and one timestamp become one merge patch (one event per message, not per value).
Readings that cannot be mapped come back as :class:`Rejected` with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from twinledger.devices.definitions import DeviceSpec, MethodSpec, PointSpec
from twinledger.devices.health import DeviceHealth
from twinledger.devices.units import Conversion, canonical, conversion
from twinledger.model.paths import Segments, format_path, parse_path
from twinledger.registry.signal import Signal


@dataclass(slots=True)
class Reading:
    """One value as a device reported it."""

    key: str
    value: Any
    unit: str | None = None
    time: float | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """A reading that could not become part of a signal."""

    key: str
    error: str  # "device.point.unmapped", "device.value.invalid", "device.unit.invalid"
    reason: str


@dataclass(frozen=True, slots=True)
class Point:
    key: str
    thing_id: str
    segments: Segments
    unit: str | None  # canonical device unit
    twin_unit: str | None
    convert: Conversion | None  # None: no conversion needed
    type: str | None
    spec: PointSpec
    parent: str = ""  # the path of the object holding the value, e.g. /features/oxygen/properties
    leaf: str = ""  # the value's key in it, e.g. value

    @property
    def path(self) -> str:
        return format_path(self.segments)


@lru_cache(maxsize=1024)
def _conversion(source: str, target: str) -> Conversion:
    return conversion(source, target)


class Device:
    """A device definition compiled for ingest and commands, with its health counters."""

    def __init__(self, spec: DeviceSpec, *, origin: str = "") -> None:
        self.spec = spec
        self.id = spec.id
        self.protocol = spec.protocol
        self.twins = tuple(spec.twins)
        self.origin = origin  # which file or plugin defined it
        self.health = DeviceHealth(spec.id, spec.protocol)
        self.points: dict[str, Point] = {}
        self._by_path: dict[tuple[str, str], Point] = {}
        for key, p in spec.points.items():
            unit = canonical(p.unit) if p.unit else None
            twin_unit = canonical(p.twin_unit) if p.twin_unit else unit
            conv = conversion(unit, twin_unit)
            segments = parse_path(p.path)
            point = Point(
                key,
                p.twin or self.twins[0],
                segments,
                unit,
                twin_unit,
                None if conv.identity else conv,
                p.type,
                p,
                format_path(segments[:-1]),
                segments[-1],
            )
            self.points[key] = point
            self._by_path[(point.thing_id, point.path)] = point

    def __repr__(self) -> str:
        return f"Device({self.id!r}, {self.protocol}, twins={list(self.twins)})"

    def owns(self, thing_id: str) -> bool:
        return thing_id in self.twins

    def point_for(self, thing_id: str, path: str) -> Point | None:
        """The point that reports ``path`` of ``thing_id`` (used to route commands back)."""
        return self._by_path.get((thing_id, path))

    def method_for(self, feature: str, prop: str) -> MethodSpec | None:
        return self.spec.methods.get(f"{feature}/{prop}")

    def value_for(self, point: Point, value: Any) -> Any:
        """A twin value converted back into the device's unit (for commands)."""
        if point.convert is not None and isinstance(value, int | float) and not isinstance(value, bool):
            return point.convert.inverse()(value)
        return value

    # -- readings → signals ------------------------------------------------------------------

    def signals(
        self, readings: Iterable[Reading], *, source: str, raw: bytes | None = None
    ) -> tuple[list[Signal], list[Rejected]]:
        groups: dict[tuple[str, float | None], list[tuple[Segments, Any]]] = {}
        rejected: list[Rejected] = []
        points = self.points
        for r in readings:
            point = points.get(r.key)
            if point is None:
                rejected.append(
                    Rejected(r.key, "device.point.unmapped", f"Device {self.id!r} has no data point {r.key!r}.")
                )
                continue
            try:
                value = self._convert(point, r)
            except ValueError as exc:
                rejected.append(Rejected(r.key, "device.value.invalid", str(exc)))
                continue
            groups.setdefault((point.thing_id, r.time), []).append((point.segments, value))
        signals = [
            _merge_signal(thing_id, items, source=source, device_ts=ts, raw=raw)
            for (thing_id, ts), items in sorted(groups.items(), key=lambda kv: kv[0][1] or 0.0)
        ]
        return signals, rejected

    def signals_from_object(
        self, doc: dict[str, Any], *, ts: float | None, source: str, raw: bytes | None = None
    ) -> tuple[list[Signal], list[Rejected]] | None:
        """The hot path for a flat JSON object whose values all go to one twin object (the
        usual telemetry message): one merge signal, no intermediate readings. None when the
        message needs the general path (nested values, several twins or parents)."""
        points = self.points
        patch: dict[str, Any] = {}
        rejected: list[Rejected] = []
        target: Point | None = None
        for key, value in doc.items():
            point = points.get(key)
            if point is None:
                rejected.append(
                    Rejected(key, "device.point.unmapped", f"Device {self.id!r} has no data point {key!r}.")
                )
                continue
            if target is None:
                target = point
            elif point.parent != target.parent or point.thing_id != target.thing_id:
                return None
            if value is None or type(value) is dict:
                return None
            kind = point.type
            if kind is not None and not _is_type(value, kind):
                rejected.append(
                    Rejected(
                        key, "device.value.invalid", f"Device {self.id!r}: {key!r} must be a {kind}, got {value!r}."
                    )
                )
                continue
            if point.convert is not None and (type(value) is float or type(value) is int):
                value = point.convert(value)
            patch[point.leaf] = value
        if target is None or not patch:
            return [], rejected
        signal = Signal(target.thing_id, target.parent, patch, op="merge", source=source, device_ts=ts, raw=raw)
        return [signal], rejected

    def _convert(self, point: Point, r: Reading) -> Any:
        value = r.value
        kind = point.type
        if value is None:
            raise ValueError(f"Device {self.id!r}: {r.key!r} is null; a reading needs a value.")
        if kind is not None and not _is_type(value, kind):
            raise ValueError(f"Device {self.id!r}: {r.key!r} must be a {kind}, got {value!r}.")
        if not isinstance(value, int | float) or isinstance(value, bool):
            return value
        if r.unit is not None and point.twin_unit is not None:
            try:
                unit = canonical(r.unit)
            except Exception as exc:
                raise ValueError(f"Device {self.id!r}: {r.key!r}: {exc}") from None
            if unit != point.twin_unit:
                try:
                    return _conversion(unit, point.twin_unit)(value)
                except Exception as exc:
                    raise ValueError(f"Device {self.id!r}: {r.key!r}: {exc}") from None
            return value
        return point.convert(value) if point.convert is not None else value


def _is_type(value: Any, kind: str) -> bool:
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return isinstance(value, str)


def _merge_signal(
    thing_id: str, items: list[tuple[Segments, Any]], *, source: str, device_ts: float | None, raw: bytes | None
) -> Signal:
    """One merge signal at the deepest common parent of the items' paths."""
    first = items[0][0]
    prefix_len = len(first) - 1
    for segments, _ in items[1:]:
        n = 0
        limit = min(prefix_len, len(segments) - 1)
        while n < limit and segments[n] == first[n]:
            n += 1
        prefix_len = n
    patch: dict[str, Any] = {}
    for segments, value in items:
        node = patch
        for seg in segments[prefix_len:-1]:
            node = node.setdefault(seg, {})
        node[segments[-1]] = value
    return Signal(
        thing_id,
        format_path(first[:prefix_len]),
        patch,
        op="merge",
        source=source,
        device_ts=device_ts,
        raw=raw,
    )
