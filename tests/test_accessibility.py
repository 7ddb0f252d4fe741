"""Every page, as an operator meets it on a desk (1440 px) and on a phone (390 px):
axe-core (a pinned copy, fetched by ``make axe``) reports no violation, and nothing
scrolls sideways. Pages are loaded with a demo fleet and a recorded dispatch, so
that tables, charts and forms are all on them."""

import re
import threading
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.helpers import PASSWORDS, add_plants
from vpp import worker
from vpp.demo import demo_plants
from vpp.extensions import db
from vpp.services import dispatch_runs, schedule_jobs
from vpp.transactions import transaction

pytestmark = pytest.mark.browser

AXE = next(iter(sorted(Path(__file__).parent.parent.glob("build/axe/axe-core-*/axe.min.js"))), None)

WIDTHS = {"desk": (1440, 900), "phone": (390, 844)}

# The whole page wider than the window, and the elements that stick out of it.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (box.width && box.right > width + 1 && !el.closest('.table-box, .overflow-auto')) {
      const classes = typeof el.className === 'string' ? el.className.split(' ') : [];
      wide.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                classes.map(c => c && '.' + c).join('') + ' right=' + Math.round(box.right));
    }
  }
  return {scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 8)};
}"""


@pytest.fixture
def loaded(app):
    """A demo fleet, one recorded dispatch and one solved schedule."""
    add_plants(app, *demo_plants())
    with app.app_context(), transaction():
        record = dispatch_runs.commit_dispatch(5000, actor="tests")
        plant_id = record.allocations[0].plant_id
    with app.app_context():
        with transaction():
            asked = schedule_jobs.load_request({"demand": [3000.0 + 100 * t for t in range(96)]})
            schedule_id = schedule_jobs.submit(asked, actor="tests").id
        db.session.remove()
    worker.work(app, threading.Event(), once=True)
    return {"dispatch": record.id, "plant": plant_id, "schedule": schedule_id}


def pages(loaded) -> list[str]:
    return [
        "/",
        f"/plants/{loaded['plant']}/edit",
        "/dispatches",
        f"/dispatches/{loaded['dispatch']}",
        "/schedules",
        f"/schedules/{loaded['schedule']}",
        "/live",
        "/admin/users",
        "/admin/tokens",
        "/admin/audit",
        "/api/docs",
    ]


@pytest.fixture
def checking_page(browser):
    """A page whose context lets the axe script in past the app's CSP."""
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    yield page
    context.close()


def log_in(page: Page, live_server, role: str = "admin") -> None:
    page.goto(live_server.url("/login"))
    page.get_by_label("Username").fill(role)
    page.get_by_label("Password").fill(PASSWORDS[role])
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile("/login"))


def check(page: Page, what: str) -> list[str]:
    """What is wrong with the page as it stands: axe violations and sideways scroll."""
    if AXE is None:
        pytest.fail("axe-core is missing: run 'make axe' (the README's test command does).")
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    problems = [
        f"{what}: axe {v['id']} ({v['impact']}): "
        + ", ".join(str(node["target"]) for node in v["nodes"][:5])
        for v in violations
    ]
    overflow = page.evaluate(OVERFLOW)
    if overflow["scroll"] > overflow["width"]:
        problems.append(
            f"{what}: {overflow['scroll']} px wide in a {overflow['width']} px window: "
            + "; ".join(overflow["wide"])
        )
    return problems


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_passes_axe_and_fits_the_window(
    app, live_server, checking_page: Page, loaded, width
):
    page = checking_page
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS[width], strict=True)))
    problems = check_login(page, live_server, width)
    log_in(page, live_server)
    for path in pages(loaded):
        page.goto(live_server.url(path))
        page.wait_for_load_state("load")
        problems += check(page, f"{width} {path}")
    assert not problems, "\n".join(problems)


def check_login(page: Page, live_server, width: str) -> list[str]:
    page.goto(live_server.url("/login"))
    return check(page, f"{width} /login")


@pytest.mark.parametrize("width", WIDTHS)
def test_forms_with_errors_pass_axe_and_fit_the_window(
    app, live_server, checking_page: Page, loaded, width
):
    page = checking_page
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS[width], strict=True)))
    log_in(page, live_server)
    page.goto(live_server.url("/"))
    page.get_by_label("Name", exact=True).fill("x" * 10)
    page.get_by_label("Max capacity (kW)").fill("-5")
    page.get_by_role("button", name="Add plant").click()
    expect(page.locator(".field-error").first).to_be_visible()
    # The first bad field has the focus, under a summary of every problem.
    expect(page.locator("#max_capacity")).to_be_focused()
    expect(page.locator(".error-summary")).to_contain_text("Max capacity (kW)")
    problems = check(page, f"{width} / with form errors")
    page.goto(live_server.url(f"/plants/{loaded['plant']}/edit"))
    page.get_by_label("Max capacity (kW)").fill("-5")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".field-error").first).to_be_visible()
    page.get_by_text("For schedules (optional)").click()  # every field shown
    problems += check(page, f"{width} edit with form errors")
    assert not problems, "\n".join(problems)


def test_the_navigation_is_reachable_on_a_phone(app, live_server, checking_page: Page, loaded):
    page = checking_page
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server)
    for name in ("Dashboard", "History", "API", "Users", "Tokens", "Audit"):
        page.goto(live_server.url("/"))
        menu = page.get_by_text("Menu")
        if menu.is_visible():
            menu.click()
        link = page.get_by_role("navigation", name="Main").get_by_role(
            "link", name=name, exact=True
        )
        expect(link).to_be_in_viewport()
        link.click()
        page.wait_for_load_state("load")


# Machado, Oliveira and Fernandes (2009), severity 1.0: how a colour looks to
# people with deuteranopia and protanopia (applied to linear RGB).
SIMULATIONS = {
    "deuteranopia": (
        (0.367322, 0.860646, -0.227968),
        (0.280085, 0.672501, 0.047413),
        (-0.011820, 0.042940, 0.968881),
    ),
    "protanopia": (
        (0.152286, 1.052583, -0.204868),
        (0.114503, 0.786281, 0.099216),
        (-0.003882, -0.048116, 1.051998),
    ),
}


def _linear(colour: str) -> list[float]:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    return [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]


def _seen(colour: str, matrix) -> tuple[float, ...]:
    rgb = _linear(colour)
    return tuple(sum(m * c for m, c in zip(row, rgb, strict=True)) for row in matrix)


def test_charts_tell_statuses_apart_by_pattern_and_colour_blind_safe_colours(
    app, live_server, checking_page: Page, loaded
):
    page = checking_page
    log_in(page, live_server)
    page.goto(live_server.url("/"))
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.getElementById('capacity-chart'))"
    )
    looks = page.evaluate(
        """() => Chart.getChart(document.getElementById('capacity-chart')).data.datasets.map(
             d => ({label: d.label, border: d.borderColor,
                    patterned: d.backgroundColor instanceof CanvasPattern}))"""
    )
    assert [look["label"] for look in looks] == ["Idle", "Running", "Down"]
    # Two of the three carry a pattern, so no two look alike even in greyscale.
    assert sorted(look["patterned"] for look in looks) == [False, True, True]
    colours = [look["border"] for look in looks]
    for matrix in SIMULATIONS.values():
        seen = [_seen(colour, matrix) for colour in colours]
        for i in range(len(seen)):
            for j in range(i + 1, len(seen)):
                distance = sum((a - b) ** 2 for a, b in zip(seen[i], seen[j], strict=True)) ** 0.5
                assert distance > 0.1, (colours[i], colours[j], matrix)


@pytest.mark.parametrize("width", WIDTHS)
def test_a_viewers_pages_pass_axe_and_fit_the_window(
    app, live_server, checking_page: Page, loaded, width
):
    """A viewer's pages differ (a read-only plant page, no forms that change)."""
    page = checking_page
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS[width], strict=True)))
    log_in(page, live_server, "viewer")
    problems = []
    for path in pages(loaded)[:4]:
        page.goto(live_server.url(path))
        page.wait_for_load_state("load")
        problems += check(page, f"viewer {width} {path}")
    assert not problems, "\n".join(problems)
