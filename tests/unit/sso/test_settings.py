"""The SSO settings: read through cbt.config's layers, checked at start-up, no buttons unset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from cbt.config import ConfigError, load_settings, settings_table
from sso.providers import (
    GOOGLE_METADATA_URL,
    load_providers,
)

TENANT = "11111111-2222-3333-4444-555555555555"


def _providers(tmp_path: Path, environ: dict[str, str]) -> dict[str, Any]:
    return load_providers(load_settings({}, str(tmp_path), environ=environ))


def test_google_and_microsoft_from_the_environment(tmp_path: Path) -> None:
    providers = _providers(
        tmp_path,
        {
            "CBT_SSO_PROVIDERS": "Google, microsoft",
            "CBT_SSO_GOOGLE_CLIENT_ID": "g-id",
            "CBT_SSO_GOOGLE_CLIENT_SECRET": "g-secret",
            "CBT_SSO_GOOGLE_HOSTED_DOMAIN": "School.example, other.example",
            "CBT_SSO_MICROSOFT_CLIENT_ID": "m-id",
            "CBT_SSO_MICROSOFT_CLIENT_SECRET": "m-secret",
            "CBT_SSO_MICROSOFT_TENANT": TENANT,
            "CBT_SSO_MICROSOFT_SOURCED_ID_CLAIM": "employeeid",
        },
    )
    assert list(providers) == ["google", "microsoft"]
    google, microsoft = providers["google"], providers["microsoft"]
    assert google.metadata_url == GOOGLE_METADATA_URL
    assert google.hosted_domains == ("school.example", "other.example")
    assert microsoft.metadata_url == (
        f"https://login.microsoftonline.com/{TENANT}/v2.0/.well-known/openid-configuration"
    )
    assert microsoft.tenants == (TENANT,)
    assert microsoft.sourced_id_claim == "employeeid"


def test_several_tenants_use_the_shared_document(tmp_path: Path) -> None:
    environ = {
        "CBT_SSO_PROVIDERS": "microsoft",
        "CBT_SSO_MICROSOFT_CLIENT_ID": "m-id",
        "CBT_SSO_MICROSOFT_CLIENT_SECRET": "m-secret",
        "CBT_SSO_MICROSOFT_TENANT": f"{TENANT},{TENANT.replace('1', 'a')}",
    }
    (microsoft,) = _providers(tmp_path, environ).values()
    assert "/organizations/v2.0/" in microsoft.metadata_url


def test_a_generic_provider_from_the_config_file(tmp_path: Path) -> None:
    config_file = tmp_path / "cbt.toml"
    config_file.write_text(
        'SSO_PROVIDERS = "board"\n'
        'SSO_BOARD_CLIENT_ID = "b-id"\n'
        'SSO_BOARD_CLIENT_SECRET = "b-secret"\n'
        'SSO_BOARD_METADATA_URL = "https://idp.board.example/.well-known/openid-configuration"\n'
        'SSO_BOARD_LABEL = "教育委員会アカウント"\n'
    )
    (board,) = _providers(tmp_path, {"CBT_CONFIG_FILE": str(config_file)}).values()
    assert board.kind == "oidc"
    assert board.label == "教育委員会アカウント"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"CBT_SSO_PROVIDERS": "google"}, "CLIENT_ID and CBT_SSO_GOOGLE_CLIENT_SECRET"),
        (
            {
                "CBT_SSO_PROVIDERS": "microsoft",
                "CBT_SSO_MICROSOFT_CLIENT_ID": "x",
                "CBT_SSO_MICROSOFT_CLIENT_SECRET": "y",
            },
            "CBT_SSO_MICROSOFT_TENANT is required",
        ),
        (
            {
                "CBT_SSO_PROVIDERS": "microsoft",
                "CBT_SSO_MICROSOFT_CLIENT_ID": "x",
                "CBT_SSO_MICROSOFT_CLIENT_SECRET": "y",
                "CBT_SSO_MICROSOFT_TENANT": "common",
            },
            "not a tenant id",
        ),
        (
            {
                "CBT_SSO_PROVIDERS": "board",
                "CBT_SSO_BOARD_CLIENT_ID": "x",
                "CBT_SSO_BOARD_CLIENT_SECRET": "y",
            },
            "METADATA_URL is required",
        ),
        (
            {
                "CBT_SSO_PROVIDERS": "board",
                "CBT_SSO_BOARD_CLIENT_ID": "x",
                "CBT_SSO_BOARD_CLIENT_SECRET": "y",
                "CBT_SSO_BOARD_METADATA_URL": "http://idp.example/.well-known/openid-configuration",
            },
            "https://",
        ),
        ({"CBT_SSO_GOGLE_CLIENT_ID": "typo"}, "'gogle' is not in CBT_SSO_PROVIDERS"),
        ({"CBT_SSO_PROVIDERS": "my-idp"}, "not a provider name"),
    ],
)
def test_mistakes_stop_the_start(tmp_path: Path, environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _providers(tmp_path, environ)


def test_create_app_refuses_a_broken_sso_setup(tmp_path: Path, database_url: str) -> None:
    from tests.conftest import make_test_app

    with pytest.raises(ConfigError, match="CLIENT_ID"):
        make_test_app(database_url, tmp_path / "instance", SSO_PROVIDERS="google")


def test_every_sso_setting_is_documented() -> None:
    table = settings_table()
    for key in (
        "CBT_SSO_PROVIDERS",
        "CBT_SSO_<NAME>_CLIENT_ID",
        "CBT_SSO_<NAME>_TENANT",
        "CBT_SSO_<NAME>_HOSTED_DOMAIN",
        "CBT_SSO_<NAME>_METADATA_URL",
        "CBT_SSO_<NAME>_SOURCED_ID_CLAIM",
    ):
        assert key in table


def test_no_buttons_when_nothing_is_configured(app: Flask) -> None:
    client = app.test_client()
    for page in ("/login", "/staff/login"):
        html = client.get(page).get_data(as_text=True)
        assert "sso-buttons" not in html
        assert "/auth/sso/" not in html
    assert client.get("/auth/sso/google/start").status_code == 404
