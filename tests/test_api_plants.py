"""``/api/plants/``: the registry's contract, status codes and error bodies."""

import pytest

from tests.helpers import PLANT_DEFAULTS, add_plants, client_as, fleet_snapshot

SOLAR = {"name": "Roof solar", "kind": "solar", "max_capacity": 250.0}


def test_list_is_empty_at_first(client):
    response = client.get("/api/plants/")
    assert response.status_code == 200
    assert response.json == []


def test_create_answers_201_with_location_and_defaults(client):
    response = client.post("/api/plants/", json=SOLAR)
    assert response.status_code == 201
    body = response.json
    assert body == {
        "id": 1,
        "name": "Roof solar",
        "kind": "solar",
        "max_capacity": 250.0,
        "min_capacity": 0.0,
        "status": "idle",
        "marginal_cost": 0.0,
        **PLANT_DEFAULTS,
        "version": 1,
    }
    assert response.headers["Location"].endswith("/api/plants/1")
    assert client.get(response.headers["Location"]).json == body


def test_client_sent_id_is_ignored(client):
    response = client.post("/api/plants/", json={**SOLAR, "id": 42})
    assert response.status_code == 201
    assert response.json["id"] == 1


def test_name_is_trimmed_and_words_are_case_insensitive(client):
    response = client.post(
        "/api/plants/", json={**SOLAR, "name": "  Barn  ", "kind": "Solar", "status": "RUNNING"}
    )
    assert response.status_code == 201
    assert (response.json["name"], response.json["kind"], response.json["status"]) == (
        "Barn",
        "solar",
        "running",
    )


def test_numbers_may_come_as_numeric_strings(client):
    response = client.post("/api/plants/", json={**SOLAR, "max_capacity": "300.5"})
    assert response.status_code == 201
    assert response.json["max_capacity"] == 300.5


def test_ids_are_not_reused_after_a_delete(client):
    first = client.post("/api/plants/", json=SOLAR).json["id"]
    assert client.delete(f"/api/plants/{first}").status_code == 204
    second = client.post("/api/plants/", json=SOLAR).json["id"]
    assert second == first + 1


def test_duplicate_name_is_409_and_stores_nothing(app, client):
    client.post("/api/plants/", json=SOLAR)
    before = fleet_snapshot(app)
    response = client.post("/api/plants/", json={**SOLAR, "name": " Roof solar "})
    assert response.status_code == 409
    assert "already exists" in response.json["error"]
    assert response.json["fields"] == {"name": ["A plant with this name already exists."]}
    assert fleet_snapshot(app) == before


def test_get_unknown_id_is_404_json(client):
    response = client.get("/api/plants/7")
    assert response.status_code == 404
    assert response.json == {"error": "No plant with id 7."}


def test_patch_changes_only_given_fields(app, client):
    (plant_id,) = add_plants(app, {"name": "Genset", "max_capacity": 500, "min_capacity": 100})
    response = client.patch(f"/api/plants/{plant_id}", json={"status": "running"})
    assert response.status_code == 200
    assert response.json["status"] == "running"
    assert response.json["min_capacity"] == 100
    assert client.get(f"/api/plants/{plant_id}").json["status"] == "running"


def test_patch_may_rename_a_plant_to_its_own_name(app, client):
    (plant_id,) = add_plants(app, {"name": "Genset", "max_capacity": 500})
    response = client.patch(f"/api/plants/{plant_id}", json={"name": "Genset"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"min_capacity": 600}, "min_capacity"),  # above the stored max
        ({"max_capacity": 50}, "min_capacity"),  # below the stored min
        ({"status": "broken"}, "status"),
        ({"max_capacity": "Infinity"}, "max_capacity"),
        ({"name": ""}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_patch_that_breaks_a_rule_is_422_and_changes_nothing(app, client, changes, field):
    (plant_id,) = add_plants(app, {"name": "Genset", "max_capacity": 500, "min_capacity": 100})
    before = fleet_snapshot(app)
    response = client.patch(f"/api/plants/{plant_id}", json=changes)
    assert response.status_code == 422
    assert field in response.json["fields"]
    assert fleet_snapshot(app) == before


def test_patch_bumps_the_version_and_refuses_a_stale_one(app, client):
    (plant_id,) = add_plants(app, {"name": "Genset", "max_capacity": 500})
    url = f"/api/plants/{plant_id}"
    first = client.patch(url, json={"status": "running", "version": 1})
    assert first.status_code == 200 and first.json["version"] == 2
    before = fleet_snapshot(app)
    stale = client.patch(url, json={"status": "down", "version": 1})
    assert stale.status_code == 409
    assert "version" in stale.json["fields"]
    assert fleet_snapshot(app) == before
    assert client.patch(url, json={"status": "down", "version": 2}).json["version"] == 3


def test_version_sent_on_create_is_ignored(client):
    response = client.post("/api/plants/", json={**SOLAR, "version": 99})
    assert response.status_code == 201 and response.json["version"] == 1


def test_patch_to_a_taken_name_is_409(app, client):
    first, _ = add_plants(app, {"name": "A", "max_capacity": 1}, {"name": "B", "max_capacity": 1})
    before = fleet_snapshot(app)
    response = client.patch(f"/api/plants/{first}", json={"name": "B"})
    assert response.status_code == 409
    assert fleet_snapshot(app) == before


def test_patch_unknown_id_is_404(client):
    assert client.patch("/api/plants/99", json={"status": "down"}).status_code == 404


def test_delete_answers_204_then_404(app, client):
    (plant_id,) = add_plants(app, {"name": "A", "max_capacity": 1})
    response = client.delete(f"/api/plants/{plant_id}")
    assert response.status_code == 204
    assert response.data == b""
    assert client.get(f"/api/plants/{plant_id}").status_code == 404
    assert client.delete(f"/api/plants/{plant_id}").status_code == 404
    assert fleet_snapshot(app) == []


def test_list_returns_every_plant_by_id(app, client):
    add_plants(app, {"name": "B", "max_capacity": 2}, {"name": "A", "max_capacity": 1})
    assert [p["name"] for p in client.get("/api/plants/").json] == ["B", "A"]


def test_data_survives_a_restart(client, second_app):
    """A new app on the same database (a restarted server) sees every plant."""
    client.post("/api/plants/", json=SOLAR)
    response = client_as(second_app, "admin").get("/api/plants/")
    assert [p["name"] for p in response.json] == ["Roof solar"]
