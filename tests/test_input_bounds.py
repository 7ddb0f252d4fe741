"""Input at its edges: ids and pages past what a database holds, numbers written in
ways Python accepts and a field rule must not, bodies past the size limit (chunked
too), CSV rows that do not fit their header, and the CLI's one-line errors."""

import csv
import http.client
import json
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import add_plants, bearer, fleet_snapshot
from tests.live_server import ROOT
from vpp.services.fleet_csv import guard_formula, unguard_formula

HUGE = str(2**63)


@pytest.mark.parametrize("query", [f"dispatch={HUGE}", "dispatch=abc", "dispatch=0", "dispatch=１"])
def test_a_dashboard_link_to_no_dispatch_is_404(client, query):
    assert client.get(f"/?{query}").status_code == 404


@pytest.mark.parametrize("path", ["/dispatches", "/admin/audit"])
@pytest.mark.parametrize("page", [HUGE, "-1", "x", "1_0", "٣"])
def test_a_page_number_out_of_bounds_shows_a_page(client, path, page):
    assert client.get(f"{path}?page={page}").status_code == 200


@pytest.mark.parametrize("text", ["1_000", "١٠", "５", "0x10", "1,5", "10 kW", "⅕"])
def test_numbers_must_be_plain_ascii_decimals(app, client, text):
    headers = bearer(app, "operator")
    answer = client.post("/api/plants/", json={"name": "n", "max_capacity": text}, headers=headers)
    assert answer.status_code == 422
    assert "max_capacity" in answer.get_json()["fields"]
    assert client.post("/api/dispatch/", json={"demand": text}, headers=headers).status_code == 422
    assert fleet_snapshot(app) == []


@pytest.mark.parametrize("version", [1.5, "1.0", True, "1_0", "１"])
def test_a_version_is_a_whole_number(app, client, version):
    [plant_id] = add_plants(app, {"name": "v", "max_capacity": 5})
    before = fleet_snapshot(app)
    answer = client.patch(
        f"/api/plants/{plant_id}",
        json={"status": "running", "version": version},
        headers=bearer(app, "operator"),
    )
    assert answer.status_code == 422
    assert fleet_snapshot(app) == before


def test_demand_is_bounded_by_what_any_fleet_can_hold(app, client):
    headers = bearer(app, "operator")
    assert client.post("/api/dispatch/", json={"demand": 1e16}, headers=headers).status_code == 422
    assert client.post("/api/dispatch/", json={"demand": 1e15}, headers=headers).status_code == 200


def test_the_openapi_document_says_zero_is_excluded(client):
    spec = client.get("/api/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    for schema, field in [("Plant", "max_capacity"), ("DispatchRequest", "demand")]:
        prop = schemas[schema]["properties"][field]
        assert prop["minimum"] == 0 and prop["exclusiveMinimum"] is True
    assert "exclusiveMinimum" not in schemas["Plant"]["properties"]["min_capacity"]
    docs = client.get("/api/docs").get_data(as_text=True)
    assert "&gt; 0" in docs or "> 0" in docs


def _chunked_post(port: int, token: str, body: bytes) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(
            "POST",
            "/api/plants/",
            body=iter([body[i : i + 65536] for i in range(0, len(body), 65536)]),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def test_a_chunked_body_past_the_limit_is_413_not_truncated(app, server):
    limit = app.config["MAX_CONTENT_LENGTH"]
    # Valid JSON in its first megabyte: a silent cut at the limit would accept it.
    body = json.dumps({"name": "big", "max_capacity": 5}).encode() + b" " * (limit * 3)
    status, answer = _chunked_post(server.port, server.token, body)
    assert status == 413, answer
    assert "error" in answer
    status, answer = _chunked_post(server.port, server.token, b'{"name": "ok", "max_capacity": 5}')
    assert status == 201, answer
    assert [row[1] for row in fleet_snapshot(app)] == ["ok"]


def _write_csv(path, rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


@pytest.mark.parametrize(
    "row",
    [["B", "solar", "5", "0", "idle", "0", "surplus"], ["B", "solar", "5"]],
    ids=["too many fields", "too few fields"],
)
def test_a_csv_row_that_does_not_fit_its_header_imports_nothing(app, runner, tmp_path, row):
    path = tmp_path / "fleet.csv"
    header = ["name", "kind", "max_capacity", "min_capacity", "status", "marginal_cost"]
    _write_csv(path, [header, ["A", "wind", "5", "0", "idle", "0"], row])
    result = runner.invoke(args=["plants", "import", str(path)])
    assert result.exit_code == 1
    assert "line 3" in result.output and "fields" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert fleet_snapshot(app) == []


@given(st.text(min_size=1, max_size=12, alphabet=st.sampled_from("'=+-@\t\rab s")))
def test_every_name_survives_the_formula_guard(name):
    guarded = guard_formula(name)
    assert unguard_formula(guarded) == name
    assert not guarded.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_names_that_look_guarded_survive_export_then_import(app, runner, tmp_path):
    names = ["'=SUM(A1)", "''quoted", "'s-Hertogenbosch wind", "=HYPERLINK(1)", "'-x"]
    add_plants(app, *({"name": n, "max_capacity": 1} for n in names))
    path = tmp_path / "fleet.csv"
    assert runner.invoke(args=["plants", "export", str(path)]).exit_code == 0
    for plant_id in range(1, len(names) + 1):
        assert runner.invoke(args=["plants", "remove", str(plant_id)]).exit_code == 0
    result = runner.invoke(args=["plants", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert sorted(row[1] for row in fleet_snapshot(app)) == sorted(names)


@pytest.mark.parametrize(
    "args",
    [
        ["plants", "update", HUGE, "--status", "down"],
        ["plants", "remove", HUGE],
        ["dispatches", "show", HUGE],
        ["tokens", "revoke", HUGE],
        ["dispatches", "list", "--page", str(2**62)],
        ["plants", "update"],
        ["plants", "add", "--name"],
        ["plants", "nonsense"],
        ["users", "set-role", "admin", "emperor"],
        ["dispatch", "1_000"],
        ["dispatch", "1e16"],
    ],
)
def test_cli_errors_are_one_line_and_exit_1(app, runner, args):
    before = fleet_snapshot(app)
    result = runner.invoke(args=args)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert fleet_snapshot(app) == before


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "nonsense://"),
        ("DATABASE_URL", "not a url"),
        ("CHARTJS_SOURCE", "internet"),
        ("MAX_CONTENT_LENGTH", "lots"),
        ("SESSION_IDLE_MINUTES", "-5"),
    ],
)
def test_a_bad_setting_is_one_line_from_the_cli(tmp_path, name, value):
    env = {
        **os.environ,
        "VPP_INSTANCE_PATH": str(tmp_path / "instance"),
        "FLASK_APP": "wsgi:app",
        name: value,
    }
    done = subprocess.run(
        [sys.executable, "-m", "flask", "plants", "list"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and name in lines[0], done.stderr


def test_a_callers_previews_are_bounded_and_others_go_on(app, client):
    """A caller out of solver time gets 429 with Retry-After; another caller is not
    affected. (The budget is tiny here so that a few real previews use it up.)"""
    app.config["PREVIEW_BUDGET_S_PER_MIN"] = 0.005
    add_plants(
        app,
        *(
            {
                "name": f"u{i}",
                "max_capacity": 3 + (i * 7919) % 97,
                "min_capacity": (i * 31) % 3,
                "marginal_cost": (i * 104729) % 50,
                "status": "running" if i % 3 else "idle",
            }
            for i in range(3000)
        ),
    )
    viewer = bearer(app, "viewer")
    answers = []
    for n in range(2000):
        answers.append(client.post("/api/dispatch/", json={"demand": 1000 + n}, headers=viewer))
        if answers[-1].status_code != 200:
            break
    refused = answers[-1]
    assert refused.status_code == 429, refused.get_json()
    assert int(refused.headers["Retry-After"]) >= 1
    assert "error" in refused.get_json()
    other = client.post("/api/dispatch/", json={"demand": 1000}, headers=bearer(app, "operator"))
    assert other.status_code == 200
