"""The app as gunicorn serves it, plus one route for the benchmark's baseline: the
prototype's dispatch (largest capacity first, minimums ignored) over plants held
in a Python list in the worker, as the prototype held them in a dict.

Used only by ``benchmarks/api_bench.py``; the product never registers this route.
"""

from flask import Blueprint, jsonify, request

from vpp import create_app
from vpp.extensions import csrf
from vpp.services import fleet

# Under /api, so that it passes the same authentication as the real route.
prototype = Blueprint("prototype", __name__)
_in_memory_plants: list[dict] = []


@prototype.post("/api/prototype-dispatch/")
def prototype_dispatch():
    if not _in_memory_plants:  # loaded once per worker, like the prototype's dict
        _in_memory_plants.extend(fleet.plant_as_dict(p) for p in fleet.list_plants())
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
