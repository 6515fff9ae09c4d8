"""Unit conversion for device data points: a small explicit table of linear conversions.

Why not pint: devices speak a small, known set of units (SenML's unit registry, RFC 8428 §12.1,
plus the usual aliases), and the hot path needs one multiply-add per value. A mapping compiles
its conversion once into ``(scale, offset)``; pint would add a large registry load at start and
microseconds of quantity arithmetic per value for no gain.

Each unit is ``(dimension, factor, offset)`` so that ``si = value * factor + offset``.
"""

from __future__ import annotations

from dataclasses import dataclass

from twinledger.errors import ConfigError

_UNITS: dict[str, tuple[str, float, float]] = {
    # temperature (SenML: Cel, K)
    "K": ("temperature", 1.0, 0.0),
    "Cel": ("temperature", 1.0, 273.15),
    "degF": ("temperature", 5 / 9, 273.15 - 32 * 5 / 9),
    # pressure
    "Pa": ("pressure", 1.0, 0.0),
    "hPa": ("pressure", 100.0, 0.0),
    "kPa": ("pressure", 1000.0, 0.0),
    "bar": ("pressure", 100_000.0, 0.0),
    "mbar": ("pressure", 100.0, 0.0),
    "psi": ("pressure", 6894.757293168, 0.0),
    # length
    "m": ("length", 1.0, 0.0),
    "km": ("length", 1000.0, 0.0),
    "cm": ("length", 0.01, 0.0),
    "mm": ("length", 0.001, 0.0),
    "ft": ("length", 0.3048, 0.0),
    "in": ("length", 0.0254, 0.0),
    # mass
    "kg": ("mass", 1.0, 0.0),
    "g": ("mass", 0.001, 0.0),
    "mg": ("mass", 1e-6, 0.0),
    "t": ("mass", 1000.0, 0.0),
    "lb": ("mass", 0.45359237, 0.0),
    # time
    "s": ("time", 1.0, 0.0),
    "ms": ("time", 0.001, 0.0),
    "min": ("time", 60.0, 0.0),
    "h": ("time", 3600.0, 0.0),
    # speed
    "m/s": ("speed", 1.0, 0.0),
    "km/h": ("speed", 1 / 3.6, 0.0),
    # volume
    "m3": ("volume", 1.0, 0.0),
    "l": ("volume", 0.001, 0.0),
    "ml": ("volume", 1e-6, 0.0),
    # flow
    "m3/s": ("flow", 1.0, 0.0),
    "l/s": ("flow", 0.001, 0.0),
    "l/min": ("flow", 0.001 / 60, 0.0),
    "m3/h": ("flow", 1 / 3600, 0.0),
    # concentration (mass per volume)
    "kg/m3": ("concentration", 1.0, 0.0),
    "g/l": ("concentration", 1.0, 0.0),
    "mg/l": ("concentration", 0.001, 0.0),
    # power and energy
    "W": ("power", 1.0, 0.0),
    "kW": ("power", 1000.0, 0.0),
    "MW": ("power", 1e6, 0.0),
    "J": ("energy", 1.0, 0.0),
    "kJ": ("energy", 1000.0, 0.0),
    "Wh": ("energy", 3600.0, 0.0),
    "kWh": ("energy", 3.6e6, 0.0),
    "MWh": ("energy", 3.6e9, 0.0),
    # electricity
    "V": ("voltage", 1.0, 0.0),
    "mV": ("voltage", 0.001, 0.0),
    "A": ("current", 1.0, 0.0),
    "mA": ("current", 0.001, 0.0),
    # ratios (SenML: %, /, %RH, %EL)
    "/": ("ratio", 1.0, 0.0),
    "%": ("ratio", 0.01, 0.0),
    "%RH": ("humidity", 1.0, 0.0),
    "%EL": ("ratio", 0.01, 0.0),
    # angles, light, acceleration, frequency, counts
    "rad": ("angle", 1.0, 0.0),
    "deg": ("angle", 3.141592653589793 / 180, 0.0),
    "lx": ("illuminance", 1.0, 0.0),
    "m/s2": ("acceleration", 1.0, 0.0),
    "g0": ("acceleration", 9.80665, 0.0),
    "Hz": ("frequency", 1.0, 0.0),
    "1/s": ("frequency", 1.0, 0.0),
    "1/min": ("frequency", 1 / 60, 0.0),
    "count": ("count", 1.0, 0.0),
    "pH": ("pH", 1.0, 0.0),
    "dB": ("level", 1.0, 0.0),
    "dBm": ("power-level", 1.0, 0.0),
}

_ALIASES = {
    "°C": "Cel",
    "degC": "Cel",
    "celsius": "Cel",
    "°F": "degF",
    "fahrenheit": "degF",
    "kelvin": "K",
    "L": "l",
    "mL": "ml",
    "mg/L": "mg/l",
    "g/L": "g/l",
    "L/min": "l/min",
    "L/s": "l/s",
    "m³": "m3",
    "percent": "%",
    "°": "deg",
    "kmh": "km/h",
    "Hz ": "Hz",
}


def canonical(unit: str) -> str:
    """The table's name for ``unit`` (SenML symbols and common aliases); raises :class:`ConfigError`."""
    name = _ALIASES.get(unit, unit)
    if name not in _UNITS:
        known = ", ".join(sorted(_UNITS))
        raise ConfigError(f"Unknown unit {unit!r}; known units: {known} (and aliases such as °C, mg/L).")
    return name


@dataclass(frozen=True, slots=True)
class Conversion:
    """``value * scale + offset``; the identity when units are equal or not given."""

    scale: float = 1.0
    offset: float = 0.0

    @property
    def identity(self) -> bool:
        return self.scale == 1.0 and self.offset == 0.0

    def __call__(self, value: float) -> float:
        return value * self.scale + self.offset

    def inverse(self) -> Conversion:
        return Conversion(1 / self.scale, -self.offset / self.scale)


def conversion(source: str | None, target: str | None) -> Conversion:
    """The conversion from ``source`` to ``target``; raises :class:`ConfigError` across dimensions."""
    if source is None or target is None:
        return Conversion()
    a, b = canonical(source), canonical(target)
    if a == b:
        return Conversion()
    (dim_a, fa, oa), (dim_b, fb, ob) = _UNITS[a], _UNITS[b]
    if dim_a != dim_b:
        raise ConfigError(f"Cannot convert {source!r} ({dim_a}) to {target!r} ({dim_b}).")
    # si = v*fa + oa ; out = (si - ob) / fb
    return Conversion(fa / fb, (oa - ob) / fb)


def known_units() -> list[str]:
    return sorted(_UNITS)
