"""``/api/telemetry/`` and each plant's readings and setpoint: live devices
(DESIGN.md, "Live devices")."""

from flask import jsonify, request
from flask.views import MethodView
from marshmallow import RAISE

from vpp.api.common import api_blueprint, page_body
from vpp.schemas import (
    AcceptedSchema,
    ErrorSchema,
    FleetSeriesSchema,
    PageQuerySchema,
    PlantReadingsSchema,
    ReadingsQuerySchema,
    SetpointSchema,
    SetpointsQuerySchema,
    SetpointsSchema,
    SilentPageSchema,
    TelemetryStatusSchema,
    TelemetryWindowSchema,
)
from vpp.services import fleet, telemetry
from vpp.transactions import transaction

blp = api_blueprint(
    "telemetry",
    __name__,
    "/api",
    "Live devices: readings in, setpoints out, silent units.",
    # Thousands of readings per request.
    array_bodies=frozenset({"telemetry.Readings"}),
)

READINGS_BODY = {
    "required": True,
    "description": "An array of readings; all stored, or none.",
    "content": {
        "application/json": {
            "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Reading"}}
        }
    },
}


@blp.route("/telemetry/")
class Readings(MethodView):
    @blp.doc(requestBody=READINGS_BODY)
    @blp.response(202, AcceptedSchema)
    @blp.alt_response(400, schema=ErrorSchema, description="Malformed body or content type.")
    @blp.alt_response(
        422,
        schema=ErrorSchema,
        description="A bad reading (an unknown plant, a non-finite or impossible value, a "
        "time in the future): ``fields`` names each by its index (``3.power_kw``) and "
        "nothing of the request is stored.",
    )
    def post(self):
        """Readings from devices: ``{"plant_id", "at", "power_kw", "soc_kwh"}`` each.
        Answered once they are committed: an acknowledged reading survives a crash."""
        now = telemetry.now_utc()
        readings = telemetry.validate_readings(request.get_json(), now)
        with transaction():
            stored = telemetry.ingest(readings, now)
        response = jsonify({"accepted": len(readings), "stored": stored})
        response.status_code = 202
        return response


@blp.route("/telemetry/fleet")
class FleetSeries(MethodView):
    @blp.arguments(TelemetryWindowSchema, location="query", unknown=RAISE)
    @blp.response(200, FleetSeriesSchema)
    def get(self, query):
        """The fleet's measured output per bucket of ``resolution_minutes`` (default 1)
        from ``since`` to ``until`` (default: the last hour), beside the target (the
        telemetry plants' setpoints summed) and the tracking error."""
        return jsonify(
            telemetry.fleet_series(
                query.get("since"), query.get("until"), query["resolution_minutes"]
            )
        )


@blp.route("/telemetry/status")
class Status(MethodView):
    @blp.response(200, TelemetryStatusSchema)
    def get(self):
        """Telemetry plants, how many are silent and how many reporting, readings per
        second, and where setpoints come from now."""
        return jsonify(telemetry.status())


@blp.route("/telemetry/silent")
class Silent(MethodView):
    @blp.arguments(PageQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, SilentPageSchema)
    def get(self, query):
        """Plants taken down because they fell silent, a page at a time."""
        items, total = telemetry.silent_page(query["page"], query["per_page"])
        return jsonify(page_body(items, total, query, dict))


@blp.route("/telemetry/setpoints")
class Setpoints(MethodView):
    @blp.arguments(SetpointsQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, SetpointsSchema)
    def get(self, query):
        """The telemetry plants' setpoints now, a page at a time by plant id (up to
        10,000 a page: for a gateway that polls for many devices), and the dispatch or
        schedule interval they come from."""
        source, values, total = telemetry.setpoints_page(query["page"], query["per_page"])
        paging = page_body([], total, query, dict)
        del paging["items"]  # the page is the setpoints, by plant id
        return jsonify(
            {
                "source": source.name if source else None,
                "since": source.since.isoformat() if source else None,
                "setpoints": {str(pid): kw for pid, kw in values.items()},
                **paging,
            }
        )


@blp.route("/plants/<id:plant_id>/readings")
class PlantReadings(MethodView):
    @blp.arguments(ReadingsQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, PlantReadingsSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No plant with this id.")
    def get(self, query, plant_id: int):
        """One plant's raw readings from ``since`` to ``until`` (default: the last
        hour), at most ``limit``; with ``per_minute=true`` its averages per minute
        instead (kept after the raw readings' retention)."""
        fleet.get_plant(plant_id)
        since, until = telemetry.check_window(
            query.get("since"), query.get("until"), telemetry.now_utc()
        )
        body = {"plant_id": plant_id, "since": since.isoformat(), "until": until.isoformat()}
        if query["per_minute"]:
            body["minutes"] = telemetry.plant_minutes(plant_id, since, until)
        else:
            body["readings"] = telemetry.plant_readings(plant_id, since, until, query["limit"])
        return jsonify(body)


@blp.route("/plants/<id:plant_id>/setpoint")
class PlantSetpoint(MethodView):
    @blp.response(200, SetpointSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No plant with this id.")
    def get(self, plant_id: int):
        """What the plant should produce now (``setpoint_kw``), since when, and from
        which committed dispatch or schedule interval; beside its latest reading and the
        tracking error. Nulls when nothing committed gives it a setpoint."""
        fleet.get_plant(plant_id)
        return jsonify(telemetry.plant_setpoint(plant_id))
