"""``/api/dispatches/``: committed dispatches, kept as history."""

from flask import jsonify, url_for
from flask.views import MethodView
from marshmallow import RAISE

from vpp.api.common import api_blueprint, page_body
from vpp.auth import acting
from vpp.schemas import (
    DetailQuerySchema,
    DispatchPageSchema,
    DispatchRecordSchema,
    DispatchRequestSchema,
    DispatchRowsPageSchema,
    DispatchRowsQuerySchema,
    ErrorSchema,
    PageQuerySchema,
)
from vpp.services import dispatch_runs
from vpp.transactions import transaction

blp = api_blueprint("dispatches", __name__, "/api/dispatches", "Committed dispatches.")


@blp.route("/")
class DispatchCollection(MethodView):
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, DispatchPageSchema)
    def get(self, query):
        """Committed dispatches, newest first, a page at a time (``page``, ``per_page``
        up to 100)."""
        items, total = dispatch_runs.list_dispatches(query["page"], query["per_page"])
        return page_body(items, total, query, dispatch_runs.record_summary)

    @blp.arguments(DispatchRequestSchema)
    @blp.response(201, DispatchRecordSchema, headers={"Location": {"schema": {"type": "string"}}})
    @blp.alt_response(400, schema=ErrorSchema, description="Malformed body or content type.")
    def post(self, request_data):
        """Dispatch a demand (kW) and record it: the demand, the time, the totals and
        every plant's output with its name and figures at that time. The answer has
        every plant unless ``"detail": "summary"``; the rows are also at
        ``/api/dispatches/<id>/plants/``, a page at a time."""
        with transaction():
            record = dispatch_runs.commit_dispatch(request_data["demand"], actor=acting())
        response = jsonify(dispatch_runs.record_as_dict(record, request_data["detail"]))
        response.status_code = 201
        response.headers["Location"] = url_for("dispatches.DispatchItem", dispatch_id=record.id)
        return response


@blp.route("/<id:dispatch_id>")
class DispatchItem(MethodView):
    @blp.arguments(DetailQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, DispatchRecordSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No dispatch with this id.")
    def get(self, query, dispatch_id: int):
        """One committed dispatch: totals and summaries, and (``detail=full``, the
        default) every plant's part in it."""
        record = dispatch_runs.get_dispatch(dispatch_id)
        return jsonify(dispatch_runs.record_as_dict(record, query["detail"]))


@blp.route("/<id:dispatch_id>/plants/")
class DispatchRows(MethodView):
    @blp.arguments(DispatchRowsQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, DispatchRowsPageSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No dispatch with this id.")
    def get(self, query, dispatch_id: int):
        """A committed dispatch's plants, a page at a time, filtered by ``reason``,
        ``kind``, ``q`` (a part of the name) or ``startups=true`` (the idle plants it
        switches on), sorted by ``merit`` (default), ``output``, ``plant_id`` or
        ``name``."""
        dispatch_runs.get_dispatch(dispatch_id)
        filters = {key: query.get(key) for key in ("reason", "kind", "q", "startups")}
        items, total = dispatch_runs.find_dispatch_rows(
            dispatch_id, query["page"], query["per_page"], query["sort"], **filters
        )
        return jsonify(page_body(items, total, query, dict))
