"""Live devices through the API, the services and the CLI: readings stored whole or not
at all, rollups that equal what the raw readings say, silent units taken down and
brought back, setpoints from the committed dispatch and the running schedule."""

import json
import math
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import add_plants, bearer, client_as, csrf_token
from vpp import worker
from vpp.extensions import db
from vpp.models import AuditEvent, FleetMinute, Plant, PlantLive, Reading, ReadingMinute
from vpp.services import dispatch_runs, telemetry
from vpp.transactions import transaction

LIVE = {"telemetry": True, "max_capacity": 100.0}


def _now() -> datetime:
    return datetime.now(UTC)


def _clear_of_a_boundary(minutes: int = 1, margin_s: float = 10.0) -> None:
    """Wait, if need be, until the clock is more than ``margin_s`` before the next
    multiple of ``minutes``: a test that reads "this minute" then stays in it."""
    now = _now()
    into = (now.minute % minutes) * 60 + now.second + now.microsecond / 1e6
    left = minutes * 60 - into
    if left < margin_s:
        time.sleep(left + 0.1)


def _post(client, app, body, role="operator"):
    return client.post("/api/telemetry/", json=body, headers=bearer(app, role))


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _plant(app, plant_id: int) -> Plant:
    with app.app_context():
        plant = db.session.get(Plant, plant_id)
        db.session.expunge(plant)
        return plant


# --- Ingest -----------------------------------------------------------------------


def test_readings_are_stored_with_each_plants_latest(app, client):
    a, b = add_plants(app, {"name": "A", **LIVE}, {"name": "B", **LIVE})
    at = _now() - timedelta(seconds=10)
    body = [
        {"plant_id": a, "at": at.isoformat(), "power_kw": 40.0},
        {"plant_id": a, "at": (at + timedelta(seconds=1)).isoformat(), "power_kw": 42.0},
        {"plant_id": b, "power_kw": 7.5},  # at: when it arrives
    ]
    answer = _post(client, app, body)
    assert answer.status_code == 202
    assert answer.json == {"accepted": 3, "stored": 3}
    readings = client.get(f"/api/plants/{a}/readings", headers=bearer(app, "viewer")).json
    assert [r["power_kw"] for r in readings["readings"]] == [40.0, 42.0]
    setpoint = client.get(f"/api/plants/{a}/setpoint", headers=bearer(app, "viewer")).json
    assert setpoint["measured_kw"] == 42.0
    # Sent again (as MQTT may after a crash): accepted, stored once.
    again = _post(client, app, body[:2])
    assert again.json == {"accepted": 2, "stored": 0}
    assert _count(app, Reading) == 3


BAD_READINGS = [
    ({"plant_id": 999, "power_kw": 1.0}, "plant_id"),
    ({"plant_id": 0, "power_kw": 1.0}, "plant_id"),
    ({"plant_id": 2**40, "power_kw": 1.0}, "plant_id"),
    ({"plant_id": True, "power_kw": 1.0}, "plant_id"),
    ({"plant_id": "1", "power_kw": 1.0}, "plant_id"),
    ({"power_kw": 1.0}, "plant_id"),
    ({"plant_id": 1}, "power_kw"),
    ({"plant_id": 1, "power_kw": "5"}, "power_kw"),
    ({"plant_id": 1, "power_kw": False}, "power_kw"),
    ({"plant_id": 1, "power_kw": 1e300}, "power_kw"),
    ({"plant_id": 1, "power_kw": 111.0}, "power_kw"),  # more than 110 % of 100 kW
    ({"plant_id": 1, "power_kw": -5.0}, "power_kw"),  # not a store: standby only
    ({"plant_id": 1, "power_kw": 1.0, "soc_kwh": 3.0}, "soc_kwh"),  # not a store
    ({"plant_id": 2, "power_kw": 1.0, "soc_kwh": 51.0}, "soc_kwh"),  # a 50 kWh store
    ({"plant_id": 2, "power_kw": -61.0}, "power_kw"),  # charges at most 50 kW
    ({"plant_id": 1, "power_kw": 1.0, "at": "2999-01-01T00:00:00Z"}, "at"),
    ({"plant_id": 1, "power_kw": 1.0, "at": "2026-01-01T00:00:00"}, "at"),  # no offset
    ({"plant_id": 1, "power_kw": 1.0, "at": "yesterday"}, "at"),
    ({"plant_id": 1, "power_kw": 1.0, "at": "0001-01-01T00:00:00+01:00"}, "at"),
    ({"plant_id": 1, "power_kw": 1.0, "at": 1700000000}, "at"),
    ({"plant_id": 1, "power_kw": 1.0, "at": "2000-01-01T00:00:00Z"}, "at"),  # past retention
    ({"plant_id": 1, "power_kw": 1.0, "colour": "red"}, "colour"),
    ("a string", "_schema"),
]


@pytest.mark.parametrize(("bad", "field"), BAD_READINGS)
def test_one_bad_reading_refuses_the_request_naming_its_index(app, client, bad, field):
    add_plants(
        app,
        {"name": "plain", **LIVE},
        {"name": "store", "kind": "battery", "max_capacity": 50.0, "energy_capacity_kwh": 50.0,
         "max_charge_kw": 50.0, "telemetry": True},
    )  # fmt: skip
    good = {"plant_id": 1, "power_kw": 10.0}
    answer = _post(client, app, [good, good | {"at": _now().isoformat()}, bad])
    assert answer.status_code == 422, answer.json
    assert list(answer.json["fields"]) == [f"2.{field}"]
    assert "reading 2" in answer.json["error"] and "nothing stored" in answer.json["error"]
    assert _count(app, Reading) == 0
    assert _count(app, PlantLive) == 0
    assert _count(app, FleetMinute) == 0


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_a_non_finite_power_is_refused(app, client, literal):
    add_plants(app, {"name": "A", **LIVE})
    raw = f'[{{"plant_id": 1, "power_kw": 1}}, {{"plant_id": 1, "power_kw": {literal}}}]'
    answer = client.post(
        "/api/telemetry/",
        data=raw,
        content_type="application/json",
        headers=bearer(app, "operator"),
    )
    assert answer.status_code == 422
    assert list(answer.json["fields"]) == ["1.power_kw"]
    assert _count(app, Reading) == 0


def test_the_body_must_be_an_array_and_a_viewer_cannot_send(app, client):
    add_plants(app, {"name": "A", **LIVE})
    one = _post(client, app, {"plant_id": 1, "power_kw": 1})
    assert one.status_code == 422 and "array" in one.json["error"]
    assert _post(client, app, [{"plant_id": 1, "power_kw": 1}], role="viewer").status_code == 403
    assert _count(app, Reading) == 0


def test_readings_for_a_plant_down_by_hand_are_kept_and_it_stays_down(app, client):
    (plant_id,) = add_plants(app, {"name": "A", "status": "down", **LIVE})
    answer = _post(client, app, [{"plant_id": plant_id, "power_kw": 30.0}])
    assert answer.status_code == 202
    assert _count(app, Reading) == 1
    plant = _plant(app, plant_id)
    assert (plant.status, plant.status_reason) == ("down", None)


# A few plants, readings at random seconds over three minutes, sent in random batches
# (some twice): what the rollups say must be what the raw readings say.
readings_strategy = st.lists(
    st.tuples(
        st.integers(1, 3),
        st.integers(0, 179),
        st.floats(0, 100, allow_nan=False).map(lambda x: round(x, 3)),
    ),
    min_size=1,
    max_size=40,
    unique_by=lambda r: (r[0], r[1]),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(readings=readings_strategy, cuts=st.lists(st.integers(0, 40), max_size=4), data=st.data())
def test_the_rollups_equal_the_averages_of_the_raw_readings(app, readings, cuts, data):
    if _count(app, Plant) == 0:
        add_plants(app, *({"name": f"P{i}", **LIVE} for i in range(3)))
    base = telemetry.minute_of(_now()) - timedelta(minutes=5)
    items = [
        {"plant_id": pid, "at": (base + timedelta(seconds=s)).isoformat(), "power_kw": kw}
        for pid, s, kw in readings
    ]
    repeated = data.draw(st.lists(st.sampled_from(items), max_size=5))
    sent = items + repeated
    bounds = sorted({0, len(sent), *(min(c, len(sent)) for c in cuts)})
    with app.app_context():
        for table in (Reading, ReadingMinute, FleetMinute, PlantLive):
            db.session.execute(sa.delete(table))
        db.session.commit()
        now = _now()
        for lo, hi in zip(bounds, bounds[1:], strict=False):
            with transaction():
                telemetry.ingest(telemetry.validate_readings(sent[lo:hi], now), now)
        # What the raw readings say, computed here from the definition.
        per_plant_minute: dict = {}
        for pid, s, kw in readings:
            minute = base + timedelta(minutes=s // 60)
            per_plant_minute.setdefault((pid, minute), []).append(kw)
        expected_fleet: dict = {}
        for (_, minute), values in per_plant_minute.items():
            kw, plants = expected_fleet.get(minute, (0.0, 0))
            expected_fleet[minute] = (kw + sum(values) / len(values), plants + 1)
        stored_fleet = {
            telemetry._aware(m): (kw, n)
            for m, kw, n in db.session.execute(
                sa.select(FleetMinute.minute, FleetMinute.power_kw, FleetMinute.plants)
            )
        }
        assert set(stored_fleet) == set(expected_fleet)
        for minute, (kw, plants) in expected_fleet.items():
            assert stored_fleet[minute][1] == plants
            assert math.isclose(stored_fleet[minute][0], kw, rel_tol=1e-9, abs_tol=1e-6)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Reading)) == len(readings)
        latest = {pid: max((s, kw) for p, s, kw in readings if p == pid) for pid, _, _ in readings}
        for pid, (s, kw) in latest.items():
            live = db.session.get(PlantLive, pid)
            assert telemetry._aware(live.at) == base + timedelta(seconds=s)
            assert live.power_kw == kw


def test_the_fleet_series_puts_measured_output_beside_the_dispatched_target(app, client):
    ids = add_plants(
        app,
        {"name": "A", **LIVE, "marginal_cost": 10},
        {"name": "B", **LIVE, "marginal_cost": 20},
        {"name": "not live", "max_capacity": 100.0, "marginal_cost": 5},
    )
    viewer = bearer(app, "viewer")
    _clear_of_a_boundary()
    assert client.post("/api/dispatches/", json={"demand": 150}, headers=bearer(app, "operator"))
    start = telemetry.minute_of(_now())
    _post(
        client, app, [{"plant_id": ids[0], "power_kw": 40.0}, {"plant_id": ids[1], "power_kw": 5.0}]
    )
    series = client.get("/api/telemetry/fleet?resolution_minutes=1", headers=viewer).json
    assert len(series["buckets"]) in (60, 61)
    last = next(b for b in series["buckets"] if b["start"] == start.isoformat())
    assert last["measured_kw"] == pytest.approx(45.0)
    # The cheapest, not live, gives 100; A gives 50 of the rest: the target is 50.
    assert last["target_kw"] == pytest.approx(50.0)
    assert last["tracking_error_kw"] == pytest.approx(-5.0)
    assert last["plants_reporting"] == 2
    assert series["buckets"][0]["measured_kw"] is None
    five = client.get("/api/telemetry/fleet?resolution_minutes=5", headers=viewer).json
    assert len(five["buckets"]) in (12, 13)


@pytest.mark.parametrize(
    "query",
    [
        "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
        "since=2026-01-01T00:00:00",
        "since=2020-01-01T00:00:00Z&until=2026-01-01T00:00:00Z",
        "since=2026-01-01T00:00:00Z&until=2026-01-03T00:00:00Z&resolution_minutes=1",
        "resolution_minutes=0",
        "resolution_minutes=abc",
        "colour=red",
    ],
)
def test_a_bad_window_is_a_422(app, client, query):
    answer = client.get(f"/api/telemetry/fleet?{query}", headers=bearer(app, "viewer"))
    assert answer.status_code == 422
    assert "error" in answer.json


def test_a_plants_readings_are_bounded_and_kept_per_minute(app, client):
    (plant_id,) = add_plants(app, {"name": "A", **LIVE})
    base = telemetry.minute_of(_now()) - timedelta(minutes=3)
    body = [
        {"plant_id": plant_id, "at": (base + timedelta(seconds=s)).isoformat(), "power_kw": s}
        for s in range(0, 120, 10)
    ]
    assert _post(client, app, body).status_code == 202
    viewer = bearer(app, "viewer")
    got = client.get(f"/api/plants/{plant_id}/readings?limit=5", headers=viewer).json
    assert [r["power_kw"] for r in got["readings"]] == [0, 10, 20, 30, 40]
    minutes = client.get(f"/api/plants/{plant_id}/readings?per_minute=true", headers=viewer).json
    assert [(m["power_kw"], m["readings"]) for m in minutes["minutes"]] == [(25, 6), (85, 6)]
    assert client.get("/api/plants/99/readings", headers=viewer).status_code == 404
    assert client.get(f"/api/plants/{plant_id}/readings?limit=0", headers=viewer).status_code == 422


def test_readings_past_their_retention_are_purged_and_the_averages_kept(app):
    (plant_id,) = add_plants(app, {"name": "A", **LIVE})
    with app.app_context():
        now = _now()
        old = telemetry.minute_of(now - timedelta(days=2))
        readings = [
            telemetry.ReadingIn(plant_id, old + timedelta(seconds=s), 5.0, None) for s in range(90)
        ]
        readings.append(telemetry.ReadingIn(plant_id, now, 6.0, None))
        with transaction():
            telemetry.ingest(readings, now)
        app.config["TELEMETRY_RAW_DAYS"] = 1
        while True:
            with transaction():
                if not telemetry.purge(now):
                    break
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Reading)) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReadingMinute)) == 3


# --- Silence -----------------------------------------------------------------------


def _events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        events = list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))
        for event in events:
            db.session.expunge(event)
        return events


def test_a_silent_plant_is_taken_down_left_out_of_dispatch_and_comes_back(app, client):
    app.config["VPP_STALE_AFTER_S"] = 1
    live, plain = add_plants(
        app, {"name": "live", **LIVE}, {"name": "plain", "max_capacity": 100.0}
    )
    assert _post(client, app, [{"plant_id": live, "power_kw": 20.0}]).status_code == 202
    with app.app_context(), transaction():
        assert telemetry.sweep() == []  # heard just now
    time.sleep(1.2)
    with app.app_context(), transaction():
        assert telemetry.sweep() == [live]
    plant = _plant(app, live)
    assert (plant.status, plant.status_reason) == ("down", "silent")
    assert _plant(app, plain).status == "idle"  # not a telemetry plant: never silent
    (event,) = _events(app, "plant.silent")
    assert event.target == f"plant:{live}" and event.actor == telemetry.ACTOR
    dispatched = client.post("/api/dispatch/", json={"demand": 150}, headers=bearer(app, "viewer"))
    assert str(live) not in dispatched.json["allocations"]  # down: left out
    silent = client.get("/api/telemetry/silent", headers=bearer(app, "viewer")).json
    assert [p["id"] for p in silent["items"]] == [live] and silent["total"] == 1
    # An old reading (sent late) does not bring it back; a fresh one does.
    old = (_now() - timedelta(seconds=5)).isoformat()
    _post(client, app, [{"plant_id": live, "at": old, "power_kw": 20.0}])
    assert _plant(app, live).status == "down"
    _post(client, app, [{"plant_id": live, "power_kw": 20.0}])
    plant = _plant(app, live)
    assert (plant.status, plant.status_reason) == ("running", None)
    (back,) = _events(app, "plant.telemetry_resumed")
    assert json.loads(back.after) == {"status": "running", "status_reason": None}
    dispatched = client.post("/api/dispatch/", json={"demand": 150}, headers=bearer(app, "viewer"))
    assert dispatched.json["allocations"][str(live)] > 0


def test_a_plant_that_never_reported_is_silent_once_its_grace_is_over(app):
    app.config["VPP_STALE_AFTER_S"] = 1
    (plant_id,) = add_plants(app, {"name": "new", **LIVE})
    with app.app_context(), transaction():
        assert telemetry.sweep() == []
    time.sleep(1.2)
    with app.app_context(), transaction():
        assert telemetry.sweep() == [plant_id]


def test_a_committed_dispatch_leaves_out_a_silent_plant_without_the_background_check(app, client):
    app.config["VPP_STALE_AFTER_S"] = 1
    live, _ = add_plants(
        app, {"name": "live", **LIVE, "marginal_cost": 1}, {"name": "other", "max_capacity": 100.0}
    )
    _post(client, app, [{"plant_id": live, "power_kw": 20.0}])
    time.sleep(1.2)
    answer = client.post("/api/dispatches/", json={"demand": 50}, headers=bearer(app, "operator"))
    assert answer.status_code == 201
    record = client.get(answer.headers["Location"], headers=bearer(app, "viewer")).json
    assert str(live) not in record["allocations"]
    (row,) = [row for row in record["plants"] if row["plant_id"] == live]
    assert (row["status"], row["output"], row["reason"]) == ("down", 0, "down")
    assert _plant(app, live).status_reason == "silent"


def test_the_background_check_takes_a_silent_plant_down_with_no_request(app):
    app.config["VPP_STALE_AFTER_S"] = 1
    (plant_id,) = add_plants(app, {"name": "live", **LIVE})
    with app.app_context(), transaction():
        telemetry.ingest([telemetry.ReadingIn(plant_id, _now(), 5.0, None)], _now())
    stop = threading.Event()
    thread = threading.Thread(target=worker.housekeep, args=(app, stop), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _plant(app, plant_id).status != "down":
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(5)
    assert _plant(app, plant_id).status_reason == "silent"


# --- Setpoints --------------------------------------------------------------------


def test_setpoints_come_from_the_latest_committed_dispatch(app, client):
    a, b, plain = add_plants(
        app,
        {"name": "A", **LIVE, "marginal_cost": 10},
        {"name": "B", **LIVE, "marginal_cost": 20},
        {"name": "plain", "max_capacity": 100.0},
    )
    viewer = bearer(app, "viewer")
    empty = client.get(f"/api/plants/{a}/setpoint", headers=viewer).json
    assert empty["setpoint_kw"] is None and empty["source"] is None
    first = client.post("/api/dispatches/", json={"demand": 120}, headers=bearer(app, "operator"))
    dispatch_id = first.json["id"]
    got = client.get(f"/api/plants/{a}/setpoint", headers=viewer).json
    record = client.get(f"/api/dispatches/{dispatch_id}", headers=viewer).json
    assert got["setpoint_kw"] == record["allocations"][str(a)]
    assert got["source"] == f"dispatch:{dispatch_id}"
    assert got["since"] == record["created_at"]
    assert client.get(f"/api/plants/{plain}/setpoint", headers=viewer).json["setpoint_kw"] is None
    every = client.get("/api/telemetry/setpoints", headers=viewer).json
    assert set(every["setpoints"]) == {str(a), str(b)}
    assert (every["total"], every["pages"]) == (2, 1)
    # A page at a time, by plant id: the answer never grows with the fleet.
    second = client.get("/api/telemetry/setpoints?page=2&per_page=1", headers=viewer).json
    assert second["setpoints"] == {str(b): every["setpoints"][str(b)]}
    assert (second["page"], second["total"], second["pages"]) == (2, 2, 2)
    too_many = client.get("/api/telemetry/setpoints?per_page=10001", headers=viewer)
    assert too_many.status_code == 422
    client.post("/api/dispatches/", json={"demand": 10}, headers=bearer(app, "operator"))
    assert client.get(f"/api/plants/{b}/setpoint", headers=viewer).json["source"] == (
        f"dispatch:{dispatch_id + 1}"
    )


def test_setpoints_follow_a_done_schedule_interval_by_interval(app, client):
    a, b = add_plants(
        app,
        {"name": "A", **LIVE, "marginal_cost": 10},
        {"name": "B", **LIVE, "marginal_cost": 20},
    )
    operator, viewer = bearer(app, "operator"), bearer(app, "viewer")
    _clear_of_a_boundary(5, margin_s=30)
    client.post("/api/dispatches/", json={"demand": 5}, headers=operator)
    start = telemetry.minute_of(_now()) - timedelta(minutes=_now().minute % 5)
    demand = [150.0, 30.0, 60.0]
    answer = client.post(
        "/api/schedules/",
        json={"start": start.isoformat(), "resolution_minutes": 5, "demand": demand},
        headers=operator,
    )
    assert answer.status_code == 202, answer.json
    schedule_id = answer.json["id"]
    assert worker.work(app, threading.Event(), once=True) == 1
    rows = client.get(f"/api/schedules/{schedule_id}/plants/", headers=viewer).json["items"]
    output = {row["id"]: row["output"] for row in rows}
    got = client.get(f"/api/plants/{a}/setpoint", headers=viewer).json
    assert got["source"] == f"schedule:{schedule_id}#0"
    assert got["setpoint_kw"] == output[a][0]
    with app.app_context():
        later = start + timedelta(minutes=7)
        assert telemetry.setpoint(b, later)["setpoint_kw"] == output[b][1]
        assert telemetry.setpoint(b, later)["since"] == (start + timedelta(minutes=5)).isoformat()
        # After its horizon, the dispatch is what remains.
        assert telemetry.setpoint(b, start + timedelta(minutes=16))["source"].startswith(
            "dispatch:"
        )
    # A dispatch committed now takes over until the next interval begins.
    client.post("/api/dispatches/", json={"demand": 42}, headers=operator)
    assert (
        client.get(f"/api/plants/{a}/setpoint", headers=viewer)
        .json["source"]
        .startswith("dispatch:")
    )
    series = client.get("/api/telemetry/fleet", headers=viewer).json
    assert series["buckets"][-1]["target_kw"] is not None


# --- CLI ----------------------------------------------------------------------------


def test_the_cli_sends_a_reading_shows_the_status_and_sweeps(app, runner):
    app.config["VPP_STALE_AFTER_S"] = 1
    (plant_id,) = add_plants(app, {"name": "Meter", **LIVE})
    sent = runner.invoke(args=["telemetry", "send", str(plant_id), "12.5"])
    assert sent.exit_code == 0 and "Stored 1 reading" in sent.output
    shown = runner.invoke(args=["telemetry", "status"])
    assert "1 telemetry plant(s): 1 reporting, 0 silent" in shown.output
    time.sleep(1.2)
    swept = runner.invoke(args=["telemetry", "sweep"])
    assert swept.exit_code == 0 and f"1 plant(s) taken down as silent: [{plant_id}]" in swept.output
    listed = runner.invoke(args=["telemetry", "status", "--silent"])
    assert "Meter" in listed.output and "0 reporting, 1 silent" in listed.output
    as_json = json.loads(runner.invoke(args=["telemetry", "status", "--json"]).output)
    assert as_json["silent"] == 1


@pytest.mark.parametrize(
    "args",
    [
        ["telemetry", "send", "1", "500"],
        ["telemetry", "send", "7", "1"],
        ["telemetry", "send", "1", "1", "--at", "tomorrow"],
        ["telemetry", "send", "1", "nan"],
    ],
)
def test_a_bad_reading_from_the_cli_is_one_line_and_changes_nothing(app, runner, args):
    add_plants(app, {"name": "Meter", **LIVE})
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert _count(app, Reading) == 0


def test_the_plant_cli_and_api_set_telemetry(app, runner, client):
    added = runner.invoke(
        args=["plants", "add", "--name", "M", "--max-capacity", "5", "--telemetry"]
    )
    assert added.exit_code == 0, added.output
    plant = client.get("/api/plants/1", headers=bearer(app, "viewer")).json
    assert plant["telemetry"] is True and plant["status_reason"] is None
    runner.invoke(args=["plants", "update", "1", "--no-telemetry"])
    assert client.get("/api/plants/1", headers=bearer(app, "viewer")).json["telemetry"] is False


# --- Pages --------------------------------------------------------------------------


def test_the_live_page_shows_the_counts_and_the_silent_plants_a_page_at_a_time(app):
    app.config["VPP_STALE_AFTER_S"] = 1
    ids = add_plants(app, *({"name": f"Unit {i:02}", **LIVE} for i in range(30)))
    with app.app_context():
        now = _now()
        with transaction():
            telemetry.ingest([telemetry.ReadingIn(ids[0], now, 5.0, None)], now)
        time.sleep(1.1)
        with transaction():
            telemetry.ingest([telemetry.ReadingIn(ids[1], _now(), 5.0, None)], _now())
            assert len(telemetry.sweep()) == 29
    viewer = client_as(app, "viewer")
    page = viewer.get("/live").get_data(as_text=True)
    assert 'data-live="silent"' in page and ">29<" in page
    assert "Unit 00" in page and "Unit 26" not in page  # 25 a page
    assert "Page 1 of 2" in page
    second = viewer.get("/live?page=2").get_data(as_text=True)
    assert "Unit 29" in second and "Unit 00" not in second


def test_a_plants_page_shows_its_last_reading_and_setpoint(app):
    (plant_id,) = add_plants(app, {"name": "Meter", **LIVE})
    operator = client_as(app, "operator")
    page = operator.get(f"/plants/{plant_id}/edit").get_data(as_text=True)
    assert "none yet" in page and "no committed dispatch" in page
    with app.app_context():
        now = _now()
        with transaction():
            telemetry.ingest([telemetry.ReadingIn(plant_id, now, 12.5, None)], now)
            dispatch_runs.commit_dispatch(40, actor="tests")
    for who in ("operator", "viewer"):
        page = client_as(app, who).get(f"/plants/{plant_id}/edit").get_data(as_text=True)
        assert "12.5 kW" in page and "40 kW since" in page and "dispatch:1" in page


def test_the_plant_form_sets_telemetry(app):
    operator = client_as(app, "operator")
    answer = operator.post(
        "/plants",
        data={
            "csrf_token": csrf_token(operator),
            "name": "Meter",
            "max_capacity": "10",
            "telemetry": "y",
        },
    )
    assert answer.status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(Plant.telemetry)) is True


def test_a_schedule_leaves_out_a_silent_plant_and_starts_a_store_from_its_reported_charge(
    app, client
):
    app.config["VPP_STALE_AFTER_S"] = 1
    silent, store, plain = add_plants(
        app,
        {"name": "quiet", **LIVE, "marginal_cost": 1},
        {
            "name": "store",
            "kind": "battery",
            "max_capacity": 5.0,
            "energy_capacity_kwh": 10.0,
            "soc_kwh": 5.0,
            "telemetry": True,
        },
        {"name": "plain", "max_capacity": 100.0, "marginal_cost": 50},
    )
    with app.app_context():
        now = _now()
        with transaction():
            telemetry.ingest([telemetry.ReadingIn(silent, now, 10.0, None)], now)
    time.sleep(1.1)
    with app.app_context():
        with transaction():  # the store reports now; the other fell silent meanwhile
            telemetry.ingest([telemetry.ReadingIn(store, _now(), 0.0, 8.0)], _now())
    answer = client.post(
        "/api/schedules/", json={"demand": [20.0, 20.0]}, headers=bearer(app, "operator")
    )
    assert answer.status_code == 202
    assert worker.work(app, threading.Event(), once=True) == 1
    rows = client.get(
        f"/api/schedules/{answer.json['id']}/plants/", headers=bearer(app, "viewer")
    ).json["items"]
    by_id = {row["id"]: row for row in rows}
    assert silent not in by_id and plain in by_id
    assert by_id[store]["soc"][0] == pytest.approx(8.0)
    assert _plant(app, silent).status_reason == "silent"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["telemetry", "listen", "--url", "ftp://broker.example"], "MQTT_URL must look like"),
        (["telemetry", "listen", "--url", "mqtt://127.0.0.1:1"], "Cannot reach the MQTT broker"),
        (["devices", "simulate", "--transport", "http"], "needs --url"),
        (["devices", "simulate", "--interval", "0"], "interval"),
        (["telemetry", "status", "--page", "0"], "page"),
    ],
)
def test_the_live_commands_refuse_bad_options_in_one_line(app, runner, args, words):
    add_plants(app, {"name": "Meter", **LIVE})
    result = runner.invoke(args=args)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert words in result.output
    assert _count(app, Reading) == 0


def test_the_simulator_needs_telemetry_plants(app, runner):
    add_plants(app, {"name": "plain", "max_capacity": 10.0})
    result = runner.invoke(args=["devices", "simulate", "--duration", "1"])
    assert result.exit_code == 1
    assert result.output == "Error: No plant to simulate: mark plants as telemetry first.\n"
