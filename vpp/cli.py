"""Administrator commands: ``flask plants ...``, ``flask aggregate``, ``flask dispatch``.

Every command calls the same services as the pages and the API. A rejected input
prints one line on stderr, exits non-zero and changes nothing.
"""

import csv
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import click
from click.exceptions import NoArgsIsHelpError
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.exc import DBAPIError

from vpp.demo import demo_plants
from vpp.domain import PLANT_KINDS, PLANT_STATUSES, REASON_CODES, ROLE_VIEWER, ROLES
from vpp.errors import Conflict, VppError, database_unavailable
from vpp.formatting import format_money, format_power, format_time
from vpp.routing import MAX_ID
from vpp.schemas import DETAIL_FULL, DETAIL_SUMMARY, MAX_PAGE
from vpp.services import accounts, dispatch_runs, fleet
from vpp.services.audit import current_actor
from vpp.transactions import transaction

CSV_COLUMNS = ("id", *fleet.PLANT_FIELDS)


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

plants_cli = VppGroup("plants", help="Register, list, edit and retire plants; CSV import/export.")


def _print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], right: set[int]) -> None:
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


def _money(value: float | None) -> str:
    return format_money(value, current_app.config["CURRENCY"])


def _print_plants(plants) -> None:
    _print_table(
        ("id", "name", "kind", "status", "min", "max", "cost/MWh"),
        (
            (
                p.id,
                p.name,
                p.kind,
                p.status,
                format_power(p.min_capacity),
                format_power(p.max_capacity),
                _money(p.marginal_cost),
            )
            for p in plants
        ),
        right={0, 4, 5, 6},
    )


def _plant_options(required: bool) -> Callable:
    """The plant's fields as options, taken as text: the schema checks and converts.
    A new plant (``required``) gets the rules' defaults for what is left out; an
    update changes only what is given, so its help names no default."""

    def default(text: str) -> str:
        return f" (default {text})" if required else ""

    options = [
        click.option("--name", required=required, help="Unique name, 1-100 characters."),
        click.option("--kind", help=f"One of: {', '.join(PLANT_KINDS)}{default('other')}."),
        click.option("--max-capacity", "max_capacity", required=required, help="kW, > 0."),
        click.option("--min-capacity", "min_capacity", help=f"kW, 0 to max{default('0')}."),
        click.option("--status", help=f"One of: {', '.join(PLANT_STATUSES)}{default('idle')}."),
        click.option("--marginal-cost", "marginal_cost", help=f"Per MWh{default('0')}."),
    ]

    def decorate(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _given(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


@plants_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(as_json: bool) -> None:
    """List every plant."""
    plants = fleet.list_plants()
    if as_json:
        click.echo(json.dumps([fleet.plant_as_dict(p) for p in plants], indent=2))
    else:
        _print_plants(plants)


@plants_cli.command("add")
@_plant_options(required=True)
def add_command(**values: Any) -> None:
    """Register a plant; prints its id."""
    with transaction():
        plant = fleet.create_plant(_given(values))
    click.echo(f"Added plant {plant.id}: {plant.name}")


@plants_cli.command("update")
@click.argument("plant_id", type=DATABASE_ID)
@_plant_options(required=False)
def update_command(plant_id: int, **values: Any) -> None:
    """Change some fields of plant PLANT_ID (only those given)."""
    changes = _given(values)
    if not changes:
        raise click.ClickException("Nothing to change: give at least one option (see --help).")
    with transaction():
        plant = fleet.update_plant(plant_id, changes)
    click.echo(f"Updated plant {plant.id}: {plant.name}")


@plants_cli.command("remove")
@click.argument("plant_id", type=DATABASE_ID)
def remove_command(plant_id: int) -> None:
    """Retire plant PLANT_ID from the fleet."""
    with transaction():
        plant = fleet.delete_plant(plant_id)
    click.echo(f"Removed plant {plant_id}: {plant.name}")


# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
GUARD = "'"


def _reads_as_guarded(text: str) -> bool:
    """Would ``unguard_formula`` take a quote off ``text``? When it starts with the
    guard followed by a formula character or another guard."""
    return text.startswith(GUARD) and text[1:].startswith((*FORMULA_STARTS, GUARD))


def guard_formula(text: str) -> str:
    """CSV export: a name such as ``=HYPERLINK(...)`` is written as ``'=HYPERLINK(...)``
    so that a spreadsheet shows it as text instead of running it. A name that itself
    reads as guarded (``'=x``, ``''x``) gets one more quote, so that import gives it
    back unchanged; ``'s-Hertogenbosch`` is written as it is."""
    return GUARD + text if text.startswith(FORMULA_STARTS) or _reads_as_guarded(text) else text


def unguard_formula(text: str) -> str:
    """CSV import: undo ``guard_formula`` (export then import gives every name back)."""
    return text[1:] if _reads_as_guarded(text) else text


@plants_cli.command("export")
@click.argument("file", type=click.File("w", encoding="utf-8"), default="-")
def export_command(file) -> None:
    """Write the fleet as CSV to FILE (default: standard output). Names that a
    spreadsheet would run as a formula are prefixed with a quote (import removes it)."""
    writer = csv.DictWriter(
        file, fieldnames=CSV_COLUMNS, lineterminator="\n", extrasaction="ignore"
    )
    writer.writeheader()
    for plant in fleet.list_plants():
        row = fleet.plant_as_dict(plant)
        row["name"] = guard_formula(row["name"])
        writer.writerow({k: repr(v) if isinstance(v, float) else v for k, v in row.items()})


def _read_plant_rows(file) -> tuple[list[dict[str, str]], list[int]]:
    """The CSV's rows as field dicts (blank cells left out, the formula guard undone)
    and the line each row ends on. A row with more or fewer fields than the header
    stops the import."""
    rows, lines = [], []
    try:
        reader = csv.DictReader(file)
        for row in reader:
            header = len(reader.fieldnames or [])
            if None in row or None in row.values():  # beyond the header, or short of it
                found = header + len(row.get(None, ())) - list(row.values()).count(None)
                raise click.ClickException(
                    f"{file.name}: line {reader.line_num} has {found} fields where the "
                    f"header has {header}; nothing imported."
                )
            values = {key: value for key, value in row.items() if key and value != ""}
            if "name" in values:
                values["name"] = unguard_formula(values["name"])
            rows.append(values)
            lines.append(reader.line_num)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise click.ClickException(f"{file.name}: not a readable UTF-8 CSV file ({exc}).") from exc
    return rows, lines


# Bad rows listed one per line, this many at most (then how many more).
SHOWN_BAD_ROWS = 20


def _with_progress(rows: list, label: str):
    """Yield ``rows`` behind click's progress bar on stderr (a label only, when
    stderr is not a terminal)."""
    with click.progressbar(rows, label=label, file=sys.stderr, show_pos=True) as bar:
        yield from bar


@plants_cli.command("import", short_help="Add the plants of a CSV file, all or none.")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--dry-run", is_flag=True, help="Check every row and report; add nothing.")
def import_command(file, dry_run: bool) -> None:
    """Add the plants in CSV FILE (header: name,kind,max_capacity,min_capacity,status,
    marginal_cost; an id column is ignored). All rows or none: bad rows are listed
    one per line in line order (the first 20, then how many more) and nothing is
    added. Long files show their progress."""
    rows, lines = _read_plant_rows(file)
    if not rows:
        raise click.ClickException(f"{file.name}: no plants found (expected a header and rows).")
    with transaction():
        checked = _with_progress(rows, f"Checking {len(rows):,} rows")
        del rows  # the progress bar holds them now, until they are checked
        valid, problems = fleet.validate_plants(checked)
        del checked
        if problems:
            bad = sorted({index for index, _ in problems})
            shown = set(bad[:SHOWN_BAD_ROWS])
            for (index, name), messages in problems.items():
                if index in shown:
                    click.echo(f"line {lines[index]}: {name}: {' '.join(messages)}", err=True)
            if len(bad) > SHOWN_BAD_ROWS:
                click.echo(f"... and {len(bad) - SHOWN_BAD_ROWS:,} more bad rows", err=True)
            raise click.ClickException(f"{len(bad):,} bad row(s) in {file.name}; nothing imported.")
        if dry_run:
            click.echo(f"{len(valid):,} plant(s) would be imported (dry run: nothing added).")
            return
        ids = fleet.insert_plants(valid)
    click.echo(f"Imported {len(ids):,} plant(s).")


@plants_cli.command("demo")
def demo_command() -> None:
    """Add a small demo fleet (nine plants of every kind and status) to try things out."""
    with transaction():
        ids = fleet.create_plants(demo_plants())
    click.echo(f"Added {len(ids)} demo plants.")


@click.command("aggregate", cls=VppCommand)
@with_appcontext
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def aggregate_command(as_json: bool) -> None:
    """Show the fleet's available capacity, by status and by kind."""
    result = fleet.aggregate()
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(
        f"Total available: {format_power(result['total_available'])} "
        f"({result['plant_count']} plants; down plants excluded)"
    )
    _print_table(
        ("status", "plants", "max capacity"),
        ((s, r["count"], format_power(r["max_capacity"])) for s, r in result["by_status"].items()),
        right={1, 2},
    )
    click.echo()
    _print_table(
        ("kind", "plants", "max capacity"),
        (
            (kind, r["count"], format_power(r["max_capacity"]))
            for kind, r in result["by_kind"].items()
            if r["count"]
        ),
        right={1, 2},
    )


@click.command("dispatch", cls=VppCommand)
@with_appcontext
@click.argument("demand")
@click.option("--preview", is_flag=True, help="Compute the dispatch without recording it.")
@click.option("--plants", "every_plant", is_flag=True, help="Also list every plant's part.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON instead of tables.")
def dispatch_command(demand: str, preview: bool, every_plant: bool, as_json: bool) -> None:
    """Dispatch DEMAND kW across the fleet and record it in the history (unless
    --preview). Prints the totals and the dispatch by kind and by reason; --plants
    adds every plant with its output, cost and reason."""
    if preview:
        answer = dispatch_runs.preview_dispatch(demand, current_actor())
        body = answer.as_dict()
        rows = answer.rows() if every_plant and not as_json else []
    else:
        with transaction():
            record = dispatch_runs.commit_dispatch(demand)
        body = dispatch_runs.record_as_dict(record, DETAIL_FULL if as_json else DETAIL_SUMMARY)
        rows = dispatch_runs.dispatch_rows(record.id) if every_plant and not as_json else []
    if as_json:
        click.echo(json.dumps(body, indent=2))
        return
    _print_dispatch(body, rows)
    if not preview:
        click.echo(f"Recorded as dispatch {body['id']}.")


def _print_dispatch(body: dict, rows: list[dict[str, Any]]) -> None:
    """The totals, the dispatch by kind and by reason, and ``rows`` if any."""
    proven = "proven optimal" if body["optimal"] else f"NOT proven optimal ({body['status']})"
    price = body["marginal_cost"]
    click.echo(
        f"Demand {format_power(body['demand'])}; "
        f"dispatched {format_power(body['total_dispatched'])}; "
        f"unmet {format_power(body['unmet_demand'])}; cost {_money(body['total_cost'])} "
        f"per hour; marginal price {_money(price)} per MWh; "
        f"{body['startups']} start-up(s); {proven}"
    )
    click.echo()
    _print_table(
        ("kind", "plants", "available", "dispatched", "start-ups"),
        (
            (
                kind,
                part["plants"],
                format_power(part["available"]),
                format_power(part["dispatched"]),
                part["startups"],
            )
            for kind, part in body["by_kind"].items()
            if part["plants"]
        ),
        right={1, 2, 3, 4},
    )
    click.echo()
    _print_table(
        ("why", "plants", "dispatched"),
        (
            (REASON_CODES[reason], part["plants"], format_power(part["dispatched"]))
            for reason, part in body["by_reason"].items()
            if part["plants"]
        ),
        right={1, 2},
    )
    if rows:
        click.echo()
        _print_table(
            ("id", "plant", "kind", "output", "cost/MWh", "cost/h", "why"),
            (
                (
                    r["plant_id"],
                    r["name"],
                    r["kind"],
                    format_power(r["output"]),
                    _money(r["marginal_cost"]),
                    _money(r["marginal_cost"] * r["output"] / 1000),
                    REASON_CODES[r["reason"]] + (" (start-up)" if r["startup"] else ""),
                )
                for r in rows
            ),
            right={0, 3, 4, 5},
        )


dispatches_cli = VppGroup("dispatches", help="The history of committed dispatches.")


@dispatches_cli.command("list")
@click.option("--page", type=click.IntRange(1, MAX_PAGE), default=1, show_default=True)
@click.option("--per-page", type=click.IntRange(1, 100), default=20, show_default=True)
def dispatches_list_command(page: int, per_page: int) -> None:
    """List committed dispatches, newest first."""
    items, total = dispatch_runs.list_dispatches(page, per_page)
    _print_table(
        ("id", "time", "demand", "dispatched", "unmet", "cost/h", "optimal"),
        (
            (
                d.id,
                format_time(d.created_at),
                format_power(d.demand),
                format_power(d.total_dispatched),
                format_power(d.unmet_demand),
                _money(d.total_cost),
                "yes" if d.optimal else "no",
            )
            for d in items
        ),
        right={0, 2, 3, 4, 5},
    )
    click.echo(f"{len(items)} of {total} dispatch(es), page {page}.")


@dispatches_cli.command("show")
@click.argument("dispatch_id", type=DATABASE_ID)
@click.option("--plants", "every_plant", is_flag=True, help="Also list every plant's part.")
def dispatches_show_command(dispatch_id: int, every_plant: bool) -> None:
    """Show committed dispatch DISPATCH_ID: its totals, by kind and by reason.

    With --plants, every plant as it was then."""
    record = dispatch_runs.get_dispatch(dispatch_id)
    body = dispatch_runs.record_as_dict(record, DETAIL_SUMMARY)
    click.echo(f"Dispatch {body['id']} at {format_time(record.created_at)}")
    _print_dispatch(body, dispatch_runs.dispatch_rows(record.id) if every_plant else [])


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
        user, password = accounts.create_user(username, role, given)
    click.echo(f"Created {user.role} {user.username}.")
    if given is None:
        click.echo(f"Password (shown once): {password}")


@users_cli.command("list")
def users_list_command() -> None:
    """List users and their roles."""
    _print_table(
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
        user = accounts.set_role(username, role)
    click.echo(f"{user.username} is now a {user.role}.")


@users_cli.command("set-password")
@click.argument("username")
@_password_option
def users_set_password_command(username: str, password_stdin: bool) -> None:
    """Give USERNAME a new password; prints a generated one unless --password-stdin."""
    given = _password_from(password_stdin)
    with transaction():
        password = accounts.set_password(username, given)
    if given is None:
        click.echo(f"Password (shown once): {password}")
    else:
        click.echo(f"Password of {username} changed.")


@users_cli.command("delete")
@click.argument("username")
def users_delete_command(username: str) -> None:
    """Delete user USERNAME (never the last admin)."""
    with transaction():
        accounts.delete_user(username)
    click.echo(f"Deleted {username}.")


@users_cli.command("ensure-admin")
def users_ensure_admin_command() -> None:
    """First run: when there is no user, create 'admin' and print its password once."""
    try:
        with transaction():
            password = accounts.ensure_admin()
    except Conflict:
        password = None  # another process created it at the same moment: done
    if password:
        click.echo("=" * 64)
        click.echo("First run: created user 'admin'. Its password, shown only now:")
        click.echo(f"    {password}")
        click.echo("Log in at /login; change it with: flask users set-password admin")
        click.echo("=" * 64)


tokens_cli = VppGroup("tokens", help="Bearer tokens for the JSON API.")


@tokens_cli.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default=ROLE_VIEWER, show_default=True)
def tokens_create_command(name: str, role: str) -> None:
    """Create an API token called NAME; prints the token on the last line (once)."""
    with transaction():
        token, raw = accounts.create_token(name, role, created_by=current_actor())
    click.echo(f"Created {token.role} token {token.id} ({token.name}); it is shown only now:")
    click.echo(raw)


@tokens_cli.command("list")
def tokens_list_command() -> None:
    """List API tokens (never their values)."""
    _print_table(
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
        token = accounts.revoke_token(token_id)
    click.echo(f"Revoked token {token.id} ({token.name}).")


def register_commands(app: Flask) -> None:
    app.cli.add_command(plants_cli)
    app.cli.add_command(aggregate_command)
    app.cli.add_command(dispatch_command)
    app.cli.add_command(dispatches_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)
