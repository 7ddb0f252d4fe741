"""``/healthz`` for load balancers: the database answers, its schema is at the newest
migration, and it takes a write (one row, ``health_probe``, committed: a read-only
or full database fails here rather than on the next real write). 200 when all three
hold, 503 otherwise; never needs a login."""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from vpp.extensions import db
from vpp.models import HealthProbe

bp = Blueprint("health", __name__)


def migration_head() -> str:
    cached = current_app.extensions.get("vpp.migration_head")
    if cached is None:
        config = Config()
        config.set_main_option("script_location", current_app.extensions["migrate"].directory)
        cached = ScriptDirectory.from_config(config).get_current_head()
        current_app.extensions["vpp.migration_head"] = cached
    return cached


@bp.get("/healthz")
def healthz():
    head = migration_head()
    try:
        current = db.session.scalar(text("SELECT version_num FROM alembic_version"))
    except SQLAlchemyError as exc:
        db.session.rollback()
        reason = exc.__class__.__name__
        return {"status": "error", "database": f"unavailable ({reason})"}, 503
    body = {"database": "ok", "migration": current, "expected_migration": head}
    if current != head:
        return {"status": "error", **body}, 503
    try:
        db.session.execute(
            sa.update(HealthProbe).where(HealthProbe.id == 1).values(checked_at=datetime.now(UTC))
        )
        db.session.commit()
    except SQLAlchemyError as exc:
        db.session.rollback()
        reason = str(getattr(exc, "orig", None) or exc.__class__.__name__).splitlines()[0]
        return {"status": "error", **body, "database": f"not writable ({reason})"}, 503
    return {"status": "ok", **body, "writable": True}, 200
