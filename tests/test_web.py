"""The pages through Flask's test client: forms post, re-render with inline errors
and change nothing when rejected (the browser tests cover the JavaScript)."""

import json
import re

import pytest

from tests.helpers import add_plants, csrf_token, fleet_snapshot


def post_form(client, url, data, token_from="/"):
    return client.post(url, data={"csrf_token": csrf_token(client, token_from), **data})


def test_dashboard_shows_capacity_counts_and_fleet(app, client):
    add_plants(
        app,
        {"name": "Sunny", "kind": "solar", "max_capacity": 1500, "status": "running"},
        {"name": "Broken", "max_capacity": 99999, "status": "down"},
    )
    page = client.get("/").get_data(as_text=True)
    assert "1.5 MW" in page  # total available (1,500 kW), down plant excluded
    assert "Sunny" in page and "Broken" in page
    assert 'id="capacity-chart"' in page
    assert "Running" in page and "Down" in page  # status as a word, not only a colour


def test_dashboard_embeds_chart_data_as_json(app, client):
    add_plants(app, {"name": "</script><b>x", "max_capacity": 10, "kind": "wind"})
    page = client.get("/").get_data(as_text=True)
    data = page.split('<script type="application/json" id="chart-data">')[1].split("</script>")[0]
    chart = json.loads(data)
    assert chart["capacity"]["wind"]["idle"] == 10
    assert chart["dispatch"]["by_kind"]["wind"]["available"] == 10
    # Names are in the table only, escaped; never in a script.
    assert "</script><b>x" not in page and "&lt;/script&gt;&lt;b&gt;x" in page


def test_demand_control_preselects_80_percent_and_reaches_150_percent(app, client):
    add_plants(app, {"name": "A", "max_capacity": 1000})
    page = client.get("/").get_data(as_text=True)
    assert re.search(r'id="demand"[^>]*value="800"', page)
    assert 'max="1500.0"' in page


def test_add_plant_form_stores_the_plant_and_redirects(app, client):
    response = post_form(
        client,
        "/plants",
        {
            "name": "Barn battery",
            "kind": "battery",
            "max_capacity": "120",
            "min_capacity": "",
            "status": "running",
            "marginal_cost": "12.5",
        },
    )
    assert response.status_code == 302
    (row,) = fleet_snapshot(app)
    assert row[1:7] == ("Barn battery", "battery", 120.0, 0.0, "running", 12.5)
    assert "Added plant" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"name": "X", "max_capacity": "10", "min_capacity": "20"},
            "min_capacity",
            "Must not exceed",
        ),
        ({"name": "X", "max_capacity": "nan"}, "max_capacity", "finite"),
        ({"name": "X", "max_capacity": "-5"}, "max_capacity", "more than 0"),
        ({"name": "X", "max_capacity": ""}, "max_capacity", "Missing"),
        ({"name": "", "max_capacity": "5"}, "name", "Missing"),
        ({"name": "X", "max_capacity": "5", "status": "exploded"}, "status", "Must be one of"),
        ({"name": "Taken", "max_capacity": "5"}, "name", "already exists"),
    ],
)
def test_bad_plant_form_shows_inline_error_and_stores_nothing(app, client, data, field, message):
    add_plants(app, {"name": "Taken", "max_capacity": 1})
    before = fleet_snapshot(app)
    response = post_form(client, "/plants", data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    error = re.search(rf'<small id="{field}-error" class="field-error"[^>]*>([^<]*)</small>', page)
    assert error and message in error.group(1)
    assert fleet_snapshot(app) == before


def test_form_without_csrf_token_is_rejected(app, client):
    response = client.post("/plants", data={"name": "X", "max_capacity": "5"})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert fleet_snapshot(app) == []


def test_edit_form_changes_status(app, client):
    (plant_id,) = add_plants(app, {"name": "Genset", "max_capacity": 500, "min_capacity": 100})
    url = f"/plants/{plant_id}/edit"
    page = client.get(url).get_data(as_text=True)
    assert 'value="Genset"' in page
    response = post_form(
        client,
        url,
        {
            "name": "Genset",
            "kind": "diesel",
            "max_capacity": "500",
            "min_capacity": "100",
            "status": "running",
            "marginal_cost": "90",
        },
        token_from=url,
    )
    assert response.status_code == 302
    (row,) = fleet_snapshot(app)
    assert (row[2], row[5], row[6]) == ("diesel", "running", 90.0)


def test_stale_edit_is_refused_above_the_form(app, client):
    (plant_id,) = add_plants(app, {"name": "Genset", "max_capacity": 500})
    url = f"/plants/{plant_id}/edit"
    assert 'name="version" type="hidden" value="1"' in client.get(url).get_data(as_text=True)
    client.patch(f"/api/plants/{plant_id}", json={"status": "running"})  # someone else
    before = fleet_snapshot(app)
    response = post_form(
        client,
        url,
        {
            "name": "Genset",
            "kind": "other",
            "max_capacity": "600",
            "min_capacity": "0",
            "status": "idle",
            "marginal_cost": "0",
            "version": "1",
        },
        token_from=url,
    )
    assert response.status_code == 422
    assert "has changed since version 1" in response.get_data(as_text=True)
    assert fleet_snapshot(app) == before


def test_bad_edit_shows_error_and_changes_nothing(app, client):
    (plant_id,) = add_plants(app, {"name": "Genset", "max_capacity": 500, "min_capacity": 100})
    before = fleet_snapshot(app)
    url = f"/plants/{plant_id}/edit"
    response = post_form(
        client,
        url,
        {
            "name": "Genset",
            "kind": "other",
            "max_capacity": "50",
            "min_capacity": "100",
            "status": "idle",
            "marginal_cost": "0",
        },
        token_from=url,
    )
    assert response.status_code == 422
    assert "Must not exceed max_capacity" in response.get_data(as_text=True)
    assert fleet_snapshot(app) == before


def test_delete_form_retires_the_plant(app, client):
    (plant_id,) = add_plants(app, {"name": "Old", "max_capacity": 5})
    url = f"/plants/{plant_id}/edit"
    response = post_form(client, f"/plants/{plant_id}/delete", {}, token_from=url)
    assert response.status_code == 302
    assert fleet_snapshot(app) == []


def test_edit_page_of_unknown_plant_is_404_html(client):
    response = client.get("/plants/42/edit")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_dispatch_form_records_the_dispatch_and_shows_it(app, client):
    add_plants(
        app,
        {"name": "Cheap", "max_capacity": 100, "marginal_cost": 1},
        {"name": "Dear", "max_capacity": 100, "marginal_cost": 50},
        {"name": "Broken", "max_capacity": 100, "status": "down"},
    )
    response = post_form(client, "/dispatch", {"demand": "150"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/?dispatch=1#dispatch")
    page = client.get("/?dispatch=1").get_data(as_text=True)
    detail = client.get("/dispatches/1").get_data(as_text=True)
    table = detail[detail.index('id="allocation-table"') :]
    rows = re.findall(
        r"<tr[^>]*><td>([^<]*)</td><td>[^<]*</td><td[^>]*>[^<]*</td><td[^>]*>([^<]*)</td>"
        r"<td>([^<]*)(?: <strong[^>]*>start-up</strong>)?</td>",
        table,
    )
    # Merit order, down plants last, each with the reason in words.
    assert rows == [
        ("Cheap", "100 kW", "at maximum: cheaper than the marginal unit"),
        ("Dear", "50 kW", "marginal: sets the price"),
        ("Broken", "0 kW", "down"),
    ]
    assert "€2.60 / h" in page  # (100 x 1 + 50 x 50) / 1000, in the default currency
    assert "Dispatch 1 recorded" in page
    assert 'value="150"' in page


def test_history_lists_dispatches_newest_first_and_shows_each(app, client):
    (plant_id,) = add_plants(app, {"name": "Hydro", "max_capacity": 300, "min_capacity": 100})
    post_form(client, "/dispatch", {"demand": "120"})
    post_form(client, "/dispatch", {"demand": "250"})
    history = client.get("/dispatches").get_data(as_text=True)
    assert history.index("#2") < history.index("#1")
    assert "250 kW" in history and "120 kW" in history
    # The record keeps the plant as it was, after the plant is renamed and deleted.
    client.patch(f"/api/plants/{plant_id}", json={"name": "Renamed"})
    client.delete(f"/api/plants/{plant_id}")
    detail = client.get("/dispatches/1").get_data(as_text=True)
    assert "Hydro" in detail and "Renamed" not in detail
    assert "120 kW" in detail


def test_history_page_number_past_any_history_is_harmless(client):
    assert client.get("/dispatches?page=2305842966264020802").status_code == 200
    assert client.get("/admin/audit?page=99999999999999999999").status_code == 200


def test_history_of_nothing_says_so(client):
    assert "No dispatch recorded yet" in client.get("/dispatches").get_data(as_text=True)


@pytest.mark.parametrize("url", ["/dispatches/9", "/?dispatch=9"])
def test_unknown_dispatch_is_404(client, url):
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("demand", ["", "0", "-3", "abc", "inf"])
def test_bad_dispatch_demand_shows_inline_error(app, client, demand):
    add_plants(app, {"name": "A", "max_capacity": 100})
    response = post_form(client, "/dispatch", {"demand": demand})
    assert response.status_code == 422
    assert re.search(
        r'<small id="demand-error" class="field-error"', response.get_data(as_text=True)
    )


def test_chartjs_cdn_is_pinned_with_integrity_and_a_vendored_fallback(client):
    page = client.get("/").get_data(as_text=True)
    assert 'data-cdn="https://cdn.jsdelivr.net/npm/chart.js@4.6.1/dist/chart.umd.min.js"' in page
    assert 'data-integrity="sha384-' in page
    assert 'data-vendored="/static/vendor/chart.umd.min.js?v=' in page
    vendored = client.get("/static/vendor/chart.umd.min.js")
    assert vendored.status_code == 200
    assert b"Chart.js v4.6.1" in vendored.data[:100]
    vendored.close()


def test_vendored_setting_never_references_the_cdn(app, client):
    app.config["CHARTJS_SOURCE"] = "vendored"
    page = client.get("/").get_data(as_text=True)
    assert "cdn.jsdelivr.net" not in page
    assert 'data-vendored="/static/vendor/chart.umd.min.js?v=' in page


def test_the_audit_page_shows_changes_field_by_field_and_filters(app, client):
    (plant_id,) = add_plants(app, {"name": "Genset", "max_capacity": 500})
    client.patch(f"/api/plants/{plant_id}", json={"status": "running", "max_capacity": 600})
    page = client.get("/admin/audit?action=plant.update").get_data(as_text=True)
    assert re.search(
        r'<span class="field">max_capacity</span>: <del>500.0</del> → <ins>600.0</ins>', page
    )
    assert re.search(
        r'<span class="field">status</span>: <del>idle</del> → <ins>running</ins>', page
    )
    assert "user.create" not in page.split('id="audit-table"')[1]  # filtered by action
    by_actor = client.get("/admin/audit?actor=user:adm").get_data(as_text=True)
    assert "plant.update" in by_actor
    nobody = client.get("/admin/audit?actor=nobody").get_data(as_text=True)
    assert "Nothing matches" in nobody


def test_a_locked_out_login_shows_the_form_and_when_to_try_again(app, anonymous_client):
    for _ in range(5):
        post_form(anonymous_client, "/login", {"username": "viewer", "password": "x"}, "/login")
    locked = post_form(
        anonymous_client, "/login", {"username": "viewer", "password": "x"}, "/login"
    )
    assert locked.status_code == 429
    page = locked.get_data(as_text=True)
    assert 'name="username"' in page and 'name="password"' in page
    assert "try again in 15 minutes" in page


def test_a_viewer_sees_a_plant_read_only(app):
    from tests.helpers import client_as

    (plant_id,) = add_plants(app, {"name": "Genset", "max_capacity": 500})
    page = client_as(app, "viewer").get(f"/plants/{plant_id}/edit").get_data(as_text=True)
    assert "Genset" in page and "500 kW" in page
    assert "Save changes" not in page and "Delete plant" not in page
    operator_page = client_as(app, "operator").get(f"/plants/{plant_id}/edit")
    assert "Save changes" in operator_page.get_data(as_text=True)


def test_a_new_password_is_asked_for_before_it_is_given(client):
    page = client.get("/admin/users").get_data(as_text=True)
    assert re.search(
        r'action="/admin/users/viewer/password"[^>]*data-confirm="Give viewer a new', page
    )


def test_above_capacity_every_unit_at_maximum_says_the_fleet_is_short(app, client):
    add_plants(
        app,
        {"name": "Cheap", "max_capacity": 100, "marginal_cost": 1},
        {"name": "Dear", "max_capacity": 50, "marginal_cost": 50},
    )
    preview = client.post("/api/dispatch/", json={"demand": 400}).get_json()
    assert preview["reasons"] == {"at_max_short": [1, 2]}
    record = client.post("/api/dispatches/", json={"demand": 400}).get_json()
    page = client.get(f"/dispatches/{record['id']}").get_data(as_text=True)
    # In the by-reason table and on both plants' rows.
    assert page.count("<td>at maximum: the fleet cannot meet the demand") == 3
    assert "<td>at maximum: cheaper than the marginal unit" not in page
