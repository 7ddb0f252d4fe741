"""One page of a listing (the dispatch history, the audit log), and name search."""

from typing import Any

import sqlalchemy as sa

from vpp.extensions import db


def contains(column: Any, text: str) -> Any:
    """``column`` holds ``text``, in any letter case; ``%`` and ``_`` in ``text`` are
    characters, not wildcards."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


def page_of(query: sa.Select, page: int, per_page: int) -> tuple[list[Any], int]:
    """Page ``page`` (from 1) of ``query``'s rows (ORM objects when it selects one
    entity), and how many rows there are in all. ``query`` brings its own order."""
    total = db.session.scalar(
        sa.select(sa.func.count()).select_from(query.order_by(None).subquery())
    )
    items = db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return list(items), total
