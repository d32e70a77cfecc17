"""Configuration layers and start-up validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from cbt.app import create_app
from cbt.config import ConfigError, load_settings, settings_table


def test_defaults_use_sqlite_in_instance_folder_and_memory_store(tmp_path: Path) -> None:
    settings = load_settings({}, str(tmp_path), environ={})
    assert settings["DATABASE_URL"] == f"sqlite:///{tmp_path}/cbt.sqlite3"
    assert settings["REDIS_URL"] is None
    assert settings["ENV"] == "development"


def test_development_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_settings({}, str(tmp_path), environ={})["SECRET_KEY"]
    second = load_settings({}, str(tmp_path), environ={})["SECRET_KEY"]
    assert first == second
    assert len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_layers_override_in_order(tmp_path: Path) -> None:
    config_file = tmp_path / "cbt.toml"
    config_file.write_text(
        'REDIS_PREFIX = "from-file"\nSESSION_HOURS = 3\nSTATE_TTL_SECONDS = 60\n'
    )
    environ = {"CBT_CONFIG_FILE": str(config_file), "CBT_SESSION_HOURS": "5"}
    settings = load_settings({"STATE_TTL_SECONDS": 30}, str(tmp_path), environ=environ)
    assert settings["REDIS_PREFIX"] == "from-file"  # file over default
    assert settings["SESSION_HOURS"] == 5  # environment over file
    assert settings["STATE_TTL_SECONDS"] == 30  # mapping over everything


def test_postgres_urls_use_psycopg3(tmp_path: Path) -> None:
    settings = load_settings(
        {"DATABASE_URL": "postgresql://u@db.example/cbt"}, str(tmp_path), environ={}
    )
    assert settings["DATABASE_URL"].startswith("postgresql+psycopg://")


def test_settings_are_read_only(tmp_path: Path) -> None:
    settings = load_settings({}, str(tmp_path), environ={})
    with pytest.raises(TypeError):
        settings["ENV"] = "production"  # type: ignore[index]


@pytest.mark.parametrize(
    ("overrides", "environ", "message"),
    [
        ({"ENV": "production"}, {}, "CBT_SECRET_KEY is required"),
        (
            {"ENV": "production", "SECRET_KEY": "x" * 32},
            {},
            "CBT_DATABASE_URL is required",
        ),
        ({"ENV": "staging"}, {}, "CBT_ENV must be"),
        ({"SECRET_KEY": "short"}, {}, "at least 16"),
        ({"DATABASE_URL": "mysql://x/y"}, {}, "supported are SQLite and PostgreSQL"),
        ({"DATABASE_URL": "not a url"}, {}, "not a database URL"),
        ({"REDIS_URL": "http://x"}, {}, "CBT_REDIS_URL must start"),
        ({}, {"CBT_SESSION_HOURS": "eight"}, "CBT_SESSION_HOURS"),
        ({}, {"CBT_RATE_LIMIT_ENABLED": "maybe"}, "boolean"),
        ({}, {"CBT_CONFIG_FILE": "/nonexistent/cbt.toml"}, "does not exist"),
    ],
)
def test_bad_configuration_is_refused_with_a_clear_message(
    tmp_path: Path, overrides: dict, environ: dict, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(overrides, str(tmp_path), environ=environ)


def test_unknown_key_in_file_is_refused(tmp_path: Path) -> None:
    config_file = tmp_path / "cbt.toml"
    config_file.write_text("DATABSE_URL = 'typo'\n")
    with pytest.raises(ConfigError, match="unknown configuration key CBT_DATABSE_URL"):
        load_settings({}, str(tmp_path), environ={"CBT_CONFIG_FILE": str(config_file)})


def test_malformed_toml_is_refused(tmp_path: Path) -> None:
    config_file = tmp_path / "cbt.toml"
    config_file.write_text("this is = = not toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({}, str(tmp_path), environ={"CBT_CONFIG_FILE": str(config_file)})


def test_create_app_refuses_to_start_with_bad_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        create_app({"INSTANCE_PATH": str(tmp_path), "ENV": "production"})


def test_settings_table_documents_every_key() -> None:
    table = settings_table()
    for key in ("CBT_DATABASE_URL", "CBT_REDIS_URL", "CBT_SECRET_KEY", "CBT_ENV"):
        assert key in table


def test_readme_configuration_table_is_current() -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text()
    assert settings_table() in readme
