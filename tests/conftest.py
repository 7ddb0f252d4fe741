"""Fixtures: every test gets a fresh app on its own SQLite file, built through the
real Alembic migrations; browser tests drive the system Chromium."""

import os
import shutil

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from vpp import create_app
from vpp.extensions import db
from vpp.models import Plant


@pytest.fixture
def app(tmp_path, monkeypatch):
    for name in ("DATABASE_URL", "SECRET_KEY", "CHARTJS_SOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VPP_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'vpp-test.sqlite3'}",
        }
    )
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def add_plants(app, *plants: dict) -> list[int]:
    """Store plants straight through the model (the services are what is under test
    elsewhere); returns their ids."""
    with app.app_context():
        rows = [Plant(**{"kind": "other", "status": "idle", "min_capacity": 0.0,
                         "marginal_cost": 0.0, **p}) for p in plants]
        db.session.add_all(rows)
        db.session.commit()
        return [row.id for row in rows]


def fleet_snapshot(app) -> list[tuple]:
    """Every stored plant, every column, read through a new session: what a later
    request would see."""
    with app.app_context():
        rows = db.session.execute(sa.select(Plant.__table__).order_by(Plant.id)).all()
        return [tuple(row) for row in rows]


# --- real browser -----------------------------------------------------------------

def chromium_executable() -> str:
    path = os.environ.get("VPP_CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser"
    )
    if not path:
        pytest.fail(
            "No Chromium found: install Debian's chromium (make browser) or set VPP_CHROMIUM. "
            "Browser tests never skip silently."
        )
    return path


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": chromium_executable(),
        "args": [
            # Any request to the outside world (the Chart.js CDN included) fails at
            # once, as in an air-gapped control room.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }
