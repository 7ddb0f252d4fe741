"""``flask aggregate``, ``flask dispatch`` and ``flask dispatches ...``: the fleet's
capacity, a dispatch now, and the history of recorded ones."""

import json
from typing import Any

import click
from flask.cli import with_appcontext

from vpp.cli.common import DATABASE_ID, VppCommand, VppGroup, cli_actor, money, print_table
from vpp.domain import REASON_CODES
from vpp.formatting import format_power, format_time
from vpp.schemas import DETAIL_FULL, DETAIL_SUMMARY, MAX_PAGE
from vpp.services import dispatch_runs, fleet
from vpp.transactions import transaction


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
    print_table(
        ("status", "plants", "max capacity"),
        ((s, r["count"], format_power(r["max_capacity"])) for s, r in result["by_status"].items()),
        right={1, 2},
    )
    click.echo()
    print_table(
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
        answer = dispatch_runs.preview_dispatch(demand, cli_actor())
        body = answer.as_dict()
        rows = answer.rows() if every_plant and not as_json else []
    else:
        with transaction():
            record = dispatch_runs.commit_dispatch(demand, actor=cli_actor())
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
        f"unmet {format_power(body['unmet_demand'])}; cost {money(body['total_cost'])} "
        f"per hour; marginal price {money(price)} per MWh; "
        f"{body['startups']} start-up(s); {proven}"
    )
    click.echo()
    print_table(
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
    print_table(
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
        print_table(
            ("id", "plant", "kind", "output", "cost/MWh", "cost/h", "why"),
            (
                (
                    r["plant_id"],
                    r["name"],
                    r["kind"],
                    format_power(r["output"]),
                    money(r["marginal_cost"]),
                    money(r["marginal_cost"] * r["output"] / 1000),
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
    print_table(
        ("id", "time", "demand", "dispatched", "unmet", "cost/h", "optimal"),
        (
            (
                d.id,
                format_time(d.created_at),
                format_power(d.demand),
                format_power(d.total_dispatched),
                format_power(d.unmet_demand),
                money(d.total_cost),
                "yes" if d.optimal else "no",
            )
            for d in items
        ),
        right={0, 2, 3, 4, 5},
    )
    click.echo(f"{len(items):,} of {total:,} dispatch(es), page {page:,}.")


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
