"""Configuration: one TOML file plus ``TWINLEDGER_*`` environment overrides.

Precedence, highest first: command-line options, environment (``TWINLEDGER_HTTP__PORT=8081``;
nested sections use ``__``), the TOML file, defaults. Example ``twinledger.toml``::

    data_dir = "/var/lib/twinledger"
    database_url = "postgresql://twinledger@db/twinledger"
    rule_files = ["/etc/twinledger/rules.yaml"]   # operators' rules (see twinledger.rules)

    device_files = ["devices.toml"]

    [http]
    port = 8080

    [mqtt]
    host = "broker.local"

    [plugins]
    disabled = ["parking"]

    [commands]
    timeout_s = 60         # how long a device has to confirm desired properties

    [plugin.aqua]          # free-form settings handed to one plugin
    farms = 2
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from twinledger.api.settings import ApiSettings
from twinledger.errors import ConfigError
from twinledger.ledger.settings import LedgerSettings


class HttpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str | None = None  # how partners reach the API, when behind a proxy
    dashboards: bool = Field(True, description="serve the operator dashboards at /dash/")
    session_hours: float = Field(12.0, gt=0, description="how long a dashboards login lasts at most")


class IngestSettings(BaseModel):
    max_batch: int = Field(2000, gt=0, description="signals committed in one transaction at most")
    max_delay_ms: float = Field(2.0, ge=0, description="how long a signal may wait for its batch")
    max_thing_bytes: int = Field(100 * 1024, gt=0, description="largest twin (serialized JSON)")
    max_message_bytes: int = Field(256 * 1024, gt=0, description="largest device message accepted")


class PluginSettings(BaseModel):
    disabled: list[str] = Field(default_factory=list, description="plugin names not to load")
    only: list[str] | None = Field(None, description="if set, load just these plugins")
    trace: bool = Field(False, description="log every hook call (pluggy tracing)")
    strict: bool = Field(False, description="refuse to start if a plugin failed to load")


class CommandSettings(BaseModel):
    timeout_s: float = Field(30.0, gt=0, description="how long a device has to confirm a command")


class LogSettings(BaseModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["console", "json"] = "console"


class MqttBrokerSettings(BaseModel):
    """The MQTT broker adapters connect to; with no host the demo starts an embedded one.

    Topic templates use ``{namespace}`` and ``{name}`` (the device id is ``namespace:name``) or
    ``{device}``; ``+`` and ``#`` are not allowed in templates (they are built from them).
    """

    host: str | None = None
    port: int = Field(1883, ge=0, le=65535)
    username: str | None = None
    password: str | None = None
    embedded: bool | None = Field(
        None, description="run an embedded broker (amqtt, MQTT 3.1.1); default: only in the demo without a host"
    )
    protocol: Literal["5", "3.1.1"] = Field("5", description="MQTT version (the embedded broker forces 3.1.1)")
    client_id: str = Field("twinledger", description="client id; persistent session so QoS 1 survives restarts")
    session_expiry_s: int = Field(3600, ge=0, description="how long the broker keeps the session while away")
    keepalive_s: int = Field(30, ge=5)
    qos: Literal[0, 1] = 1
    telemetry_topics: list[str] = Field(
        default_factory=lambda: ["{namespace}/{name}/telemetry"], description="device data topic templates"
    )
    command_topic: str = Field("{namespace}/{name}/commands", description="topic template for commands")
    shared_group: str | None = Field(None, description="subscribe as $share/GROUP/... (MQTT 5) to split the load")
    ditto_prefix: str | None = Field("ditto", description="Ditto Protocol topics under this prefix; None: off")
    ditto_events: bool = Field(False, description="also publish every twin event as a Ditto Protocol event")
    hono: bool = Field(True, description="accept Eclipse Hono's device topic layout (telemetry/t, event/e, command)")
    reconnect_min_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(30.0, gt=0)
    max_inflight_publishes: int = Field(16, gt=0, le=1000, description="unacknowledged QoS 1 publishes at once")
    tls: bool = Field(False, description="connect with TLS (usually port 8883)")
    ca_file: Path | None = Field(None, description="CA certificate(s) to trust the broker with; default: system")
    certificate: Path | None = Field(None, description="client certificate (PEM) when the broker asks for one")
    private_key: Path | None = Field(None, description="the client certificate's private key (PEM)")


class CoapSettings(BaseModel):
    """The CoAP server devices POST/PUT to, and the client that observes CoAP devices."""

    enabled: bool | None = Field(None, description="default: when a CoAP device is registered")
    host: str = "127.0.0.1"
    port: int = Field(5683, ge=0, le=65535)


class OpcUaSettings(BaseModel):
    """The OPC UA client that connects to device servers."""

    certificate: Path | None = Field(None, description="client certificate (DER or PEM); default: generated")
    private_key: Path | None = Field(None, description="client private key (PEM); default: generated")
    application_uri: str = "urn:twinledger:client"
    reconnect_min_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(30.0, gt=0)
    session_timeout_s: float = Field(60.0, gt=0)
    serve_endpoint: str | None = Field(
        None, description="expose the devices' twins read-only to HMIs, e.g. opc.tcp://127.0.0.1:4850/twinledger"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TWINLEDGER_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    data_dir: Path = Path("twinledger-data")
    database_url: str | None = Field(None, description="default: SQLite in the data directory")
    plugins_database_url: str | None = Field(
        None, description="Tortoise ORM URL for plugin records; default: SQLite file of its own"
    )
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    http: HttpSettings = HttpSettings()
    api: ApiSettings = ApiSettings()
    ingest: IngestSettings = IngestSettings()
    plugins: PluginSettings = PluginSettings()
    log: LogSettings = LogSettings()
    mqtt: MqttBrokerSettings = MqttBrokerSettings()
    coap: CoapSettings = CoapSettings()
    opcua: OpcUaSettings = OpcUaSettings()
    device_files: list[Path] = Field(default_factory=list, description="device definition files (TOML/YAML)")
    ledger: LedgerSettings = LedgerSettings()
    twin_types: list[Path] = Field(default_factory=list, description="extra twin type files or folders")
    commands: CommandSettings = CommandSettings()
    rule_files: list[Path] = Field(default_factory=list, description="operators' rule files (YAML or TOML)")
    plugin: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per-plugin settings")

    @property
    def resolved_database_url(self) -> str:
        # imported here: the storage module loads SQLAlchemy, which reading settings does not need
        from twinledger.storage.database import default_database_url

        return self.database_url or default_database_url(self.data_dir)

    @property
    def resolved_plugins_database_url(self) -> str:
        if self.plugins_database_url:
            return self.plugins_database_url
        if self.database_url and self.database_url.startswith(("postgres", "postgresql")):
            return self.database_url.replace("postgresql+asyncpg://", "postgres://")
        return f"sqlite://{(self.data_dir / 'plugins.db').resolve()}"

    def plugin_settings(self, name: str) -> dict[str, Any]:
        return self.plugin.get(name, {})


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read settings from ``config_file`` (TOML), the environment and ``overrides`` (CLI options).

    Raises :class:`ConfigError` listing every invalid setting and where it can be fixed.
    """
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"The configuration file {config_file} does not exist.")

    class _FileSettings(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources: tuple[PydanticBaseSettingsSource, ...] = (init_settings, env_settings)
            if config_file is not None:
                sources += (TomlConfigSettingsSource(settings_cls, toml_file=config_file),)
            return sources

    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return _FileSettings(**clean)
    except ValidationError as exc:
        where = f"{config_file} or " if config_file else ""
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            env = "TWINLEDGER_" + "__".join(str(p) for p in err["loc"]).upper()
            lines.append(f"  {loc}: {err['msg']} (set it in {where}{env})")
        raise ConfigError("Invalid configuration:\n" + "\n".join(lines)) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot read the configuration file {config_file}: {exc}") from exc
