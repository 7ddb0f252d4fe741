"""The app as gunicorn serves it, plus routes for the benchmarks' baselines: the
prototype's dispatch (largest capacity first, minimums ignored), plant list and
aggregate over plants held in a Python list in the worker, as the prototype held
them in a dict.

Used only by the benchmarks; the product never registers these routes.
"""

from flask import Blueprint, jsonify, request

from vpp import create_app
from vpp.extensions import csrf
from vpp.services import fleet

# Under /api, so that it passes the same authentication as the real route.
prototype = Blueprint("prototype", __name__)
_in_memory_plants: list[dict] = []


def _plants() -> list[dict]:
    if not _in_memory_plants:  # loaded once per worker, like the prototype's dict
        _in_memory_plants.extend(fleet.plant_as_dict(p) for p in fleet.list_plants())
    return _in_memory_plants


@prototype.get("/api/prototype-plants/")
def prototype_plants():
    """The prototype's GET /plants/: its in-memory list, as JSON."""
    return jsonify(_plants())


@prototype.get("/api/prototype-aggregate/")
def prototype_aggregate():
    """The prototype's GET /aggregate/: a sum over its in-memory list."""
    total = sum(p["max_capacity"] for p in _plants() if p["status"] != "down")
    return jsonify({"total_available": total})


@prototype.post("/api/prototype-dispatch/")
def prototype_dispatch():
    _plants()
    demand = float(request.get_json()["demand"])
    remaining = demand
    allocations = {}
    available = [p for p in _in_memory_plants if p["status"] != "down"]
    for plant in sorted(available, key=lambda p: p["max_capacity"], reverse=True):
        output = min(plant["max_capacity"], remaining)
        allocations[str(plant["id"])] = output
        remaining -= output
    total = demand - remaining
    return jsonify(
        {"allocations": allocations, "total_dispatched": total, "unmet_demand": demand - total}
    )


app = create_app()
csrf.exempt(prototype)
app.register_blueprint(prototype)
