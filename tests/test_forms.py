"""Forgiving forms, through the test client: what was typed comes back with a
message that names it; every problem is listed above the form and the first bad
field takes the focus; a stale edit shows the stored values beside the typed ones
and can be saved again; a failed post's address can be asked for again."""

import re

import pytest

from tests.helpers import add_plants, client_as, csrf_token, fleet_snapshot

PLANT = {
    "name": "Genset",
    "kind": "diesel",
    "max_capacity": "600",
    "min_capacity": "100",
    "status": "idle",
    "marginal_cost": "90",
}


def post_form(client, url, data, token_from="/"):
    return client.post(url, data={"csrf_token": csrf_token(client, token_from), **data})


@pytest.mark.parametrize("text", ["abc", "12kW", "1,5", "--3", "NaNa"])
@pytest.mark.parametrize("field", ["max_capacity", "min_capacity", "marginal_cost"])
def test_a_typed_non_number_is_named_kept_and_focused(app, client, field, text):
    response = post_form(client, "/plants", {**PLANT, field: text})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f"&#39;{text}&#39; is not a number." in page  # not "missing data"
    box = re.search(rf'<input[^>]*id="{field}"[^>]*>', page).group(0)
    assert f'value="{text}"' in box  # what was typed, shown again
    assert "autofocus" in box and 'aria-invalid="true"' in box
    summary = page.split('class="error-summary"')[1].split("</div>")[0]
    assert f'href="#{field}"' in summary
    assert fleet_snapshot(app) == []


def test_number_boxes_send_what_was_typed(app, client):
    """A browser's type=number box blanks "abc" before it is sent; ours are text
    boxes with a decimal keypad on phones."""
    add_plants(app, {"name": "Genset", "max_capacity": 500})
    page = client.get("/").get_data(as_text=True)
    for field in ("max_capacity", "min_capacity", "marginal_cost", "demand"):
        box = re.search(rf'<input[^>]*id="{field}"[^>]*>', page).group(0)
        assert 'type="text"' in box and 'inputmode="decimal"' in box, box


def test_every_problem_is_listed_and_the_first_takes_the_focus(app, client):
    page = post_form(
        client, "/plants", {**PLANT, "name": "", "max_capacity": "x", "marginal_cost": "y"}
    ).get_data(as_text=True)
    summary = page.split('class="error-summary"')[1].split("</div>")[0]
    assert "3 problems; nothing was saved" in summary
    assert summary.index('href="#name"') < summary.index('href="#max_capacity"')
    assert summary.index('href="#max_capacity"') < summary.index('href="#marginal_cost"')
    assert page.count("autofocus") == 1
    assert "autofocus" in re.search(r'<input[^>]*id="name"[^>]*>', page).group(0)


def test_a_blank_required_number_is_missing_not_zero(app, client):
    (plant_id,) = add_plants(app, {"name": "Genset", "max_capacity": 500, "min_capacity": 100})
    url = f"/plants/{plant_id}/edit"
    before = fleet_snapshot(app)
    for blank in ("max_capacity", "min_capacity", "marginal_cost"):
        data = {**PLANT, blank: "  ", "version": "1"}
        response = post_form(client, url, data, token_from=url)
        assert response.status_code == 422, blank
        assert fleet_snapshot(app) == before  # never silently 0


def test_the_edit_form_shows_numbers_as_typed(app, client):
    (plant_id,) = add_plants(
        app, {"name": "Tiny", "max_capacity": 1200, "min_capacity": 0.0001, "marginal_cost": -3.5}
    )
    page = client.get(f"/plants/{plant_id}/edit").get_data(as_text=True)
    assert 'value="1200"' in page and "1200.0" not in page
    assert 'value="0.0001"' in page and 'value="-3.5"' in page


def test_a_stale_edit_shows_the_stored_values_and_saves_on_the_second_try(app, client):
    (plant_id,) = add_plants(app, {"name": "Genset", "max_capacity": 500})
    url = f"/plants/{plant_id}/edit"
    client.patch(f"/api/plants/{plant_id}", json={"max_capacity": 700})  # someone else
    typed = {**PLANT, "max_capacity": "650", "version": "1"}
    response = post_form(client, url, typed, token_from=url)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    conflict = page.split('class="conflict"')[1].split("</aside>")[0]
    assert "<td>700</td><td>650 <strong>(differs)</strong></td>" in conflict
    assert 'value="650"' in page  # what was typed is kept
    assert 'name="version" type="hidden" value="2"' in page  # the version now stored
    # Saving again from this page keeps what was typed, deliberately.
    again = post_form(client, url, {**typed, "version": "2"}, token_from=url)
    assert again.status_code == 302
    assert fleet_snapshot(app)[0][3] == 650.0  # max_capacity


@pytest.mark.parametrize(
    ("path", "target"),
    [("/plants", "/#fleet"), ("/dispatch", "/#dispatch"), ("/preview", "/#dispatch")],
)
def test_the_address_of_a_failed_post_can_be_opened_again(client, path, target):
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"] == target


def test_nothing_to_dispatch_on_an_empty_or_all_down_fleet(app, client):
    page = client.get("/").get_data(as_text=True)
    assert "Nothing to dispatch" in page and 'id="demand-slider"' not in page
    response = post_form(client, "/dispatch", {"demand": "100"})
    assert response.status_code == 422
    assert "No plant is available to dispatch" in response.get_data(as_text=True)
    add_plants(app, {"name": "Broken", "max_capacity": 50, "status": "down"})
    assert "(every plant is down)" in client.get("/").get_data(as_text=True)
    assert post_form(client, "/dispatch", {"demand": "100"}).status_code == 422
    assert client.get("/api/dispatches/").get_json()["total"] == 0


def test_a_viewer_cannot_delete_by_the_address_either(app):
    (plant_id,) = add_plants(app, {"name": "Genset", "max_capacity": 500})
    viewer = client_as(app, "viewer")
    page = viewer.get(f"/plants/{plant_id}/edit").get_data(as_text=True)
    assert "Delete plant" not in page and "Save changes" not in page
    token = csrf_token(viewer, "/")
    response = viewer.post(f"/plants/{plant_id}/delete", data={"csrf_token": token})
    assert response.status_code == 403
    assert len(fleet_snapshot(app)) == 1
