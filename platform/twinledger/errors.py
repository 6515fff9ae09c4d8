"""The one exception tree of twinledger.

Every error a user can meet is a :class:`TwinledgerError`. Errors about twins carry Ditto's error
shape (``status``, ``error``, ``message``, ``description``) so that the HTTP API, the CLI and the
dead-letter store all report the same thing, plus structured attributes (``thing_id``, ``path``,
``rule``, ``plugin``) for logs and tests.

::

    TwinledgerError
    ├── ConfigError                    invalid configuration file or environment
    ├── StorageError                   the database could not be reached or written
    ├── PluginError                    a plugin failed to load or a hook raised
    ├── TwinModelError                 a twin type (WoT Thing Model) is malformed
    ├── RuleError                      a rule or rule file is invalid (names the file and the rule)
    ├── ContractError                  a contract is unknown, or its inputs/output are not JSON
    ├── AlertError                     an alert operation was refused (Ditto-style error JSON)
    │   ├── AlertNotFound              404 alerts:alert.notfound
    │   └── AlertStateConflict         409 alerts:alert.conflict (e.g. acknowledging a cleared alert)
    ├── CommandError                   a command did not reach the confirmed state
    │   ├── CommandFailed              no adapter took it, or the adapter could not reach the device
    │   └── CommandTimedOut            the device did not confirm it before its deadline
    └── TwinError                      a twin operation was refused (Ditto error shape)
        ├── ThingIdInvalid             400 things:id.invalid
        ├── PathInvalid                400 things:path.invalid
        ├── PayloadInvalid             400 things:payload.invalid
        ├── ValidationFailed           400 wot:payload.validation.failed (violates the twin type)
        ├── ThingTooLarge              413 things:thing.tooLarge
        ├── ThingNotFound              404 things:thing.notfound
        ├── ResourceNotFound           404 things:<resource>.notfound
        ├── ThingConflict              409 things:thing.conflict
        ├── PreconditionFailed         412 things:precondition.failed
        ├── PolicyInvalid, PolicyNotFound, PolicyConflict, NotAllowed (403)
        │                              policies: twinledger.policies.errors
        └── ApiError                   the partner API's own (401, 415, 413, RQL 400...):
                                       twinledger.api.errors
"""

from __future__ import annotations

from typing import Any


class TwinledgerError(Exception):
    """Base of every error raised by twinledger."""


class ConfigError(TwinledgerError):
    """The configuration (file or environment) is invalid; the message says what to change."""


class StorageError(TwinledgerError):
    """The database could not be reached, migrated or written."""


class PluginError(TwinledgerError):
    """A plugin could not be loaded, or one of its hooks raised."""

    def __init__(self, message: str, *, plugin: str, hook: str | None = None) -> None:
        super().__init__(message)
        self.plugin = plugin
        self.hook = hook


class TwinModelError(TwinledgerError):
    """A twin type (WoT Thing Model) is malformed or refers to an unknown model."""

    def __init__(self, message: str, *, model: str | None = None) -> None:
        super().__init__(message)
        self.model = model


class TwinError(TwinledgerError):
    """A twin operation was refused. Carries Ditto's error JSON fields."""

    status: int = 400
    error: str = "things:error"
    default_description: str = ""

    def __init__(
        self,
        message: str,
        *,
        thing_id: str | None = None,
        path: str | None = None,
        rule: str | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.thing_id = thing_id
        self.path = path
        self.rule = rule
        self.description = description or self.default_description

    def to_ditto(self) -> dict[str, Any]:
        """The error as Ditto's JSON error body."""
        body: dict[str, Any] = {"status": self.status, "error": self.error, "message": self.message}
        if self.description:
            body["description"] = self.description
        return body

    def to_record(self) -> dict[str, Any]:
        """The error with its structured attributes, as stored with a dead letter."""
        return {
            **self.to_ditto(),
            "thingId": self.thing_id,
            "path": self.path,
            "rule": self.rule,
        }


class ThingIdInvalid(TwinError):
    status, error = 400, "things:id.invalid"
    default_description = (
        "A thing id is 'namespace:name': the namespace is dot-separated Java-package style "
        "(letters, digits, '_'), the name has no control characters and no '/'."
    )


class PathInvalid(TwinError):
    status, error = 400, "things:path.invalid"
    default_description = (
        "Paths look like /attributes/a/b, /features/{id}/properties/x or "
        "/features/{id}/desiredProperties/x, /definition, /policyId."
    )


class PayloadInvalid(TwinError):
    status, error = 400, "things:payload.invalid"
    default_description = "Check the JSON shape of the value for this path."


class ValidationFailed(TwinError):
    status, error = 400, "wot:payload.validation.failed"
    default_description = "The value violates the twin's type (its WoT Thing Model)."


class ThingTooLarge(TwinError):
    status, error = 413, "things:thing.tooLarge"
    default_description = "Split large data into several twins or store a reference to it."


class ThingNotFound(TwinError):
    status, error = 404, "things:thing.notfound"
    default_description = "Check the thing id, or create the thing first."


class ResourceNotFound(TwinError):
    """A path inside an existing thing does not exist (feature, attribute, property...)."""

    status = 404

    def __init__(self, message: str, *, resource: str = "resource", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.error = f"things:{resource}.notfound"


class ThingConflict(TwinError):
    status, error = 409, "things:thing.conflict"
    default_description = "The thing already exists; update it instead, or use another id."


class PreconditionFailed(TwinError):
    status, error = 412, "things:precondition.failed"
    default_description = "The thing changed since you read it: read it again and retry."


class RuleError(TwinledgerError):
    """A rule (Python or declarative) is invalid; the message names the file and the rule."""

    def __init__(self, message: str, *, rule: str | None = None, file: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.file = file


class ContractError(TwinledgerError):
    """A contract is unknown, raised, or was given or returned something that is not JSON."""

    def __init__(self, message: str, *, contract: str) -> None:
        super().__init__(message)
        self.contract = contract


class AlertError(TwinledgerError):
    """An alert operation was refused. Carries a Ditto-style error body for the API."""

    status: int = 400
    error: str = "alerts:error"

    def __init__(self, message: str, *, alert_id: int | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.alert_id = alert_id
        self.key = key

    def to_ditto(self) -> dict[str, Any]:
        return {"status": self.status, "error": self.error, "message": self.message}


class AlertNotFound(AlertError):
    status, error = 404, "alerts:alert.notfound"


class AlertStateConflict(AlertError):
    status, error = 409, "alerts:alert.conflict"


class CommandError(TwinledgerError):
    """A command (desired properties) did not reach the confirmed state."""

    def __init__(self, message: str, *, correlation_id: str, thing_id: str, feature: str) -> None:
        super().__init__(message)
        self.correlation_id = correlation_id
        self.thing_id = thing_id
        self.feature = feature


class CommandFailed(CommandError):
    """No adapter took the command, or the adapter that owns the device could not reach it."""


class CommandTimedOut(CommandError):
    """The device did not report the desired values before the command's deadline."""
