"""The plant fields a schedule needs (DESIGN.md, "Schedules"): one rule each, the
same through the API, the CSV and the CLI; a store's defaults filled in and kept
consistent through every change."""

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from tests.helpers import bearer
from vpp.extensions import db
from vpp.schemas import PlantSchema

BATTERY = {"name": "Home battery", "kind": "battery", "max_capacity": 5}


def create(client, app, **fields):
    return client.post("/api/plants/", json={**BATTERY, **fields}, headers=bearer(app, "operator"))


def patch(client, app, plant_id, **fields):
    return client.patch(f"/api/plants/{plant_id}", json=fields, headers=bearer(app, "operator"))


def test_a_battery_with_an_energy_capacity_is_a_store_with_defaults(app, client):
    body = create(client, app, energy_capacity_kwh=10).get_json()
    assert body["energy_capacity_kwh"] == 10
    assert (body["soc_min_kwh"], body["soc_kwh"], body["soc_max_kwh"]) == (0, 5, 10)
    assert body["max_charge_kw"] == 5  # max_capacity
    assert body["charge_efficiency"] == body["discharge_efficiency"] == 0.95


def test_a_plain_plant_has_no_storage_and_the_schedule_defaults(app, client):
    body = create(client, app).get_json()
    assert body["energy_capacity_kwh"] is None and body["soc_kwh"] is None
    assert (body["min_up_minutes"], body["min_down_minutes"], body["startup_cost"]) == (0, 0, 0)
    assert body["ramp_up_kw_per_min"] is None and body["latitude"] is None


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"kind": "solar", "energy_capacity_kwh": 10}, "energy_capacity_kwh", "Only a battery"),
        ({"soc_kwh": 3}, "soc_kwh", "Only for a battery with energy_capacity_kwh"),
        ({"energy_capacity_kwh": 10, "soc_kwh": 11}, "soc_kwh", "Must be within 0 to 10"),
        ({"energy_capacity_kwh": 10, "soc_max_kwh": 12}, "soc_max_kwh", "soc_max_kwh <="),
        ({"energy_capacity_kwh": 10, "soc_min_kwh": 6, "soc_max_kwh": 4}, "soc_min_kwh", "<="),
        ({"energy_capacity_kwh": 0}, "energy_capacity_kwh", "more than 0"),
        ({"energy_capacity_kwh": 10, "charge_efficiency": 0}, "charge_efficiency", "more than 0"),
        (
            {"energy_capacity_kwh": 10, "discharge_efficiency": 1.01},
            "discharge_efficiency",
            "at most 1",
        ),
        ({"ramp_up_kw_per_min": 0}, "ramp_up_kw_per_min", "more than 0"),
        ({"ramp_down_kw_per_min": -1}, "ramp_down_kw_per_min", "more than 0"),
        ({"min_up_minutes": 1.5}, "min_up_minutes", "whole number"),
        ({"min_down_minutes": -15}, "min_down_minutes", "0 to 10,080"),
        ({"startup_cost": -1}, "startup_cost", "0 to"),
        ({"latitude": 52.1}, "longitude", "together"),
        ({"longitude": 200, "latitude": 0}, "longitude", "-180 to 180"),
        ({"ramp_up_kw_per_min": "fast"}, "ramp_up_kw_per_min", "'fast' is not a number"),
    ],
)
def test_each_schedule_field_keeps_its_rule(app, client, fields, field, words):
    response = create(client, app, **fields)
    assert response.status_code == 422, response.get_json()
    assert words in " ".join(response.get_json()["fields"][field])
    assert client.get("/api/plants/").get_json() == []


def test_changes_keep_a_store_consistent(app, client):
    plant_id = create(client, app).get_json()["id"]
    # Becoming a store fills in its defaults.
    body = patch(client, app, plant_id, energy_capacity_kwh=8).get_json()
    assert (body["soc_min_kwh"], body["soc_kwh"], body["soc_max_kwh"]) == (0, 4, 8)
    # A smaller capacity than the stored highest charge is refused, whole.
    refused = patch(client, app, plant_id, energy_capacity_kwh=6)
    assert refused.status_code == 422 and "soc_max_kwh" in refused.get_json()["fields"]
    # Both at once is fine.
    body = patch(client, app, plant_id, energy_capacity_kwh=6, soc_max_kwh=None).get_json()
    assert (body["soc_max_kwh"], body["soc_kwh"]) == (6, 4)
    # A store cannot stop being a battery.
    assert patch(client, app, plant_id, kind="solar").status_code == 422
    # No longer a store: its storage settings go with it.
    body = patch(client, app, plant_id, energy_capacity_kwh=None).get_json()
    assert body["soc_kwh"] is None and body["charge_efficiency"] is None
    assert patch(client, app, plant_id, kind="solar").status_code == 200


def test_the_database_refuses_what_the_rules_refuse(app):
    """The CHECK constraints behind the rules, for writes that bypass the app."""
    with app.app_context():
        for column, value in (
            ("ramp_up_kw_per_min", -1),
            ("energy_capacity_kwh", 0),
            ("charge_efficiency", 1.5),
            ("min_up_minutes", -1),
            ("startup_cost", -0.5),
        ):
            with pytest.raises(sa.exc.IntegrityError):
                db.session.execute(
                    sa.text(
                        f"INSERT INTO plant (name, kind, max_capacity, min_capacity, status, "
                        f"marginal_cost, version, {column}) VALUES ('x', 'battery', 1, 0, "
                        f"'idle', 0, 1, :value)"
                    ),
                    {"value": value},
                )
            db.session.rollback()


def test_the_csv_carries_the_schedule_fields_both_ways(app, client, runner, tmp_path):
    create(client, app, energy_capacity_kwh=10, soc_kwh=2, ramp_up_kw_per_min=0.5)
    create(client, app, name="Roof", kind="solar", latitude=52.1, longitude=4.3, min_up_minutes=15)
    before = client.get("/api/plants/").get_json()
    exported = tmp_path / "fleet.csv"
    assert runner.invoke(args=["plants", "export", str(exported)]).exit_code == 0
    for plant in before:
        client.delete(f"/api/plants/{plant['id']}", headers=bearer(app, "operator"))
    assert runner.invoke(args=["plants", "import", str(exported)]).exit_code == 0
    after = client.get("/api/plants/").get_json()
    strip = lambda plants: [{k: v for k, v in p.items() if k not in ("id",)} for p in plants]  # noqa: E731
    assert strip(after) == strip(before)


stores = st.fixed_dictionaries(
    {"energy_capacity_kwh": st.floats(0.001, 1e6)},
    optional={
        name: st.none() | st.floats(0, 2e6)
        for name in ("soc_kwh", "soc_min_kwh", "soc_max_kwh", "max_charge_kw")
    }
    | {
        name: st.none() | st.floats(0, 1.2)
        for name in ("charge_efficiency", "discharge_efficiency")
    },
)


@settings(max_examples=300, deadline=None)
@given(fields=stores)
def test_every_store_the_rules_accept_is_consistent(fields):
    """Over the whole input space of the storage fields: whatever the one schema of
    a plant accepts is a consistent store; what it refuses names a field."""
    try:
        values = PlantSchema().load({**BATTERY, **fields})
    except ValidationError as exc:
        assert set(exc.messages) <= {*fields, "energy_capacity_kwh"}, exc.messages
        return
    assert 0 <= values["soc_min_kwh"] <= values["soc_kwh"] <= values["soc_max_kwh"]
    assert values["soc_max_kwh"] <= values["energy_capacity_kwh"]
    assert 0 < values["charge_efficiency"] <= 1 and 0 < values["discharge_efficiency"] <= 1
    assert values["max_charge_kw"] > 0


def test_the_cli_sets_and_clears_schedule_fields(app, runner):
    added = runner.invoke(
        args=[
            "plants", "add", "--name", "Store", "--kind", "battery", "--max-capacity", "5",
            "--energy-capacity-kwh", "10", "--min-up-minutes", "30", "--ramp-up-kw-per-min", "2",
        ]
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    cleared = runner.invoke(args=["plants", "update", "1", "--energy-capacity-kwh", "none"])
    assert cleared.exit_code == 0, cleared.output
    refused = runner.invoke(args=["plants", "update", "1", "--soc-kwh", "3"])
    assert refused.exit_code == 1 and refused.output.count("\n") == 1
    assert "Only for a battery with energy_capacity_kwh" in refused.output
    import json

    (plant,) = json.loads(runner.invoke(args=["plants", "list", "--json"]).output)
    assert plant["energy_capacity_kwh"] is None and plant["soc_kwh"] is None
    assert (plant["min_up_minutes"], plant["ramp_up_kw_per_min"]) == (30, 2)
    help_text = runner.invoke(args=["plants", "update", "--help"]).output
    assert "--energy-capacity-kwh" in help_text and "'none' clears it" in help_text


def post_form(client, url, data, token_from="/"):
    from tests.helpers import csrf_token

    return client.post(url, data={"csrf_token": csrf_token(client, token_from), **data})


def test_the_plant_form_takes_schedule_fields_and_blank_means_none(app, client):
    added = post_form(
        client,
        "/plants",
        {"name": "Store", "kind": "battery", "max_capacity": "5", "energy_capacity_kwh": "10",
         "soc_kwh": "2", "min_up_minutes": "", "ramp_up_kw_per_min": "1.5"},
    )  # fmt: skip
    assert added.status_code == 302, added.get_data(as_text=True)
    (plant,) = client.get("/api/plants/").get_json()
    assert (plant["energy_capacity_kwh"], plant["soc_kwh"], plant["min_up_minutes"]) == (10, 2, 0)
    url = f"/plants/{plant['id']}/edit"
    page = client.get(url).get_data(as_text=True)
    assert 'id="energy_capacity_kwh"' in page and 'value="10"' in page
    assert '<details class="schedule-fields" open>' in page  # holds something: open
    # Blanking the energy capacity (and the store's settings) makes a plain unit again.
    form = {k: v for k, v in plant.items() if k not in ("id",) and v is not None}
    form = {**form, "energy_capacity_kwh": "", "soc_kwh": "", "soc_min_kwh": "",
            "soc_max_kwh": "", "max_charge_kw": "", "charge_efficiency": "",
            "discharge_efficiency": "", "ramp_up_kw_per_min": ""}  # fmt: skip
    saved = post_form(client, url, {k: str(v) for k, v in form.items()}, token_from=url)
    assert saved.status_code == 302, saved.get_data(as_text=True)
    (plant,) = client.get("/api/plants/").get_json()
    assert plant["energy_capacity_kwh"] is None and plant["ramp_up_kw_per_min"] is None


def test_a_bad_schedule_field_is_shown_beside_it_and_opens_its_section(app, client):
    response = post_form(
        client, "/plants", {"name": "X", "max_capacity": "5", "kind": "solar", "latitude": "95"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert '<details class="schedule-fields" open>' in page
    assert 'href="#latitude"' in page and "Must be -90 to 90 degrees." in page
    assert client.get("/api/plants/").get_json() == []  # nothing stored
