"""``flask schedules ...``: plan the fleet over a horizon, follow the job, read and
export the plan, and run a worker."""

import json
import sys
import threading
import time
from pathlib import Path

import click
from flask import current_app

from vpp import worker
from vpp.cli.common import DATABASE_ID, VppGroup, cli_actor, money, print_table
from vpp.domain import SCHEDULE_DONE, SCHEDULE_FAILED, SCHEDULE_RESOLUTIONS
from vpp.errors import InvalidInput
from vpp.extensions import db
from vpp.formatting import format_power, format_time, plural
from vpp.schemas import (
    DEFAULT_SCHEDULE_TIME_LIMIT_S,
    DEFAULT_TARGET_GAP,
    DEFAULT_VALUE_OF_LOST_LOAD,
    MAX_PAGE,
)
from vpp.services import schedule_files, schedule_jobs
from vpp.transactions import transaction

schedules_cli = VppGroup("schedules", help="Schedules: the fleet planned over the next hours.")


def _json(body: dict) -> str:
    return json.dumps(body, indent=2, default=lambda v: v.isoformat())


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"Cannot read the {what} file {path}: {exc}") from exc


@schedules_cli.command("create")
@click.option(
    "--demand",
    "demand_file",
    required=True,
    metavar="FILE.csv",
    help="The demand profile: a CSV with a demand_kw column, one row per interval.",
)
@click.option(
    "--start",
    help="ISO 8601 (UTC if no offset), on an interval boundary. "
    "Default: the next boundary from now.",
)
@click.option(
    "--resolution",
    type=click.Choice([str(r) for r in SCHEDULE_RESOLUTIONS]),
    default="15",
    show_default=True,
    help="Minutes per interval.",
)
@click.option(
    "--availability",
    "availability_file",
    metavar="FILE.csv",
    help="Availability profiles: plant_id, then one column per interval (0 to 1).",
)
@click.option(
    "--time-limit",
    type=float,
    default=DEFAULT_SCHEDULE_TIME_LIMIT_S,
    show_default=True,
    help="Seconds of solving at most.",
)
@click.option(
    "--target-gap",
    type=float,
    default=DEFAULT_TARGET_GAP,
    show_default=True,
    help="Stop once the proven gap is this small.",
)
@click.option(
    "--final-soc",
    type=click.Choice(["keep", "free"]),
    default="keep",
    show_default=True,
    help="keep: every store ends no lower than it starts.",
)
@click.option(
    "--value-of-lost-load",
    type=float,
    default=DEFAULT_VALUE_OF_LOST_LOAD,
    show_default=True,
    help="Cost of each MWh not delivered.",
)
@click.option(
    "--wait",
    is_flag=True,
    help="Solve it here (or wait for the worker that took it) with a progress bar.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
def schedules_create_command(
    demand_file, start, resolution, availability_file, time_limit, target_gap, final_soc,
    value_of_lost_load, wait, as_json,
) -> None:  # fmt: skip
    """Ask for a schedule of the fleet for the demand in FILE.csv. Without --wait it is
    queued for the server's workers (or `flask schedules worker`)."""
    body = {
        "demand": schedule_files.demand_from_csv(_read(demand_file, "demand")),
        "resolution_minutes": int(resolution),
        "time_limit_s": time_limit,
        "target_gap": target_gap,
        "final_soc": final_soc,
        "value_of_lost_load": value_of_lost_load,
    }
    if start:
        body["start"] = start
    if availability_file:
        body["availability"] = schedule_files.availability_from_csv(
            _read(availability_file, "availability")
        )
    data = schedule_jobs.load_request(body)
    with transaction():
        record = schedule_jobs.submit(data, actor=cli_actor())
    schedule_id = record.id
    if not wait:
        if as_json:
            click.echo(_json(schedule_jobs.schedule_as_dict(record)))
        else:
            click.echo(
                f"Schedule {schedule_id} queued ({plural(len(data['demand']), 'interval')})."
            )
        return
    _solve_here_or_wait(schedule_id, as_json)


def _solve_here_or_wait(schedule_id: int, as_json: bool) -> None:
    app = current_app._get_current_object()
    limit = schedule_jobs.get_schedule(schedule_id).options["time_limit_s"]
    db.session.remove()
    stop = threading.Event()
    solver = threading.Thread(
        target=worker.work,
        args=(app, stop),
        kwargs={"once": True, "schedule_id": schedule_id},
        daemon=True,
    )
    solver.start()
    with click.progressbar(length=1000, label=f"Schedule {schedule_id}", file=sys.stderr) as bar:  # noqa: E501
        done = 0
        while True:
            record = schedule_jobs.get_schedule(schedule_id)
            status, progress = record.status, record.progress or {}
            db.session.rollback()
            if status in (SCHEDULE_DONE, SCHEDULE_FAILED):
                bar.update(1000 - done)
                break
            elapsed = progress.get("elapsed_s") or 0
            target = min(999, int(1000 * elapsed / max(limit, 1e-3)))
            if target > done:
                bar.update(target - done)
                done = target
            if progress.get("gap") is not None:
                bar.label = f"Schedule {schedule_id}: gap {progress['gap']:.2%}"
            time.sleep(0.2)
    solver.join(timeout=5)
    _show(schedule_id, as_json)


@schedules_cli.command("list")
@click.option("--page", type=click.IntRange(1, MAX_PAGE), default=1, show_default=True)
@click.option("--per-page", type=click.IntRange(1, 100), default=20, show_default=True)
def schedules_list_command(page: int, per_page: int) -> None:
    """List schedules, newest first."""
    items, total = schedule_jobs.list_schedules(page, per_page)
    print_table(
        ("id", "asked", "start", "intervals", "status", "objective", "gap"),
        (
            (
                s.id,
                format_time(s.created_at),
                format_time(s.start),
                len(s.demand),
                s.status,
                money(s.result["objective"]) if s.result else "",
                f"{s.result['gap']:.2%}" if s.result else "",
            )
            for s in items
        ),
        right={0, 3, 5, 6},
    )
    click.echo(f"{len(items):,} of {total:,} schedule(s), page {page:,}.")


@schedules_cli.command("show")
@click.argument("schedule_id", type=DATABASE_ID)
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
def schedules_show_command(schedule_id: int, as_json: bool) -> None:
    """Show schedule SCHEDULE_ID: where its job stands, and when done its totals, its
    proven gap and the delivery by kind."""
    _show(schedule_id, as_json)


def _show(schedule_id: int, as_json: bool) -> None:
    record = schedule_jobs.get_schedule(schedule_id)
    body = schedule_jobs.schedule_as_dict(record)
    if as_json:
        click.echo(_json(body))
        return
    click.echo(
        f"Schedule {record.id}: {record.status}; {len(record.demand)} intervals of "
        f"{record.resolution_minutes} min from {format_time(record.start)}; asked by "
        f"{record.created_by} at {format_time(record.created_at)}"
    )
    if record.status == SCHEDULE_FAILED:
        click.echo(f"Failed: {record.error}")
        return
    if record.status != SCHEDULE_DONE:
        progress = record.progress or {}
        if progress.get("gap") is not None:
            click.echo(f"Best so far {money(progress['objective'])}, gap {progress['gap']:.2%}")
        return
    r = record.result
    hours = record.resolution_minutes / 60
    proven = "optimal (gap target reached)" if r["optimal"] else f"stopped: {r['solver_status']}"
    click.echo(
        f"Cost {money(r['objective'])} (energy {money(r['energy_cost'])}, start-ups "
        f"{money(r['startup_cost'])}, unmet {money(r['unmet_cost'])}); lower bound "
        f"{money(r['lower_bound'])}; gap {r['gap']:.2%}; {proven}; "
        f"{r['solve_time_ms'] / 1000:.1f} s by {r['method']}"
    )
    delivered = sum(r["delivered"]) * hours
    click.echo(
        f"Delivered {delivered / 1000:,.2f} MWh; unmet {r['unmet_energy_kwh'] / 1000:,.2f} MWh; "
        f"{plural(r['startups'], 'start-up')}; {plural(record.plant_count or 0, 'plant')}"
    )
    click.echo()
    print_table(
        ("kind", "energy", "peak"),
        (
            (kind, f"{sum(series) * hours / 1000:,.2f} MWh", format_power(max(series)))
            for kind, series in r["by_kind"].items()
        ),
        right={1, 2},
    )


@schedules_cli.command("export")
@click.argument("schedule_id", type=DATABASE_ID)
@click.argument("file", type=click.File("w", encoding="utf-8", lazy=True))
def schedules_export_command(schedule_id: int, file) -> None:
    """Write done schedule SCHEDULE_ID to FILE as CSV (- for standard output): one row
    per plant, its output (kW) in a column per interval."""
    record = schedule_jobs.get_schedule(schedule_id)
    if record.status != SCHEDULE_DONE:
        raise click.ClickException(f"Schedule {schedule_id} is {record.status}, not done.")
    starts = schedule_jobs.interval_starts(record)
    count = 0
    for line in schedule_files.export_rows(starts, schedule_jobs.iter_rows(schedule_id)):
        file.write(line)
        count += 1
    click.echo(f"Wrote {plural(count - 1, 'plant')} to {file.name}.", err=True)


@schedules_cli.command("worker")
@click.option("--once", is_flag=True, help="Solve what is waiting, then stop.")
@click.option(
    "--poll",
    type=click.FloatRange(0.1, 60),
    default=1.0,
    show_default=True,
    help="Seconds between looks at the queue when it is empty.",
)
def schedules_worker_command(once: bool, poll: float) -> None:
    """Solve queued schedules (and take over abandoned ones) until stopped: a worker of
    its own, beside or instead of the server's threads."""
    app = current_app._get_current_object()
    stop = threading.Event()
    try:
        solved = worker.work(app, stop, once=once, poll_s=poll)
    except KeyboardInterrupt:
        stop.set()
        return
    click.echo(f"Solved {plural(solved, 'schedule')}.")
