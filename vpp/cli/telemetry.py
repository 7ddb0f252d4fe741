"""``flask telemetry ...`` (listen, status, sweep, send) and ``flask devices simulate``."""

import json
import logging
import signal
import sys
import threading
import time
from typing import Any

import click
import sqlalchemy as sa
from flask import current_app

from vpp import mqtt, worker
from vpp.cli.common import DATABASE_ID, VppGroup, print_table
from vpp.extensions import db
from vpp.models import Plant, PlantLive
from vpp.services import telemetry
from vpp.simulator import DropOut, Simulator, devices_from
from vpp.transactions import transaction

telemetry_cli = VppGroup("telemetry", help="Live devices: readings in, setpoints out.")
devices_cli = VppGroup("devices", help="Simulated devices for demos, tests and benchmarks.")


def _stop_on_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT end the loop cleanly (the batch in hand is finished)."""
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )


@telemetry_cli.command("listen")
@click.option("--url", help="The broker, mqtt://[user:password@]host[:port] (default: MQTT_URL).")
@click.option(
    "--client-id",
    default="vpp-listener",
    show_default=True,
    help="The session's name at the broker: a listener started again under it gets "
    "what arrived meanwhile.",
)
def listen_command(url: str | None, client_id: str) -> None:
    """Carry readings from the MQTT broker into the database, publish setpoints
    (retained) and take silent plants down, until stopped (SIGTERM or Ctrl-C)."""
    _logging()
    app = current_app._get_current_object()
    listener = mqtt.Listener(app, url or app.config["MQTT_URL"], client_id)
    stop = threading.Event()
    _stop_on_signals(stop)
    last = [time.monotonic(), 0]

    def report(counters: mqtt.Counters) -> None:
        moment = time.monotonic()
        if moment - last[0] >= 10:
            rate = (counters.received - last[1]) / (moment - last[0])
            click.echo(
                f"{counters.received:,} messages ({rate:,.0f}/s), {counters.stored:,} readings "
                f"stored, {counters.refused:,} refused, {counters.published:,} setpoints sent",
                err=True,
            )
            last[:] = [moment, counters.received]

    listener.run(stop, report)
    click.echo("Stopped.", err=True)


@telemetry_cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--silent", "list_silent", is_flag=True, help="Also list the silent plants.")
@click.option("--page", type=click.IntRange(1), default=1, show_default=True)
@click.option("--per-page", type=click.IntRange(1, 1000), default=50, show_default=True)
def status_command(as_json: bool, list_silent: bool, page: int, per_page: int) -> None:
    """Telemetry plants, silent ones, readings per second, and the setpoints' source."""
    state = telemetry.status()
    silent, total = telemetry.silent_page(page, per_page) if list_silent else ([], 0)
    if as_json:
        click.echo(json.dumps({**state, **({"silent_plants": silent} if list_silent else {})}))
        return
    click.echo(
        f"{state['telemetry_plants']:,} telemetry plant(s): {state['reporting']:,} reporting, "
        f"{state['silent']:,} silent (after {state['stale_after_s']:g} s)."
    )
    click.echo(
        f"Readings: {state['readings_per_s']:,.1f}/s over the last minute; "
        f"latest {state['last_reading_at'] or 'never'}."
    )
    click.echo(
        f"Setpoints from: {state['setpoint_source'] or 'nothing committed yet'}"
        + (f" since {state['setpoint_since']}" if state["setpoint_since"] else "")
        + "."
    )
    if list_silent:
        if not silent:
            click.echo("No silent plant." if page == 1 else "No silent plant on this page.")
            return
        print_table(
            ["id", "name", "kind", "last reading", "down since"],
            [
                (p["id"], p["name"], p["kind"], p["last_reading_at"] or "never", p["down_since"])
                for p in silent
            ],
            right={0},
        )
        click.echo(f"Page {page} of {max(1, -(-total // per_page))} ({total:,} silent).")


@telemetry_cli.command("sweep")
def sweep_command() -> None:
    """Take silent telemetry plants down now, and purge readings past their retention
    (what the server's housekeeping thread and the listener do by themselves)."""
    taken = worker.housekeep_once(purge=True)
    click.echo(
        f"{len(taken)} plant(s) taken down as silent" + (f": {taken[:20]}" if taken else ".")
    )


@telemetry_cli.command("send")
@click.argument("plant_id", type=DATABASE_ID)
@click.argument("power_kw", type=float)
@click.option("--soc", "soc_kwh", type=float, help="A store's charge, kWh.")
@click.option("--at", help="ISO 8601 with offset (default: now).")
def send_command(plant_id: int, power_kw: float, soc_kwh: float | None, at: str | None) -> None:
    """Store one reading for a plant, as a device would send it (a test, a manual meter)."""
    item: dict[str, Any] = {"plant_id": plant_id, "power_kw": power_kw}
    if soc_kwh is not None:
        item["soc_kwh"] = soc_kwh
    if at is not None:
        item["at"] = at
    now = telemetry.now_utc()
    readings = telemetry.validate_readings([item], now)
    with transaction():
        stored = telemetry.ingest(readings, now)
    click.echo(f"Stored {stored} reading(s).")


@devices_cli.command("simulate")
@click.option(
    "--count", type=click.IntRange(1), help="The first COUNT telemetry plants (default: all)."
)
@click.option(
    "--plant", "plant_ids", type=DATABASE_ID, multiple=True, help="A plant to play (repeatable)."
)
@click.option("--transport", type=click.Choice(["mqtt", "http"]), default="mqtt", show_default=True)
@click.option(
    "--url", help="mqtt: the broker (default MQTT_URL); http: the VPP, e.g. http://127.0.0.1:5000."
)
@click.option("--token", envvar="VPP_TOKEN", help="http: an operator's API token (or VPP_TOKEN).")
@click.option(
    "--interval",
    type=click.FloatRange(0.05, 3600),
    default=1.0,
    show_default=True,
    help="Seconds between reports.",
)
@click.option(
    "--noise",
    type=click.FloatRange(0, 1),
    default=0.01,
    show_default=True,
    help="Noise on each reading, as a share of the plant's max capacity.",
)
@click.option(
    "--drop",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="How many devices fall silent...",
)
@click.option(
    "--drop-after",
    type=click.FloatRange(0),
    default=30.0,
    show_default=True,
    help="...this many seconds in...",
)
@click.option(
    "--drop-for",
    type=click.FloatRange(0),
    default=120.0,
    show_default=True,
    help="...for this many seconds, then report again.",
)
@click.option(
    "--duration",
    type=click.FloatRange(0),
    help="Stop after this many seconds (default: when stopped).",
)
@click.option("--seed", type=int, default=0, show_default=True)
def simulate_command(
    count: int | None,
    plant_ids: tuple[int, ...],
    transport: str,
    url: str | None,
    token: str | None,
    interval: float,
    noise: float,
    drop: int,
    drop_after: float,
    drop_for: float,
    duration: float | None,
    seed: int,
) -> None:
    """Play the fleet's telemetry plants as devices: each follows its setpoint within
    its ramps, reports every INTERVAL seconds with some noise, over MQTT or HTTP; DROP
    of them fall silent for a while and come back."""
    _logging()
    if transport == "http" and (not url or not token):
        raise click.ClickException("--transport http needs --url (the VPP) and --token.")
    columns = [
        Plant.id,
        Plant.max_capacity,
        Plant.max_charge_kw,
        Plant.energy_capacity_kwh,
        Plant.soc_kwh,
        Plant.ramp_up_kw_per_min,
        Plant.ramp_down_kw_per_min,
    ]
    query = sa.select(*columns).order_by(Plant.id)
    query = query.where(Plant.id.in_(plant_ids)) if plant_ids else query.where(Plant.telemetry)
    if count:
        query = query.limit(count)
    plants = [row._asdict() for row in db.session.execute(query)]
    if not plants:
        raise click.ClickException("No plant to simulate: mark plants as telemetry first.")
    last = dict(db.session.execute(sa.select(PlantLive.plant_id, PlantLive.power_kw)).all())
    db.session.rollback()
    simulator = Simulator(
        devices_from(plants, last),
        transport=transport,
        mqtt_url=url or current_app.config["MQTT_URL"],
        api_url=url,
        token=token,
        interval_s=interval,
        noise=noise,
        drop=DropOut(drop, drop_after, drop_for),
        seed=seed,
    )
    stop = threading.Event()
    _stop_on_signals(stop)
    click.echo(f"Simulating {len(plants):,} device(s) over {transport}.", err=True)
    shown = [0.0]

    def report(sim: Simulator, elapsed: float) -> None:
        if elapsed - shown[0] >= 10:
            click.echo(f"{elapsed:,.0f} s: {sim.sent:,} readings sent.", err=True)
            shown[0] = elapsed

    simulator.run(stop, duration, report)
    click.echo(f"Sent {simulator.sent:,} readings.", err=True)
