"""Bad requests to the API: always a 4xx JSON body with an ``error`` sentence, never
a 500 or an HTML page, and the database is left as it was."""

import pytest

from tests.helpers import add_plants, fleet_snapshot

VALID = {"name": "Genset", "max_capacity": 100}


def post_raw(client, url, body: str, content_type="application/json"):
    return client.post(url, data=body, content_type=content_type)


BAD_PLANT_BODIES = [
    # (JSON text, offending field)
    ('{"name": "X", "max_capacity": NaN}', "max_capacity"),
    ('{"name": "X", "max_capacity": Infinity}', "max_capacity"),
    ('{"name": "X", "max_capacity": -Infinity}', "max_capacity"),
    ('{"name": "X", "max_capacity": 1e309}', "max_capacity"),
    ('{"name": "X", "max_capacity": "nan"}', "max_capacity"),
    ('{"name": "X", "max_capacity": 0}', "max_capacity"),
    ('{"name": "X", "max_capacity": -10}', "max_capacity"),
    ('{"name": "X", "max_capacity": true}', "max_capacity"),
    ('{"name": "X", "max_capacity": "lots"}', "max_capacity"),
    ('{"name": "X", "max_capacity": [1]}', "max_capacity"),
    ('{"name": "X"}', "max_capacity"),
    ('{"name": "X", "max_capacity": 10, "min_capacity": 20}', "min_capacity"),
    ('{"name": "X", "max_capacity": 10, "min_capacity": -1}', "min_capacity"),
    ('{"name": "X", "max_capacity": 10, "min_capacity": NaN}', "min_capacity"),
    ('{"name": "X", "max_capacity": 10, "status": "broken"}', "status"),
    ('{"name": "X", "max_capacity": 10, "status": 3}', "status"),
    ('{"name": "X", "max_capacity": 10, "kind": "nuclear"}', "kind"),
    ('{"name": "X", "max_capacity": 10, "marginal_cost": Infinity}', "marginal_cost"),
    ('{"name": "", "max_capacity": 10}', "name"),
    ('{"name": "   ", "max_capacity": 10}', "name"),
    ('{"name": "' + "x" * 101 + '", "max_capacity": 10}', "name"),
    ('{"name": 5, "max_capacity": 10}', "name"),
    ('{"max_capacity": 10}', "name"),
    ('{"name": "X", "max_capacity": 10, "colour": "red"}', "colour"),
    ('{"name": "X", "max_capacity": 1e10}', "max_capacity"),
    ('{"name": "X", "max_capacity": 10, "marginal_cost": -1e7}', "marginal_cost"),
    ('{"name": "nul\\u0000byte", "max_capacity": 10}', "name"),
    ('{"name": "lone \\ud800 surrogate", "max_capacity": 10}', "name"),
    ('{"name": "tab\\there", "max_capacity": 10}', "name"),
    ('{"name": "X", "max_capacity": 10, "\\ud800": 1}', "\ud800"),
]


@pytest.mark.parametrize(("body", "field"), BAD_PLANT_BODIES)
def test_bad_plant_is_422_with_the_field_and_stores_nothing(app, client, body, field):
    add_plants(app, {"name": "Existing", "max_capacity": 5})
    before = fleet_snapshot(app)
    response = post_raw(client, "/api/plants/", body)
    assert response.status_code == 422, response.json
    assert response.is_json
    assert field in response.json["fields"]
    assert response.json["error"].startswith("Invalid")
    assert fleet_snapshot(app) == before


MALFORMED = [
    # (content type, body, words in the error)
    ("application/json", "{not json", "not valid JSON"),
    ("application/json", "", "not valid JSON"),
    ("application/json", "[" * 50_000 + "]" * 50_000, "not valid JSON"),
    ("application/json", b"\xff\xfe{}", "not valid JSON"),
    ("application/json", "[1, 2]", "JSON object"),
    ("application/json", '"text"', "JSON object"),
    ("application/json", "null", "JSON object"),
    ("text/plain", '{"name": "X", "max_capacity": 1}', "Content-Type"),
    ("application/x-www-form-urlencoded", "name=X&max_capacity=1", "Content-Type"),
    (None, '{"name": "X", "max_capacity": 1}', "Content-Type"),
]


@pytest.mark.parametrize(("content_type", "body", "words"), MALFORMED)
@pytest.mark.parametrize(
    ("method", "url"),
    [("post", "/api/plants/"), ("patch", "/api/plants/1"), ("post", "/api/dispatch/")],
)
def test_malformed_body_is_400_json(app, client, method, url, content_type, body, words):
    if (method, url, body) == ("post", "/api/plants/", "[1, 2]"):
        pytest.skip("an array is a batch here: see test_api_batch.py")
    add_plants(app, {"name": "Existing", "max_capacity": 5})
    before = fleet_snapshot(app)
    kwargs = {"data": body}
    if content_type:
        kwargs["content_type"] = content_type
    response = getattr(client, method)(url, **kwargs)
    assert response.status_code == 400
    assert words in response.json["error"]
    assert fleet_snapshot(app) == before


def test_oversized_body_is_413_json(app, client):
    body = '{"name": "' + "x" * (2 * 1024 * 1024) + '", "max_capacity": 1}'
    response = post_raw(client, "/api/plants/", body)
    assert response.status_code == 413
    assert "error" in response.json
    assert fleet_snapshot(app) == []


@pytest.mark.parametrize(
    ("method", "url", "allowed"),
    [
        ("put", "/api/plants/1", {"GET", "PATCH", "DELETE"}),
        ("delete", "/api/plants/", {"GET", "POST"}),
        ("get", "/api/dispatch/", {"POST"}),
        ("post", "/api/aggregate/", {"GET"}),
    ],
)
def test_wrong_method_is_405_json_with_allow(client, method, url, allowed):
    response = getattr(client, method)(url, json={})
    assert response.status_code == 405
    assert "error" in response.json
    assert allowed <= set(response.headers["Allow"].replace(" ", "").split(","))


@pytest.mark.parametrize(
    "url",
    [
        "/api/nothing",
        "/api/plants/abc",
        "/api/plants/1/2",
        "/api/plants/0",
        "/api/plants/-1",
        "/api/plants/2147483648",  # past PostgreSQL's 32-bit integers
        "/api/plants/9223372036854775808",  # past SQLite's
        "/api/dispatches/99999999999999999999",
    ],
)
def test_unknown_api_url_is_404_json(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert response.is_json and "error" in response.json


def test_unknown_page_is_an_html_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
