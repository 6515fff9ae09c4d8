"""Devices and the adapters that connect them (protocol adapters are plugins in ``adapters/``)."""

from twinledger.devices.adapter import Adapter, AdapterHealth

__all__ = ["Adapter", "AdapterHealth"]
