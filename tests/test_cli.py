"""``flask plants ...``, ``flask aggregate`` and ``flask dispatch`` through the Flask
CLI runner: one service layer, one-line errors, non-zero exits, nothing changed."""

import json

import pytest

from tests.helpers import PLANT_DEFAULTS, SCHEDULE_DEFAULTS, add_plants, fleet_snapshot


def test_add_list_update_remove(app, runner):
    result = runner.invoke(
        args=[
            "plants",
            "add",
            "--name",
            "Barn",
            "--kind",
            "battery",
            "--max-capacity",
            "50",
            "--status",
            "running",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Added plant 1: Barn" in result.output

    listing = runner.invoke(args=["plants", "list"])
    assert "Barn" in listing.output and "50 kW" in listing.output and "running" in listing.output

    result = runner.invoke(args=["plants", "update", "1", "--status", "down"])
    assert result.exit_code == 0, result.output
    data = json.loads(runner.invoke(args=["plants", "list", "--json"]).output)
    assert data == [
        {
            "id": 1,
            "name": "Barn",
            "kind": "battery",
            "max_capacity": 50.0,
            "min_capacity": 0.0,
            "status": "down",
            "marginal_cost": 0.0,
            **PLANT_DEFAULTS,
            "version": 2,
        }
    ]

    result = runner.invoke(args=["plants", "remove", "1"])
    assert result.exit_code == 0
    assert fleet_snapshot(app) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plants", "add", "--name", "X", "--max-capacity", "nan"], "max_capacity"),
        (
            ["plants", "add", "--name", "X", "--max-capacity", "10", "--min-capacity", "11"],
            "min_capacity",
        ),
        (["plants", "add", "--name", "X", "--max-capacity", "10", "--status", "on"], "status"),
        (["plants", "add", "--name", "Taken", "--max-capacity", "10"], "already exists"),
        (["plants", "update", "1", "--max-capacity", "-1"], "max_capacity"),
        (["plants", "update", "99", "--status", "down"], "No plant with id 99"),
        (["plants", "remove", "99"], "No plant with id 99"),
        (["dispatch", "0"], "demand"),
        (["dispatch", "Infinity"], "demand"),
    ],
)
def test_bad_input_exits_non_zero_with_one_line_and_changes_nothing(app, runner, args, message):
    add_plants(app, {"name": "Taken", "max_capacity": 5})
    before = fleet_snapshot(app)
    result = runner.invoke(args=args)
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert message in lines[0]
    assert fleet_snapshot(app) == before


def test_aggregate_prints_total_available(app, runner):
    add_plants(
        app, {"name": "A", "max_capacity": 1200}, {"name": "B", "max_capacity": 7, "status": "down"}
    )
    result = runner.invoke(args=["aggregate"])
    assert result.exit_code == 0
    assert "Total available: 1.2 MW" in result.output
    assert json.loads(runner.invoke(args=["aggregate", "--json"]).output)["total_available"] == 1200


def test_dispatch_prints_a_table_and_totals(app, runner):
    add_plants(app, {"name": "Hydro", "max_capacity": 300, "min_capacity": 100})
    result = runner.invoke(args=["dispatch", "250"])
    assert result.exit_code == 0, result.output
    assert "250 kW" in result.output and "unmet 0 kW" in result.output
    assert "Hydro" not in result.output  # a summary by default: kinds and reasons
    assert "marginal: sets the price" in result.output
    every = runner.invoke(args=["dispatch", "250", "--plants"])
    assert "Hydro" in every.output and "cost/h" in every.output
    as_json = json.loads(runner.invoke(args=["dispatch", "250", "--preview", "--json"]).output)
    assert as_json["allocations"] == {"1": 250.0}


def test_csv_round_trip_gives_the_same_fleet(app, runner, tmp_path):
    add_plants(
        app,
        {"name": "Sunny, the roof", "kind": "solar", "max_capacity": 123.456, "status": "running"},
        {
            "name": 'Genset "B"',
            "kind": "diesel",
            "max_capacity": 1 / 3,
            "min_capacity": 0.1,
            "marginal_cost": -12.5,
        },
    )
    exported = tmp_path / "fleet.csv"
    assert runner.invoke(args=["plants", "export", str(exported)]).exit_code == 0
    original = fleet_snapshot(app)
    for plant_id in (1, 2):
        runner.invoke(args=["plants", "remove", str(plant_id)])
    result = runner.invoke(args=["plants", "import", str(exported)])
    assert result.exit_code == 0, result.output
    assert "Imported 2 plant(s)." in result.output
    reimported = fleet_snapshot(app)
    # Same plants, field for field (ids are new: the server assigns them).
    assert [row[1:7] for row in reimported] == [row[1:7] for row in original]


def test_export_guards_against_spreadsheet_formulas_and_round_trips(app, runner, tmp_path):
    add_plants(
        app,
        {"name": '=HYPERLINK("http://evil","x")', "max_capacity": 1},
        {"name": "+1 battery", "max_capacity": 1},
        {"name": "@home", "max_capacity": 1},
    )
    exported = tmp_path / "fleet.csv"
    runner.invoke(args=["plants", "export", str(exported)])
    text = exported.read_text()
    assert "'=HYPERLINK" in text and "'+1 battery" in text and "'@home" in text
    original = fleet_snapshot(app)
    for plant_id in (1, 2, 3):
        runner.invoke(args=["plants", "remove", str(plant_id)])
    assert runner.invoke(args=["plants", "import", str(exported)]).exit_code == 0
    assert [row[1] for row in fleet_snapshot(app)] == [row[1] for row in original]


def test_export_to_stdout_has_a_header(app, runner):
    add_plants(app, {"name": "A", "max_capacity": 1})
    lines = runner.invoke(args=["plants", "export"]).output.splitlines()
    assert lines[0] == ",".join(
        (
            "id,name,kind,max_capacity,min_capacity,status,marginal_cost",
            *SCHEDULE_DEFAULTS,
            "telemetry",
        )
    )
    assert lines[1] == "1,A,other,1.0,0.0,idle,0.0,,,0,0,0.0,,,,,,,,,,False"


def test_bad_csv_reports_every_bad_line_and_imports_nothing(app, runner, tmp_path):
    add_plants(app, {"name": "Existing", "max_capacity": 1})
    before = fleet_snapshot(app)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "name,kind,max_capacity,min_capacity,status,marginal_cost\n"
        "Good one,solar,10,,idle,0\n"  # line 2: fine on its own
        "Broken,solar,NaN,,idle,0\n"  # line 3
        "Inverted,gas,10,20,idle,0\n"  # line 4
        "Good one,wind,5,,idle,0\n"  # line 5: same name as line 2
        "Existing,wind,5,,idle,0\n"  # line 6: name taken in the fleet
        "Odd,wind,5,,sleeping,0\n"  # line 7
    )
    result = runner.invoke(args=["plants", "import", str(bad)])
    assert result.exit_code == 1
    reported = [line for line in result.output.splitlines() if line.startswith("line ")]
    # One bad row per line, in line order, each with its field.
    assert [line.split(":")[0] for line in reported] == [
        "line 3",
        "line 4",
        "line 5",
        "line 6",
        "line 7",
    ]
    assert "max_capacity" in reported[0] and "status" in reported[4]
    assert result.output.splitlines()[-1].startswith("Error: 5 bad row(s)")
    assert fleet_snapshot(app) == before


def _csv(tmp_path, rows: list[str]):
    path = tmp_path / "fleet.csv"
    path.write_text("name,kind,max_capacity,min_capacity,status,marginal_cost\n" + "".join(rows))
    return path


def test_bad_rows_are_capped_at_twenty_then_counted(app, runner, tmp_path):
    rows = [f"Bad {n},solar,-{n + 1},,idle,0\n" for n in range(35)]
    result = runner.invoke(args=["plants", "import", str(_csv(tmp_path, rows))])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    reported = [line for line in lines if line.startswith("line ")]
    assert [line.split(":")[0] for line in reported] == [f"line {n}" for n in range(2, 22)]
    assert "... and 15 more bad rows" in lines
    assert lines[-1].startswith("Error: 35 bad row(s)")
    assert fleet_snapshot(app) == []


def test_dry_run_checks_everything_and_adds_nothing(app, runner, tmp_path):
    good = _csv(tmp_path, [f"Unit {n},battery,{n + 1},,idle,{n}\n" for n in range(50)])
    result = runner.invoke(args=["plants", "import", "--dry-run", str(good)])
    assert result.exit_code == 0, result.output
    assert "50 plant(s) would be imported" in result.output
    assert fleet_snapshot(app) == []
    add_plants(app, {"name": "Unit 7", "max_capacity": 1})
    clash = runner.invoke(args=["plants", "import", "--dry-run", str(good)])
    assert clash.exit_code == 1 and "line 9: name" in clash.output


def test_import_shows_its_progress(app, runner, tmp_path):
    path = _csv(tmp_path, [f"Unit {n},battery,5,,idle,1\n" for n in range(3000)])
    result = runner.invoke(args=["plants", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "Checking 3,000 rows" in result.output  # click's bar (a label off a terminal)
    assert "Imported 3,000 plant(s)." in result.output
    assert len(fleet_snapshot(app)) == 3000


def test_import_of_a_non_csv_file_fails_cleanly(app, runner, tmp_path):
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    result = runner.invoke(args=["plants", "import", str(binary)])
    assert result.exit_code != 0
    assert result.output.startswith("Error: ")
    assert fleet_snapshot(app) == []


def test_demo_fleet_loads_once(app, runner):
    result = runner.invoke(args=["plants", "demo"])
    assert result.exit_code == 0
    assert len(fleet_snapshot(app)) == 9
    again = runner.invoke(args=["plants", "demo"])
    assert again.exit_code != 0 and "already exists" in again.output
    assert len(fleet_snapshot(app)) == 9


def test_dispatch_records_by_default_and_previews_on_request(app, runner):
    add_plants(app, {"name": "Hydro", "max_capacity": 300, "min_capacity": 100})
    preview = runner.invoke(args=["dispatch", "50", "--preview"])
    assert preview.exit_code == 0, preview.output
    assert "off: its minimum is above the demand" in preview.output
    assert "Recorded" not in preview.output
    committed = runner.invoke(args=["dispatch", "250"])
    assert committed.exit_code == 0, committed.output
    assert "Recorded as dispatch 1." in committed.output
    assert "proven optimal" in committed.output
    listing = runner.invoke(args=["dispatches", "list"])
    assert "250 kW" in listing.output and "1 of 1 dispatch(es)" in listing.output
    shown = runner.invoke(args=["dispatches", "show", "1", "--plants"])
    assert shown.exit_code == 0 and "Hydro" in shown.output and "250 kW" in shown.output


def test_show_unknown_dispatch_fails_in_one_line(runner):
    result = runner.invoke(args=["dispatches", "show", "5"])
    assert result.exit_code != 0
    assert result.output.strip() == "Error: No dispatch with id 5."


@pytest.mark.parametrize("group", ["plants", "users", "tokens", "dispatches"])
def test_command_summaries_are_whole_sentences(runner, group):
    listing = runner.invoke(args=[group, "--help"]).output
    commands = listing.split("Commands:")[1]
    assert "..." not in commands


def test_update_without_an_option_changes_nothing_and_says_so(app, runner):
    add_plants(app, {"name": "A", "max_capacity": 1})
    before = fleet_snapshot(app)
    result = runner.invoke(args=["plants", "update", "1"])
    assert result.exit_code == 1 and "Nothing to change" in result.output
    assert fleet_snapshot(app) == before
    assert "default" not in runner.invoke(args=["plants", "update", "--help"]).output


def test_aggregate_prints_the_kinds_it_promises(app, runner):
    add_plants(app, {"name": "A", "max_capacity": 10, "kind": "solar"})
    output = runner.invoke(args=["aggregate"]).output
    assert "kind" in output and "solar" in output and "10 kW" in output


def test_the_vpp_command_has_its_own_help_and_every_command(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from vpp.cli import cli

    monkeypatch.setenv("VPP_INSTANCE_PATH", str(tmp_path / "instance"))
    result = CliRunner().invoke(cli(), ["--help"])
    assert result.exit_code == 0, result.output
    assert "VPP, the Virtual Power Plant" in result.output
    assert "general utility script for Flask" not in result.output
    for command in ("aggregate", "dispatch", "dispatches", "plants", "tokens", "users", "db"):
        assert f"\n  {command} " in result.output
