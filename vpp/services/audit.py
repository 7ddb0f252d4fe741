"""The audit log: who (a user, an API token, the CLI) changed what, how, and when.

``record`` adds an event to the session, so it lands in the same transaction as
the change it describes, or not at all. Does not commit.
"""

import json
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa

from vpp.extensions import db
from vpp.models import AuditEvent
from vpp.services import pages


def _as_json(value: Any) -> str | None:
    if value is None:
        return None
    return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS).decode()


def record(action: str, target: str, before: Any = None, after: Any = None, *, actor: str) -> None:
    """``actor`` did ``action`` to ``target``: told by the door that acts (a user, a
    token, ``cli:NAME``), never guessed here."""
    db.session.add(
        AuditEvent(
            actor=actor,
            action=action,
            target=target,
            before=_as_json(before),
            after=_as_json(after),
        )
    )


def record_many(action: str, events: list[tuple[str, Any, Any]], *, actor: str) -> None:
    """Many events of one kind at once (a CSV import): one INSERT, not one per row."""
    if events:
        db.session.connection().execute(
            sa.insert(AuditEvent.__table__),
            [
                {
                    "actor": actor,
                    "action": action,
                    "target": target,
                    "before": _as_json(before),
                    "after": _as_json(after),
                    "at": datetime.now(UTC),
                }
                for target, before, after in events
            ],
        )


def list_events(
    page: int, per_page: int, action: str | None = None, actor: str | None = None
) -> tuple[list[AuditEvent], int]:
    """Audit events, newest first, of one ``action`` and by actors whose name holds
    ``actor`` (any case) if given: one page, and how many there are in all."""
    query = sa.select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if action:
        query = query.where(AuditEvent.action == action)
    if actor:
        query = query.where(pages.contains(AuditEvent.actor, actor))
    return pages.page_of(query, page, per_page)


def actions() -> list[str]:
    """Every action the log holds, for a filter's choices."""
    return list(
        db.session.scalars(sa.select(AuditEvent.action).distinct().order_by(AuditEvent.action))
    )


def changes(before: Any, after: Any) -> list[tuple[str, Any, Any]]:
    """An event's before and after as ``(field, before, after)``, field by field (a
    value absent on one side is None): what a person reads as "field: old → new"."""
    before = before if isinstance(before, dict) else ({} if before is None else {"": before})
    after = after if isinstance(after, dict) else ({} if after is None else {"": after})
    fields = [*before, *(key for key in after if key not in before)]
    return [(field, before.get(field), after.get(field)) for field in fields]


def event_as_dict(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "action": event.action,
        "target": event.target,
        "before": json.loads(event.before) if event.before else None,
        "after": json.loads(event.after) if event.after else None,
    }
