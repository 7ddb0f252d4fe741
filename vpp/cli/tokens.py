"""``flask tokens ...``: bearer tokens for the JSON API."""

import click

from vpp.cli.common import DATABASE_ID, VppGroup, cli_actor, print_table
from vpp.domain import ROLE_VIEWER, ROLES
from vpp.services import accounts
from vpp.transactions import transaction

tokens_cli = VppGroup("tokens", help="Bearer tokens for the JSON API.")


@tokens_cli.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default=ROLE_VIEWER, show_default=True)
def tokens_create_command(name: str, role: str) -> None:
    """Create an API token called NAME; prints the token on the last line (once)."""
    with transaction():
        token, raw = accounts.create_token(name, role, created_by=cli_actor())
    click.echo(f"Created {token.role} token {token.id} ({token.name}); it is shown only now:")
    click.echo(raw)


@tokens_cli.command("list")
def tokens_list_command() -> None:
    """List API tokens (never their values)."""
    print_table(
        ("id", "name", "role", "created", "state"),
        (
            (
                t.id,
                t.name,
                t.role,
                t.created_at.strftime("%Y-%m-%d"),
                "revoked" if t.revoked_at else "live",
            )
            for t in accounts.list_tokens()
        ),
        right={0},
    )


@tokens_cli.command("revoke")
@click.argument("token_id", type=DATABASE_ID)
def tokens_revoke_command(token_id: int) -> None:
    """Revoke API token TOKEN_ID: it stops working at once."""
    with transaction():
        token = accounts.revoke_token(token_id, actor=cli_actor())
    click.echo(f"Revoked token {token.id} ({token.name}).")
