"""``/api/aggregate/`` and ``/api/dispatch/``: the fleet as one power plant."""

from flask import current_app, jsonify

from vpp.api.common import api_blueprint
from vpp.auth import current_principal
from vpp.schemas import AggregateSchema, DispatchRequestSchema, DispatchResultSchema, ErrorSchema
from vpp.services import dispatch_runs, fleet, fleet_cache

# A dispatch preview computes without changing anything: a viewer may ask for one.
blp = api_blueprint(
    "fleet",
    __name__,
    "/api",
    "Aggregation and dispatch.",
    read_only_posts=frozenset({"fleet.dispatch"}),
)


@blp.route("/aggregate/", methods=["GET"])
@blp.response(200, AggregateSchema)
def aggregate():
    """Available capacity: ``total_available`` (kW, plants not down), with counts and
    capacity by status and by kind."""
    # Kept as JSON per fleet version: no schema pass, no encoding per request.
    body = fleet_cache.cached("aggregate_json", lambda: jsonify(fleet.aggregate()).data)
    return current_app.response_class(body, mimetype="application/json")


@blp.route("/dispatch/", methods=["POST"])
@blp.arguments(DispatchRequestSchema)
@blp.response(200, DispatchResultSchema)
@blp.alt_response(400, schema=ErrorSchema, description="Malformed body or content type.")
@blp.alt_response(
    429,
    schema=ErrorSchema,
    description="This caller has used its solver time for previews (Retry-After says "
    "when to come back).",
)
def dispatch(request_data):
    """Dispatch a demand (kW) across the fleet, without recording it (a preview; POST
    to ``/api/dispatches/`` to commit one). Every plant that is not down gets 0 or
    an output within its [min_capacity, max_capacity]; the total never exceeds the
    demand; among such answers the most kW, then the least cost, then the fewest
    start-ups. ``"detail": "summary"`` leaves out the per-plant ``allocations`` and
    ``reasons``: the totals and the summaries by kind and reason stay small at any
    fleet size."""
    caller = current_principal().actor
    preview = dispatch_runs.preview_dispatch(request_data["demand"], caller)
    # A Response skips the schema's serialisation: allocations can be 100,000 long.
    return jsonify(preview.as_dict(request_data["detail"]))
