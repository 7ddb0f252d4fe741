"""The fleet at scale over the API: many plants in one request, all or none; the
list paged, filtered, searched and sorted, or whole and fast."""

import pytest

from tests.helpers import PLANT_DEFAULTS, add_plants, bearer, fleet_snapshot


def plant(n: int, **fields) -> dict:
    return {
        "name": f"Unit {n:05d}",
        "kind": ("battery", "solar", "wind")[n % 3],
        "max_capacity": 5 + n % 7,
        "status": ("idle", "running", "down")[n % 3],
        "marginal_cost": n % 11,
        **fields,
    }


def test_an_array_registers_every_plant_in_order(app, client):
    batch = [plant(n) for n in range(2500)]
    answer = client.post("/api/plants/", json=batch, headers=bearer(app, "operator"))
    assert answer.status_code == 201
    created = answer.get_json()
    assert [p["name"] for p in created] == [p["name"] for p in batch]
    assert len({p["id"] for p in created}) == 2500
    assert created[0] == {
        "id": created[0]["id"],
        "name": "Unit 00000",
        "kind": "battery",
        "max_capacity": 5.0,
        "min_capacity": 0.0,
        "status": "idle",
        "marginal_cost": 0.0,
        **PLANT_DEFAULTS,
        "version": 1,
    }
    assert len(fleet_snapshot(app)) == 2500
    audit = client.get("/api/audit/?per_page=1", headers=bearer(app, "admin")).get_json()
    assert audit["total"] == 2500 + 6  # one event per plant, beside the fixture's accounts
    # The fleet version moved: a dispatch sees the new plants.
    preview = client.post("/api/dispatch/", json={"demand": 10}, headers=bearer(app, "viewer"))
    assert len(preview.get_json()["allocations"]) > 0


def test_a_bad_array_names_each_bad_element_and_stores_nothing(app, client):
    add_plants(app, {"name": "Taken", "max_capacity": 1})
    before = fleet_snapshot(app)
    batch = [plant(n) for n in range(100)]
    batch[3]["max_capacity"] = -1
    batch[7]["status"] = "asleep"
    batch[7]["min_capacity"] = "abc"
    batch[42]["name"] = "Taken"
    batch[60]["name"] = batch[59]["name"]
    batch[80]["colour"] = "red"
    answer = client.post("/api/plants/", json=batch, headers=bearer(app, "operator"))
    assert answer.status_code == 422
    body = answer.get_json()
    assert set(body["fields"]) == {
        "3.max_capacity",
        "7.status",
        "7.min_capacity",
        "42.name",
        "60.name",
        "80.colour",
    }
    assert body["error"].startswith("5 bad plant(s), nothing registered")
    assert fleet_snapshot(app) == before


def test_an_array_of_non_plants_is_refused_by_index(app, client):
    answer = client.post("/api/plants/", json=[plant(1), 7, "x"], headers=bearer(app, "operator"))
    assert answer.status_code == 422
    assert set(answer.get_json()["fields"]) == {"1", "2"}
    assert fleet_snapshot(app) == []


def test_an_empty_array_registers_nothing(app, client):
    answer = client.post("/api/plants/", json=[], headers=bearer(app, "operator"))
    assert answer.status_code == 201 and answer.get_json() == []


def test_a_batch_has_its_own_size_limit(app, client):
    app.config["MAX_BATCH_CONTENT_LENGTH"] = 200_000
    small = [plant(n) for n in range(100)]
    headers = bearer(app, "operator")
    assert client.post("/api/plants/", json=small, headers=headers).status_code == 201
    large = [plant(n) for n in range(1000, 4000)]
    assert client.post("/api/plants/", json=large, headers=headers).status_code == 413
    assert len(fleet_snapshot(app)) == 100


def test_a_viewer_cannot_register_a_batch(app, client):
    answer = client.post("/api/plants/", json=[plant(1)], headers=bearer(app, "viewer"))
    assert answer.status_code == 403
    assert fleet_snapshot(app) == []


@pytest.fixture
def fleet_of_300(app, client):
    batch = [plant(n) for n in range(300)]
    batch[150]["name"] = "Harbour Battery 150"
    assert (
        client.post("/api/plants/", json=batch, headers=bearer(app, "operator")).status_code == 201
    )


def test_without_paging_the_list_is_every_plant_by_id(app, client, fleet_of_300):
    every = client.get("/api/plants/", headers=bearer(app, "viewer")).get_json()
    assert isinstance(every, list) and len(every) == 300
    assert [p["id"] for p in every] == sorted(p["id"] for p in every)


def test_paging_filters_search_and_sort(app, client, fleet_of_300):
    viewer = bearer(app, "viewer")
    page = client.get("/api/plants/?page=2&per_page=25", headers=viewer).get_json()
    assert (page["page"], page["per_page"], page["total"], page["pages"]) == (2, 25, 300, 12)
    assert [p["name"] for p in page["items"]][:2] == ["Unit 00025", "Unit 00026"]

    running = client.get("/api/plants/?status=RUNNING&per_page=1000", headers=viewer).get_json()
    assert running["total"] == 100 and {p["status"] for p in running["items"]} == {"running"}
    wind_down = client.get("/api/plants/?kind=wind&status=down", headers=viewer).get_json()
    assert len(wind_down) == 100 and {p["kind"] for p in wind_down} == {"wind"}

    found = client.get("/api/plants/?q=harbour&per_page=10", headers=viewer).get_json()
    assert [p["name"] for p in found["items"]] == ["Harbour Battery 150"]
    literal = client.get("/api/plants/?q=%25&per_page=10", headers=viewer).get_json()
    assert literal["total"] == 0  # a % is a character, not a wildcard

    dearest = client.get("/api/plants/?sort=-marginal_cost&per_page=3", headers=viewer).get_json()
    assert [p["marginal_cost"] for p in dearest["items"]] == [10.0, 10.0, 10.0]
    ids = [p["id"] for p in dearest["items"]]
    assert ids == sorted(ids, reverse=True)  # ties by id, descending with the sort


@pytest.mark.parametrize(
    "query",
    ["page=0", "per_page=1001", "status=asleep", "kind=coal", "sort=colour", "colour=red", "q="],
)
def test_bad_listing_parameters_are_422(app, client, query):
    answer = client.get(f"/api/plants/?{query}", headers=bearer(app, "viewer"))
    assert answer.status_code == 422
    assert "error" in answer.get_json()


def test_the_whole_list_and_the_aggregate_follow_every_change(app, client, second_app):
    """Both are kept per process until the fleet version moves: a change made through
    another process (another worker, the CLI) shows at once."""
    from tests.helpers import client_as

    viewer = bearer(app, "viewer")
    operator = bearer(app, "operator")
    assert client.get("/api/plants/", headers=viewer).get_json() == []
    created = client.post("/api/plants/", json=plant(1), headers=operator).get_json()
    assert [p["name"] for p in client.get("/api/plants/", headers=viewer).get_json()] == [
        "Unit 00001"
    ]
    other = client_as(second_app, "admin")  # another worker on the same database
    other.patch(f"/api/plants/{created['id']}", json={"max_capacity": 77, "status": "running"})
    listed = client.get("/api/plants/", headers=viewer).get_json()
    assert listed[0]["max_capacity"] == 77 and listed[0]["version"] == 2
    assert client.get("/api/aggregate/", headers=viewer).get_json()["total_available"] == 77
    other.delete(f"/api/plants/{created['id']}")
    assert client.get("/api/plants/", headers=viewer).get_json() == []
    assert client.get("/api/aggregate/", headers=viewer).get_json()["total_available"] == 0
