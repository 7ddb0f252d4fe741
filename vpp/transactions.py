"""The unit of work, owned by the doors (views, API routes, CLI commands), and what
counts as the database being out rather than the request being wrong."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from vpp.errors import Conflict
from vpp.extensions import db


@contextmanager
def transaction() -> Iterator[None]:
    """Commit everything done inside the block, or roll all of it back.

    A constraint the database enforces (a plant name taken by a concurrent request
    between our check and our write) or a concurrent update of the same row (the
    version column) becomes a ``Conflict``; any other error is re-raised after
    the rollback.
    """
    try:
        yield
        db.session.commit()
    except (IntegrityError, StaleDataError) as exc:
        db.session.rollback()
        raise Conflict(
            "The change conflicts with data stored meanwhile; nothing was saved."
        ) from exc
    except BaseException:
        db.session.rollback()
        raise


# SQLSTATE classes that mean "the database cannot do this now", not "this request is
# wrong": connection exceptions, read-only transaction, insufficient resources (disk
# full, out of memory), operator intervention (shutting down).
UNAVAILABLE_SQLSTATES = ("08", "25006", "53", "57")


def database_unavailable(error: BaseException) -> bool:
    """Is this database error the database being out (down, read-only, full, locked
    past the busy timeout) rather than a fault in the request or the code?"""
    if isinstance(error, OperationalError):
        return True
    if isinstance(error, DBAPIError):
        state = getattr(error.orig, "sqlstate", None) or ""
        return state.startswith(UNAVAILABLE_SQLSTATES)
    return False
