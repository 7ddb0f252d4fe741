"""The pages with a fleet of thousands, in a real Chromium: the first screen holds the
dispatch control and a preview before anyone touches it, nothing on a page grows
with the fleet, the tables page, filter and search, and the preview follows a drag.
The fleets are built through the bulk path (one INSERT per 5,000 plants)."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.test_browser import log_in, wait_for_chart
from vpp.services import fleet
from vpp.transactions import transaction

pytestmark = pytest.mark.browser

KINDS = ("battery", "solar", "wind", "demand_response", "chp")
# Bounds that do not grow with the fleet: what a page may weigh at any size.
PAGE_BYTES = 150_000
PAGE_ELEMENTS = 3_000


def build_fleet(app, size: int) -> None:
    with app.app_context(), transaction():
        fleet.create_plants(
            (
                {
                    "name": f"Home battery {n:05d}" if n % 50 else f"Depot genset {n:05d}",
                    "kind": KINDS[n % len(KINDS)],
                    "max_capacity": 5 + n % 13,
                    "min_capacity": 0 if n % 7 else 2,
                    "status": ("idle", "running", "idle", "down")[n % 4],
                    "marginal_cost": (n * 37) % 120 - 10,
                }
                for n in range(size)
            ),
            actor="tests",
        )


def page_weight(page: Page, live_server) -> tuple[int, int]:
    html = page.request.get(live_server.url("/")).body()
    page.goto(live_server.url("/"))
    return len(html), page.evaluate("document.getElementsByTagName('*').length")


def test_first_screen_holds_the_dispatch_control_and_a_preview(app, live_server, page: Page):
    build_fleet(app, 3000)
    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(page, live_server)
    page.goto(live_server.url("/"))
    for locator in (
        page.get_by_label(re.compile("Demand slider")),
        page.get_by_label("Demand (kW)"),
        page.locator('[data-field="total_dispatched"]'),
        page.locator('[data-field="unmet_demand"]'),
        page.locator('[data-field="total_cost"]'),
        page.locator('[data-field="marginal_cost"]'),
        page.locator('[data-field="startups"]'),
    ):
        expect(locator).to_be_visible()
        box = locator.bounding_box()
        assert box["y"] + box["height"] <= 900, (locator, box)
    # The preview of 80 % is there without any interaction, and it is a real one.
    expect(page.locator('[data-field="meta"]')).to_contain_text("Preview, not recorded")
    dispatched = page.locator('[data-field="total_dispatched"]').inner_text()
    number, unit = dispatched.split(" ")
    assert unit in ("MW", "GW") and float(number.replace(",", "")) > 0, dispatched
    # A keyboard user reaches the control by the skip link.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to the dispatch control")).to_be_focused()


def test_nothing_on_the_page_grows_with_the_fleet(app, live_server, page: Page):
    log_in(page, live_server)
    build_fleet(app, 300)
    small_bytes, small_elements = page_weight(page, live_server)
    build_fleet_more(app, 300, 4000)
    large_bytes, large_elements = page_weight(page, live_server)
    assert large_bytes <= PAGE_BYTES and large_elements <= PAGE_ELEMENTS
    # Only the numbers differ: a few hundred bytes, no element per plant.
    assert abs(large_bytes - small_bytes) < 2_000, (small_bytes, large_bytes)
    assert abs(large_elements - small_elements) < 60, (small_elements, large_elements)
    for chart in ("capacity-chart", "allocation-chart", "merit-chart"):
        assert wait_for_chart(page, chart)["drawn"] > 1000


def build_fleet_more(app, start: int, end: int) -> None:
    with app.app_context(), transaction():
        fleet.create_plants(
            (
                {"name": f"Extra {n:05d}", "kind": KINDS[n % 5], "max_capacity": 3 + n % 11}
                for n in range(start, end)
            ),
            actor="tests",
        )


def test_fleet_table_pages_filters_and_searches(app, live_server, page: Page):
    build_fleet(app, 3000)
    log_in(page, live_server)
    page.goto(live_server.url("/"))
    table = page.locator("#fleet-table tbody tr")
    expect(table).to_have_count(25)
    expect(page.locator("#fleet .pager")).to_contain_text("Page 1 of 120 · 3,000 plants")
    page.locator("#fleet .pager").get_by_role("link", name="Next").click()
    expect(page.locator("#fleet .pager")).to_contain_text("Page 2 of 120")
    expect(table.first).to_contain_text("Home battery 00025")

    page.get_by_label("Name contains").fill("genset")
    page.get_by_label("In status").select_option("idle")
    page.get_by_role("button", name="Show").click()
    # Gensets are every 50th plant (60 of them), all idle (n % 4 is 0 or 2).
    expect(page.locator("#fleet .pager")).to_contain_text("60 plants")
    expect(table.first).to_contain_text("Depot genset")
    expect(table.first).to_contain_text("Idle")
    page.get_by_label("Order", exact=False).and_(page.locator("select")).select_option(
        "-max_capacity"
    )
    page.get_by_role("button", name="Show").click()
    first = page.locator("#fleet-table tbody tr").first.locator("td").nth(5).inner_text()
    last = page.locator("#fleet-table tbody tr").last.locator("td").nth(5).inner_text()
    assert float(first.split()[0]) >= float(last.split()[0])
    assert "genset" in page.url and "status=idle" in page.url  # filters kept in the URL


def test_preview_follows_the_slider_while_it_is_dragged(app, live_server, page: Page):
    build_fleet(app, 3000)
    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(page, live_server)
    page.goto(live_server.url("/"))
    expect(page.locator('[data-field="meta"]')).to_contain_text("Preview")
    page.evaluate(
        """() => {
          window.seen = [];
          const node = document.querySelector('[data-field="total_dispatched"]');
          new MutationObserver(() => window.seen.push(node.textContent))
            .observe(node, {childList: true, characterData: true, subtree: true});
        }"""
    )
    slider = page.get_by_label(re.compile("Demand slider"))
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.5, y)
    page.mouse.down()
    for step in range(1, 13):
        page.mouse.move(box["x"] + box["width"] * (0.5 - step * 0.03), y)
        page.wait_for_timeout(120)
    seen_while_dragging = page.evaluate("window.seen.length")
    page.mouse.up()
    assert seen_while_dragging >= 2, seen_while_dragging  # not only when it stops
    value = float(page.get_by_label("Demand (kW)").input_value())
    step = float(slider.get_attribute("step"))
    assert abs(value / step - round(value / step)) < 1e-6  # round steps
