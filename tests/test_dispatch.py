"""The pure dispatch algorithm, with no app and no database."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.reference_dispatch import brute_force, milp
from tests.test_dispatch_exact import assert_no_worse_than_the_exact_optimum
from vpp.domain import PLANT_STATUSES, TOLERANCE_KW
from vpp.services.dispatch import PreparedFleet, Unit, dispatch_demand


def assert_feasible(units: list[Unit], demand: float, result) -> None:
    """DESIGN.md rules 1, 2, 5 and 6, checked independently of the algorithm."""
    by_id = {u.id: u for u in units}
    not_down = {u.id for u in units if u.status != "down"}
    assert set(result.allocations) == not_down
    listed = [unit_id for ids in result.reasons.values() for unit_id in ids]
    assert sorted(listed) == sorted(by_id)  # every unit has exactly one reason
    down = set(result.reasons.get("down", []))
    assert down == {u.id for u in units if u.status == "down"}
    for unit_id, output in result.allocations.items():
        unit = by_id[unit_id]
        assert math.isfinite(output)
        assert output == 0 or (
            unit.min_kw - TOLERANCE_KW <= output <= unit.max_kw + TOLERANCE_KW
        ), (unit, output)
    total = sum(result.allocations.values())
    assert total <= demand + TOLERANCE_KW
    assert result.total_dispatched_kw == pytest.approx(total, abs=TOLERANCE_KW)
    assert result.unmet_demand_kw == pytest.approx(demand - total, abs=TOLERANCE_KW)
    expected_cost = sum(by_id[i].cost * kw / 1000 for i, kw in result.allocations.items())
    assert result.total_cost_per_h == pytest.approx(expected_cost, abs=1e-6)


def test_unit_with_minimum_above_demand_stays_off():
    units = [Unit(1, min_kw=50, max_kw=100)]
    result = dispatch_demand(units, 30)
    assert result.allocations == {1: 0.0}
    assert result.total_dispatched_kw == 0
    assert result.unmet_demand_kw == 30


def test_down_units_get_nothing_and_are_not_listed():
    units = [Unit(1, 0, 100, status="down"), Unit(2, 0, 100)]
    result = dispatch_demand(units, 150)
    assert result.allocations == {2: 100.0}
    assert result.unmet_demand_kw == 50


def test_cheapest_flexible_units_are_used_first():
    units = [Unit(1, 0, 100, cost=50), Unit(2, 0, 100, cost=10), Unit(3, 0, 100, cost=30)]
    result = dispatch_demand(units, 150)
    assert result.allocations == {1: 0.0, 2: 100.0, 3: 50.0}
    assert result.total_cost_per_h == pytest.approx((100 * 10 + 50 * 30) / 1000)


def test_running_unit_preferred_over_idle_at_equal_cost():
    units = [Unit(1, 0, 100, cost=10, status="idle"), Unit(2, 0, 100, cost=10, status="running")]
    assert dispatch_demand(units, 60).allocations == {1: 0.0, 2: 60.0}


def test_lower_id_breaks_remaining_ties():
    units = [Unit(2, 0, 100, cost=10), Unit(1, 0, 100, cost=10)]
    assert dispatch_demand(units, 60).allocations == {1: 60.0, 2: 0.0}


def test_committed_unit_runs_at_least_at_its_minimum():
    units = [Unit(1, 0, 10, cost=1), Unit(2, 40, 100, cost=5)]
    result = dispatch_demand(units, 45)
    assert result.allocations[2] >= 40
    assert result.total_dispatched_kw == pytest.approx(45)


def test_dear_unit_with_a_minimum_is_released_when_cheaper_units_suffice():
    units = [
        Unit(1, 0, 2000, cost=15, status="running"),
        Unit(2, 0, 4000, cost=2),
        Unit(3, 900, 3000, cost=95),
    ]
    assert dispatch_demand(units, 5000).allocations == {1: 1000.0, 2: 4000.0, 3: 0.0}
    assert dispatch_demand(units, 1000).allocations == {1: 0.0, 2: 1000.0, 3: 0.0}


def test_unit_with_a_minimum_is_kept_when_it_is_needed():
    units = [Unit(1, 0, 60, cost=1), Unit(2, 50, 100, cost=5)]
    result = dispatch_demand(units, 100)
    assert result.allocations == {1: 50.0, 2: 50.0}
    assert result.unmet_demand_kw == 0


def test_demand_above_capacity_dispatches_everything_available():
    units = [Unit(1, 10, 100), Unit(2, 0, 50, status="running")]
    result = dispatch_demand(units, 1000)
    assert result.allocations == {1: 100.0, 2: 50.0}
    assert result.unmet_demand_kw == 850


def test_empty_fleet_meets_nothing():
    result = dispatch_demand([], 10)
    assert result.allocations == {}
    assert result.unmet_demand_kw == 10


def test_allocations_are_listed_by_plant_id():
    units = [Unit(3, 0, 10, cost=1), Unit(1, 0, 10, cost=3), Unit(2, 0, 10, cost=2)]
    assert list(dispatch_demand(units, 5).allocations) == [1, 2, 3]


@pytest.mark.parametrize("demand", [0, -5, math.nan, math.inf, -math.inf, "10", None, True])
def test_demand_must_be_a_finite_positive_number(demand):
    with pytest.raises(ValueError, match="demand"):
        dispatch_demand([Unit(1, 0, 10)], demand)


@pytest.mark.parametrize(
    "unit",
    [Unit(1, 20, 10), Unit(1, -1, 10), Unit(1, 0, math.inf), Unit(1, math.nan, 10)],
)
def test_units_with_impossible_bounds_are_rejected(unit):
    with pytest.raises(ValueError, match="unit 1"):
        dispatch_demand([unit], 5)


@st.composite
def fleets(draw, max_units: int = 15):
    """Random fleets with the awkward cases made likely: equal costs and sizes (ties,
    identical units), minimums of 0 and equal to the maximum, negative costs."""
    count = draw(st.integers(min_value=0, max_value=max_units))
    # Sizes to the watt: values at the scale of floating-point noise (1e-9 kW) would
    # test the tolerances, not the algorithm.
    sizes = st.one_of(
        st.sampled_from([10.0, 25.0, 40.0, 100.0]),
        st.floats(min_value=0.001, max_value=1e4).map(lambda kw: round(kw, 3)),
    )
    # Tariffs come in cents: costs closer than the cost tolerance (1e-9 relative) are
    # equal to the algorithm, so they are not drawn.
    costs = st.one_of(
        st.sampled_from([0.0, 10.0, 10.0, 50.0, -20.0]),
        st.floats(-100, 500).map(lambda c: round(c, 2)),
    )
    units = []
    for unit_id in range(1, count + 1):
        max_kw = draw(sizes)
        min_kw = draw(
            st.one_of(
                st.just(0.0),
                st.just(max_kw),
                st.sampled_from([0.3 * max_kw, 0.5 * max_kw, 0.9 * max_kw]),
                st.floats(min_value=0, max_value=max_kw).map(lambda kw: round(kw, 3)),
            )
        )
        status = draw(st.sampled_from(PLANT_STATUSES))
        units.append(Unit(unit_id, min_kw, max_kw, draw(costs), status))
    return units


def demands_for(units):
    """Demands around the fleet's interesting points: below every minimum, between,
    near the capacity, above it."""
    capacity = sum(u.max_kw for u in units if u.status != "down")
    points = [1.0, 5.0, 30.0, 0.25 * capacity, 0.5 * capacity, 0.9 * capacity, 1.5 * capacity]
    points += [u.min_kw for u in units if u.min_kw > 0]
    return st.one_of(
        st.sampled_from([p for p in points if p >= 1e-3]),
        st.floats(min_value=1e-3, max_value=max(2 * capacity, 1.0)),
    )


@settings(max_examples=1000, deadline=None)
@given(units=fleets(), demand=st.floats(min_value=1e-3, max_value=5e5, allow_nan=False))
def test_every_dispatch_is_feasible(units, demand):
    assert_feasible(units, demand, dispatch_demand(units, demand))


@settings(max_examples=300, deadline=None)
@given(data=st.data(), units=fleets())
def test_same_input_in_any_order_gives_the_same_answer(data, units):
    demand = data.draw(demands_for(units))
    first = dispatch_demand(units, demand)
    shuffled = data.draw(st.permutations(units))
    again = dispatch_demand(shuffled, demand)
    assert first.allocations == again.allocations
    assert dispatch_demand(PreparedFleet(units), demand).allocations == first.allocations


BRUTE_FORCE_CASES = 3000


@settings(max_examples=BRUTE_FORCE_CASES, deadline=None)
@given(data=st.data(), units=fleets(max_units=12))
def test_equals_brute_force_over_every_on_off_set(data, units):
    demand = data.draw(demands_for(units))
    result = dispatch_demand(units, demand)
    assert_feasible(units, demand, result)
    assert result.optimal
    assert_no_worse_than_the_exact_optimum(units, result, *brute_force(units, demand))


def random_fleet(rng, size: int, min_share=(0.0, 0.9), cost_levels: int | None = None):
    units = []
    for unit_id in range(1, size + 1):
        max_kw = float(rng.choice([5, 10, 13.5, 50, 120, 400, 1000]) * rng.uniform(0.8, 1.2))
        share = rng.uniform(*min_share) if rng.random() < 0.7 else 0.0
        cost = (
            float(rng.integers(cost_levels)) * 7.5 if cost_levels else float(rng.uniform(-20, 300))
        )
        status = str(rng.choice(["idle", "idle", "running", "down"]))
        units.append(Unit(unit_id, max_kw * share, max_kw, cost, status))
    return units


@pytest.mark.parametrize("seed", range(12))
def test_equals_the_textbook_milp_on_a_few_hundred_units(seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    units = random_fleet(rng, 250, cost_levels=None if seed % 2 else 15)
    capacity = sum(u.max_kw for u in units if u.status != "down")
    demand = float(capacity * rng.uniform(0.05, 0.95))
    result = dispatch_demand(units, demand)
    assert_feasible(units, demand, result)
    assert result.optimal
    milp_kw, milp_cost, proven = milp(units, demand)
    assert proven
    assert result.total_dispatched_kw == pytest.approx(milp_kw, abs=1e-5)
    # HiGHS works to a feasibility tolerance of 1e-7 per unit; allow for it.
    assert result.total_cost_per_h == pytest.approx(milp_cost, rel=1e-6, abs=1e-5)


@settings(max_examples=300, deadline=None)
@given(units=fleets())
def test_flexible_fleet_meets_any_demand_it_can(units):
    """With no binding minimums the whole demand is met up to the available capacity."""
    flexible = [Unit(u.id, 0.0, u.max_kw, u.cost, u.status) for u in units]
    available = sum(u.max_kw for u in flexible if u.status != "down")
    demand = max(available * 0.7, 1.0)
    result = dispatch_demand(flexible, demand)
    assert result.total_dispatched_kw == pytest.approx(min(demand, available), abs=1e-6)
