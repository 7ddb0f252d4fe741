"""``/api/plants/``: the fleet registry."""

from flask import abort, current_app, jsonify, request, url_for
from flask.views import MethodView
from marshmallow import RAISE

from vpp.api.common import api_blueprint, page_body
from vpp.auth import acting
from vpp.errors import InvalidInput
from vpp.schemas import ErrorSchema, PlantListQuerySchema, PlantPatchSchema, PlantSchema
from vpp.services import fleet, fleet_cache
from vpp.transactions import transaction

blp = api_blueprint(
    "plants",
    __name__,
    "/api/plants",
    "The fleet registry.",
    array_bodies=frozenset({"plants.PlantCollection"}),
)


PLANT = {"$ref": "#/components/schemas/Plant"}
PLANTS = {"type": "array", "items": PLANT}


def _json(description: str, *schemas: dict) -> dict:
    schema = schemas[0] if len(schemas) == 1 else {"oneOf": list(schemas)}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


# One plant or an array of them in; a list or a page of them out.
ONE_OR_MANY = {**_json("A plant, or an array of plants.", PLANT, PLANTS), "required": True}
LIST_OR_PAGE = _json(
    "Every plant that passes the filters, as an array; with page or per_page, one page.",
    PLANTS,
    {"$ref": "#/components/schemas/PlantPage"},
)
CREATED = _json("The plant (with a Location header), or every plant of the array.", PLANT, PLANTS)


@blp.route("/")
class PlantCollection(MethodView):
    @blp.arguments(PlantListQuerySchema, location="query", unknown=RAISE)
    @blp.doc(responses={"200": LIST_OR_PAGE})
    def get(self, query):
        """Every plant that passes the filters (``status``, ``kind``, ``q`` for a part of
        the name), sorted (``sort``, by id unless told), as a JSON array; with
        ``page`` or ``per_page`` (up to 1000), one page of them."""
        filters = {key: query.get(key) for key in ("status", "kind", "q", "sort")}
        if "page" not in query and "per_page" not in query:
            if filters == {"status": None, "kind": None, "q": None, "sort": "id"}:
                # The whole fleet: kept as JSON until the fleet changes.
                body = fleet_cache.cached("plants_json", lambda: jsonify(fleet.plant_rows()).data)
                return current_app.response_class(body, mimetype="application/json")
            # Plain rows to orjson: no ORM object or schema per plant.
            return jsonify(fleet.plant_rows(**filters))
        paging = {"page": query.get("page", 1), "per_page": query.get("per_page", 20)}
        items, total = fleet.find_plants(paging["page"], paging["per_page"], **filters)
        return jsonify(page_body(items, total, paging, dict))

    @blp.doc(requestBody=ONE_OR_MANY, responses={"201": CREATED})
    @blp.alt_response(400, schema=ErrorSchema, description="Malformed body or content type.")
    @blp.alt_response(409, schema=ErrorSchema, description="A plant with this name exists.")
    @blp.alt_response(
        422,
        schema=ErrorSchema,
        description="A field rule broken; for an array, ``fields`` names each bad "
        "element's index and field (``3.max_capacity``) and nothing is stored.",
    )
    def post(self):
        """Register a plant, or, with a JSON array, all the plants in it or none. The
        server assigns ids; a sent ``id`` is ignored."""
        body = request.get_json()
        if isinstance(body, list):
            not_objects = {
                str(index): ["Must be a plant: a JSON object."]
                for index, item in enumerate(body)
                if not isinstance(item, dict)
            }
            if not_objects:
                raise InvalidInput(
                    f"{len(not_objects)} element(s) of the array are not plants; "
                    "nothing registered.",
                    not_objects,
                )
            with transaction():
                created = fleet.create_plants(body, actor=acting())
            response = jsonify(created)
            response.status_code = 201
            return response
        if (request.content_length or 0) > current_app.config["MAX_CONTENT_LENGTH"]:
            abort(413)  # the room for a batch is for arrays, not for one plant
        with transaction():
            plant = fleet.create_plant(body, actor=acting())
        response = jsonify(fleet.plant_as_dict(plant))
        response.status_code = 201
        response.headers["Location"] = url_for("plants.PlantItem", plant_id=plant.id)
        return response


@blp.route("/<id:plant_id>")
class PlantItem(MethodView):
    @blp.response(200, PlantSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No plant with this id.")
    def get(self, plant_id: int):
        """One plant."""
        return fleet.get_plant(plant_id)

    @blp.arguments(PlantPatchSchema)
    @blp.response(200, PlantSchema)
    @blp.alt_response(400, schema=ErrorSchema, description="Malformed body or content type.")
    @blp.alt_response(404, schema=ErrorSchema, description="No plant with this id.")
    @blp.alt_response(409, schema=ErrorSchema, description="A plant with this name exists.")
    def patch(self, changes, plant_id: int):
        """Change some fields of a plant (its status, say). The result must keep every
        rule, e.g. a new ``min_capacity`` may not exceed the stored ``max_capacity``."""
        with transaction():
            plant = fleet.update_plant(plant_id, changes, actor=acting())
        return plant

    @blp.response(204)
    @blp.alt_response(404, schema=ErrorSchema, description="No plant with this id.")
    def delete(self, plant_id: int):
        """Retire a plant from the fleet."""
        with transaction():
            fleet.delete_plant(plant_id, actor=acting())
        return ""
