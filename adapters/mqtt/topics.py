"""Topic templates (``{namespace}/{name}/telemetry``) and Eclipse Hono's device topic layout."""

from __future__ import annotations

import re
from dataclasses import dataclass

from twinledger.errors import ConfigError

_VAR = re.compile(r"^\{(namespace|name|device)\}$")
HONO_TELEMETRY = ("telemetry", "t")
HONO_EVENT = ("event", "e")


@dataclass(frozen=True, slots=True)
class TopicTemplate:
    """A topic with variable levels; the device id is ``{device}`` or ``{namespace}:{name}``."""

    template: str
    levels: tuple[str, ...]
    variables: dict[int, str]

    @classmethod
    def parse(cls, template: str) -> TopicTemplate:
        levels = tuple(template.split("/"))
        variables: dict[int, str] = {}
        for i, level in enumerate(levels):
            m = _VAR.match(level)
            if m:
                variables[i] = m.group(1)
            elif "{" in level or "+" in level or "#" in level:
                raise ConfigError(
                    f"The topic template {template!r} has an invalid level {level!r}: use literal levels and "
                    "whole-level {namespace}, {name} or {device}."
                )
        names = set(variables.values())
        if "device" not in names and not {"namespace", "name"} <= names:
            raise ConfigError(f"The topic template {template!r} must contain {{device}} or {{namespace}} and {{name}}.")
        return cls(template, levels, variables)

    @property
    def filter(self) -> str:
        return "/".join("+" if i in self.variables else lv for i, lv in enumerate(self.levels))

    def device_id(self, levels: list[str]) -> str | None:
        """The device id if ``levels`` (a split topic) matches, else None."""
        if len(levels) != len(self.levels):
            return None
        found: dict[str, str] = {}
        for i, lv in enumerate(self.levels):
            var = self.variables.get(i)
            if var is None:
                if levels[i] != lv:
                    return None
            else:
                if not levels[i]:
                    return None
                found[var] = levels[i]
        return found.get("device") or f"{found['namespace']}:{found['name']}"

    def format(self, device_id: str, thing_id: str) -> str:
        """The topic for a device: ``{namespace}``/``{name}`` split the device id (or the twin's)."""
        source = device_id if ":" in device_id else thing_id
        namespace, _, name = source.partition(":")
        values = {"device": device_id, "namespace": namespace, "name": name}
        return "/".join(values[self.variables[i]] if i in self.variables else lv for i, lv in enumerate(self.levels))


def shared(topic_filter: str, group: str | None) -> str:
    """``$share/GROUP/filter`` (MQTT 5 shared subscription) when a group is set."""
    return f"$share/{group}/{topic_filter}" if group else topic_filter
