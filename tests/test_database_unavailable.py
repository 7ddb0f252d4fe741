"""A database that answers but cannot be written (read-only, full disk): /healthz
says so, writes and logins answer 503 (never 500) and change nothing, reads go on."""

import pytest
import sqlalchemy as sa

from tests.helpers import PASSWORDS, add_plants, bearer, csrf_token, fleet_snapshot
from vpp.extensions import db


def _make_read_only(app) -> None:
    """Every new connection refuses writes, as a read-only file or a standby does."""

    def read_only(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        if db.engine.dialect.name == "sqlite":
            cursor.execute("PRAGMA query_only = ON")
        else:
            cursor.execute("SET default_transaction_read_only = on")
            dbapi_connection.commit()
        cursor.close()

    with app.app_context():
        sa.event.listen(db.engine, "connect", read_only)
        db.engine.dispose()


def test_healthz_reports_a_database_that_cannot_be_written(app, anonymous_client):
    assert anonymous_client.get("/healthz").status_code == 200
    _make_read_only(app)
    answer = anonymous_client.get("/healthz")
    assert answer.status_code == 503
    assert "not writable" in answer.get_json()["database"]


def test_writes_to_a_read_only_database_answer_503_and_reads_go_on(app, client):
    add_plants(app, {"name": "Kept", "max_capacity": 10})
    before = fleet_snapshot(app)
    _make_read_only(app)
    headers = bearer(app, "operator")
    created = client.post("/api/plants/", json={"name": "New", "max_capacity": 5}, headers=headers)
    assert created.status_code == 503
    assert created.headers["Retry-After"]
    assert "unavailable" in created.get_json()["error"]
    assert client.post("/api/dispatches/", json={"demand": 5}, headers=headers).status_code == 503
    assert client.get("/api/plants/", headers=headers).status_code == 200
    assert fleet_snapshot(app) == before


def test_a_login_to_a_read_only_database_answers_503(app, anonymous_client):
    _make_read_only(app)
    answer = anonymous_client.post(
        "/login",
        data={
            "username": "admin",
            "password": PASSWORDS["admin"],
            "csrf_token": csrf_token(anonymous_client, "/login"),
        },
    )
    assert answer.status_code == 503
    assert "unavailable" in answer.get_data(as_text=True)


def test_a_full_database_answers_503_and_keeps_every_earlier_write(app, client):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite's max_page_count stands in for a full disk")

        def full_disk(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            pages = cursor.execute("PRAGMA page_count").fetchone()[0]
            cursor.execute(f"PRAGMA max_page_count = {pages}")
            cursor.close()

        sa.event.listen(db.engine, "connect", full_disk)
        db.engine.dispose()
    headers = bearer(app, "operator")
    statuses = []
    for n in range(2000):
        body = {"name": f"filler {n:04d} " + "x" * 80, "max_capacity": 1}
        statuses.append(client.post("/api/plants/", json=body, headers=headers).status_code)
        if statuses[-1] != 201:
            break
    assert statuses[-1] == 503, statuses[-3:]
    stored = {row[1] for row in fleet_snapshot(app)}
    assert len(stored) == statuses.count(201)  # the refused one left nothing behind
