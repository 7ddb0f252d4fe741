"""Listings a page at a time (the dispatch history, the audit log, the fleet table,
a dispatch's rows), name search, and finding one row by its key."""

import math
from typing import Any

import sqlalchemy as sa

from vpp.errors import NotFound
from vpp.extensions import db


def contains(column: Any, text: str) -> Any:
    """``column`` holds ``text``, in any letter case; ``%`` and ``_`` in ``text`` are
    characters, not wildcards."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


def page_of(query: sa.Select, page: int, per_page: int) -> tuple[list[Any], int]:
    """Page ``page`` (from 1) of ``query``'s ORM objects, and how many there are in
    all, by Flask-SQLAlchemy's ``paginate`` (a page past the end is empty, not a
    404). ``query`` selects one entity and brings its own order."""
    result = db.paginate(query, page=page, per_page=per_page, max_per_page=None, error_out=False)
    return list(result.items), result.total or 0


def page_count(total: int, per_page: int) -> int:
    """How many pages ``total`` items fill; an empty listing still has its page 1."""
    return max(1, math.ceil(total / per_page))


def get_or_not_found(model: type, key: int, what: str) -> Any:
    """The row of ``model`` with primary key ``key``, or ``NotFound`` naming ``what``
    (each door makes it a 404, a 404 page or one CLI line)."""
    row = db.session.get(model, key)
    if row is None:
        raise NotFound(f"No {what} with id {key}.")
    return row
