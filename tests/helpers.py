"""Test helpers: the database read and written directly, forms' CSRF tokens."""

import os
import re

import sqlalchemy as sa

from vpp.extensions import db
from vpp.models import Plant
from vpp.services import accounts
from vpp.transactions import transaction


def add_plants(app, *plants: dict) -> list[int]:
    """Store plants straight through the model (the services are what is under test
    elsewhere); returns their ids."""
    with app.app_context():
        rows = [
            Plant(
                **{
                    "kind": "other",
                    "status": "idle",
                    "min_capacity": 0.0,
                    "marginal_cost": 0.0,
                    **p,
                }
            )
            for p in plants
        ]
        db.session.add_all(rows)
        db.session.commit()
        return [row.id for row in rows]


def fleet_snapshot(app) -> list[tuple]:
    """Every stored plant, every column, read through a new session: what a later
    request would see."""
    with app.app_context():
        rows = db.session.execute(sa.select(Plant.__table__).order_by(Plant.id)).all()
        return [tuple(row) for row in rows]


# Every test database has one user per role, named after it, with these passwords,
# and one API token per role (``app.test_tokens``).
PASSWORDS = {
    "viewer": "viewer-password",
    "operator": "operator-password",
    "admin": "admin-password",
}
TEST_PASSWORD_HASH = "pbkdf2:sha256:1000"


def bearer(app, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.test_tokens[role]}"}


# Set by `make test-postgres`: the whole suite then runs on this PostgreSQL database,
# emptied before every test, instead of a new SQLite file per test.
POSTGRES_URL = os.environ.get("VPP_TEST_DATABASE_URL")


def fresh_database_url(tmp_path) -> str:
    """An empty database for one test: a new SQLite file, or the PostgreSQL test
    database with its schema dropped and recreated."""
    if not POSTGRES_URL:
        return f"sqlite:///{tmp_path / 'vpp-test.sqlite3'}"
    engine = sa.create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    return POSTGRES_URL


class _LoggedIn:
    """What Flask-Login's test client needs of a user: what ``get_id`` gives, which
    is the key of an open session."""

    def __init__(self, session_key: str):
        self.session_key = session_key

    def get_id(self) -> str:
        return self.session_key


def client_as(app, role: str):
    """A test client logged in (a browser session) as the test user of ``role``."""
    with app.app_context():
        with transaction():
            key = accounts.start_session(accounts.get_user(role))
    return app.test_client(user=_LoggedIn(key))


def csrf_token(client, url: str = "/") -> str:
    """The CSRF token of the form on page ``url``, as a browser would post it back."""
    page = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match, f"{url} has no form with a CSRF token"
    return match.group(1)


# How the browser tests (and the dashboard benchmark) start Debian's Chromium: any
# request to the outside world (the Chart.js CDN included) fails at once, as in an
# air-gapped control room; no sandbox (root in CI), no GPU, no background traffic.
CHROMIUM_ARGS = [
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# A plant's schedule fields when none is given (DESIGN.md, "Schedules").
SCHEDULE_DEFAULTS = {
    "ramp_up_kw_per_min": None,
    "ramp_down_kw_per_min": None,
    "min_up_minutes": 0,
    "min_down_minutes": 0,
    "startup_cost": 0.0,
    "energy_capacity_kwh": None,
    "soc_kwh": None,
    "soc_min_kwh": None,
    "soc_max_kwh": None,
    "max_charge_kw": None,
    "charge_efficiency": None,
    "discharge_efficiency": None,
    "latitude": None,
    "longitude": None,
}
# A plant's live-device fields when none is given (DESIGN.md, "Live devices").
LIVE_DEFAULTS = {"telemetry": False, "status_reason": None}
PLANT_DEFAULTS = {**SCHEDULE_DEFAULTS, **LIVE_DEFAULTS}
