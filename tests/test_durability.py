"""Nothing lost under load or crash: a real gunicorn server with several workers on
the test database, real HTTP on 127.0.0.1, bounded in count and time.

Figures are printed (run with ``-s`` to see them); nothing here asserts a speed.
"""

import http.client
import threading
import time

import sqlalchemy as sa

from tests.helpers import fleet_snapshot
from tests.live_server import WORKERS, request, run_clients
from vpp.extensions import db
from vpp.models import Plant


def test_concurrent_registrations_all_land_with_distinct_ids(app, server):
    clients, per_client = 4, 1000

    def register(client: int, out: list) -> None:
        for n in range(per_client):
            body = {"name": f"c{client}-{n:04d}", "max_capacity": 10 + n % 7}
            out.append(request(server.port, "POST", "/api/plants/", body, token=server.token))

    started = time.perf_counter()
    answers = run_clients(clients, register)
    elapsed = time.perf_counter() - started
    statuses = [status for status, _ in answers]
    print(
        f"\n{len(answers)} registrations from {clients} clients in {elapsed:.1f} s "
        f"({len(answers) / elapsed:.0f}/s), {WORKERS} gunicorn workers"
    )
    assert statuses.count(201) == clients * per_client, set(statuses)
    ids = [body["id"] for _, body in answers]
    assert len(set(ids)) == clients * per_client
    stored = fleet_snapshot(app)
    assert len(stored) == clients * per_client
    assert sorted(row[0] for row in stored) == sorted(ids)


def test_concurrent_edits_of_one_plant_lose_no_update(app, server):
    status, plant = request(
        server.port, "POST", "/api/plants/", {"name": "Hot", "max_capacity": 5}, token=server.token
    )
    assert status == 201
    url = f"/api/plants/{plant['id']}"
    clients, edits = 8, 25

    def edit(client: int, out: list) -> None:
        for n in range(edits):
            _, current = request(server.port, "GET", url, token=server.token)
            # A value never used before: every accepted edit is a real change.
            body = {"marginal_cost": client * 100 + n + 1, "version": current["version"]}
            out.append(request(server.port, "PATCH", url, body, token=server.token))

    answers = run_clients(clients, edit)
    statuses = [status for status, _ in answers]
    accepted = statuses.count(200)
    print(
        f"\n{len(answers)} concurrent edits: {accepted} accepted, "
        f"{statuses.count(409)} refused as stale"
    )
    assert set(statuses) <= {200, 409}
    assert accepted >= 1
    with app.app_context():
        stored = db.session.get(Plant, plant["id"])
        # Every accepted edit moved the version by one: none overwrote another.
        assert stored.version == 1 + accepted
        last = max((body for status, body in answers if status == 200), key=lambda b: b["version"])
        assert stored.marginal_cost == last["marginal_cost"]


def test_every_acknowledged_plant_survives_a_kill_during_a_write_storm(app, server):
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + 30

    def storm(client: int, out: list) -> None:
        for n in range(5000):
            if time.monotonic() > stop_at:
                return
            name = f"storm{client}-{n:05d}"
            try:
                status, _ = request(
                    server.port,
                    "POST",
                    "/api/plants/",
                    {"name": name, "max_capacity": 1},
                    timeout=5,
                    token=server.token,
                )
            except (OSError, http.client.HTTPException):
                return  # the server is gone, maybe mid-answer: not acknowledged
            if status == 201:
                with lock:
                    acknowledged.append(name)

    threads = [threading.Thread(target=storm, args=(i, [])) for i in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    server.kill()  # SIGKILL to the master and every worker, mid-write
    for thread in threads:
        thread.join(timeout=60)

    print(f"\n{len(acknowledged)} registrations acknowledged before SIGKILL")
    assert acknowledged
    with app.app_context():
        db.engine.dispose()  # connections from before the crash
        stored = set(db.session.scalars(sa.select(Plant.name)))
        assert set(acknowledged) <= stored
        if db.engine.dialect.name == "sqlite":
            assert db.session.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"
    server.start()  # and the restarted server serves them
    status, plants = request(server.port, "GET", "/api/plants/", token=server.token)
    assert status == 200 and {p["name"] for p in plants} >= set(acknowledged)
