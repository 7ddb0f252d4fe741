"""``/api/audit/``: who changed what, for admins."""

from vpp.api.common import api_blueprint, page_body
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
    return page_body(items, total, query, audit.event_as_dict)
