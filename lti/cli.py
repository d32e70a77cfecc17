"""``cbt lti``: register platforms, list them, and resend scores the platform did not take."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from cbt.audit import SYSTEM
from cbt.db import db
from cbt.errors import DomainError
from cbt.i18n import cli_error
from cbt.i18n import cli_gettext as _
from lti.ags import score_post_counts, score_sender
from lti.keys import key_path, tool_key
from lti.platforms import list_platforms, register_platform


def _fail(error: DomainError) -> click.ClickException:
    db.session.rollback()
    details = f" {json.dumps(error.details, ensure_ascii=False)}" if error.details else ""
    return click.ClickException(cli_error(error) + details)


@click.group("lti")
def lti_group() -> None:
    """LTI 1.3: the platforms this tool trusts, and the scores sent back to them."""


@lti_group.command("register")
@click.option("--issuer", required=True, help="The platform's issuer (iss).")
@click.option("--client-id", required=True, help="The client id the platform gave this tool.")
@click.option("--auth-url", required=True, help="The platform's OIDC authorisation endpoint.")
@click.option("--token-url", required=True, help="The platform's OAuth2 access token endpoint.")
@click.option("--jwks-url", required=True, help="The platform's public key set (JWKS).")
@click.option("--deployment", "deployments", multiple=True, help="A deployment id (repeatable).")
@click.option("--name", default=None, help="A name for the operator page.")
@click.option("--school", "school_code", default=None, help="Code of the school for its classes.")
@with_appcontext
def register(
    issuer: str,
    client_id: str,
    auth_url: str,
    token_url: str,
    jwks_url: str,
    deployments: tuple[str, ...],
    name: str | None,
    school_code: str | None,
) -> None:
    """Register a platform and its deployment ids."""
    try:
        platform = register_platform(
            SYSTEM,
            issuer=issuer,
            client_id=client_id,
            auth_login_url=auth_url,
            token_url=token_url,
            jwks_url=jwks_url,
            deployment_ids=list(deployments),
            name=name,
            school_code=school_code,
            tool_key_id=tool_key(current_app).kid,
        )
    except DomainError as error:
        raise _fail(error) from error
    db.session.commit()
    click.echo(_("Registered platform %(id)s: %(issuer)s", id=platform.id, issuer=issuer))
    click.echo(_("Tool key id (kid): %(kid)s, key file %(path)s", kid=tool_key(current_app).kid,
                 path=key_path(current_app)))  # fmt: skip


@lti_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def list_command(as_json: bool) -> None:
    """List registered platforms."""
    platforms = list_platforms()
    if as_json:
        click.echo(json.dumps(platforms, ensure_ascii=False, indent=2))
        return
    if not platforms:
        click.echo(_("No platform is registered yet."))
    for platform in platforms:
        deployments = ", ".join(platform["deployment_ids"]) or "-"
        click.echo(
            f"{platform['id']}\t{platform['issuer']}\t{platform['client_id']}\t{deployments}"
        )


@lti_group.command("resend-scores")
@with_appcontext
def resend_scores() -> None:
    """Post every score the platforms have not accepted yet (pending or failed)."""
    counts = score_sender(current_app).send()
    click.echo(_("Scores sent: %(sent)s, failed: %(failed)s", **counts))
    remaining = score_post_counts()
    click.echo(_("Waiting: %(failed)s failed, %(pending)s pending", **remaining))


def register_commands(group: click.Group) -> None:
    group.add_command(lti_group)
