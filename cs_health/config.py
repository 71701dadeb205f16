"""Settings, read once by the shell from `CS_HEALTH_*` variables and an optional `cs_health.toml`.

Zero configuration works: the defaults give an SQLite file and a data folder in the working directory.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_FILE_VARIABLE = "CS_HEALTH_CONFIG"
DEFAULT_CONFIG_FILE = "cs_health.toml"


class Settings(BaseSettings):
    """Every knob of the service; environment variables win over the TOML file, which wins over defaults."""

    model_config = SettingsConfigDict(env_prefix="CS_HEALTH_", extra="ignore", case_sensitive=False)

    DATABASE_URL: str = "sqlite:///./cs_health.db"
    DATA_DIR: Path = Path("./cs_health_data")
    REPORTS_DIR: Path | None = None
    CHURN_GRACE_DAYS: int = Field(default=30, ge=0)
    IMPORT_CHUNK_ROWS: int = Field(default=50_000, ge=1_000)
    MAX_REJECTS_SHOWN: int = Field(default=20, ge=0)
    SMTP_HOST: str | None = None
    SMTP_PORT: int = 25
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_STARTTLS: bool = False
    SMTP_SSL: bool = False
    MAIL_FROM: str = "cs-health <cs-health@localhost>"
    BASE_URL: str = "http://127.0.0.1:8000"
    DASK_ADDRESS: str | None = None
    SCORECARD_FILE: Path | None = None
    FORECAST_PROPHET: bool = True  # refine at-risk and anomalous accounts' forecasts with Prophet
    FORECAST_JOBS: int = Field(default=2, ge=1)  # processes for Prophet fits (a Dask cluster when DASK_ADDRESS)
    SCORE_PARTITION_ACCOUNTS: int = Field(default=2_000, ge=1)  # accounts per churn-scoring task on a Dask cluster
    TRAININGS_EMAIL_CONTACTS: bool = False  # e-mail each day's training suggestions to the account's contacts
    TRAINING_CONTACT_ROLES: list[str] = Field(default_factory=lambda: ["champion", "admin"])
    CHURN_RETRAIN_DAYS: int = Field(default=30, ge=1)  # the nightly run retrains a churn model older than this
    KEY_FEATURES: dict[str, list[str]] = Field(default_factory=dict)
    MAX_REQUEST_BYTES: int = Field(default=5 * 1024 * 1024, ge=1_024)
    MAX_EVENTS_PER_REQUEST: int = Field(default=5_000, ge=1)
    # POST /api/v1/events stores through a writer process of its own ("process"), or in the server ("thread").
    INGEST_WRITER: Literal["process", "thread"] = "process"
    # Ingestion requests (POST /api/v1/events, Segment /v1/*) per second per API key, per server process; 0 = off.
    INGEST_RATE_LIMIT: float = Field(default=500.0, ge=0)
    INGEST_RATE_BURST: int = Field(default=1_000, ge=1)  # requests a key may send at once before the rate applies
    ALERT_RULES_FILE: Path | None = None  # the user's alert rules (TOML); the defaults when unset
    ALERT_TEAM_EMAIL: str | None = None  # the "team" recipient of alert rules
    ALERT_MAIL_MAX_AGE_DAYS: int = Field(default=3, ge=0)  # older as-of dates (backfills) record alerts, mail none
    SMTP_TIMEOUT_SECONDS: float = Field(default=30.0, gt=0)
    OUTBOX_MAX_ATTEMPTS: int = Field(default=10, ge=1)  # then the message is marked failed (kept, never deleted)
    OUTBOX_BACKOFF_SECONDS: int = Field(default=60, ge=1)  # first retry delay, doubled per attempt
    OUTBOX_BACKOFF_MAX_SECONDS: int = Field(default=6 * 3600, ge=1)
    OUTBOX_CLAIM_SECONDS: int = Field(default=600, ge=1)  # a claimed message not marked by then is retried
    NIGHTLY_RUN_AT: str = Field(default="02:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # local time, HH:MM
    TIMEZONE: str = "UTC"  # of NIGHTLY_RUN_AT and of the nightly as-of date
    SCHEDULER_MISFIRE_GRACE_SECONDS: int = Field(default=3600, ge=1)
    SECRET_KEY: str | None = None  # signs dashboard session cookies; generated under DATA_DIR on first use if unset
    SESSION_HOURS: int = Field(default=12, ge=1)
    LOGIN_MAX_FAILURES: int = Field(default=5, ge=1)  # failed logins per e-mail before a lockout
    LOGIN_LOCKOUT_SECONDS: int = Field(default=300, ge=0)
    REPORTS_DAY_OF_MONTH: int = Field(default=2, ge=1, le=28)  # the monthly reports of last month go out that day
    REPORT_RECIPIENT_ROLES: list[str] = Field(default_factory=list)  # contact roles sent the client copy (champion)

    @property
    def reports_dir(self) -> Path:
        """Where generated reports are archived (under the data folder unless set)."""
        return self.REPORTS_DIR or self.DATA_DIR / "reports"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get(CONFIG_FILE_VARIABLE, DEFAULT_CONFIG_FILE))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_file))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call `get_settings.cache_clear()` after changing the environment."""
    return Settings()
