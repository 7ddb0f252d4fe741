"""Schedules as jobs, through the API and the CLI: 202 at once, a worker solves, the
answer is kept with every plant's part; bad requests change nothing; two workers
never take the same job; a worker killed mid-solve leaves its job to be taken over
or failed, visibly."""

import csv
import io
import json
import math
import signal
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.helpers import add_plants, bearer, client_as
from tests.live_server import FlaskProcess
from tests.schedule_checker import violations
from vpp import worker
from vpp.extensions import db
from vpp.models import AuditEvent, Schedule, SchedulePlantRow
from vpp.schemas import ScheduleSchema
from vpp.services import schedule_jobs
from vpp.services.schedule import (
    ScheduleAnswer,
    ScheduleProblem,
    check_schedule,
    plant_from_fields,
)
from vpp.transactions import transaction

FLEET = (
    {"name": "PV", "kind": "solar", "max_capacity": 300, "marginal_cost": 0},
    {
        "name": "Genset",
        "kind": "diesel",
        "max_capacity": 500,
        "min_capacity": 200,
        "marginal_cost": 90,
        "startup_cost": 50,
        "min_up_minutes": 60,
        "ramp_up_kw_per_min": 20,
        "ramp_down_kw_per_min": 20,
    },
    {
        "name": "Home battery",
        "kind": "battery",
        "max_capacity": 100,
        "marginal_cost": 1,
        "energy_capacity_kwh": 200,
        "soc_kwh": 100,
        "soc_min_kwh": 0,
        "soc_max_kwh": 200,
        "max_charge_kw": 100,
        "charge_efficiency": 0.95,
        "discharge_efficiency": 0.95,
    },
    {"name": "Broken", "kind": "gas", "max_capacity": 1000, "status": "down"},
)
DEMAND = [250, 400, 600, 650, 500, 300, 100, 50]


def solve_waiting(app) -> int:
    """What a worker does: take every queued job and solve it."""
    return worker.work(app, threading.Event(), once=True)


def schedule_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Schedule))


def test_post_answers_202_then_a_worker_solves_and_keeps_every_plant(app, client):
    pv, genset, battery, broken = add_plants(app, *FLEET)
    profile = [1, 1, 1, 0.5, 0.5, 0, 0, 0]
    response = client.post(
        "/api/schedules/",
        json={
            "demand": DEMAND,
            "start": "2026-11-27T00:00:00Z",
            "availability": {str(pv): profile},
        },
    )
    assert response.status_code == 202, response.json
    assert response.json["status"] == "queued"
    location = response.headers["Location"]
    assert location.endswith(f"/api/schedules/{response.json['id']}")
    assert client.get(location).json["status"] == "queued"

    assert solve_waiting(app) == 1
    body = client.get(location).json
    assert body["status"] == "done", body
    assert body["attempts"] == 1
    T = len(DEMAND)
    for key in ("delivered", "unmet", "marginal_price"):
        assert len(body[key]) == T
    for t in range(T):
        assert body["delivered"][t] + body["unmet"][t] == pytest.approx(DEMAND[t])
    assert body["lower_bound"] <= body["objective"] + 1e-6
    assert body["objective"] == pytest.approx(
        body["energy_cost"] + body["startup_cost"] + body["unmet_cost"]
    )
    assert body["availability_sources"] == {"request": 1, "clear_sky": 0, "full": 2}
    assert body["plant_count"] == 3  # the down plant is not scheduled
    assert ScheduleSchema().validate(body) == {}  # the body is what the API document says

    rows = client.get(f"{location}/plants/?per_page=1000").json
    assert rows["total"] == 3
    by_id = {row["id"]: row for row in rows["items"]}
    assert set(by_id) == {pv, genset, battery}
    assert by_id[pv]["availability_source"] == "request"
    assert by_id[battery]["soc"] is not None and len(by_id[battery]["soc"]) == T + 1
    assert by_id[genset]["soc"] is None
    for t in range(T):  # the rows add up to what the schedule says it delivers
        assert math.fsum(row["output"][t] for row in rows["items"]) == pytest.approx(
            body["delivered"][t]
        )
    # The kept answer keeps the rules, checked independently of the solver.
    with app.app_context():
        record = db.session.get(Schedule, body["id"])
        problem, _, _ = schedule_jobs.build_problem(record)
    answer = ScheduleAnswer(
        output_kw={row["id"]: row["output"] for row in rows["items"]},
        soc_kwh={row["id"]: row["soc"] for row in rows["items"] if row["soc"] is not None},
        on={
            row["id"]: [kw > 0 for kw in row["output"]]
            for row in rows["items"]
            if row["soc"] is None
        },
        unmet_kw=body["unmet"],
        energy_cost=body["energy_cost"],
        startup_cost=body["startup_cost"],
        unmet_cost=body["unmet_cost"],
        startups=body["startups"],
        lower_bound=body["lower_bound"],
        status="optimal",
        solve_time_s=0,
    )
    assert check_schedule(problem, answer) == []
    assert violations(problem, answer) == []  # the costs kept are the outputs' costs

    one = client.get(f"{location}/plants/?per_page=1&page=2&sort=plant_id").json
    assert one["pages"] == 3 and one["items"][0]["id"] == genset
    assert client.get(f"{location}/plants/?kind=battery").json["total"] == 1
    assert client.get(f"{location}/plants/?q=geNS").json["items"][0]["id"] == genset
    listing = client.get("/api/schedules/").json
    assert listing["total"] == 1 and listing["items"][0]["status"] == "done"
    with app.app_context():
        event = db.session.scalars(sa.select(AuditEvent)).all()[-1]
        assert event.action == "schedule.create" and event.target == f"schedule:{body['id']}"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"demand": [100, "NaN", 100]}, "demand.1"),
        ({"demand": [100, -5]}, "demand.1"),
        ({"demand": []}, "demand"),
        ({"demand": "100"}, "demand"),
        ({}, "demand"),
        ({"demand": [1] * (7 * 96 + 1)}, "demand"),
        ({"demand": [1, 2], "resolution_minutes": 7}, "resolution_minutes"),
        ({"demand": [1, 2], "start": "2026-11-27T00:07:00Z"}, "start"),
        ({"demand": [1, 2], "start": "tomorrow"}, "start"),
        ({"demand": [1, 2], "availability": {"1": [1]}}, "availability"),
        ({"demand": [1, 2], "availability": {"1": [1, 1.5]}}, "availability"),
        ({"demand": [1, 2], "availability": {"abc": [1, 1]}}, "availability"),
        ({"demand": [1, 2], "availability": {"999": [1, 1]}}, "availability.999"),
        ({"demand": [1, 2], "final_soc": "empty"}, "final_soc"),
        ({"demand": [1, 2], "time_limit_s": 0}, "time_limit_s"),
        ({"demand": [1, 2], "target_gap": -0.1}, "target_gap"),
        ({"demand": [1, 2], "colour": "red"}, "colour"),
    ],
)
def test_a_bad_request_is_422_naming_the_field_and_stores_nothing(app, client, body, field):
    add_plants(app, FLEET[0])
    response = client.post("/api/schedules/", json=body)
    assert response.status_code == 422, response.json
    assert "error" in response.json
    assert any(key == field or key.startswith(field + ".") for key in response.json["fields"]), (
        response.json
    )
    assert schedule_count(app) == 0


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_a_literal_nan_in_the_demand_is_422_and_changes_nothing(app, client, literal):
    response = client.post(
        "/api/schedules/", data=f'{{"demand": [1, {literal}]}}', content_type="application/json"
    )
    assert response.status_code == 422 and "demand.1" in response.json["fields"]
    assert schedule_count(app) == 0


def test_a_viewer_reads_schedules_but_cannot_ask_for_one(app):
    viewer = bearer(app, "viewer")
    client = app.test_client()
    assert client.post("/api/schedules/", json={"demand": [1]}, headers=viewer).status_code == 403
    assert client.get("/api/schedules/", headers=viewer).status_code == 200
    assert client.get("/api/schedules/1", headers=viewer).status_code == 404
    assert client.get("/api/schedules/1/plants/", headers=viewer).status_code == 404
    assert schedule_count(app) == 0


def test_a_solar_plant_with_a_location_follows_the_clear_sky(app, client):
    sunny, plain = add_plants(
        app,
        {"name": "Roof", "kind": "solar", "max_capacity": 10, "latitude": 52.5, "longitude": 13.4},
        {"name": "Wind", "kind": "wind", "max_capacity": 1, "marginal_cost": 500},
    )
    demand = [50.0] * 96  # a whole day in Berlin, more than the roof can give
    response = client.post(
        "/api/schedules/", json={"demand": demand, "start": "2026-06-21T00:00:00Z"}
    )
    solve_waiting(app)
    body = client.get(response.headers["Location"]).json
    assert body["availability_sources"] == {"request": 0, "clear_sky": 1, "full": 1}
    rows = {r["id"]: r for r in client.get(f"/api/schedules/{body['id']}/plants/").json["items"]}
    roof = rows[sunny]["output"]
    assert rows[sunny]["availability_source"] == "clear_sky"
    assert rows[plain]["availability_source"] == "full"
    assert roof[0] == 0 and roof[95] == 0  # midnight UTC: night in Berlin
    assert 8 < max(roof) <= 10  # about 9 kW at midsummer noon (Haurwitz GHI / 1000)
    assert roof.index(max(roof)) in range(40, 48)  # around 11:00 UTC, noon there


def test_two_workers_never_take_the_same_job(app):
    with app.app_context():
        for _ in range(40):
            db.session.add(
                Schedule(
                    created_by="tests",
                    status="queued",
                    start=datetime(2026, 11, 27, tzinfo=UTC),
                    resolution_minutes=15,
                    demand=[1.0],
                    options={},
                    attempts=0,
                )
            )
        db.session.commit()
    taken: list[tuple[str, int]] = []
    barrier = threading.Barrier(6)

    def claimer(name: str) -> None:
        with app.app_context():
            barrier.wait()
            while (job := worker.claim(name)) is not None:
                taken.append((name, job))
            db.session.remove()

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    jobs = [job for _, job in taken]
    assert sorted(jobs) == list(range(1, 41))  # every job once, none twice
    assert len({name for name, _ in taken}) > 1  # and the workers really raced
    with app.app_context():
        owners = dict(db.session.execute(sa.select(Schedule.id, Schedule.worker)).all())
    assert all(owners[job] == name for name, job in taken)


def test_an_abandoned_job_is_taken_over_and_a_late_worker_cannot_overwrite_it(app):
    add_plants(app, *FLEET[:2])
    client = client_as(app, "operator")
    schedule_id = client.post("/api/schedules/", json={"demand": DEMAND}).json["id"]
    with app.app_context():
        assert worker.claim("ghost") == schedule_id
        assert worker.claim("other") is None  # its heartbeat is fresh
        db.session.execute(  # the ghost stops beating
            sa.update(Schedule).values(heartbeat_at=datetime.now(UTC) - timedelta(hours=1))
        )
        db.session.commit()
        assert worker.claim("other") == schedule_id
        record = db.session.get(Schedule, schedule_id)
        assert (record.worker, record.attempts) == ("other", 2)
        problem, plants, sources = schedule_jobs.build_problem(record)
        db.session.rollback()
        from vpp.services.schedule import schedule as solve

        answer = solve(problem, time_limit_s=5)
        # The ghost comes back with its answer: refused, nothing written.
        with transaction():
            kept = schedule_jobs.keep_answer(schedule_id, "ghost", problem, answer, plants, sources)
        assert not kept
        assert db.session.get(Schedule, schedule_id).status == "running"
        assert worker.run(schedule_id, "other") == "done"
        rows = db.session.scalar(sa.select(sa.func.count()).select_from(SchedulePlantRow))
        assert rows == 2


def test_a_job_out_of_attempts_is_failed_with_its_reason(app):
    add_plants(app, FLEET[0])
    client = client_as(app, "operator")
    schedule_id = client.post("/api/schedules/", json={"demand": [1]}).json["id"]
    with app.app_context():
        for name in ("a", "b"):  # SCHEDULE_MAX_ATTEMPTS is 2
            assert worker.claim(name) == schedule_id
            db.session.execute(
                sa.update(Schedule).values(heartbeat_at=datetime.now(UTC) - timedelta(hours=1))
            )
            db.session.commit()
        assert worker.claim("c") is None
        assert worker.fail_abandoned() == 1
    body = client.get(f"/api/schedules/{schedule_id}").json
    assert body["status"] == "failed"
    assert "stopped answering" in body["error"] and "2 attempts" in body["error"]


def _slow_fleet(count: int) -> list[dict]:
    """Dispatchable units with minimum outputs, minimum times and start-up costs of
    every size: a programme HiGHS needs many seconds to prove optimal."""
    plants = []
    for i in range(count):
        size = 50 + (i * 37) % 450
        plants.append(
            {
                "name": f"Unit {i}",
                "kind": ("diesel", "gas", "chp")[i % 3],
                "max_capacity": size,
                "min_capacity": size * (0.3 + (i % 5) / 10),
                "marginal_cost": 40 + (i * 13) % 120 + (i % 7) / 10,
                "startup_cost": 20 + (i * 7) % 200,
                "min_up_minutes": 15 * (1 + i % 8),
                "min_down_minutes": 15 * (1 + (i * 3) % 8),
                "ramp_up_kw_per_min": size / (5 + i % 20),
                "ramp_down_kw_per_min": size / (5 + i % 20),
                "status": "running" if i % 4 == 0 else "idle",
            }
        )
    return plants


def _worker(app, tmp_path, env_extra: dict, name: str) -> FlaskProcess:
    """A `flask schedules worker` process on the test's database; what it logs goes to
    ``tmp_path / NAME.log`` (shown when the test fails)."""
    return FlaskProcess(app, tmp_path, name, "schedules", "worker", "--poll", "0.2", env=env_extra)


def _wait_for(client, schedule_id: int, predicate, timeout: float, logs=()) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/schedules/{schedule_id}").json
        if predicate(body):
            return body
        time.sleep(0.1)
    shown = {k: body.get(k) for k in ("status", "attempts", "progress", "error", "solver_status")}
    told = "".join(f"\n--- {log.name}:\n{log.read_text()[-3000:]}" for log in logs if log.exists())
    raise AssertionError(f"schedule {schedule_id} never got there: {shown}{told}")


@pytest.mark.parametrize(("attempts", "outcome"), [(2, "done"), (1, "failed")])
def test_a_worker_killed_mid_solve_leaves_its_job_retried_or_failed(
    app, tmp_path, attempts, outcome
):
    add_plants(app, *_slow_fleet(120))
    client = client_as(app, "operator")
    demand = [20_000 + 10_000 * math.sin(t / 96 * 2 * math.pi) for t in range(96)]
    # Long enough that the first worker is still solving when its progress shows a gap,
    # however loaded the machine (it is killed then; the second one solves to the end).
    schedule_id = client.post(
        "/api/schedules/", json={"demand": demand, "time_limit_s": 25, "target_gap": 0}
    ).json["id"]
    env = {"SCHEDULE_LEASE_S": "2", "SCHEDULE_MAX_ATTEMPTS": str(attempts)}
    first = _worker(app, tmp_path, env, "first")
    try:
        # Running, with its progress: the best plan so far, the bound, the gap.
        running = _wait_for(
            client,
            schedule_id,
            lambda b: b["status"] == "running" and (b["progress"] or {}).get("gap") is not None,
            timeout=60,
            logs=[tmp_path / "first.log"],
        )
        assert running["attempts"] == 1
        progress = running["progress"]
        assert progress["lower_bound"] <= progress["objective"] and progress["elapsed_s"] > 0
    finally:
        first.kill()  # SIGKILL mid-solve: no goodbye, no cleanup
    assert client.get(f"/api/schedules/{schedule_id}").json["status"] == "running"
    second = _worker(app, tmp_path, env, "second")
    try:
        body = _wait_for(
            client,
            schedule_id,
            lambda b: b["status"] in ("done", "failed"),
            60,
            logs=[tmp_path / "first.log", tmp_path / "second.log"],
        )
    finally:
        second.kill(signal.SIGTERM)
    assert body["status"] == outcome, body
    if outcome == "done":
        assert body["attempts"] == 2
        assert body["lower_bound"] <= body["objective"] + 1e-6
        assert client.get(f"/api/schedules/{schedule_id}/plants/").json["total"] == 120
    else:
        assert "no heartbeat for 2 s" in body["error"]


def test_cli_create_wait_show_list_export(app, runner, tmp_path):
    add_plants(app, *FLEET)
    demand = tmp_path / "demand.csv"
    demand.write_text("time,demand_kw\n" + "".join(f"t{t},{d}\n" for t, d in enumerate(DEMAND)))
    result = runner.invoke(
        args=["schedules", "create", "--demand", str(demand), "--wait", "--time-limit", "5",
              "--start", "2026-11-27T00:00:00Z"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Schedule 1: done; 8 intervals of 15 min from 2026-11-27 00:00:00 UTC" in result.output
    assert "lower bound" in result.output and "gap" in result.output

    shown = json.loads(runner.invoke(args=["schedules", "show", "1", "--json"]).output)
    assert shown["status"] == "done" and shown["start"] == "2026-11-27T00:00:00+00:00"
    assert "done" in runner.invoke(args=["schedules", "list"]).output

    out = tmp_path / "plan.csv"
    result = runner.invoke(args=["schedules", "export", "1", str(out)])
    assert result.exit_code == 0 and "Wrote 3 plants" in result.output
    lines = out.read_text().splitlines()
    assert lines[0].split(",")[7] == "2026-11-27T00:00:00+00:00"
    assert len(lines) == 4 and all(len(line.split(",")) == 7 + len(DEMAND) for line in lines[1:])
    total = [sum(float(line.split(",")[7 + t]) for line in lines[1:]) for t in range(len(DEMAND))]
    assert total == pytest.approx(shown["delivered"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("kw\n1\n", "needs a 'demand_kw' column"),
        ("demand_kw\n1\nabc\n", "Line 3 of the demand file: 'abc' is not a number"),
        ("demand_kw\n1\n-4\n", "Must be 0 to"),
        ("demand_kw\n", "no intervals"),
    ],
)
def test_cli_bad_demand_file_is_one_line_and_stores_nothing(
    app, runner, tmp_path, content, message
):
    demand = tmp_path / "demand.csv"
    demand.write_text(content)
    result = runner.invoke(args=["schedules", "create", "--demand", str(demand)])
    assert result.exit_code == 1
    assert message in result.output and result.output.count("\n") == 1, result.output
    assert schedule_count(app) == 0


def test_cli_availability_file_and_unknown_plants(app, runner, tmp_path):
    (pv,) = add_plants(app, FLEET[0])
    demand = tmp_path / "demand.csv"
    demand.write_text("demand_kw\n100\n100\n")
    availability = tmp_path / "availability.csv"
    availability.write_text(f"plant_id,t0,t1\n{pv},1,0.25\n")
    args = ["schedules", "create", "--demand", str(demand), "--availability", str(availability)]
    result = runner.invoke(args=[*args, "--wait", "--value-of-lost-load", "3000"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalars(sa.select(Schedule)).one().options["value_of_lost_load"] == 3000
        row = db.session.scalars(sa.select(SchedulePlantRow)).one()
        assert row.output == pytest.approx([100, 75]) and row.availability_source == "request"
    availability.write_text(f"plant_id,t0,t1\n{pv + 1},1,1\n")
    result = runner.invoke(
        args=["schedules", "create", "--demand", str(demand), "--availability", str(availability)]
    )
    assert result.exit_code == 1 and f"no plant has the id {pv + 1}" in result.output
    assert schedule_count(app) == 1


def test_export_refuses_a_schedule_not_done(app, runner):
    client = client_as(app, "operator")
    client.post("/api/schedules/", json={"demand": [1]})
    result = runner.invoke(args=["schedules", "export", "1", "/tmp/never.csv"])
    assert result.exit_code == 1 and "is queued, not done" in result.output
    assert runner.invoke(args=["schedules", "show", "2"]).exit_code == 1


def test_plant_from_fields_reads_what_build_problem_reads(app):
    """The worker hands the schedule every schedule field of the registry."""
    (battery,) = add_plants(app, FLEET[2])
    with app.app_context():
        record = Schedule(
            created_by="t", status="queued", start=datetime.now(UTC), resolution_minutes=15,
            demand=[1.0], options={"availability": {}, "value_of_lost_load": 1.0,
                                   "final_soc": "free"}, attempts=0,
        )  # fmt: skip
        problem, plants, _ = schedule_jobs.build_problem(record)
    assert isinstance(problem, ScheduleProblem) and problem.final_soc_free
    store = problem.plants[0]
    assert store.id == battery and store.is_store and store.energy_kwh == 200
    assert store == plant_from_fields(plants[0])


def test_availability_for_thousands_of_plants_fits_in_one_request(app, client):
    """A request's body may be as large as a batch of plants (not the 1 MiB of other
    requests): 96 values for each of 12,000 plants is about 9 MB of JSON."""
    from vpp.services import fleet

    with app.app_context(), transaction():
        plants = fleet.create_plants(
            ({"name": f"PV {i}", "kind": "solar", "max_capacity": 5} for i in range(12_000)),
            actor="tests",
        )
    profile = [0.123456789] * 96
    body = {"demand": [1000.0] * 96, "availability": {str(p["id"]): profile for p in plants}}
    response = client.post("/api/schedules/", json=body)
    assert response.status_code == 202, response.json
    with app.app_context():
        record = db.session.get(Schedule, response.json["id"])
        assert len(record.options["availability"]) == 12_000


def test_cli_export_to_a_place_it_cannot_write_is_one_line(app, runner, tmp_path):
    add_plants(app, FLEET[0])
    demand = tmp_path / "demand.csv"
    demand.write_text("demand_kw\n10\n")
    assert (
        runner.invoke(args=["schedules", "create", "--demand", str(demand), "--wait"]).exit_code
        == 0
    )
    result = runner.invoke(
        args=["schedules", "export", "1", str(tmp_path / "nowhere" / "plan.csv")]
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error: Could not open file") and result.output.count("\n") == 1
    assert not (tmp_path / "nowhere").exists()


def test_an_exported_plan_never_hands_a_spreadsheet_a_formula(app, client):
    """A plant named like a formula is written as the fleet's CSV writes it: quoted."""
    add_plants(app, {"name": '=HYPERLINK("http://x")', "kind": "solar", "max_capacity": 5})
    client.post("/api/schedules/", json={"demand": [1.0]})
    solve_waiting(app)
    export = client.get("/schedules/1.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(export)))
    assert rows[1][1] == '\'=HYPERLINK("http://x")'
