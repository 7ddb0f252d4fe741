"""Database models (SQLAlchemy 2.x, typed)."""

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from vpp.domain import (
    DEFAULT_KIND,
    DEFAULT_STATUS,
    NAME_MAX_LENGTH,
    PLANT_KINDS,
    PLANT_STATUSES,
    ROLES,
    SCHEDULE_STATUSES,
    USERNAME_MAX_LENGTH,
)
from vpp.extensions import db


def _utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(sa.TypeDecorator):
    """A moment in UTC, read back timezone-aware from every database: PostgreSQL
    keeps the zone, SQLite drops it, so a naive value read here is marked UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value, dialect):
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# Schedule fields that are > 0 when given.
POSITIVE_OR_NULL = (
    "ramp_up_kw_per_min",
    "ramp_down_kw_per_min",
    "energy_capacity_kwh",
    "max_charge_kw",
    "charge_efficiency",
    "discharge_efficiency",
)


class Plant(db.Model):
    """A distributed energy resource. Capacities in kW, marginal cost per MWh.

    The field rules are validated in ``vpp.schemas`` before anything reaches the
    database; the CHECK constraints here are the last line of defence for writes
    that bypass the app.
    """

    __tablename__ = "plant"
    __table_args__ = (
        sa.CheckConstraint("max_capacity > 0", name="max_capacity_positive"),
        sa.CheckConstraint("min_capacity >= 0", name="min_capacity_not_negative"),
        sa.CheckConstraint("min_capacity <= max_capacity", name="min_not_above_max"),
        sa.CheckConstraint(_one_of("status", PLANT_STATUSES), name="status_known"),
        sa.CheckConstraint(_one_of("kind", PLANT_KINDS), name="kind_known"),
        *(
            sa.CheckConstraint(f"{column} IS NULL OR {column} > 0", name=f"{column}_positive")
            for column in POSITIVE_OR_NULL
        ),
        sa.CheckConstraint(
            "min_up_minutes >= 0 AND min_down_minutes >= 0 AND startup_cost >= 0",
            name="schedule_not_negative",
        ),
        sa.CheckConstraint(
            "(charge_efficiency IS NULL OR charge_efficiency <= 1) AND "
            "(discharge_efficiency IS NULL OR discharge_efficiency <= 1)",
            name="efficiency_at_most_one",
        ),
        # Ids are never reused after a deletion: history and integrators keep theirs.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(NAME_MAX_LENGTH), unique=True)
    # Indexed where the fleet table filters and sorts (100,000 plants a page at a time).
    kind: Mapped[str] = mapped_column(sa.String(20), default=DEFAULT_KIND, index=True)
    max_capacity: Mapped[float] = mapped_column(sa.Float, index=True)
    min_capacity: Mapped[float] = mapped_column(sa.Float, default=0.0)
    status: Mapped[str] = mapped_column(sa.String(10), default=DEFAULT_STATUS, index=True)
    marginal_cost: Mapped[float] = mapped_column(sa.Float, default=0.0, index=True)
    # For schedules (DESIGN.md, "Schedules"); null where the rule does not apply.
    ramp_up_kw_per_min: Mapped[float | None] = mapped_column(sa.Float)
    ramp_down_kw_per_min: Mapped[float | None] = mapped_column(sa.Float)
    min_up_minutes: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    min_down_minutes: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    startup_cost: Mapped[float] = mapped_column(sa.Float, default=0.0, server_default="0")
    energy_capacity_kwh: Mapped[float | None] = mapped_column(sa.Float)
    soc_kwh: Mapped[float | None] = mapped_column(sa.Float)
    soc_min_kwh: Mapped[float | None] = mapped_column(sa.Float)
    soc_max_kwh: Mapped[float | None] = mapped_column(sa.Float)
    max_charge_kw: Mapped[float | None] = mapped_column(sa.Float)
    charge_efficiency: Mapped[float | None] = mapped_column(sa.Float)
    discharge_efficiency: Mapped[float | None] = mapped_column(sa.Float)
    latitude: Mapped[float | None] = mapped_column(sa.Float)
    longitude: Mapped[float | None] = mapped_column(sa.Float)
    # Live devices (DESIGN.md): a telemetry plant's availability follows its readings.
    telemetry: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    # Why the VPP itself put the plant down ("silent"); None when its status was set by hand.
    status_reason: Mapped[str | None] = mapped_column(sa.String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=_utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=_utcnow, onupdate=_utcnow)
    # Optimistic locking: every UPDATE checks and bumps it, so of two concurrent
    # edits made from the same version the second fails instead of overwriting.
    version: Mapped[int] = mapped_column(sa.Integer, server_default="1")

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Plant {self.id} {self.name!r} {self.status}>"


# The silence check reads the telemetry plants that are not down.
sa.Index("ix_plant_telemetry_status", Plant.telemetry, Plant.status)


class FleetVersion(db.Model):
    """One row whose ``version`` goes up with every write to the plant table, in the
    same transaction. App processes cache the prepared fleet per version, so every
    worker (and every server on a shared PostgreSQL) sees a change on its next
    dispatch."""

    __tablename__ = "fleet_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(sa.BigInteger, default=0)


FLEET_VERSION_ROW = 1


def bump_fleet_version(session: Session) -> None:
    """Move the fleet version on, in the session's transaction. Done by the hook
    below for every ORM write to plants; a bulk INSERT (``fleet.create_plants``)
    bypasses the ORM and calls it itself."""
    session.connection().execute(
        sa.update(FleetVersion)
        .where(FleetVersion.id == FLEET_VERSION_ROW)
        .values(version=FleetVersion.version + 1)
    )


@sa.event.listens_for(Session, "before_flush")
def _bump_fleet_version(session: Session, _context, _instances) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, Plant) for obj in changed):
        bump_fleet_version(session)


class Dispatch(db.Model):
    """A dispatch an operator committed: the demand, the answer and when. Its
    allocations keep each plant's name and figures as they were, so the record
    survives later edits and deletions of plants. Previews are never stored."""

    __tablename__ = "dispatch"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=_utcnow, index=True)
    demand: Mapped[float] = mapped_column(sa.Float)
    total_dispatched: Mapped[float] = mapped_column(sa.Float)
    unmet_demand: Mapped[float] = mapped_column(sa.Float)
    total_cost: Mapped[float] = mapped_column(sa.Float)
    startups: Mapped[int] = mapped_column(sa.Integer)
    marginal_cost: Mapped[float | None] = mapped_column(sa.Float)
    strategy: Mapped[str] = mapped_column(sa.String(40))
    optimal: Mapped[bool] = mapped_column(sa.Boolean)
    status: Mapped[str] = mapped_column(sa.String(20))
    solve_time_ms: Mapped[float] = mapped_column(sa.Float)
    plant_count: Mapped[int] = mapped_column(sa.Integer)

    allocations: Mapped[list["DispatchAllocation"]] = relationship(
        back_populates="dispatch",
        order_by="DispatchAllocation.plant_id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class DispatchAllocation(db.Model):
    """One plant's part in a committed dispatch, with the plant as it was then.
    ``plant_id`` is deliberately not a foreign key: the plant may be deleted later."""

    __tablename__ = "dispatch_allocation"
    __table_args__ = (sa.UniqueConstraint("dispatch_id", "plant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed through the unique constraint, whose first column it is.
    dispatch_id: Mapped[int] = mapped_column(sa.ForeignKey("dispatch.id", ondelete="CASCADE"))
    plant_id: Mapped[int] = mapped_column(sa.Integer)
    plant_name: Mapped[str] = mapped_column(sa.String(NAME_MAX_LENGTH))
    kind: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(10))
    min_capacity: Mapped[float] = mapped_column(sa.Float)
    max_capacity: Mapped[float] = mapped_column(sa.Float)
    marginal_cost: Mapped[float] = mapped_column(sa.Float)
    output: Mapped[float] = mapped_column(sa.Float)
    reason: Mapped[str] = mapped_column(sa.String(30))

    dispatch: Mapped[Dispatch] = relationship(back_populates="allocations")


class User(db.Model):
    """A person who logs in to the pages. The password is kept as a salted hash
    (werkzeug's scrypt by default), never in clear."""

    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL
    __table_args__ = (
        sa.CheckConstraint(_one_of("role", ROLES), name="role_known"),
        # Never reused: nothing that names a deleted user may ever name another one.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(USERNAME_MAX_LENGTH), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(10))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=_utcnow)

    sessions: Mapped[list["UserSession"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    # Flask-Login's user interface. What Flask-Login keeps in the cookie is not the
    # user's id but the key of one ``UserSession`` (set when the session is started
    # or loaded), so that ending that row ends the session, whatever the cookie says.
    is_active = True
    is_authenticated = True
    is_anonymous = False
    session_key = None

    def get_id(self) -> str | None:
        return self.session_key

    @property
    def actor(self) -> str:
        return f"user:{self.username}"


class ApiToken(db.Model):
    """A bearer token for the JSON API, with a role of its own. Only a SHA-256 of
    the token is stored (tokens are long and random, so no slow hash is needed);
    the token itself is shown once, when it is made."""

    __tablename__ = "api_token"
    __table_args__ = (
        sa.CheckConstraint(_one_of("role", ROLES), name="role_known"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    role: Mapped[str] = mapped_column(sa.String(10))
    created_by: Mapped[str] = mapped_column(sa.String(120))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=_utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    @property
    def actor(self) -> str:
        return f"token:{self.name} (#{self.id})"


class UserSession(db.Model):
    """One login: the browser holds its key (in the signed session cookie), the
    database a SHA-256 of it. The session ends when this row goes: at logout, when
    the user's password changes or the user is deleted, or once it has expired
    (idle too long, or older than the longest session allowed)."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=_utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=_utcnow, index=True)

    user: Mapped[User] = relationship(back_populates="sessions")


class LoginThrottle(db.Model):
    """Login attempts counted per key (``user:NAME`` or ``addr:IP``) in a window
    that starts with the first attempt. The count is raised in one atomic upsert
    *before* a password is checked, so that parallel guesses cannot all pass the
    check before any of them is counted."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    attempts: Mapped[int] = mapped_column(sa.Integer)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class HealthProbe(db.Model):
    """One row that ``/healthz`` writes, so that a database that answers but cannot
    be written (read-only, disk full) is reported as unhealthy."""

    __tablename__ = "health_probe"

    id: Mapped[int] = mapped_column(primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=_utcnow)


class AuditEvent(db.Model):
    """Who changed what, how, and when: written in the same transaction as the
    change itself. ``before`` and ``after`` are JSON documents."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=_utcnow, index=True)
    actor: Mapped[str] = mapped_column(sa.String(120))
    action: Mapped[str] = mapped_column(sa.String(40))
    target: Mapped[str] = mapped_column(sa.String(120))
    before: Mapped[str | None] = mapped_column(sa.Text)
    after: Mapped[str | None] = mapped_column(sa.Text)


class Schedule(db.Model):
    """A schedule asked for (the demand profile and options, as sent), and its life
    as a job: ``queued``, ``running`` on one worker (``worker``, ``attempts``,
    ``heartbeat_at``: a running job whose heartbeat stops is taken over or failed,
    see ``vpp.services.schedule_jobs``), then ``done`` with its ``result`` or
    ``failed`` with its ``error``. Each plant's part is a ``SchedulePlantRow``."""

    __tablename__ = "schedule"
    __table_args__ = (
        sa.CheckConstraint(_one_of("status", SCHEDULE_STATUSES), name="schedule_status_known"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=_utcnow, index=True)
    created_by: Mapped[str] = mapped_column(sa.String(120))
    status: Mapped[str] = mapped_column(sa.String(10), index=True)
    error: Mapped[str | None] = mapped_column(sa.Text)
    start: Mapped[datetime] = mapped_column(UtcDateTime)
    resolution_minutes: Mapped[int] = mapped_column(sa.Integer)
    demand: Mapped[list] = mapped_column(sa.JSON)
    # value_of_lost_load, final_soc, time_limit_s, target_gap, availability.
    options: Mapped[dict] = mapped_column(sa.JSON)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    worker: Mapped[str | None] = mapped_column(sa.String(120))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # objective, lower_bound, gap, elapsed_s: the solver's latest, while it runs.
    progress: Mapped[dict | None] = mapped_column(sa.JSON)
    # The answer's totals and per-interval series (see schedule_jobs.result_summary).
    result: Mapped[dict | None] = mapped_column(sa.JSON)
    plant_count: Mapped[int | None] = mapped_column(sa.Integer)


class SchedulePlantRow(db.Model):
    """One plant's part in a done schedule, with its name and kind as they were.
    ``plant_id`` is not a foreign key: the plant may be deleted later."""

    __tablename__ = "schedule_plant"
    __table_args__ = (
        sa.UniqueConstraint("schedule_id", "plant_id"),
        sa.Index("ix_schedule_plant_schedule_kind", "schedule_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(sa.ForeignKey("schedule.id", ondelete="CASCADE"))
    plant_id: Mapped[int] = mapped_column(sa.Integer)
    name: Mapped[str] = mapped_column(sa.String(NAME_MAX_LENGTH))
    kind: Mapped[str] = mapped_column(sa.String(20))
    output: Mapped[list] = mapped_column(sa.JSON)  # kW per interval (a store's signed)
    soc: Mapped[list | None] = mapped_column(sa.JSON)  # kWh at the T + 1 boundaries
    startups: Mapped[int] = mapped_column(sa.Integer)
    energy_kwh: Mapped[float] = mapped_column(sa.Float)
    cost: Mapped[float] = mapped_column(sa.Float)
    availability_source: Mapped[str] = mapped_column(sa.String(20))


class Reading(db.Model):
    """What a plant measured at a moment (DESIGN.md, "Live devices"): raw, kept for
    ``TELEMETRY_RAW_DAYS``. Keyed by plant and time, so a reading sent twice (an MQTT
    message delivered again after a crash) is stored once, and one plant's readings
    over a period are one index range."""

    __tablename__ = "reading"
    __table_args__ = (sa.Index("ix_reading_at", "at"),)

    plant_id: Mapped[int] = mapped_column(
        sa.ForeignKey("plant.id", ondelete="CASCADE"), primary_key=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    power_kw: Mapped[float] = mapped_column(sa.Float)
    soc_kwh: Mapped[float | None] = mapped_column(sa.Float)


class ReadingMinute(db.Model):
    """A plant's readings summed per minute, written with them: its average, kept for
    ``TELEMETRY_ROLLUP_DAYS`` after the raw readings are gone."""

    __tablename__ = "reading_minute"
    __table_args__ = (sa.Index("ix_reading_minute_minute", "minute"),)

    plant_id: Mapped[int] = mapped_column(
        sa.ForeignKey("plant.id", ondelete="CASCADE"), primary_key=True
    )
    minute: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    sum_kw: Mapped[float] = mapped_column(sa.Float)
    readings: Mapped[int] = mapped_column(sa.Integer)


class FleetMinute(db.Model):
    """The fleet's measured output per minute: the sum over plants of each one's
    average that minute, kept up to date by every ingest (so "the last hour per
    minute" reads 60 rows, whatever the fleet's size)."""

    __tablename__ = "fleet_minute"

    minute: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    power_kw: Mapped[float] = mapped_column(sa.Float)
    plants: Mapped[int] = mapped_column(sa.Integer)


class PlantLive(db.Model):
    """Each plant's latest reading (one row per plant that has reported): what the
    silence check, the plant page and the tracking error read."""

    __tablename__ = "plant_live"
    __table_args__ = (sa.Index("ix_plant_live_at", "at"),)

    plant_id: Mapped[int] = mapped_column(
        sa.ForeignKey("plant.id", ondelete="CASCADE"), primary_key=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    power_kw: Mapped[float] = mapped_column(sa.Float)
    soc_kwh: Mapped[float | None] = mapped_column(sa.Float)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
