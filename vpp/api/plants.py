"""``/api/plants/``: the fleet registry."""

from flask import url_for
from flask.views import MethodView

from vpp.api.common import api_blueprint
from vpp.schemas import ErrorSchema, PlantPatchSchema, PlantSchema
from vpp.services import fleet
from vpp.transactions import transaction

blp = api_blueprint("plants", __name__, "/api/plants", "The fleet registry.")


@blp.route("/")
class PlantCollection(MethodView):
    @blp.response(200, PlantSchema(many=True))
    def get(self):
        """List every plant, by id."""
        return fleet.list_plants()

    @blp.arguments(PlantSchema)
    @blp.response(201, PlantSchema, headers={"Location": {"schema": {"type": "string"}}})
    @blp.alt_response(400, schema=ErrorSchema, description="Malformed body or content type.")
    @blp.alt_response(409, schema=ErrorSchema, description="A plant with this name exists.")
    def post(self, data):
        """Register a plant. The server assigns its id; a sent ``id`` is ignored."""
        with transaction():
            plant = fleet.create_plant(data)
        return plant, 201, {"Location": url_for("plants.PlantItem", plant_id=plant.id)}


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
            plant = fleet.update_plant(plant_id, changes)
        return plant

    @blp.response(204)
    @blp.alt_response(404, schema=ErrorSchema, description="No plant with this id.")
    def delete(self, plant_id: int):
        """Retire a plant from the fleet."""
        with transaction():
            fleet.delete_plant(plant_id)
        return ""
