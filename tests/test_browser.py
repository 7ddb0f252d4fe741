"""Real-browser tests: Playwright drives Debian's Chromium against the app served by
pytest-flask's live server on 127.0.0.1. Outside addresses (the Chart.js CDN
among them) do not resolve, as in an air-gapped control room."""

import os
import re
import shutil
import threading

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from tests.helpers import PASSWORDS, add_plants, fleet_snapshot
from vpp import worker
from vpp.demo import demo_plants
from vpp.extensions import db
from vpp.models import Dispatch

pytestmark = pytest.mark.browser

COUNT_DRAWN_PIXELS = """(id) => {
  const canvas = document.getElementById(id);
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let drawn = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) drawn++;
  return {drawn, total: data.length / 4};
}"""

FLEET = (
    {
        "name": "Harbour battery",
        "kind": "battery",
        "max_capacity": 2000,
        "status": "running",
        "marginal_cost": 15,
    },
    {"name": "Ridge wind", "kind": "wind", "max_capacity": 4000, "marginal_cost": 2},
    {
        "name": "Gas peaker",
        "kind": "gas",
        "max_capacity": 3000,
        "min_capacity": 900,
        "marginal_cost": 95,
    },
    {"name": "Broken turbine", "kind": "gas", "max_capacity": 1000, "status": "down"},
)


def log_in(page: Page, live_server, role: str = "admin") -> None:
    page.goto(live_server.url("/login"))
    page.get_by_label("Username").fill(role)
    page.get_by_label("Password").fill(PASSWORDS[role])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name=re.compile("Log out"))).to_be_visible()


def open_dashboard(page: Page, live_server) -> None:
    log_in(page, live_server)
    page.goto(live_server.url("/"))


def dispatch_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Dispatch))


def wait_for_chart(page: Page, canvas_id: str) -> dict:
    page.wait_for_function(
        "(id) => window.Chart && Chart.getChart(document.getElementById(id))",
        arg=canvas_id,
        timeout=10_000,
    )
    return page.evaluate(COUNT_DRAWN_PIXELS, canvas_id)


def test_add_plant_through_the_form_shows_it_in_the_table(app, live_server, page: Page):
    open_dashboard(page, live_server)
    page.get_by_label("Name", exact=True).fill("Depot diesel")
    page.locator("#kind").select_option("diesel")
    page.get_by_label("Max capacity (kW)").fill("1200")
    page.get_by_label("Min stable output (kW)").fill("400")
    page.get_by_label("Marginal cost (per MWh)").fill("180")
    page.get_by_role("button", name="Add plant").click()
    row = page.locator("#fleet-table tbody tr", has_text="Depot diesel")
    expect(row).to_contain_text("1.2 MW")
    expect(row).to_contain_text("400 kW")
    expect(page.get_by_test_id("total-available")).to_have_text("1.2 MW")
    assert [r[1] for r in fleet_snapshot(app)] == ["Depot diesel"]


def test_bad_form_value_shows_an_inline_error_and_stores_nothing(app, live_server, page: Page):
    open_dashboard(page, live_server)
    page.get_by_label("Name", exact=True).fill("Inverted")
    page.get_by_label("Max capacity (kW)").fill("100")
    page.get_by_label("Min stable output (kW)").fill("250")
    page.get_by_role("button", name="Add plant").click()
    error = page.locator("#min_capacity-error")
    expect(error).to_contain_text("Must not exceed max_capacity")
    expect(page.get_by_label("Min stable output (kW)")).to_have_attribute("aria-invalid", "true")
    # The form keeps what was typed.
    expect(page.get_by_label("Name", exact=True)).to_have_value("Inverted")
    assert fleet_snapshot(app) == []


def test_dispatch_from_the_dashboard_shows_the_totals_and_every_plant(app, live_server, page):
    add_plants(app, *FLEET)
    open_dashboard(page, live_server)
    page.get_by_label("Demand (kW)").fill("5000")
    page.get_by_role("button", name="Dispatch and record").click()
    expect(page.locator("[data-field=meta]")).to_contain_text("Dispatch 1 recorded")
    expect(page.locator('[data-field="total_dispatched"]')).to_have_text("5 MW")
    expect(page.locator('[data-field="unmet_demand"]')).to_have_text("0 kW")
    expect(page.locator("#by-kind-table tr", has_text="Wind")).to_contain_text("4 MW")
    assert wait_for_chart(page, "allocation-chart")["drawn"] > 1000
    assert wait_for_chart(page, "merit-chart")["drawn"] > 1000
    page.get_by_role("link", name="Every plant of dispatch 1").click()
    table = page.locator("#allocation-table")
    expect(table.locator("tr", has_text="Ridge wind")).to_contain_text("4 MW")
    expect(table.locator("tr", has_text="Harbour battery")).to_contain_text("1 MW")
    expect(table.locator("tr", has_text="Broken turbine")).to_contain_text("down")
    expect(table.locator("tr", has_text="Gas peaker")).to_contain_text("off: dearer than needed")
    assert len(fleet_snapshot(app)) == 4


def test_every_chart_really_draws_on_load(app, live_server, page: Page):
    add_plants(app, *FLEET)
    refused = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    open_dashboard(page, live_server)
    for chart in ("capacity-chart", "allocation-chart", "merit-chart"):
        drawn = wait_for_chart(page, chart)
        assert drawn["drawn"] > 0.03 * drawn["total"], (chart, drawn)
    assert refused == []  # the Content-Security-Policy lets everything on the page run


def test_slider_previews_a_dispatch_without_posting(app, live_server, page: Page):
    add_plants(app, *FLEET)
    open_dashboard(page, live_server)
    slider = page.get_by_label(re.compile("Demand slider"))
    expect(slider).to_be_visible()
    # 80 % of the 9,000 kW available is preselected, and previewed already.
    expect(page.get_by_label("Demand (kW)")).to_have_value("7200")
    expect(page.locator('[data-field="total_dispatched"]')).to_have_text("7.2 MW")
    slider.fill("2000")
    expect(page.get_by_label("Demand (kW)")).to_have_value("2000")
    expect(page.locator('[data-field="total_dispatched"]')).to_have_text("2 MW")
    expect(page.locator("#by-kind-table tr", has_text="Wind")).to_contain_text("2 MW")
    expect(page.locator('[data-field="meta"]')).to_contain_text("Preview, not recorded")
    assert wait_for_chart(page, "allocation-chart")["drawn"] > 1000
    assert page.url.endswith("/")  # a preview, not a form post


def test_charts_fall_back_to_the_vendored_copy_when_the_cdn_fails(app, live_server, page: Page):
    add_plants(app, *FLEET)
    failed, loaded = [], []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on("requestfinished", lambda request: loaded.append(request.url))
    open_dashboard(page, live_server)
    assert wait_for_chart(page, "capacity-chart")["drawn"] > 1000
    assert any("cdn.jsdelivr.net" in url for url in failed)
    assert any("/static/vendor/chart.umd.min.js?v=" in url for url in loaded)


def test_charts_draw_when_the_cdn_hangs(app, live_server, page: Page):
    """A CDN that accepts the connection and never answers must not keep the charts
    away: the loader gives up on it after CHARTJS_CDN_TIMEOUT_MS (1.5 s)."""
    add_plants(app, *FLEET)
    log_in(page, live_server)
    page.route("https://cdn.jsdelivr.net/**", lambda route: None)  # never answered
    # Neither the page's load event nor the charts wait for it.
    page.goto(live_server.url("/"), wait_until="load", timeout=5_000)
    assert wait_for_chart(page, "capacity-chart")["drawn"] > 1000


def test_vendored_setting_loads_charts_without_asking_the_cdn(app, live_server, page: Page):
    live_server.stop()
    app.config["CHARTJS_SOURCE"] = "vendored"
    live_server.start()
    add_plants(app, *FLEET)
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    open_dashboard(page, live_server)
    assert wait_for_chart(page, "capacity-chart")["drawn"] > 1000
    assert not [url for url in requested if "cdn.jsdelivr.net" in url]


def test_edit_and_delete_from_the_ui(app, live_server, page: Page):
    (plant_id,) = add_plants(app, {"name": "Genset", "max_capacity": 500, "min_capacity": 100})
    open_dashboard(page, live_server)
    page.get_by_role("link", name="Edit Genset").click()
    page.get_by_label("Status").select_option("running")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#fleet-table tr", has_text="Genset")).to_contain_text("Running")
    page.get_by_role("link", name="Edit Genset").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete plant").click()
    expect(page.get_by_text("Deleted plant 'Genset'")).to_be_visible()
    assert fleet_snapshot(app) == []
    assert plant_id == 1


def test_keyboard_alone_can_add_a_plant(app, live_server, page: Page):
    open_dashboard(page, live_server)
    page.get_by_label("Name", exact=True).focus()
    page.keyboard.type("Keyboard solar")
    page.keyboard.press("Tab")  # kind
    page.keyboard.press("Tab")  # status
    page.keyboard.press("Tab")  # max capacity
    page.keyboard.type("75")
    page.keyboard.press("Enter")
    expect(page.locator("#fleet-table")).to_contain_text("Keyboard solar")


def test_page_works_without_javascript(app, live_server, browser):
    add_plants(app, *FLEET)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    log_in(page, live_server)
    page.goto(live_server.url("/"))
    expect(page.get_by_label(re.compile("Demand slider"))).to_be_hidden()
    # The 80 % preview is on the page, rendered by the server.
    expect(page.locator('[data-field="total_dispatched"]')).to_have_text("7.2 MW")
    page.get_by_label("Demand (kW)").fill("1000")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator('[data-field="total_dispatched"]')).to_have_text("1 MW")
    expect(page.locator('[data-field="meta"]')).to_contain_text("Preview, not recorded")
    assert dispatch_count(app) == 0
    page.get_by_label("Demand (kW)").fill("1000")
    page.get_by_role("button", name="Dispatch and record").click()
    page.get_by_role("link", name="Every plant of dispatch 1").click()
    expect(page.locator("#allocation-table tr", has_text="Ridge wind")).to_contain_text("1 MW")
    context.close()


def test_history_page_shows_a_dispatch_with_its_charts(app, live_server, page: Page):
    add_plants(app, *FLEET)
    open_dashboard(page, live_server)
    page.get_by_label("Demand (kW)").fill("4500")
    page.get_by_role("button", name="Dispatch and record").click()
    page.get_by_role("link", name="History").click()
    page.get_by_role("link", name="#1").click()
    expect(page.get_by_role("heading", name="Dispatch 1")).to_be_visible()
    expect(page.locator("#allocation-table tr", has_text="Ridge wind")).to_contain_text("4 MW")
    assert wait_for_chart(page, "allocation-chart")["drawn"] > 1000
    assert wait_for_chart(page, "merit-chart")["drawn"] > 1000


def test_login_page_keeps_anonymous_visitors_out(app, live_server, page: Page):
    page.goto(live_server.url("/dispatches"))
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Username").fill("viewer")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Wrong username or password")).to_be_visible()
    page.get_by_label("Username").fill("viewer")
    page.get_by_label("Password").fill(PASSWORDS["viewer"])
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/dispatches$"))
    expect(page.get_by_role("heading", name="Dispatch history")).to_be_visible()


def test_viewer_previews_but_cannot_change_anything(app, live_server, page: Page):
    add_plants(app, *FLEET)
    log_in(page, live_server, "viewer")
    page.goto(live_server.url("/"))
    expect(page.get_by_role("heading", name="Add a plant")).to_have_count(0)
    expect(page.get_by_role("button", name="Dispatch and record")).to_have_count(0)
    page.get_by_label(re.compile("Demand slider")).fill("2000")
    expect(page.locator("#by-kind-table tr", has_text="Wind")).to_contain_text("2 MW")


def test_screenshot_of_the_dashboard_with_a_fleet_of_thousands(app, live_server, page, tmp_path):
    """The README's picture: the first screen at 1440 x 900 with the demo fleet and
    3,000 more plants (``make screenshot`` keeps it)."""
    from tests.test_browser_scale import build_fleet

    add_plants(app, *demo_plants())
    build_fleet(app, 3000)
    page.set_viewport_size({"width": 1440, "height": 900})
    open_dashboard(page, live_server)
    wait_for_chart(page, "allocation-chart")
    target = tmp_path / "dashboard.png"
    page.screenshot(path=target)
    assert target.stat().st_size > 10_000
    if os.environ.get("VPP_SCREENSHOT"):
        shutil.copy(target, os.environ["VPP_SCREENSHOT"])


def test_the_plant_form_shows_storage_for_batteries_and_location_for_solar(
    app, live_server, page: Page
):
    open_dashboard(page, live_server)
    form = page.locator("#add-plant form, form[action*='/plants']").first
    form.get_by_text("For schedules (optional)").click()
    storage = form.locator("fieldset[data-kinds='battery']")
    location = form.locator("fieldset[data-kinds='solar']")
    expect(form.get_by_label("Ramp up (kW/min)")).to_be_visible()
    expect(storage).to_be_hidden()
    page.locator("#kind").select_option("battery")
    expect(storage).to_be_visible()
    expect(location).to_be_hidden()
    page.locator("#kind").select_option("solar")
    expect(location).to_be_visible()
    expect(storage).to_be_hidden()
    page.get_by_label("Name", exact=True).fill("Roof")
    page.get_by_label("Max capacity (kW)").fill("8")
    page.get_by_label("Latitude (°N)").fill("52.37")
    page.get_by_label("Longitude (°E)").fill("4.9")
    page.get_by_role("button", name="Add plant").click()
    expect(page.locator("#fleet-table tbody tr", has_text="Roof")).to_be_visible()


def test_a_schedule_is_planned_from_the_page_and_its_charts_draw(app, live_server, page: Page):
    """The operator's whole path: the Schedules page, a built-in shape, Plan; the page
    waits (reloading itself) while a worker solves, then draws the plan."""
    add_plants(app, *FLEET)
    stop = threading.Event()
    solver = threading.Thread(target=worker.work, args=(app, stop), kwargs={"poll_s": 0.2})
    solver.start()
    refused = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    try:
        log_in(page, live_server)
        page.goto(live_server.url("/"))
        page.get_by_role("link", name="Schedules").first.click()
        page.locator("#shape").select_option("evening_peak")
        page.get_by_label("Peak (% of available capacity)").fill("80")
        page.get_by_label("Time limit (s)").fill("10")
        page.get_by_role("button", name="Plan").click()
        expect(page).to_have_url(re.compile(r"/schedules/1#schedule-status$"))
        expect(page.get_by_test_id("gap")).to_be_visible(timeout=30_000)
        for chart in ("schedule-output-chart", "schedule-price-chart", "schedule-storage-chart"):
            drawn = wait_for_chart(page, chart)
            assert drawn["drawn"] > 0.01 * drawn["total"], (chart, drawn)
        datasets = page.evaluate(
            "() => Chart.getChart(document.getElementById('schedule-output-chart'))"
            ".data.datasets.map(d => d.label)"
        )
        assert "Demand" in datasets and "Unmet demand" in datasets and "Wind" in datasets
        expect(page.locator("#schedule-plant-table")).to_contain_text("Ridge wind")
    finally:
        stop.set()
        solver.join()
    assert refused == []


def test_the_live_chart_moves_without_a_reload(app, live_server, page: Page):
    """The Live page asks for new figures by itself: readings that arrive while it is
    open move its chart and its counts, and the page is never reloaded."""
    from datetime import UTC, datetime

    from vpp.services import telemetry
    from vpp.transactions import transaction

    ids = add_plants(
        app, *({"name": f"Meter {i}", "telemetry": True, "max_capacity": 100} for i in range(3))
    )
    log_in(page, live_server)
    page.goto(live_server.url("/"))
    page.get_by_role("link", name="Live").first.click()
    expect(page.get_by_role("heading", name="Live", exact=True)).to_be_visible()
    wait_for_chart(page, "live-chart")
    page.evaluate("() => { window.stillTheSamePage = true; }")
    # Any minute of the chart: its next refresh may fall in the next minute.
    measured = "() => window.vppLiveChart.data.datasets[0].data"
    assert all(value is None for value in page.evaluate(measured))
    with app.app_context():
        now = datetime.now(UTC)
        readings = [
            telemetry.ReadingIn(plant_id, now, 10.0 * n, None) for n, plant_id in enumerate(ids, 1)
        ]
        with transaction():
            telemetry.ingest(readings, now)
    page.wait_for_function(f"() => ({measured})().includes(60)", timeout=15_000)
    expect(page.locator("[data-live=reporting]")).to_have_text("3")
    assert page.evaluate("() => window.stillTheSamePage") is True
    drawn = page.evaluate(COUNT_DRAWN_PIXELS, "live-chart")
    assert drawn["drawn"] > 0.01 * drawn["total"]
