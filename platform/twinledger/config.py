"""Configuration: one TOML file plus ``TWINLEDGER_*`` environment overrides.

Precedence, highest first: command-line options, environment (``TWINLEDGER_HTTP__PORT=8081``;
nested sections use ``__``), the TOML file, defaults. Example ``twinledger.toml``::

    data_dir = "/var/lib/twinledger"
    database_url = "postgresql://twinledger@db/twinledger"

    [http]
    port = 8080

    [plugins]
    disabled = ["parking"]

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

from twinledger.errors import ConfigError
from twinledger.ledger.settings import LedgerSettings
from twinledger.storage.database import default_database_url


class HttpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str | None = None  # how partners reach the API, when behind a proxy


class IngestSettings(BaseModel):
    max_batch: int = Field(2000, gt=0, description="signals committed in one transaction at most")
    max_delay_ms: float = Field(2.0, ge=0, description="how long a signal may wait for its batch")
    max_thing_bytes: int = Field(100 * 1024, gt=0, description="largest twin (serialized JSON)")
    max_message_bytes: int = Field(256 * 1024, gt=0, description="largest device message accepted")


class PluginSettings(BaseModel):
    disabled: list[str] = Field(default_factory=list, description="plugin names not to load")
    only: list[str] | None = Field(None, description="if set, load just these plugins")
    trace: bool = Field(False, description="log every hook call (pluggy tracing)")


class LogSettings(BaseModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["console", "json"] = "console"


class MqttBrokerSettings(BaseModel):
    """The MQTT broker adapters connect to; with no host the demo starts an embedded one."""

    host: str | None = None
    port: int = Field(1883, ge=0, le=65535)
    username: str | None = None
    password: str | None = None


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
    ingest: IngestSettings = IngestSettings()
    plugins: PluginSettings = PluginSettings()
    log: LogSettings = LogSettings()
    mqtt: MqttBrokerSettings = MqttBrokerSettings()
    ledger: LedgerSettings = LedgerSettings()
    twin_types: list[Path] = Field(default_factory=list, description="extra twin type files or folders")
    plugin: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per-plugin settings")

    @property
    def resolved_database_url(self) -> str:
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
