"""Fixtures: every test gets a fresh app on its own SQLite file, built through the
real Alembic migrations; browser tests drive the system Chromium."""

import os
import shutil

import pytest
from flask_login import FlaskLoginClient
from flask_migrate import upgrade
from hypothesis import settings

from tests.helpers import (
    CHROMIUM_ARGS,
    PASSWORDS,
    TEST_PASSWORD_HASH,
    client_as,
    fresh_database_url,
)
from tests.live_server import Gunicorn
from vpp import create_app
from vpp.domain import ROLE_ADMIN, ROLES
from vpp.extensions import db
from vpp.services import accounts
from vpp.transactions import transaction

# No app made in the tests (fixtures, gunicorn live servers, apps a test makes itself)
# starts schedule worker threads: on PostgreSQL every test shares one database, and a
# worker left polling from one test would take the jobs of the next. Tests that solve
# schedules run their worker themselves.
os.environ["SCHEDULE_WORKER_THREADS"] = "0"
# Nor a telemetry housekeeping thread, for the same reason: tests sweep themselves.
os.environ["TELEMETRY_SWEEP"] = "0"

# Property-based tests explore new examples on every developer run; in CI they are
# derandomized, so that a run is reproducible and a red one can be replayed.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def app(tmp_path, monkeypatch):
    for name in ("DATABASE_URL", "SECRET_KEY", "CHARTJS_SOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VPP_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": fresh_database_url(tmp_path),
            # scrypt is right for real passwords, and too slow for hundreds of tests.
            "PASSWORD_HASH_METHOD": TEST_PASSWORD_HASH,
            # Tests that solve schedules run their worker themselves.
            "SCHEDULE_WORKER_THREADS": 0,
            "TELEMETRY_SWEEP": False,
        }
    )
    app.test_client_class = FlaskLoginClient
    with app.app_context():
        upgrade()
        app.test_tokens = {}
        with transaction():
            for role in ROLES:
                accounts.create_user(role, role, password=PASSWORDS[role], actor="tests")
                app.test_tokens[role] = accounts.create_token(f"{role} token", role, "tests")[1]
        # No pooled connection may cross the fork of pytest-flask's live server.
        db.engine.dispose()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app):
    """Logged in as an admin: the tests of what the app does, not of who may do it."""
    return client_as(app, ROLE_ADMIN)


@pytest.fixture
def anonymous_client(app):
    return app.test_client()


@pytest.fixture
def second_app(app):
    """Another app on the same database: a second gunicorn worker, or the server
    after a restart."""
    other = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "PASSWORD_HASH_METHOD": TEST_PASSWORD_HASH,
        }
    )
    other.test_client_class = FlaskLoginClient
    yield other
    with other.app_context():
        db.engine.dispose()


@pytest.fixture
def server(app, tmp_path):
    """gunicorn with several workers on the test database, on 127.0.0.1."""
    gunicorn = Gunicorn(app, tmp_path)
    gunicorn.token = app.test_tokens["operator"]
    gunicorn.start()
    yield gunicorn
    gunicorn.stop()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- real browser -----------------------------------------------------------------


def chromium_executable() -> str:
    path = (
        os.environ.get("VPP_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
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
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="session")
def base_url():
    """Pages are opened by full URL (``live_server.url(...)``). Defining this here also
    replaces pytest-playwright's own ``base_url``, which pytest 9 deprecates."""
    return None


@pytest.fixture(autouse=True)
def _push_request_context():
    """Replaces pytest-flask's fixture of the same name, which keeps one request
    context (and so one app context and one ``g``) open through each test: every
    test-client request then shared the ``g`` of the ones before it, so a login or
    a token looked up once was remembered. Each request gets its own context."""
    yield
