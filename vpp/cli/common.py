"""What every command shares: one-line errors and exit status 1, whole summaries in
``--help``, database ids, and tables and money as an operator reads them."""

import getpass
from collections.abc import Iterable, Sequence
from typing import Any

import click
from click.exceptions import NoArgsIsHelpError
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import DBAPIError

from vpp.errors import VppError
from vpp.formatting import format_money
from vpp.routing import MAX_ID
from vpp.transactions import database_unavailable


class VppCommand(click.Command):
    """A command whose every failure is one ``Error: ...`` line on stderr and exit
    status 1, as the README promises: a usage error (click's own would print three
    lines and exit 2), a service's ``VppError``, a database that cannot be reached
    or written."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise click.ClickException(exc.format_message()) from exc

    def get_short_help_str(self, limit: int = 45) -> str:
        """The first sentence of the docstring whole, not cut at 45 characters."""
        return super().get_short_help_str(limit=max(limit, 100))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VppError as exc:
            raise click.ClickException(exc.message) from exc
        except DBAPIError as exc:
            if not database_unavailable(exc):
                raise
            reason = str(exc.orig).splitlines()[0] if exc.orig else exc.__class__.__name__
            raise click.ClickException(f"The database cannot be used: {reason}") from exc


class VppGroup(AppGroup):
    """A command group whose commands are ``VppCommand`` s (and run in an app
    context, as every ``AppGroup`` command does)."""

    command_class = VppCommand

    def get_short_help_str(self, limit: int = 45) -> str:
        return super().get_short_help_str(limit=max(limit, 100))

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except NoArgsIsHelpError:
            click.echo(ctx.get_help())  # the group alone asks for its help
            ctx.exit(0)
        except click.UsageError as exc:
            raise click.ClickException(exc.format_message()) from exc

    def resolve_command(self, ctx: click.Context, args: list[str]):
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            raise click.ClickException(exc.format_message()) from exc


# Ids on the command line: what the database can hold (a larger one is refused with
# one line, never an overflow in the database driver).
DATABASE_ID = click.IntRange(1, MAX_ID)


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], right: set[int]) -> None:
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    click.echo(line(headers))
    click.echo(line(["-" * w for w in widths]))
    for row in rows:
        click.echo(line(row))


def money(value: float | None) -> str:
    return format_money(value, current_app.config["CURRENCY"])


def cli_actor() -> str:
    """Who acts from a shell, as the audit log names them: ``cli:`` and the login."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"
