"""Live devices end to end, with real processes: a Mosquitto broker on a loopback port
(started by each test, stopped after), `flask telemetry listen`, `flask devices
simulate`, and gunicorn for the HTTP door. A listener SIGKILLed mid-stream loses no
reading the broker acknowledged; setpoints are published retained; simulated devices
follow their setpoints within their ramps, fall silent and come back."""

import os
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import sqlalchemy as sa

from tests.helpers import add_plants, bearer
from tests.live_server import ROOT, FlaskProcess, free_port, request
from vpp import mqtt
from vpp.extensions import db
from vpp.models import AuditEvent, FleetMinute, PlantLive, Reading, ReadingMinute
from vpp.services import telemetry

SCRIPTS = ROOT / "scripts"


def _mosquitto() -> str:
    explicit = os.environ.get("VPP_MOSQUITTO")
    if explicit:
        return explicit
    found = subprocess.run(
        ["bash", str(SCRIPTS / "mqtt-broker.sh")], capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        pytest.fail(f"Mosquitto is needed for these tests: {found.stderr.strip()}")
    return found.stdout.strip()


@pytest.fixture
def broker(tmp_path):
    """Mosquitto on a free loopback port with the project's settings; its URL."""
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text((SCRIPTS / "mosquitto.conf").read_text() + f"\nlistener {port} 127.0.0.1\n")
    with (tmp_path / "mosquitto.log").open("wb") as log:  # the child keeps its own copy
        process = subprocess.Popen(
            [_mosquitto(), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=log
        )
    url = f"mqtt://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            probe = mqtt.client(mqtt.broker(url))
            probe.disconnect()
            probe.loop_stop()
            break
        except Exception:
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail("Mosquitto did not start within 10 s")
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(10)


class Flask(FlaskProcess):
    def wait_for(self, text: str, timeout: float = 30) -> None:
        _wait(lambda: text in self.output(), timeout, f"{text!r} in its output", self)


def _listener(app, tmp_path, broker, name="listener") -> Flask:
    """`flask telemetry listen`, once it is subscribed."""
    listener = Flask(app, tmp_path, name, "telemetry", "listen", "--url", broker)
    listener.wait_for("subscribed to")
    return listener


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _wait(predicate, timeout: float, what: str, *processes: Flask):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    logs = "\n".join(f"--- {p.log.name}\n{p.output()[-3000:]}" for p in processes)
    pytest.fail(f"{what}: not within {timeout} s\n{logs}")


def _publisher(url: str):
    return mqtt.client(mqtt.broker(url))


def test_the_listener_stores_readings_and_publishes_setpoints_retained(
    app, client, broker, tmp_path
):
    a, b = add_plants(
        app,
        {"name": "A", "telemetry": True, "max_capacity": 100.0, "marginal_cost": 1},
        {"name": "B", "telemetry": True, "max_capacity": 100.0, "marginal_cost": 2},
    )
    listener = _listener(app, tmp_path, broker)
    try:
        publisher = _publisher(broker)
        now = datetime.now(UTC)
        infos = [
            publisher.publish(mqtt.telemetry_topic(a), orjson.dumps({"power_kw": 10.0}), qos=1),
            publisher.publish(
                mqtt.telemetry_topic(b),
                orjson.dumps(
                    [
                        {"at": (now - timedelta(seconds=s)).isoformat(), "power_kw": s}
                        for s in range(3)
                    ]
                ),
                qos=1,
            ),
            # Refused (logged and dropped) without holding up the others.
            publisher.publish(mqtt.telemetry_topic(a), b"not json", qos=1),
            publisher.publish(mqtt.telemetry_topic(999), orjson.dumps({"power_kw": 1}), qos=1),
            publisher.publish(mqtt.telemetry_topic(a), orjson.dumps({"power_kw": "NaN"}), qos=1),
        ]
        for info in infos:
            info.wait_for_publish(10)
        _wait(lambda: _count(app, Reading) == 4, 20, "readings stored", listener)
        answer = client.post(
            "/api/dispatches/", json={"demand": 150}, headers=bearer(app, "operator")
        )
        assert answer.status_code == 201
        # A device connecting afterwards gets its setpoint: published retained.
        received: dict[str, dict] = {}
        retained: set[str] = set()

        def on_message(_client, _userdata, message):
            received[message.topic] = orjson.loads(message.payload)
            if message.retain:
                retained.add(message.topic)

        time.sleep(1.0)  # the listener checks for a new source every 0.1 s
        device = mqtt.client(mqtt.broker(broker))
        device.on_message = on_message
        device.subscribe("vpp/plants/+/setpoint", qos=1)
        _wait(lambda: len(retained) == 2, 10, "retained setpoints", listener)
        assert received[mqtt.setpoint_topic(a)] == {
            "setpoint_kw": 100.0,
            "since": answer.json["created_at"],
            "source": f"dispatch:{answer.json['id']}",
        }
        assert received[mqtt.setpoint_topic(b)]["setpoint_kw"] == 50.0
        # And a new dispatch is published to it as it happens.
        client.post("/api/dispatches/", json={"demand": 30}, headers=bearer(app, "operator"))
        _wait(
            lambda: received[mqtt.setpoint_topic(a)]["setpoint_kw"] == 30.0,
            10,
            "new setpoint",
            listener,
        )
        device.disconnect()
        publisher.disconnect()
    finally:
        listener.kill(signal.SIGTERM)
    assert "refused" in listener.output()


def test_a_listener_killed_mid_stream_loses_no_acknowledged_reading(app, broker, tmp_path):
    plants = 500
    seconds = 40
    add_plants(
        app, *({"name": f"P{i}", "telemetry": True, "max_capacity": 10.0} for i in range(plants))
    )
    first = _listener(app, tmp_path, broker, "listener-1")
    publisher = _publisher(broker)
    try:
        start = datetime.now(UTC) - timedelta(seconds=seconds + 5)
        infos = []
        for s in range(seconds):
            at = (start + timedelta(seconds=s)).isoformat()
            for plant_id in range(1, plants + 1):
                body = orjson.dumps({"at": at, "power_kw": (plant_id + s) % 10})
                infos.append(publisher.publish(mqtt.telemetry_topic(plant_id), body, qos=1))
        total = len(infos)
        _wait(lambda: _count(app, Reading) >= 2_000, 60, "the first readings", first)
        first.kill()  # SIGKILL, mid-stream
        stored_before = _count(app, Reading)
        assert stored_before < total, "the listener finished before it could be killed"
        for info in infos:  # every message acknowledged by the broker
            info.wait_for_publish(60)
            assert info.is_published()
        second = _listener(app, tmp_path, broker, "listener-2")
        try:
            _wait(
                lambda: _count(app, Reading) == total,
                120,
                f"all {total} readings ({stored_before} before the kill)",
                first,
                second,
            )
        finally:
            second.kill(signal.SIGTERM)
    finally:
        first.kill()
        publisher.disconnect()
    with app.app_context():
        # Stored once each, and the rollups agree with the raw readings.
        assert db.session.scalar(sa.select(sa.func.sum(ReadingMinute.readings))) == total
        per_plant_minute = (
            sa.select(
                ReadingMinute.minute, (ReadingMinute.sum_kw / ReadingMinute.readings).label("kw")
            )
        ).subquery()
        expected = dict(
            db.session.execute(
                sa.select(per_plant_minute.c.minute, sa.func.sum(per_plant_minute.c.kw)).group_by(
                    per_plant_minute.c.minute
                )
            ).all()
        )
        stored = dict(db.session.execute(sa.select(FleetMinute.minute, FleetMinute.power_kw)).all())
        assert stored.keys() == expected.keys()
        for minute, kw in expected.items():
            assert stored[minute] == pytest.approx(kw, rel=1e-9)
    assert stored_before > 0


def test_simulated_devices_follow_their_setpoints_within_their_ramps_and_drop_out(
    app, client, broker, tmp_path
):
    app.config["VPP_STALE_AFTER_S"] = 1
    dropper, ramped = add_plants(
        app,
        {"name": "drops", "telemetry": True, "max_capacity": 50.0, "marginal_cost": 5},
        {
            "name": "ramped",
            "telemetry": True,
            "max_capacity": 100.0,
            "ramp_up_kw_per_min": 120.0,  # 2 kW per second
            "ramp_down_kw_per_min": 120.0,
            "marginal_cost": 1,
        },
    )
    listener = _listener(app, tmp_path, broker)
    simulator = Flask(
        app,
        tmp_path,
        "simulator",
        "devices",
        "simulate",
        "--url",
        broker,
        "--interval",
        "0.25",
        "--noise",
        "0",
        "--drop",
        "1",
        "--drop-after",
        "3",
        "--drop-for",
        "4",
    )
    try:
        _wait(lambda: _count(app, PlantLive) == 2, 20, "both devices heard", listener, simulator)
        answer = client.post(
            "/api/dispatches/", json={"demand": 100}, headers=bearer(app, "operator")
        )
        assert answer.status_code == 201
        committed = datetime.fromisoformat(answer.json["created_at"])

        def ramped_up() -> bool:
            with app.app_context():
                live = db.session.get(PlantLive, ramped)
                return live is not None and live.power_kw >= 8.0

        _wait(ramped_up, 30, "the ramped unit moving to its setpoint", listener, simulator)

        # The unit that drops out is taken down as silent, then comes back.
        def came_back() -> bool:
            with app.app_context():
                actions = list(
                    db.session.scalars(
                        sa.select(AuditEvent.action).where(AuditEvent.target == f"plant:{dropper}")
                    )
                )
            return "plant.silent" in actions and "plant.telemetry_resumed" in actions

        _wait(came_back, 30, "silence and return", listener, simulator)
    finally:
        simulator.kill(signal.SIGTERM)
        listener.kill(signal.SIGTERM)
    with app.app_context():
        rows = db.session.execute(
            sa.select(Reading.at, Reading.power_kw)
            .where(Reading.plant_id == ramped, Reading.at > committed)
            .order_by(Reading.at)
        ).all()
    assert len(rows) >= 4
    # Towards the setpoint (100 kW), never faster than 2 kW/s between two reports.
    for (t0, p0), (t1, p1) in zip(rows, rows[1:], strict=False):
        dt = (telemetry._aware(t1) - telemetry._aware(t0)).total_seconds()
        assert 0 <= p1 - p0 <= 2.0 * dt + 0.6, (t0, p0, t1, p1)  # one tick of slack: its clock
    assert rows[-1][1] > rows[0][1]


def test_simulated_devices_report_over_http_to_a_real_server(app, server, tmp_path):
    ids = add_plants(
        app, *({"name": f"P{i}", "telemetry": True, "max_capacity": 10.0} for i in range(1500))
    )
    simulator = Flask(
        app,
        tmp_path,
        "simulator",
        "devices",
        "simulate",
        "--transport",
        "http",
        "--url",
        f"http://127.0.0.1:{server.port}",
        "--token",
        server.token,
        "--duration",
        "3",
    )
    simulator.process.wait(60)
    assert simulator.process.returncode == 0, simulator.output()
    stored = _count(app, Reading)
    assert stored >= 2 * len(ids), simulator.output()  # two batches per report, 3 reports
    status, body = request(server.port, "GET", "/api/telemetry/status", token=server.token)
    assert status == 200 and body["reporting"] == len(ids)


def test_readings_acknowledged_by_a_server_survive_its_sigkill(app, server):
    plants = 200
    add_plants(
        app, *({"name": f"P{i}", "telemetry": True, "max_capacity": 10.0} for i in range(plants))
    )
    acknowledged: list[int] = []
    stop = threading.Event()
    start = datetime.now(UTC) - timedelta(minutes=30)

    def send() -> None:
        second = 0
        while not stop.is_set():
            at = (start + timedelta(seconds=second)).isoformat()
            body = [{"plant_id": i, "at": at, "power_kw": 1.0} for i in range(1, plants + 1)]
            try:
                status, _ = request(server.port, "POST", "/api/telemetry/", body, 10, server.token)
            except OSError:
                return
            if status == 202:
                acknowledged.append(second)
            second += 1

    thread = threading.Thread(target=send)
    thread.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()
    stop.set()
    thread.join(30)
    assert len(acknowledged) >= 20
    with app.app_context():
        seconds = {
            round((telemetry._aware(at) - start).total_seconds())
            for (at,) in db.session.execute(sa.select(Reading.at).distinct())
        }
        counts = dict(
            db.session.execute(sa.select(Reading.at, sa.func.count()).group_by(Reading.at)).all()
        )
    assert set(acknowledged) <= seconds
    assert set(counts.values()) == {plants}  # whole requests or nothing
