"""The Schedules pages without a browser: ask for a plan from a shape or a CSV, the
page of a plan being solved (reloading itself) and of a done one, the CSV export,
and refusals shown beside their fields with nothing stored."""

import csv
import html
import io
import re
import threading

import sqlalchemy as sa

from tests.helpers import add_plants, client_as, csrf_token
from vpp import worker
from vpp.extensions import db
from vpp.models import Schedule

FLEET = (
    {"name": "Roof PV", "kind": "solar", "max_capacity": 300, "latitude": 50, "longitude": 8},
    {
        "name": "Gas engine",
        "kind": "gas",
        "max_capacity": 500,
        "min_capacity": 100,
        "marginal_cost": 80,
        "startup_cost": 30,
        "min_up_minutes": 60,
    },
    {"name": "Home battery", "kind": "battery", "max_capacity": 100, "energy_capacity_kwh": 200},
)
SHAPE_FORM = {
    "source": "shape",
    "shape": "evening_peak",
    "peak_share": "70",
    "hours": "24",
    "resolution_minutes": "15",
    "time_limit_s": "10",
    "target_gap": "1",
}


def post(client, data, **kwargs):
    token = csrf_token(client, "/schedules")
    return client.post("/schedules", data={"csrf_token": token, **data}, **kwargs)


def errors(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'class="field-error"[^>]*>([^<]*)', page)]


def stored(app) -> list[Schedule]:
    with app.app_context():
        return db.session.scalars(sa.select(Schedule)).all()


def test_a_shape_is_planned_watched_and_shown(app, client):
    add_plants(app, *FLEET)
    response = post(client, SHAPE_FORM)
    assert response.status_code == 302
    location = response.headers["Location"].split("#")[0]
    (record,) = stored(app)
    # 70 % of the 900 kW available at the evening peak, one value per quarter hour.
    assert len(record.demand) == 96 and max(record.demand) == 630
    waiting = client.get(location).get_data(as_text=True)
    assert '<meta http-equiv="refresh"' in waiting and "Queued: waiting for a worker" in waiting

    worker.work(app, threading.Event(), once=True)
    page = client.get(location).get_data(as_text=True)
    assert "http-equiv" not in page
    assert re.search(r'data-testid="gap">\d+\.\d\d %', page)
    assert "Roof PV" in page and "clear-sky" in page and "schedule-output-chart" in page
    assert client.get("/schedules").get_data(as_text=True).count(f'href="{location}"') == 1

    export = client.get(f"{location}.csv")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True))))
    assert len(rows) == 4 and len(rows[1]) == 7 + 96
    assert {row[1] for row in rows[1:]} == {plant["name"] for plant in FLEET}

    filtered = client.get(f"{location}?kind=battery&sort=energy").get_data(as_text=True)
    assert "Home battery" in filtered and "Gas engine" not in filtered
    # Nonsense in the query string is dropped, never a 500.
    assert client.get(f"{location}?page=abc&sort=nope&kind=moon").status_code == 200


def test_a_demand_csv_is_uploaded(app, client):
    add_plants(app, *FLEET)
    body = b"demand_kw\n100\n200\n300\n"
    response = post(
        client,
        {**SHAPE_FORM, "source": "file", "demand_file": (io.BytesIO(body), "demand.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert stored(app)[0].demand == [100, 200, 300]


def test_refusals_are_shown_beside_their_fields_and_store_nothing(app, client):
    add_plants(app, *FLEET)
    page = post(
        client,
        {**SHAPE_FORM, "peak_share": "abc", "start": "2026-01-01T00:07:00Z"},
    )
    assert page.status_code == 422
    assert "Must be a number." in errors(page.get_data(as_text=True))
    page = post(client, {**SHAPE_FORM, "start": "2026-01-01T00:07:00Z"})
    assert "15-minute boundary" in " ".join(errors(page.get_data(as_text=True)))
    page = post(client, {**SHAPE_FORM, "time_limit_s": "-1"})
    assert errors(page.get_data(as_text=True)) == ["Must be more than 0 and at most 3,600 s."]
    page = post(client, {**SHAPE_FORM, "source": "file"})
    assert errors(page.get_data(as_text=True)) == ["Choose a CSV file."]
    bad = (io.BytesIO(b"demand_kw\n1\nabc\n"), "demand.csv")
    page = post(client, {**SHAPE_FORM, "source": "file", "demand_file": bad},
                content_type="multipart/form-data")  # fmt: skip
    assert "'abc' is not a number" in " ".join(errors(page.get_data(as_text=True)))
    assert stored(app) == []


def test_nothing_to_scale_a_shape_to_on_an_empty_fleet(app, client):
    page = post(client, SHAPE_FORM)
    assert page.status_code == 422
    assert errors(page.get_data(as_text=True)) == ["No plant is available to scale it to."]
    assert stored(app) == []


def test_a_viewer_reads_schedules_without_the_form_and_cannot_post(app):
    add_plants(app, *FLEET)
    operator = client_as(app, "operator")
    post(operator, SHAPE_FORM)
    viewer = client_as(app, "viewer")
    page = viewer.get("/schedules").get_data(as_text=True)
    assert "New schedule" not in page and "#1" in page
    assert viewer.get("/schedules/1").status_code == 200
    response = viewer.post("/schedules", data=SHAPE_FORM)
    assert response.status_code in (400, 403)
    assert len(stored(app)) == 1


def test_export_of_a_schedule_not_done_is_refused(app, client):
    add_plants(app, *FLEET)
    post(client, SHAPE_FORM)
    assert client.get("/schedules/1.csv").status_code == 422
    assert client.get("/schedules/2").status_code == 404


def test_availability_end_of_charge_and_lost_load_from_the_form(app, client):
    pv, *_ = add_plants(app, *FLEET)
    profiles = f"plant_id,{','.join(f't{t}' for t in range(96))}\n{pv},{','.join(['0.5'] * 96)}\n"
    response = post(
        client,
        {**SHAPE_FORM, "final_soc": "free", "value_of_lost_load": "3000",
         "availability_file": (io.BytesIO(profiles.encode()), "availability.csv")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert response.status_code == 302, re.findall(
        r"error-summary.*?</div>", response.get_data(as_text=True), re.S
    )
    (record,) = stored(app)
    assert record.options["final_soc"] == "free"
    assert record.options["value_of_lost_load"] == 3000
    assert record.options["availability"] == {str(pv): [0.5] * 96}
    wrong = f"plant_id,t0\n{pv},0.5\n"
    page = post(
        client,
        {**SHAPE_FORM, "availability_file": (io.BytesIO(wrong.encode()), "availability.csv")},
        content_type="multipart/form-data",
    )
    assert page.status_code == 422
    assert "Give 96 values" in page.get_data(as_text=True)
    assert len(stored(app)) == 1
