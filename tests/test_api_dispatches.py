"""Dispatch previews explain themselves; committed dispatches are kept as history;
the per-process fleet cache follows every write, whichever process made it."""

import pytest

from tests.helpers import add_plants, client_as
from vpp.domain import REASON_CODES

FLEET = (
    {"name": "Wind", "kind": "wind", "max_capacity": 400, "marginal_cost": 2},
    {
        "name": "Battery",
        "kind": "battery",
        "max_capacity": 200,
        "status": "running",
        "marginal_cost": 15,
    },
    {
        "name": "Genset",
        "kind": "diesel",
        "max_capacity": 500,
        "min_capacity": 250,
        "marginal_cost": 90,
    },
    {"name": "Broken", "kind": "gas", "max_capacity": 1000, "status": "down"},
)


def test_preview_explains_every_plant_and_is_not_recorded(app, client):
    wind, battery, genset, broken = add_plants(app, *FLEET)
    body = client.post("/api/dispatch/", json={"demand": 500}).json
    assert body["allocations"] == {str(wind): 400, str(battery): 100, str(genset): 0}
    assert body["reasons"] == {
        "at_max": [wind],
        "marginal": [battery],
        "off_not_needed": [genset],
        "down": [broken],
    }
    assert body["optimal"] is True and body["status"] == "optimal"
    assert body["marginal_cost"] == 15
    assert body["startups"] == 1  # the wind farm was idle
    assert body["solve_time_ms"] >= 0
    assert body["strategy"] == "exact-branch-and-bound"
    assert client.get("/api/dispatches/").json["total"] == 0


def test_cheap_inflexible_unit_stays_off_when_its_minimum_does_not_fit(app, client):
    """The knapsack case: serving all 260 kW needs the dear flexible unit, not the
    cheap one whose 250 kW minimum leaves no room for the rest."""
    cheap, dear = add_plants(
        app,
        {"name": "Cheap block", "max_capacity": 250, "min_capacity": 250, "marginal_cost": 1},
        {"name": "Dear flexible", "max_capacity": 300, "marginal_cost": 80},
    )
    body = client.post("/api/dispatch/", json={"demand": 260}).json
    assert body["total_dispatched"] == 260
    # 250 kW from the cheap block plus 10 from the flexible unit is cheaper still.
    assert body["allocations"] == {str(cheap): 250, str(dear): 10}
    body = client.post("/api/dispatch/", json={"demand": 240}).json
    assert body["allocations"] == {str(cheap): 0, str(dear): 240}
    assert body["reasons"]["off_min_above_demand"] == [cheap]


def test_commit_records_the_dispatch_with_location(app, client):
    wind, battery, genset, broken = add_plants(app, *FLEET)
    response = client.post("/api/dispatches/", json={"demand": 800})
    assert response.status_code == 201
    assert response.headers["Location"].endswith("/api/dispatches/1")
    body = response.json
    assert body["id"] == 1
    assert body["demand"] == 800
    assert body["total_dispatched"] == 800
    assert body["allocations"] == {str(wind): 400, str(battery): 150, str(genset): 250}
    assert body["created_at"].endswith("+00:00")
    plants = {p["name"]: p for p in body["plants"]}
    assert plants["Genset"]["reason"] == "at_min"
    assert plants["Broken"] == {
        "plant_id": broken,
        "name": "Broken",
        "kind": "gas",
        "status": "down",
        "min_capacity": 0.0,
        "max_capacity": 1000.0,
        "marginal_cost": 0.0,
        "output": 0.0,
        "reason": "down",
        "startup": False,
    }
    assert client.get("/api/dispatches/1").json == body


def test_history_survives_edits_and_deletions(app, client):
    (plant_id,) = add_plants(app, {"name": "Hydro", "max_capacity": 300, "min_capacity": 100})
    client.post("/api/dispatches/", json={"demand": 200})
    client.patch(f"/api/plants/{plant_id}", json={"name": "Renamed", "max_capacity": 999})
    client.delete(f"/api/plants/{plant_id}")
    record = client.get("/api/dispatches/1").json
    assert record["plants"][0]["name"] == "Hydro"
    assert record["plants"][0]["max_capacity"] == 300
    assert record["allocations"] == {str(plant_id): 200}


def test_history_is_newest_first_and_paginated(app, client):
    add_plants(app, {"name": "A", "max_capacity": 1000})
    for demand in (10, 20, 30, 40, 50):
        assert client.post("/api/dispatches/", json={"demand": demand}).status_code == 201
    page = client.get("/api/dispatches/?per_page=2").json
    assert [d["demand"] for d in page["items"]] == [50, 40]
    assert (page["page"], page["per_page"], page["total"], page["pages"]) == (1, 2, 5, 3)
    last = client.get("/api/dispatches/?per_page=2&page=3").json
    assert [d["demand"] for d in last["items"]] == [10]
    assert client.get("/api/dispatches/?per_page=2&page=9").json["items"] == []


@pytest.mark.parametrize("query", ["page=0", "per_page=0", "per_page=101", "page=abc"])
def test_bad_page_query_is_422(client, query):
    response = client.get(f"/api/dispatches/?{query}")
    assert response.status_code == 422
    assert "error" in response.json


def test_unknown_dispatch_is_404(client):
    response = client.get("/api/dispatches/3")
    assert response.status_code == 404
    assert response.json == {"error": "No dispatch with id 3."}


@pytest.mark.parametrize("body", ['{"demand": 0}', '{"demand": NaN}', "{}", "[1]"])
def test_bad_commit_records_nothing(app, client, body):
    add_plants(app, {"name": "A", "max_capacity": 10})
    response = client.post("/api/dispatches/", data=body, content_type="application/json")
    assert response.status_code in (400, 422)
    assert client.get("/api/dispatches/").json["total"] == 0


def test_every_reason_code_has_words(app, client):
    add_plants(app, *FLEET)
    for demand in (50, 300, 900, 5000):
        reasons = client.post("/api/dispatch/", json={"demand": demand}).json["reasons"]
        assert set(reasons) <= set(REASON_CODES)


def test_a_second_worker_sees_writes_made_by_the_first(app, client, second_app):
    """Two app instances on one database stand for two gunicorn workers: each caches
    its prepared fleet, and the fleet version makes a write through one visible to
    the other's next dispatch."""
    other = client_as(second_app, "admin")
    (plant_id,) = add_plants(app, {"name": "A", "max_capacity": 100})
    assert other.post("/api/dispatch/", json={"demand": 500}).json["total_dispatched"] == 100
    client.patch(f"/api/plants/{plant_id}", json={"max_capacity": 300})
    assert other.post("/api/dispatch/", json={"demand": 500}).json["total_dispatched"] == 300
    client.post("/api/plants/", json={"name": "B", "max_capacity": 50})
    assert other.post("/api/dispatch/", json={"demand": 500}).json["total_dispatched"] == 350
    client.delete(f"/api/plants/{plant_id}")
    assert other.post("/api/dispatch/", json={"demand": 500}).json["total_dispatched"] == 50


def test_fleet_version_moves_with_every_plant_write(app, client):
    from vpp.services.fleet_cache import fleet_version

    def version():
        with app.app_context():
            return fleet_version()

    start = version()
    client.post("/api/plants/", json={"name": "A", "max_capacity": 1})
    after_create = version()
    client.patch("/api/plants/1", json={"status": "running"})
    after_update = version()
    client.post("/api/dispatch/", json={"demand": 1})
    client.post("/api/plants/", json={"name": "A", "max_capacity": 1})  # 409: nothing written
    after_reads_and_rejects = version()
    client.delete("/api/plants/1")
    assert start < after_create < after_update == after_reads_and_rejects < version()


def test_openapi_documents_the_history_and_the_reasons(client):
    spec = client.get("/api/openapi.json").json
    assert {"get", "post"} <= set(spec["paths"]["/api/dispatches/"])
    assert "get" in spec["paths"]["/api/dispatches/{dispatch_id}"]
    reasons = spec["components"]["schemas"]["DispatchResult"]["properties"]["reasons"]
    assert "off_min_does_not_fit" in reasons["description"]
