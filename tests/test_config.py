"""Settings: zero configuration works, `cs_health.toml` configures, environment variables win."""

from __future__ import annotations

from pathlib import Path

import pytest

from cs_health.config import Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("CS_HEALTH_DATABASE_URL", "CS_HEALTH_DATA_DIR", "CS_HEALTH_CONFIG", "CS_HEALTH_SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_zero_configuration_gives_an_sqlite_file_in_the_working_directory():
    settings = Settings()
    assert settings.DATABASE_URL == "sqlite:///./cs_health.db"
    assert settings.reports_dir == Path("cs_health_data/reports")
    assert settings.SMTP_HOST is None


def test_toml_file_configures_and_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "cs_health.toml").write_text(
        'DATABASE_URL = "sqlite:///from-toml.db"\nSMTP_HOST = "mail.example"\nCHURN_GRACE_DAYS = 45\n', encoding="utf-8"
    )
    assert (Settings().DATABASE_URL, Settings().SMTP_HOST, Settings().CHURN_GRACE_DAYS) == (
        "sqlite:///from-toml.db",
        "mail.example",
        45,
    )
    monkeypatch.setenv("CS_HEALTH_DATABASE_URL", "postgresql://db.example/cs")
    assert Settings().DATABASE_URL == "postgresql://db.example/cs"


def test_config_file_can_be_named_by_a_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    other = tmp_path / "elsewhere.toml"
    other.write_text('DATA_DIR = "/srv/cs-health"\n', encoding="utf-8")
    monkeypatch.setenv("CS_HEALTH_CONFIG", str(other))
    assert Settings().DATA_DIR == Path("/srv/cs-health")


def test_invalid_values_are_refused_with_the_setting_named(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CS_HEALTH_CHURN_GRACE_DAYS", "-3")
    with pytest.raises(ValueError, match="CHURN_GRACE_DAYS"):
        Settings()
