"""The demo fleet: nine plants of every kind and status, to try things out
(``flask plants demo``) and to fill the pages in the browser tests."""

DEMO_FLEET_FIELDS = ("name", "kind", "max_capacity", "min_capacity", "status", "marginal_cost")

DEMO_FLEET = (
    # name, kind, max kW, min kW, status, cost per MWh
    ("Harbour battery", "battery", 2000, 0, "running", 15),
    ("Sunfield solar", "solar", 3500, 0, "running", 0),
    ("Ridge wind farm", "wind", 4200, 0, "idle", 2),
    ("Millrace hydro", "hydro", 1500, 300, "running", 8),
    ("Depot diesel genset", "diesel", 1200, 400, "idle", 180),
    ("Northside gas peaker", "gas", 5000, 1500, "idle", 95),
    ("Hospital CHP", "chp", 800, 320, "running", 60),
    ("Cold-store demand response", "demand_response", 600, 0, "idle", 120),
    ("Old turbine (maintenance)", "gas", 3000, 1000, "down", 70),
)


def demo_plants() -> list[dict]:
    """The demo fleet as the plant fields the services take."""
    return [dict(zip(DEMO_FLEET_FIELDS, row, strict=True)) for row in DEMO_FLEET]
