"""Typed settings: defaults < config file (loa.toml) < LOA_* environment < CLI flags."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

Lang = Literal["vi", "en"]


def _config_file() -> Path:
    return Path(os.environ.get("LOA_CONFIG", "loa.toml"))


class Settings(BaseSettings):
    """Everything Loa can be told; each field has a safe default for the embedded setup."""

    model_config = SettingsConfigDict(env_prefix="LOA_", extra="forbid")

    database_url: str = Field(
        default="sqlite:///./loa.db",
        description="SQLAlchemy URL; e.g. postgresql+psycopg://user@host/db",
    )
    lang: Lang = "vi"
    workspace: str = "default"
    default_region: str = "VN"
    timezone: str = "Asia/Ho_Chi_Minh"
    copy_qc_to_5656: bool = Field(
        default=False,
        description="Queue one copy of each advertising (QC) campaign's SMS to the authority's "
        "number 5656 when the campaign is scheduled (Decree 91/2020 Art 5.2); only for "
        "workspaces on a pack that names such a number (vn)",
    )

    @field_validator("default_region")
    @classmethod
    def _upper_region(cls, value: str) -> str:
        if len(value) != 2 or not value.isalpha():
            raise ValueError("default_region must be a two-letter ISO country code, e.g. VN")
        return value.upper()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Earlier sources win: CLI flags (init) > environment > loa.toml > defaults.
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=_config_file()),
        )


def load_settings(**overrides: object) -> Settings:
    """Settings with CLI overrides applied; None values mean "not given"."""
    given = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**given)  # type: ignore[arg-type]
