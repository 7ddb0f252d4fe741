"""Races, run for real: several clients at once against a gunicorn server with
several workers (or several CLI processes), bounded in count and time. Each test
checks an invariant that a check-then-act would break."""

import json
import os
import subprocess
import sys
import threading

import sqlalchemy as sa

from tests.live_server import ROOT, Browser, request, run_clients
from vpp.extensions import db
from vpp.models import ApiToken, AuditEvent, Dispatch, DispatchAllocation, User
from vpp.services import accounts
from vpp.services.dispatch import Unit, dispatch_demand
from vpp.services.fleet import create_plants
from vpp.transactions import transaction


def test_parallel_guesses_get_no_more_tries_than_the_limit(app, server):
    guesses = 20
    barrier = threading.Barrier(guesses)
    browsers = [Browser(server.port) for _ in range(guesses)]
    tokens = [b.csrf_token("/login") for b in browsers]

    def guess(i: int, out: list) -> None:
        barrier.wait(timeout=30)
        answer = browsers[i].http.post(
            browsers[i].url("/login"),
            data={"username": "viewer", "password": f"wrong-{i}", "csrf_token": tokens[i]},
            allow_redirects=False,
            timeout=30,
        )
        out.append(answer.status_code)

    statuses = run_clients(guesses, guess)
    checked, refused = statuses.count(401), statuses.count(429)
    print(f"\n{guesses} parallel guesses: {checked} checked, {refused} refused")
    assert sorted(set(statuses)) == [401, 429]
    assert statuses.count(401) == accounts.LOGIN_FAILURES_PER_USER
    # And the right password is refused too, until the window is over.
    assert Browser(server.port).login("viewer").status_code == 429


def test_two_admins_demoting_each_other_at_once_leave_an_admin(app, server):
    with app.app_context(), transaction():
        accounts.create_user("admin2", "admin", "admin2-password", actor="tests")
    rounds = 8
    for _ in range(rounds):
        with app.app_context(), transaction():
            accounts.set_role("admin", "admin", actor="tests")
            accounts.set_role("admin2", "admin", actor="tests")
        first, second = Browser(server.port), Browser(server.port)
        assert first.login("admin").status_code == 302
        assert second.login("admin2", "admin2-password").status_code == 302
        forms = [
            (first, "/admin/users/admin2/role", first.csrf_token("/admin/users")),
            (second, "/admin/users/admin/role", second.csrf_token("/admin/users")),
        ]
        barrier = threading.Barrier(2)

        def demote(i: int, out: list, forms=forms, barrier=barrier) -> None:
            browser, path, token = forms[i]
            barrier.wait(timeout=30)
            out.append(browser.post_form(path, {"role": "viewer"}, token).status_code)

        statuses = run_clients(2, demote)
        # 302: done, or refused with a message; 403: the other's demotion of this
        # admin landed first, so this one is no admin any more.
        assert set(statuses) <= {302, 403}
        with app.app_context():
            admins = db.session.scalars(sa.select(User.username).where(User.role == "admin"))
            assert len(admins.all()) == 1


def test_ensure_admin_run_at_once_on_an_empty_database_makes_one_admin(app, tmp_path):
    with app.app_context(), transaction():
        db.session.execute(sa.delete(ApiToken))
        db.session.execute(sa.delete(User))
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "VPP_INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "race-test",
        "FLASK_APP": "wsgi:app",
    }
    command = [sys.executable, "-m", "flask", "users", "ensure-admin"]
    processes = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    outputs = [(p.wait(timeout=120), *p.communicate()) for p in processes]
    for code, _, err in outputs:
        assert code == 0, err.decode()
        assert b"Traceback" not in err, err.decode()
    assert sum(b"shown only now" in out for _, out, _ in outputs) == 1
    with app.app_context():
        assert db.session.scalars(sa.select(User.username)).all() == ["admin"]


def test_a_noop_edit_racing_a_delete_never_answers_500(app, server):
    token = server.token
    rounds = 60
    answers = []
    for n in range(rounds):
        status, plant = request(
            server.port, "POST", "/api/plants/", {"name": f"p{n}", "max_capacity": 5}, token=token
        )
        assert status == 201
        url = f"/api/plants/{plant['id']}"
        barrier = threading.Barrier(2)

        def race(i: int, out: list, url=url, barrier=barrier) -> None:
            barrier.wait(timeout=30)
            if i == 0:
                out.append(
                    (
                        "patch",
                        request(server.port, "PATCH", url, {"status": "idle"}, token=token)[0],
                    )
                )
            else:
                out.append(("delete", request(server.port, "DELETE", url, token=token)[0]))

        answers += run_clients(2, race)
    patch_statuses = {status for kind, status in answers if kind == "patch"}
    delete_statuses = {status for kind, status in answers if kind == "delete"}
    print(f"\nno-op PATCH racing DELETE, {rounds} rounds: PATCH {sorted(patch_statuses)}")
    assert patch_statuses <= {200, 404, 409}
    assert delete_statuses == {204}


def test_every_recorded_dispatch_is_the_answer_for_the_fleet_when_it_was_recorded(app, server):
    """Three clients commit dispatches while three toggle plants between running and
    down. The audit log orders every plant change and every record (both are written
    under the fleet's lock); replaying it, each record must show every plant exactly
    as it stood, and its outputs must be the dispatch of that fleet."""
    with app.app_context(), transaction():
        created = create_plants(
            [
                {
                    "name": f"unit {i}",
                    "max_capacity": 10 + i,
                    "min_capacity": i % 4,
                    "status": "running",
                    "marginal_cost": 10 * (i % 5),
                }
                for i in range(12)
            ],
            actor="tests",
        )
    ids = [plant["id"] for plant in created]
    token = server.token
    per_client = 25

    def commit(i: int, out: list) -> None:
        for n in range(per_client):
            demand = 20 + 7 * n + i
            out.append(
                request(server.port, "POST", "/api/dispatches/", {"demand": demand}, token=token)[0]
            )

    def toggle(i: int, out: list) -> None:
        for n in range(per_client):
            plant_id = ids[(i * 5 + n) % len(ids)]
            status = "down" if (n + i) % 2 == 0 else "running"
            body = {"status": status}
            out.append(
                request(server.port, "PATCH", f"/api/plants/{plant_id}", body, token=token)[0]
            )

    statuses = run_clients(6, lambda i, out: (commit if i < 3 else toggle)(i % 3, out))
    assert set(statuses) <= {200, 201, 409}, statuses
    assert statuses.count(201) == 3 * per_client

    with app.app_context():
        events = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
        status_now = {plant_id: "running" for plant_id in ids}
        checked = 0
        for event in events:
            if event.action == "plant.update":
                after = json.loads(event.after)
                if "status" in after:
                    status_now[int(event.target.split(":")[1])] = after["status"]
            elif event.action == "dispatch.commit":
                record = db.session.get(Dispatch, int(event.target.split(":")[1]))
                rows = db.session.scalars(
                    sa.select(DispatchAllocation).where(DispatchAllocation.dispatch_id == record.id)
                ).all()
                assert {r.plant_id: r.status for r in rows} == status_now, record.id
                again = dispatch_demand(
                    [
                        Unit(r.plant_id, r.min_capacity, r.max_capacity, r.marginal_cost, r.status)
                        for r in rows
                    ],
                    record.demand,
                )
                assert {
                    r.plant_id: r.output for r in rows if r.status != "down"
                } == again.allocations
                checked += 1
        assert checked == 3 * per_client
