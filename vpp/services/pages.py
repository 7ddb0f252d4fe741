"""One page of a newest-first listing (the dispatch history, the audit log)."""

from typing import Any

import sqlalchemy as sa

from vpp.extensions import db


def newest_first(model: Any, moment: Any, page: int, per_page: int) -> tuple[list[Any], int]:
    """Page ``page`` (from 1) of ``model`` rows, newest ``moment`` first (ties by id),
    and how many rows there are in all."""
    total = db.session.scalar(sa.select(sa.func.count()).select_from(model))
    items = db.session.scalars(
        sa.select(model)
        .order_by(moment.desc(), model.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return list(items), total
