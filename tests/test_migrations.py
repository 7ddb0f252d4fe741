"""The schema is built only by Alembic migrations, and they match the models."""

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from tests.helpers import fresh_database_url
from vpp import create_app
from vpp.extensions import db
from vpp.services import accounts
from vpp.transactions import transaction


@pytest.fixture
def bare_app(tmp_path):
    """An app on an empty database: no migration run yet. Its pooled connections are
    closed after the test."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": fresh_database_url(tmp_path)})
    yield app
    with app.app_context():
        db.engine.dispose()


def test_upgrade_from_empty_builds_the_models_schema_without_drift(bare_app):
    app = bare_app
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, db.metadata) == []
        db.engine.dispose()


def test_migrated_schema_keeps_the_check_constraints(bare_app):
    app = bare_app
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            checks = {c["name"] for c in sa.inspect(connection).get_check_constraints("plant")}
        assert {"ck_plant_min_not_above_max", "ck_plant_status_known"} <= checks
        db.engine.dispose()


def test_downgrade_to_base_removes_everything(bare_app):
    app = bare_app
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        with db.engine.connect() as connection:
            assert set(sa.inspect(connection).get_table_names()) <= {"alembic_version"}
        upgrade()  # and back up again
        with db.engine.connect() as connection:
            assert "plant" in sa.inspect(connection).get_table_names()
        db.engine.dispose()


def test_each_revision_steps_down_and_up_keeping_the_schema(bare_app):
    """Every downgrade and its upgrade again: on SQLite batch mode rebuilds tables,
    which must keep their constraints (and ids never reused)."""
    app = bare_app
    with app.app_context():
        upgrade()
        for _ in range(3):
            downgrade(revision="-1")
        for _ in range(3):
            upgrade(revision="+1")
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, db.metadata) == []
            checks = {c["name"] for c in sa.inspect(connection).get_check_constraints("plant")}
            assert "ck_plant_min_not_above_max" in checks
        db.engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(app):
    with app.app_context(), db.engine.connect() as connection:
        if connection.dialect.name != "sqlite":
            pytest.skip("SQLite's own settings; this run is on PostgreSQL")
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_upgrading_a_populated_database_keeps_users_and_never_reuses_their_ids(bare_app):
    app = bare_app
    with app.app_context():
        upgrade(revision="5877240b7c1d")  # users and tokens, before sessions
        with db.engine.begin() as connection:
            for name in ("ann", "bob"):
                connection.execute(
                    sa.text(
                        "INSERT INTO app_user (username, password_hash, role, created_at) "
                        "VALUES (:name, 'x', 'admin', CURRENT_TIMESTAMP)"
                    ),
                    {"name": name},
                )
            before = connection.execute(sa.text("SELECT id, username FROM app_user")).all()
        upgrade()
        with db.engine.begin() as connection:
            after = connection.execute(sa.text("SELECT id, username FROM app_user")).all()
            assert sorted(after) == sorted(before)
            highest = max(user_id for user_id, _ in after)
            connection.execute(sa.text("DELETE FROM app_user WHERE id = :id"), {"id": highest})
        with transaction():
            fresh, _ = accounts.create_user("carol", "viewer", "carol-password", actor="tests")
        assert fresh.id > highest
