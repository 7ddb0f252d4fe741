"""Database models (SQLAlchemy 2.x, typed)."""

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from vpp.domain import (
    DEFAULT_KIND,
    DEFAULT_STATUS,
    NAME_MAX_LENGTH,
    PLANT_KINDS,
    PLANT_STATUSES,
)
from vpp.extensions import db


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


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
        # Ids are never reused after a deletion: history and integrators keep theirs.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(NAME_MAX_LENGTH), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(20), default=DEFAULT_KIND)
    max_capacity: Mapped[float] = mapped_column(sa.Float)
    min_capacity: Mapped[float] = mapped_column(sa.Float, default=0.0)
    status: Mapped[str] = mapped_column(sa.String(10), default=DEFAULT_STATUS)
    marginal_cost: Mapped[float] = mapped_column(sa.Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=_utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), default=_utcnow, onupdate=_utcnow
    )

    def __repr__(self) -> str:
        return f"<Plant {self.id} {self.name!r} {self.status}>"
