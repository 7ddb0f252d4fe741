"""``/api/schedules/``: the fleet planned over a horizon, solved in the background."""

from flask import jsonify, url_for
from flask.views import MethodView

from vpp.api.common import api_blueprint, page_body
from vpp.auth import acting
from vpp.schemas import (
    ErrorSchema,
    PageQuerySchema,
    SchedulePageSchema,
    SchedulePlantPageSchema,
    SchedulePlantQuerySchema,
    ScheduleRequestSchema,
    ScheduleSchema,
)
from vpp.services import schedule_jobs
from vpp.transactions import transaction

blp = api_blueprint(
    "schedules",
    __name__,
    "/api/schedules",
    "Schedules: the fleet over the next hours.",
    # Availability profiles for thousands of plants: as large a body as a batch.
    large_bodies=frozenset({"schedules.ScheduleCollection"}),
)


@blp.route("/")
class ScheduleCollection(MethodView):
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, SchedulePageSchema)
    def get(self, query):
        """Schedules, newest first, a page at a time."""
        items, total = schedule_jobs.list_schedules(query["page"], query["per_page"])
        return page_body(items, total, query, schedule_jobs.schedule_as_dict)

    @blp.arguments(ScheduleRequestSchema)
    @blp.response(202, ScheduleSchema, headers={"Location": {"schema": {"type": "string"}}})
    @blp.alt_response(400, schema=ErrorSchema, description="Malformed body or content type.")
    def post(self, request_data):
        """Ask for a schedule of the fleet (every plant that is not down) for a demand
        profile: answered at once with ``status: queued``; a worker solves it
        (``GET`` the ``Location`` to follow its ``progress``, then read its answer)."""
        with transaction():
            record = schedule_jobs.submit(request_data, actor=acting())
        response = jsonify(schedule_jobs.schedule_as_dict(record))
        response.status_code = 202
        response.headers["Location"] = url_for("schedules.ScheduleItem", schedule_id=record.id)
        return response


@blp.route("/<id:schedule_id>")
class ScheduleItem(MethodView):
    @blp.response(200, ScheduleSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No schedule with this id.")
    def get(self, schedule_id: int):
        """One schedule: where its job stands (``queued``, ``running`` with its
        ``progress``, ``failed`` with its ``error``), and when ``done`` its totals,
        per-interval series and proven ``lower_bound`` and ``gap``."""
        return jsonify(schedule_jobs.schedule_as_dict(schedule_jobs.get_schedule(schedule_id)))


@blp.route("/<id:schedule_id>/plants/")
class SchedulePlants(MethodView):
    @blp.arguments(SchedulePlantQuerySchema, location="query")
    @blp.response(200, SchedulePlantPageSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No schedule with this id.")
    def get(self, query, schedule_id: int):
        """A done schedule's plants, a page at a time: each one's output per interval,
        state of charge (stores), start-ups, energy and cost; filtered by ``kind``,
        ``q`` (a part of the name) or ``startups=true``, sorted by ``plant_id``
        (default), ``name``, ``energy``, ``cost`` or ``startups``."""
        schedule_jobs.get_schedule(schedule_id)
        filters = {key: query.get(key) for key in ("kind", "q", "startups")}
        items, total = schedule_jobs.find_rows(
            schedule_id, query["page"], query["per_page"], query["sort"], **filters
        )
        return jsonify(page_body(items, total, query, schedule_jobs.row_as_dict))
