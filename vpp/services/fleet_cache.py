"""Answers that depend on the fleet alone, kept per process until the fleet changes.

Every plant write bumps the ``fleet_version`` row in its own transaction (``vpp.models``),
so a process may keep anything computed from the plants (the fleet prepared for
dispatch, the aggregate, the whole plant list as JSON) under the version it read, and
pay one indexed single-row read per request to know whether it still holds. Several
workers, or several servers on one database, each keep their own and stay correct.

The version is read before the plants: if a write lands in between, the cache holds
newer data under an older version, and is merely rebuilt once more on the next call.
"""

from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from flask import current_app

from vpp.extensions import db
from vpp.models import FLEET_VERSION_ROW, FleetVersion

T = TypeVar("T")


VERSION_QUERY = sa.select(FleetVersion.version).where(FleetVersion.id == FLEET_VERSION_ROW)


def fleet_version() -> int:
    """The fleet's version, read on the session's connection as a Core query (it is
    read on every cached answer: the ORM's bookkeeping would cost more than it)."""
    return db.session.connection().scalar(VERSION_QUERY)


def cached(name: str, build: Callable[[], T]) -> T:
    """``build()``, computed once per fleet version in this process."""
    key = f"vpp.fleet_cache.{name}"
    version = fleet_version()
    entry = current_app.extensions.get(key)
    if entry is not None and entry[0] == version:
        return entry[1]
    value = build()
    current_app.extensions[key] = (version, value)
    return value
