"""Plugin data: Tortoise ORM models that plugins declare for their business records."""

from twinledger.plugindata.store import PluginData, app_label, connection_name

__all__ = ["PluginData", "app_label", "connection_name"]
