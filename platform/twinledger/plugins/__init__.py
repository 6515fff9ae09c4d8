"""The plugin API (hookspecs) and the plugin manager."""

from twinledger.plugins.hookspecs import hookimpl, hookspec
from twinledger.plugins.manager import HookFailure, PluginInfo, PluginManager

__all__ = ["HookFailure", "PluginInfo", "PluginManager", "hookimpl", "hookspec"]
