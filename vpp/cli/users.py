"""``flask users ...``: people who log in to the pages, and their roles."""

import sys
from collections.abc import Callable

import click

from vpp.cli.common import VppGroup, cli_actor, print_table
from vpp.domain import ROLE_VIEWER, ROLES
from vpp.errors import Conflict
from vpp.services import accounts
from vpp.transactions import transaction

users_cli = VppGroup("users", help="People who log in to the pages, and their roles.")


def _password_option(command: Callable) -> Callable:
    return click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password from standard input instead of generating one.",
    )(command)


def _password_from(stdin: bool) -> str | None:
    if not stdin:
        return None
    password = sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        raise click.ClickException("The password must have at least 8 characters.")
    return password


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default=ROLE_VIEWER, show_default=True)
@_password_option
def users_create_command(username: str, role: str, password_stdin: bool) -> None:
    """Add user USERNAME; prints a generated password (once) unless --password-stdin."""
    given = _password_from(password_stdin)
    with transaction():
        user, password = accounts.create_user(username, role, given, actor=cli_actor())
    click.echo(f"Created {user.role} {user.username}.")
    if given is None:
        click.echo(f"Password (shown once): {password}")


@users_cli.command("list")
def users_list_command() -> None:
    """List users and their roles."""
    print_table(
        ("user", "role", "since"),
        ((u.username, u.role, u.created_at.strftime("%Y-%m-%d")) for u in accounts.list_users()),
        right=set(),
    )


@users_cli.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
def users_set_role_command(username: str, role: str) -> None:
    """Give USERNAME the role ROLE."""
    with transaction():
        user = accounts.set_role(username, role, actor=cli_actor())
    click.echo(f"{user.username} is now a {user.role}.")


@users_cli.command("set-password")
@click.argument("username")
@_password_option
def users_set_password_command(username: str, password_stdin: bool) -> None:
    """Give USERNAME a new password; prints a generated one unless --password-stdin."""
    given = _password_from(password_stdin)
    with transaction():
        password = accounts.set_password(username, given, actor=cli_actor())
    if given is None:
        click.echo(f"Password (shown once): {password}")
    else:
        click.echo(f"Password of {username} changed.")


@users_cli.command("delete")
@click.argument("username")
def users_delete_command(username: str) -> None:
    """Delete user USERNAME (never the last admin)."""
    with transaction():
        accounts.delete_user(username, actor=cli_actor())
    click.echo(f"Deleted {username}.")


@users_cli.command("ensure-admin")
def users_ensure_admin_command() -> None:
    """First run: when there is no user, create 'admin' and print its password once."""
    try:
        with transaction():
            password = accounts.ensure_admin(actor=cli_actor())
    except Conflict:
        password = None  # another process created it at the same moment: done
    if password:
        click.echo("=" * 64)
        click.echo("First run: created user 'admin'. Its password, shown only now:")
        click.echo(f"    {password}")
        click.echo("Log in at /login; change it with: flask users set-password admin")
        click.echo("=" * 64)
