"""``/api/aggregate/``, ``/api/dispatch/`` and the OpenAPI document."""

import re

import pytest

from tests.helpers import add_plants, fleet_snapshot

FLEET = (
    {"name": "Battery", "kind": "battery", "max_capacity": 100, "status": "running"},
    {
        "name": "Genset",
        "kind": "diesel",
        "max_capacity": 300,
        "min_capacity": 50,
        "marginal_cost": 90,
    },
    {"name": "Broken", "kind": "gas", "max_capacity": 1000, "status": "down"},
)


def test_aggregate_of_an_empty_fleet(client):
    body = client.get("/api/aggregate/").json
    assert body["total_available"] == 0
    assert body["plant_count"] == 0
    assert body["by_status"]["idle"] == {"count": 0, "max_capacity": 0}


def test_aggregate_excludes_down_plants(app, client):
    add_plants(app, *FLEET)
    body = client.get("/api/aggregate/").json
    assert body["total_available"] == 400
    assert body["total_min_available"] == 50
    assert body["plant_count"] == 3
    assert body["by_status"] == {
        "idle": {"count": 1, "max_capacity": 300},
        "running": {"count": 1, "max_capacity": 100},
        "down": {"count": 1, "max_capacity": 1000},
    }
    assert body["by_kind"]["gas"] == {"count": 1, "max_capacity": 1000}
    assert body["by_kind"]["wind"] == {"count": 0, "max_capacity": 0}


def test_dispatch_keeps_the_prototype_contract(app, client):
    battery, genset, broken = add_plants(app, *FLEET)
    response = client.post("/api/dispatch/", json={"demand": 200})
    assert response.status_code == 200
    body = response.json
    assert set(body["allocations"]) == {str(battery), str(genset)}
    assert body["allocations"][str(battery)] == 100
    assert body["allocations"][str(genset)] == 100
    assert body["total_dispatched"] == 200
    assert body["unmet_demand"] == 0
    assert body["total_cost"] == pytest.approx(100 * 90 / 1000)
    assert body["demand"] == 200


def test_dispatch_never_asks_a_unit_for_less_than_its_minimum(app, client):
    add_plants(app, {"name": "Genset", "max_capacity": 300, "min_capacity": 50})
    body = client.post("/api/dispatch/", json={"demand": 30}).json
    assert body["allocations"] == {"1": 0}
    assert body["total_dispatched"] == 0
    assert body["unmet_demand"] == 30


def test_dispatch_is_not_rounded(app, client):
    add_plants(app, {"name": "A", "max_capacity": 1 / 3 * 1000})
    body = client.post("/api/dispatch/", json={"demand": 1000 / 3}).json
    assert body["allocations"]["1"] == 1000 / 3


@pytest.mark.parametrize(
    "body",
    [
        '{"demand": 0}',
        '{"demand": -5}',
        '{"demand": NaN}',
        '{"demand": Infinity}',
        '{"demand": 1e309}',
        '{"demand": "much"}',
        '{"demand": true}',
        "{}",
        '{"demand": 5, "extra": 1}',
    ],
)
def test_bad_demand_is_422(app, client, body):
    add_plants(app, *FLEET)
    before = fleet_snapshot(app)
    response = client.post("/api/dispatch/", data=body, content_type="application/json")
    assert response.status_code == 422
    assert "error" in response.json and response.json["fields"]
    assert fleet_snapshot(app) == before


def test_openapi_document_describes_every_route_from_the_schemas(client):
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    assert set(paths["/api/plants/"]) >= {"get", "post"}
    assert set(paths["/api/plants/{plant_id}"]) >= {"get", "patch", "delete"}
    assert "get" in paths["/api/aggregate/"]
    assert "post" in paths["/api/dispatch/"]
    plant = spec["components"]["schemas"]["Plant"]
    assert plant["properties"]["status"]["enum"] == ["idle", "running", "down"]
    assert plant["properties"]["id"]["readOnly"] is True
    assert set(plant["required"]) == {"name", "max_capacity"}
    assert "201" in paths["/api/plants/"]["post"]["responses"]
    assert "409" in paths["/api/plants/"]["post"]["responses"]


def test_api_docs_page_lists_the_operations(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for needle in ("/api/plants/", "/api/plants/{plant_id}", "/api/dispatch/", "max_capacity"):
        assert needle in text


def test_every_operation_documents_authentication_and_its_error_answers(anonymous_client):
    spec = anonymous_client.get("/api/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            answers = operation["responses"]
            assert "default" not in answers, (method, path)
            assert {"401", "403", "503"} <= set(answers), (method, path)
            if method in ("post", "patch"):
                assert "400" in answers, (method, path)
            assert "``" not in operation["summary"] + operation.get("description", "")
            for code, answer in answers.items():
                if "$ref" in answer:
                    answer = spec["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
                assert answer["description"].strip(), (method, path, code)
                assert answer["description"] != "Unprocessable Entity", (method, path, code)


def test_api_docs_page_explains_tokens_errors_and_has_contents(client):
    text = client.get("/api/docs").get_data(as_text=True)
    assert "Authorization: Bearer" in text
    assert 'aria-label="On this page"' in text
    for heading in ("auth-heading", "errors-heading", "ops-heading", "schemas-heading"):
        assert f'href="#{heading}"' in text and f'id="{heading}"' in text
    for code in ("401", "403", "503"):
        assert f"<td>{code}</td>" in text
    assert "``" not in text
    assert "default" not in re.findall(r"<td>([^<]*)</td>", text)
    assert '<a href="#post-api-plants">' in text and 'id="post-api-plants"' in text
