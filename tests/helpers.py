"""Test helpers that read and write the database directly."""

import sqlalchemy as sa

from vpp.extensions import db
from vpp.models import Plant


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
