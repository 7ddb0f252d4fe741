"""Live devices (issue 11): ingest over HTTP and MQTT, the fleet's last hour, setpoints
out, silence. Prints one table; every figure is measured in this run, never asserted.

    .venv/bin/python -m benchmarks.telemetry_bench              # 60 s of HTTP ingest
    .venv/bin/python -m benchmarks.telemetry_bench --seconds 20

On a fresh SQLite file with 10,000 telemetry plants, everything on this machine (the
clients compete with the server for its two cores):

* **naive**: one reading per ORM ``session.add`` + ``commit`` (the baseline the issue
  names), for 5 s.
* **HTTP**: gunicorn (2 workers), clients posting batches of 1,000 readings
  (a second of the fleet is 10 batches) as fast as they are answered, for ``--seconds``;
  the rate over the whole run and over its slowest 10 s.
* **MQTT**: a Mosquitto broker, ``flask telemetry listen``, and a publisher process
  sending one QoS 1 message per reading (10,000 plants x ``--mqtt-seconds``): readings
  committed per second from the first to the last, while the publisher runs beside
  the listener (three processes on two cores), and again for as many readings kept by
  the broker while the listener was stopped, then drained (the listener alone).
* **last hour**: ``GET /api/telemetry/fleet`` (60 buckets of a minute) after an hour of
  rollups for 10,000 plants (600,000 per-plant minutes, written by the real ingest from
  one reading per plant and minute: the rollups have exactly the rows an hour at one
  reading a second would give; the raw table holds 1/60 of them), beside the naive
  answer: the same figures by GROUP BY over the raw readings.
* **setpoints**: a dispatch committed for 10,000 telemetry plants, to the last of their
  10,000 retained setpoints received by a subscriber, beside the commit itself.
* **silence**: a real server with its housekeeping thread, ``VPP_STALE_AFTER_S`` =
  ``--stale`` s; a unit stops reporting; how long until a dispatch preview leaves it out.
"""

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import sqlalchemy as sa

from benchmarks.serving import free_port

ROOT = Path(__file__).resolve().parent.parent
PLANTS = 10_000
BATCH = 1_000


def make_database(path: Path, plants: int) -> tuple[str, str]:
    """A migrated SQLite database with ``plants`` telemetry plants; (url, token)."""
    from flask_migrate import upgrade

    from vpp import create_app
    from vpp.services import accounts, fleet
    from vpp.transactions import transaction

    url = f"sqlite:///{path}"
    os.environ["VPP_INSTANCE_PATH"] = str(path.parent / "instance")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SCHEDULE_WORKER_THREADS": 0})
    with app.app_context():
        upgrade()
        with transaction():
            accounts.create_user("bench", "operator", password="bench-password", actor="bench")
            _, token = accounts.create_token("bench", "operator", "bench")
            fleet.create_plants(
                [
                    {
                        "name": f"Home battery {i}",
                        "kind": "battery",
                        "max_capacity": 5.0,
                        "marginal_cost": 10 + i % 50,
                        "telemetry": True,
                    }
                    for i in range(plants)
                ],
                actor="bench",
            )
    return url, token


def app_for(url: str, **config):
    from vpp import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SCHEDULE_WORKER_THREADS": 0, **config})


class Server:
    def __init__(self, url: str, tmp: Path, workers: int = 2, **env: str):
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
                "wsgi:app",
            ],
            cwd=ROOT,
            env={
                **os.environ,
                "DATABASE_URL": url,
                "VPP_INSTANCE_PATH": str(tmp / "instance"),
                "SECRET_KEY": "bench",
                "SCHEDULE_WORKER_THREADS": "0",
                **env,
            },
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("gunicorn did not start")

    def request(self, method, path, body=None, token=None, connection=None):
        own = connection is None
        connection = connection or http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        connection.request(method, path, orjson.dumps(body) if body is not None else None, headers)
        response = connection.getresponse()
        data = response.read()
        if own:
            connection.close()
        return response.status, data

    def stop(self):
        self.process.terminate()
        self.process.wait(20)


def naive_rate(url: str, seconds: float = 5.0) -> float:
    """Readings per second, one ORM insert and commit each."""
    from vpp.extensions import db
    from vpp.models import Reading

    app = app_for(url)
    with app.app_context():
        start = datetime.now(UTC) - timedelta(days=1)
        count = 0
        began = time.perf_counter()
        while time.perf_counter() - began < seconds:
            db.session.add(
                Reading(
                    plant_id=count % PLANTS + 1,
                    at=start + timedelta(seconds=count // PLANTS),
                    power_kw=1.0,
                )
            )
            db.session.commit()
            count += 1
        return count / (time.perf_counter() - began)


def http_ingest(server: Server, token: str, seconds: float, clients: int = 3) -> dict:
    """Batches of 1,000 as fast as answered; whole-run and slowest-10-s rates."""
    stop = time.monotonic() + seconds
    done: list[tuple[float, int]] = []
    refused = [0]
    lock = threading.Lock()
    base = datetime.now(UTC) - timedelta(hours=2)
    next_second = [0]

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        while time.monotonic() < stop:
            with lock:
                second = next_second[0]
                next_second[0] += 1
            at = (base + timedelta(seconds=second // (PLANTS // BATCH))).isoformat()
            first = (second % (PLANTS // BATCH)) * BATCH
            body = [{"plant_id": first + i + 1, "at": at, "power_kw": 2.5} for i in range(BATCH)]
            status, _ = server.request("POST", "/api/telemetry/", body, token, connection)
            with lock:
                if status == 202:
                    done.append((time.monotonic(), BATCH))
                else:
                    refused[0] += 1
        connection.close()

    began = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    total = sum(n for _, n in done)
    windows = []
    for w in range(int(elapsed // 10)):
        lo, hi = began + 10 * w, began + 10 * (w + 1)
        windows.append(sum(n for t, n in done if lo <= t < hi) / 10)
    return {
        "rate": total / elapsed,
        "slowest_10s": min(windows) if windows else None,
        "total": total,
        "refused": refused[0],
    }


def mqtt_ingest(url: str, tmp: Path, seconds: int) -> dict:
    """Readings over MQTT into the database through ``flask telemetry listen``: while the
    publisher runs beside it (all on this machine's two cores), and draining what the
    broker kept while the listener was stopped (the listener with a core to itself)."""
    port = free_port()
    conf = tmp / "mosquitto.conf"
    conf.write_text(
        (ROOT / "scripts/mosquitto.conf").read_text() + f"\nlistener {port} 127.0.0.1\n"
    )
    mosquitto = subprocess.run(
        ["bash", str(ROOT / "scripts/mqtt-broker.sh")], capture_output=True, text=True, check=True
    ).stdout.strip()
    broker = subprocess.Popen([mosquitto, "-c", str(conf)], stderr=subprocess.DEVNULL)
    mqtt_url = f"mqtt://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "VPP_INSTANCE_PATH": str(tmp / "instance"),
        "SECRET_KEY": "bench",
        "MQTT_URL": mqtt_url,
    }
    engine = sa.create_engine(url)

    def stored() -> int:
        with engine.connect() as connection:
            return connection.execute(sa.text("SELECT count(*) FROM reading")).scalar()

    def start_listener(name: str) -> subprocess.Popen:
        path = tmp / f"{name}.log"
        with path.open("wb") as log:
            listener = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", "telemetry", "listen"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while b"subscribed to" not in path.read_bytes():
            if time.monotonic() > deadline:
                raise SystemExit(f"the listener did not start: {path.read_text()}")
            time.sleep(0.05)
        return listener

    def publish() -> subprocess.Popen:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.mqtt_publisher",
                mqtt_url,
                str(PLANTS),
                str(seconds),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
        )

    def wait_stored(expected: int) -> tuple[int, float]:
        """(readings stored, seconds from the first stored to the last)."""
        before = stored()
        first_at = None
        began = time.monotonic()
        count = before
        while count < before + expected and time.monotonic() - began < 600:
            count = stored()
            if first_at is None and count > before:
                first_at = time.monotonic()
            time.sleep(0.02)
        return count - before, time.monotonic() - (first_at or began)

    listener = start_listener("listener-1")
    try:
        publisher = publish()
        together, together_s = wait_stored(PLANTS * seconds)
        published = publisher.communicate(timeout=600)[0].decode().strip()
        listener.terminate()  # SIGTERM: it finishes its batch, then stops
        listener.wait(30)
        publish().communicate(timeout=600)  # kept by the broker: no listener runs
        listener = start_listener("listener-2")
        drained, drained_s = wait_stored(PLANTS * seconds)
    except BaseException:
        listener.terminate()
        broker.terminate()
        raise
    return {
        "rate": together / together_s,
        "drain_rate": drained / drained_s,
        "stored": together + drained,
        "expected": PLANTS * seconds,
        "publisher": published,
        "mqtt_url": mqtt_url,
        "broker": broker,
        "listener": listener,
        "engine": engine,
    }


def setpoint_latency(url: str, run: dict) -> dict:
    """A dispatch committed; the time until a subscriber has all 10,000 setpoints."""
    from vpp import mqtt
    from vpp.services import dispatch_runs
    from vpp.transactions import transaction

    app = app_for(url)
    got: dict[str, bytes] = {}
    done = threading.Event()
    stamp = [0.0]

    def on_message(_client, _userdata, message):
        if message.retain:
            return  # what was published before this dispatch
        got[message.topic] = message.payload
        if len(got) >= PLANTS:
            stamp[0] = time.monotonic()
            done.set()

    subscriber = mqtt.client(mqtt.broker(run["mqtt_url"]), on_message=on_message)
    subscriber.subscribe("vpp/plants/+/setpoint", qos=1)
    time.sleep(2)  # retained ones delivered
    with app.app_context():
        began = time.monotonic()
        with transaction():
            dispatch_runs.commit_dispatch(PLANTS * 5.0 * 0.6, actor="bench")
        committed = time.monotonic()
    done.wait(60)
    subscriber.disconnect()
    subscriber.loop_stop()
    return {
        "commit_s": committed - began,
        "published_s": (stamp[0] - committed) if done.is_set() else None,
        "received": len(got),
    }


def last_hour(url: str, tmp: Path) -> dict:
    """The fleet's last hour per minute, as the API answers it, beside GROUP BY."""
    from vpp.extensions import db
    from vpp.services import telemetry
    from vpp.transactions import transaction

    app = app_for(url)
    with app.app_context():
        now = datetime.now(UTC)
        start = telemetry.minute_of(now) - timedelta(minutes=59)
        for m in range(60):
            at = start + timedelta(minutes=m, seconds=7)
            readings = [
                telemetry.ReadingIn(pid, at, 1.0 + (pid + m) % 4, None)
                for pid in range(1, PLANTS + 1)
            ]
            with transaction():
                telemetry.ingest(readings, now)
        client = app.test_client()
        from vpp.services import accounts

        with transaction():
            _, token = accounts.create_token("bench-hour", "viewer", "bench")
        headers = {"Authorization": f"Bearer {token}"}
        ours = []
        for _ in range(20):
            began = time.perf_counter()
            answer = client.get("/api/telemetry/fleet", headers=headers)
            ours.append(time.perf_counter() - began)
            assert answer.status_code == 200
        naive = []
        query = sa.text(
            "SELECT minute, sum(kw) FROM (SELECT plant_id,"
            " strftime('%Y-%m-%d %H:%M', at) AS minute,"
            " avg(power_kw) AS kw FROM reading WHERE at >= :since GROUP BY plant_id, minute)"
            " GROUP BY minute"
        )
        for _ in range(3):
            began = time.perf_counter()
            rows = db.session.execute(query, {"since": start.replace(tzinfo=None)}).all()
            naive.append(time.perf_counter() - began)
        raw = db.session.scalar(
            sa.text("SELECT count(*) FROM reading WHERE at >= :s"),
            {"s": start.replace(tzinfo=None)},
        )
        return {
            "ours_ms": statistics.median(ours) * 1000,
            "naive_ms": statistics.median(naive) * 1000,
            "minutes": len(rows),
            "raw_rows": raw,
        }


def silence(url: str, tmp: Path, token: str, stale: int) -> dict:
    """A unit stops reporting: how long until a dispatch preview leaves it out."""
    server = Server(url, tmp, TELEMETRY_SWEEP="1", VPP_STALE_AFTER_S=str(stale))
    try:
        # Every plant but the first reports now (the others stay in).
        now = datetime.now(UTC).isoformat()
        for first in range(0, PLANTS, BATCH):
            body = [
                {"plant_id": pid, "at": now, "power_kw": 1.0}
                for pid in range(first + 1, first + BATCH + 1)
            ]
            server.request("POST", "/api/telemetry/", body, token)
        last = time.monotonic()
        # The watched unit: plant 1 reports once more, then falls silent.
        server.request("POST", "/api/telemetry/", [{"plant_id": 1, "power_kw": 1.0}], token)
        last = time.monotonic()
        while time.monotonic() - last < 10 * stale:
            status, data = server.request("POST", "/api/dispatch/", {"demand": 100.0}, token)
            if status == 200 and "1" not in orjson.loads(data)["allocations"]:
                return {"out_after_s": time.monotonic() - last, "stale_s": stale}
            time.sleep(0.05)
        return {"out_after_s": None, "stale_s": stale}
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="HTTP ingest run")
    parser.add_argument(
        "--mqtt-seconds", type=int, default=6, help="seconds of the fleet over MQTT"
    )
    parser.add_argument("--stale", type=int, default=2, help="VPP_STALE_AFTER_S for silence")
    args = parser.parse_args()
    os.environ["SCHEDULE_WORKER_THREADS"] = "0"
    os.environ["TELEMETRY_SWEEP"] = "0"
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        url, token = make_database(tmp / "bench.sqlite3", PLANTS)
        naive = naive_rate(url)
        rows.append(
            (
                "naive ORM insert + commit, one reading each",
                f"{naive:,.0f} readings/s",
                "1.0x (baseline)",
            )
        )
        server = Server(url, tmp)
        try:
            http = http_ingest(server, token, args.seconds)
        finally:
            server.stop()
        rows.append(
            (
                f"HTTP batches of 1,000, {args.seconds:.0f} s (target >= 10,000/s)",
                f"{http['rate']:,.0f} readings/s; slowest 10 s "
                f"{http['slowest_10s'] or 0:,.0f}/s; {http['refused']} refused",
                f"{http['rate'] / naive:,.1f}x naive",
            )
        )
        run = mqtt_ingest(url, tmp, args.mqtt_seconds)
        try:
            rows.append(
                (
                    f"MQTT QoS 1 via flask telemetry listen, {run['expected']:,} readings "
                    "(target >= 5,000/s), publisher beside it",
                    f"{run['rate']:,.0f} readings/s (publisher: {run['publisher']})",
                    f"{run['rate'] / naive:,.1f}x naive, {run['rate'] / http['rate']:.2f}x HTTP",
                )
            )
            rows.append(
                (
                    "MQTT, the same again kept by the broker, drained by a listener",
                    f"{run['drain_rate']:,.0f} readings/s ({run['stored']:,} stored in all)",
                    f"{run['drain_rate'] / naive:,.1f}x naive, "
                    f"{run['drain_rate'] / http['rate']:.2f}x HTTP",
                )
            )
            time.sleep(1.0)
            sent = setpoint_latency(url, run)
            rows.append(
                (
                    f"setpoints for {PLANTS:,} plants after a dispatch commit (target <= 1 s)",
                    f"{sent['published_s']:.2f} s to the last of {sent['received']:,}"
                    if sent["published_s"] is not None
                    else f"only {sent['received']:,} in 60 s",
                    f"the commit itself: {sent['commit_s']:.2f} s",
                )
            )
        finally:
            run["listener"].terminate()
            run["listener"].wait(20)
            run["broker"].terminate()
            run["engine"].dispose()
        hour = last_hour(url, tmp)
        rows.append(
            (
                f"fleet per minute, last hour, {PLANTS:,} plants (target <= 100 ms)",
                f"{hour['ours_ms']:.1f} ms (median of 20)",
                f"GROUP BY over {hour['raw_rows']:,} raw readings: {hour['naive_ms']:,.0f} ms "
                f"({hour['naive_ms'] / hour['ours_ms']:,.0f}x)",
            )
        )
        quiet = silence(url, tmp, token, args.stale)
        rows.append(
            (
                f"silent unit out of dispatch, VPP_STALE_AFTER_S = {quiet['stale_s']} s "
                "(target <= 2x)",
                f"{quiet['out_after_s']:.2f} s"
                if quiet["out_after_s"] is not None
                else "not within 10x",
                f"{quiet['out_after_s'] / quiet['stale_s']:.2f}x VPP_STALE_AFTER_S"
                if quiet["out_after_s"]
                else "",
            )
        )
    width = max(len(r[0]) for r in rows)
    print(
        f"Live devices, {PLANTS:,} telemetry plants, SQLite, this machine ({os.cpu_count()} cores)"
    )
    for what, figure, ratio in rows:
        print(f"{what.ljust(width)} | {figure} | {ratio}")


if __name__ == "__main__":
    main()
