"""``flask plants ...``: register, list, edit and retire plants; CSV import and export."""

import csv
import json
import re
import sys
from collections.abc import Callable
from typing import Any

import click

from vpp.cli.common import DATABASE_ID, VppGroup, cli_actor, money, print_table
from vpp.demo import demo_plants
from vpp.domain import PLANT_KINDS, PLANT_STATUSES
from vpp.formatting import format_power
from vpp.schemas import NULLABLE_FIELDS, PLANT_FIELD_RULES, SCHEDULE_FIELDS
from vpp.services import fleet
from vpp.services.fleet_csv import CSV_COLUMNS, guard_formula, unguard_formula
from vpp.transactions import transaction

plants_cli = VppGroup("plants", help="Register, list, edit and retire plants; CSV import/export.")


def _print_plants(plants) -> None:
    print_table(
        ("id", "name", "kind", "status", "min", "max", "cost/MWh"),
        (
            (
                p.id,
                p.name,
                p.kind,
                p.status,
                format_power(p.min_capacity),
                format_power(p.max_capacity),
                money(p.marginal_cost),
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
    # The schedule's fields, each described by its rule (``none`` clears one that may
    # be null: no ramp limit, not a store, no location).
    for name in SCHEDULE_FIELDS:
        words = PLANT_FIELD_RULES[name].metadata["description"]
        if not required:  # an update applies no default: its help names none
            words = re.sub(r"\s*\((?:default|null)[^)]*\)|; null: [^.]*", "", words)
        if name in NULLABLE_FIELDS:
            words += " 'none' clears it."
        options.append(click.option("--" + name.replace("_", "-"), name, help=words))
    options.append(
        click.option(
            "--telemetry/--no-telemetry",
            "telemetry",
            default=None,
            help=f"The plant reports readings; silent too long, it is taken down{default('no')}.",
        )
    )

    def decorate(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _given(values: dict[str, Any]) -> dict[str, Any]:
    """The options given, as the schema takes them (``none`` is null where allowed)."""
    given = {key: value for key, value in values.items() if value is not None}
    for key in NULLABLE_FIELDS:
        if key in given and given[key].strip().lower() == "none":
            given[key] = None
    return given


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
        plant = fleet.create_plant(_given(values), actor=cli_actor())
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
        plant = fleet.update_plant(plant_id, changes, actor=cli_actor())
    click.echo(f"Updated plant {plant.id}: {plant.name}")


@plants_cli.command("remove")
@click.argument("plant_id", type=DATABASE_ID)
def remove_command(plant_id: int) -> None:
    """Retire plant PLANT_ID from the fleet."""
    with transaction():
        plant = fleet.delete_plant(plant_id, actor=cli_actor())
    click.echo(f"Removed plant {plant_id}: {plant.name}")


# A spreadsheet runs a cell that starts with one of these as a formula.
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
        ids = fleet.insert_plants(valid, actor=cli_actor())
    click.echo(f"Imported {len(ids):,} plant(s).")


@plants_cli.command("demo")
def demo_command() -> None:
    """Add a small demo fleet (nine plants of every kind and status) to try things out."""
    with transaction():
        ids = fleet.create_plants(demo_plants(), actor=cli_actor())
    click.echo(f"Added {len(ids):,} demo plants.")
