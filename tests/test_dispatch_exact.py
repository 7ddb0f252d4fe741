"""Dispatch exact at every magnitude: fleets mixing 1e-3 kW and 1e9 kW units, demands
on the knife-edges between them, checked in exact arithmetic (``Fraction``) against
the brute force of ``tests.reference_dispatch``, which shares no code with the
module. No tolerance is given where the rules give none."""

import math
from fractions import Fraction

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from tests.reference_dispatch import brute_force
from vpp.domain import TOLERANCE_KW
from vpp.services.dispatch import PreparedFleet, Unit, dispatch_demand

ON_REASONS = {"at_max", "at_max_short", "marginal", "at_min"}


def assert_exactly_feasible(units: list[Unit], demand: float, result) -> None:
    """Rules 1, 2 and 5 with no tolerance at all, and every reason true of its output."""
    by_id = {u.id: u for u in units}
    reasons = result.reason_by_unit()
    assert set(reasons) == set(by_id)
    assert set(result.allocations) == {u.id for u in units if u.status != "down"}
    for unit_id, output in result.allocations.items():
        unit = by_id[unit_id]
        assert output == 0 or unit.min_kw <= output <= unit.max_kw, (unit, output)
        assert (output > 0) == (reasons[unit_id] in ON_REASONS), (unit, output, reasons[unit_id])
        if reasons[unit_id] in ("at_max", "at_max_short"):
            assert output == unit.max_kw
        # "Cheaper than the marginal unit" only when the demand is met; short of it,
        # every unit at its maximum is there because the fleet is not enough.
        short = result.unmet_demand_kw > TOLERANCE_KW
        assert reasons[unit_id] != ("at_max" if short else "at_max_short"), (unit, demand)
        if reasons[unit_id] == "at_min":
            assert output == unit.min_kw
    exact_total = sum((Fraction(kw) for kw in result.allocations.values()), Fraction(0))
    assert exact_total <= Fraction(demand)  # never over, not even by a rounding
    assert result.total_dispatched_kw <= demand
    assert result.total_dispatched_kw == float(exact_total) or math.isclose(
        result.total_dispatched_kw, float(exact_total), rel_tol=1e-15
    )
    idle_on = sum(1 for i, kw in result.allocations.items() if kw > 0 and by_id[i].status == "idle")
    assert result.startups == idle_on


def exact_cost(units: list[Unit], result) -> Fraction:
    by_id = {u.id: u for u in units}
    return (
        sum(
            (Fraction(by_id[i].cost) * Fraction(kw) for i, kw in result.allocations.items()),
            Fraction(0),
        )
        / 1000
    )


MAGNITUDES = [1e-3, 0.1, 0.2, 1.0, 8.0, 1e3, 5e8, 500000000.0005, 1e9]


@st.composite
def mixed_fleets(draw, max_units: int = 9):
    count = draw(st.integers(min_value=0, max_value=max_units))
    sizes = st.one_of(
        st.sampled_from(MAGNITUDES),
        st.floats(min_value=-3, max_value=9).map(lambda e: 10.0**e),
        st.floats(min_value=1e-3, max_value=1e9),
    )
    costs = st.one_of(
        st.sampled_from([0.0, 5.0, 5.0, -20.0, 1e6, -1e6, 0.1]),
        st.floats(-1e6, 1e6).map(lambda c: round(c, 2)),
        st.floats(-1e6, 1e6),
    )
    units = []
    for unit_id in range(1, count + 1):
        max_kw = draw(sizes)
        min_kw = draw(
            st.one_of(
                st.just(0.0),
                st.just(max_kw),
                st.sampled_from([0.125 * max_kw, 0.3 * max_kw, 0.999999 * max_kw]),
                st.floats(min_value=0, max_value=max_kw),
            )
        )
        status = draw(st.sampled_from(["idle", "idle", "running", "down"]))
        units.append(Unit(unit_id, min_kw, max_kw, draw(costs), status))
    return units


def knife_edge_demands(units):
    """Sums of units' figures, and the same a hair above and below: where a rounding
    would tip the answer."""
    available = [u for u in units if u.status != "down"]
    points = [0.5, 1e13, 1e15]
    for i, unit in enumerate(available):
        points += [unit.max_kw, unit.min_kw or unit.max_kw]
        for other in available[i + 1 :]:
            points += [unit.max_kw + other.max_kw, unit.min_kw + other.min_kw]
    points.append(sum(u.max_kw for u in available) or 1.0)
    nudged = st.sampled_from([p for p in points if p > 0]).flatmap(
        lambda p: st.sampled_from(
            [p, p * (1 + 1e-12), p * (1 - 1e-12), p + 1e-7, max(p - 1e-7, p / 2), p + 0.5]
        )
    )
    return st.one_of(nudged, st.floats(min_value=1e-3, max_value=1e10))


@settings(max_examples=1500, deadline=None)
@given(data=st.data(), units=mixed_fleets())
def test_equals_exact_brute_force_at_mixed_magnitudes(data, units):
    demand = data.draw(knife_edge_demands(units))
    note(f"units={units!r} demand={demand!r}")
    result = dispatch_demand(units, demand)
    assert_exactly_feasible(units, demand, result)
    assert result.optimal
    best_kw, best_cost, best_startups = brute_force(units, demand)
    assert_no_worse_than_the_exact_optimum(units, result, best_kw, best_cost, best_startups)


def assert_no_worse_than_the_exact_optimum(units, result, best_kw, best_cost, best_startups):
    """The answer is the exact optimum (to an ulp per output, which goes back to float
    rounded down), unless the rule against a start-up for the last microwatt saved
    start-ups: then it dispatches at most 1e-6 kW less and costs no more."""
    scale = sum(abs(u.cost) * u.max_kw for u in units) / 1000
    cost_slack = 1e-12 * scale + 1e-300
    cost = float(exact_cost(units, result))
    if result.startups == best_startups:
        assert result.total_dispatched_kw == pytest.approx(best_kw, rel=1e-12, abs=1e-300)
        assert cost == pytest.approx(best_cost, abs=cost_slack)
    else:
        assert result.startups < best_startups
        assert best_kw - TOLERANCE_KW * (1 + 1e-9) <= result.total_dispatched_kw <= best_kw
        assert cost <= best_cost + cost_slack


@settings(max_examples=300, deadline=None)
@given(data=st.data(), units=mixed_fleets(max_units=14))
def test_mixed_magnitudes_same_answer_in_any_order_and_prepared(data, units):
    demand = data.draw(knife_edge_demands(units))
    first = dispatch_demand(units, demand)
    assert_exactly_feasible(units, demand, first)
    shuffled = data.draw(st.permutations(units))
    assert dispatch_demand(shuffled, demand).allocations == first.allocations
    assert dispatch_demand(PreparedFleet(units), demand).allocations == first.allocations


# The review's cases, one by one.


def test_a_small_residual_on_a_huge_plant_is_dispatched():
    result = dispatch_demand([Unit(1, 0, 1e9, 10, "running")], 0.5)
    assert result.allocations == {1: 0.5}
    assert result.reasons == {"marginal": [1]}
    assert result.optimal


@pytest.mark.parametrize(
    ("units", "demand", "expected"),
    [
        ([Unit(1, 0.1, 0.1, 0, "running"), Unit(2, 0.2, 0.2, 0, "running")], 0.3, {1: 0, 2: 0.2}),
        (
            [
                Unit(1, 1e9, 1e9, 0, "running"),
                Unit(2, 500000000.0005, 500000000.0005, 0, "running"),
            ],
            1.5e9,
            {1: 1e9, 2: 0},
        ),
    ],
)
def test_the_total_never_exceeds_the_demand_in_floating_point(units, demand, expected):
    result = dispatch_demand(units, demand)
    assert result.allocations == expected
    assert sum(Fraction(kw) for kw in result.allocations.values()) <= Fraction(demand)
    assert result.total_dispatched_kw <= demand


def test_a_huge_demand_dispatches_what_there_is():
    result = dispatch_demand([Unit(1, 0, 10, 0, "running")], 1e13)
    assert result.allocations == {1: 10.0}
    assert result.unmet_demand_kw == 1e13 - 10


def test_no_unit_is_counted_started_without_output():
    units = [Unit(1, 0, 1e9, 1, "idle"), Unit(2, 0, 1e-3, 5, "idle"), Unit(3, 0.1, 0.1, 2, "idle")]
    for demand in (1e-3, 0.1, 0.1 + 1e-3, 1e9, 2e9, 0.30000000000000004):
        assert_exactly_feasible(units, demand, dispatch_demand(units, demand))


def test_no_start_up_for_the_last_microwatt():
    units = [Unit(i, 1, 8, 5, "idle") for i in range(1, 6)]
    result = dispatch_demand(units, 32.0000001)
    assert result.allocations == {1: 8.0, 2: 8.0, 3: 8.0, 4: 8.0, 5: 0.0}
    assert result.startups == 4
    # A start-up that buys more than the microwatt is made.
    more = dispatch_demand(units, 32.00001)
    assert more.startups == 5 and more.total_dispatched_kw == 32.00001
