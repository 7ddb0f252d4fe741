"""A dispatch in summary (totals, by kind, by reason, the supply curve) at any fleet
size, and a record's rows a page at a time: the same vocabulary for previews and
records."""

from tests.helpers import bearer

FLEET = [
    {
        "name": "Battery A",
        "kind": "battery",
        "max_capacity": 100,
        "status": "running",
        "marginal_cost": 10,
    },
    {
        "name": "Battery B",
        "kind": "battery",
        "max_capacity": 100,
        "status": "idle",
        "marginal_cost": 10,
    },
    {"name": "Sun", "kind": "solar", "max_capacity": 300, "status": "running", "marginal_cost": 0},
    {
        "name": "Genset",
        "kind": "diesel",
        "max_capacity": 500,
        "min_capacity": 400,
        "status": "idle",
        "marginal_cost": 180,
    },
    {"name": "Broken", "kind": "gas", "max_capacity": 900, "status": "down", "marginal_cost": 50},
]


def register(app, client):
    answer = client.post("/api/plants/", json=FLEET, headers=bearer(app, "operator"))
    assert answer.status_code == 201
    return {p["name"]: p["id"] for p in answer.get_json()}


def test_a_preview_in_summary_has_no_per_plant_rows(app, client):
    register(app, client)
    body = client.post(
        "/api/dispatch/", json={"demand": 450, "detail": "summary"}, headers=bearer(app, "viewer")
    ).get_json()
    assert "allocations" not in body and "reasons" not in body
    assert body["total_dispatched"] == 450 and body["startups"] == 1
    assert body["by_kind"]["solar"] == {
        "plants": 1,
        "available": 300.0,
        "dispatched": 300.0,
        "startups": 0,
    }
    assert body["by_kind"]["battery"]["dispatched"] == 150
    assert body["by_kind"]["battery"]["startups"] == 1
    assert body["by_kind"]["gas"] == {
        "plants": 1,
        "available": 0.0,
        "dispatched": 0.0,
        "startups": 0,
    }
    assert body["by_reason"]["down"] == {"plants": 1, "dispatched": 0.0}
    assert (
        body["by_reason"]["at_max"]["dispatched"] + body["by_reason"]["marginal"]["dispatched"]
        == 450
    )
    assert body["supply_curve"] == [
        {"marginal_cost": 0.0, "capacity": 300.0},
        {"marginal_cost": 10.0, "capacity": 500.0},
        {"marginal_cost": 180.0, "capacity": 1000.0},
    ]


def test_full_and_summary_agree(app, client):
    register(app, client)
    viewer = bearer(app, "viewer")
    full = client.post("/api/dispatch/", json={"demand": 450}, headers=viewer).get_json()
    short = client.post(
        "/api/dispatch/", json={"demand": 450, "detail": "summary"}, headers=viewer
    ).get_json()
    assert len(full["allocations"]) == 4
    for key in ("by_kind", "by_reason", "supply_curve", "total_dispatched", "total_cost"):
        assert full[key] == short[key]


def test_a_record_is_summarised_as_its_preview_was(app, client):
    register(app, client)
    operator = bearer(app, "operator")
    preview = client.post(
        "/api/dispatch/", json={"demand": 450, "detail": "summary"}, headers=operator
    ).get_json()
    record = client.post(
        "/api/dispatches/", json={"demand": 450, "detail": "summary"}, headers=operator
    )
    assert record.status_code == 201
    body = record.get_json()
    assert "plants" not in body and "allocations" not in body
    for key in ("by_kind", "by_reason", "supply_curve"):
        assert body[key] == preview[key], key
    again = client.get(f"/api/dispatches/{body['id']}?detail=summary", headers=operator)
    assert again.get_json() == body


def test_a_records_rows_page_filter_and_sort(app, client):
    ids = register(app, client)
    operator = bearer(app, "operator")
    record = client.post("/api/dispatches/", json={"demand": 450}, headers=operator).get_json()
    url = f"/api/dispatches/{record['id']}/plants/"

    merit = client.get(url + "?per_page=2", headers=operator).get_json()
    assert (merit["total"], merit["pages"]) == (5, 3)
    assert [r["name"] for r in merit["items"]] == ["Sun", "Battery A"]
    assert merit["items"][0] == {
        "plant_id": ids["Sun"],
        "name": "Sun",
        "kind": "solar",
        "status": "running",
        "min_capacity": 0.0,
        "max_capacity": 300.0,
        "marginal_cost": 0.0,
        "output": 300.0,
        "reason": "at_max",
        "startup": False,
    }
    last = client.get(url + "?page=3&per_page=2", headers=operator).get_json()
    assert [r["name"] for r in last["items"]] == ["Broken"]  # down plants last

    started = client.get(url + "?startups=true", headers=operator).get_json()
    assert [r["name"] for r in started["items"]] == ["Battery B"]
    assert started["items"][0]["startup"] is True
    down = client.get(url + "?reason=down", headers=operator).get_json()
    assert [r["name"] for r in down["items"]] == ["Broken"]
    batteries = client.get(url + "?kind=battery&sort=name", headers=operator).get_json()
    assert [r["name"] for r in batteries["items"]] == ["Battery A", "Battery B"]
    found = client.get(url + "?q=GEN", headers=operator).get_json()
    assert [r["name"] for r in found["items"]] == ["Genset"]
    largest = client.get(url + "?sort=output&per_page=1", headers=operator).get_json()
    assert largest["items"][0]["name"] == "Sun"


def test_rows_of_an_unknown_dispatch_are_404_and_bad_filters_422(app, client):
    operator = bearer(app, "operator")
    assert client.get("/api/dispatches/9/plants/", headers=operator).status_code == 404
    register(app, client)
    record = client.post("/api/dispatches/", json={"demand": 10}, headers=operator).get_json()
    url = f"/api/dispatches/{record['id']}/plants/"
    for query in ("reason=lazy", "kind=coal", "per_page=0", "sort=colour", "colour=red"):
        assert client.get(f"{url}?{query}", headers=operator).status_code == 422, query
    assert (
        client.post(
            "/api/dispatch/", json={"demand": 10, "detail": "some"}, headers=operator
        ).status_code
        == 422
    )
