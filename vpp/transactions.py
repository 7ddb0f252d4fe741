"""The unit of work, owned by the doors (views, API routes, CLI commands)."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError
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
