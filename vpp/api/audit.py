"""``/api/audit/``: who changed what, for admins."""

import math

from vpp.api.common import api_blueprint
from vpp.domain import ROLE_ADMIN
from vpp.schemas import AuditPageSchema, PageQuerySchema
from vpp.services import audit

blp = api_blueprint(
    "audit", __name__, "/api/audit", "The audit log (admins).", reads=ROLE_ADMIN, writes=ROLE_ADMIN
)


@blp.route("/", methods=["GET"])
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, AuditPageSchema)
def audit_log(query):
    """Audit events, newest first: who (user, API token or CLI) changed which plant
    or user or token, before and after, and who dispatched, with the time."""
    items, total = audit.list_events(query["page"], query["per_page"])
    return {
        "items": [audit.event_as_dict(e) for e in items],
        "page": query["page"],
        "per_page": query["per_page"],
        "total": total,
        "pages": math.ceil(total / query["per_page"]),
    }
