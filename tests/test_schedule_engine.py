"""The pure schedule module (vpp/services/schedule.py): every answer keeps DESIGN.md's
rules 1–5 (checked by the module's check_schedule, shown able to fail, and by
tests/schedule_checker.py, which recomputes the states of charge, ramps, minimum times
and the objective from the outputs and shares no code with the module), carries a
proven lower bound, and on small cases is the optimum a person can work out by hand
or the textbook programme's."""

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.schedule_checker import violations
from vpp.services.schedule import (
    SchedulePlant,
    ScheduleProblem,
    check_schedule,
    schedule,
)

HOURLY = 60
# Two optima found by HiGHS agree to within this (currency units, or relative beyond 1):
# it proves optimality to an absolute gap of 1e-6 and holds every bound to 1e-7.
SOLVER_SLACK = 1e-5


def test_a_battery_shifts_cheap_energy_to_the_peak():
    cheap = SchedulePlant(1, max_kw=100, cost=10)
    dear = SchedulePlant(2, max_kw=100, cost=100)
    battery = SchedulePlant(
        3, max_kw=50, energy_kwh=100, soc_kwh=50, soc_max_kwh=100, max_charge_kw=50,
        charge_efficiency=1, discharge_efficiency=1,
    )  # fmt: skip
    problem = ScheduleProblem([cheap, dear, battery], [50, 150], resolution_minutes=HOURLY)
    answer = schedule(problem)
    assert check_schedule(problem, answer) == []
    # Without the store: 0.5 + 6 = 6.5; with it, the cheap unit runs flat out twice.
    assert answer.output_kw[1] == pytest.approx([100, 100])
    assert answer.output_kw[3] == pytest.approx([-50, 50])
    assert answer.objective == pytest.approx(2.0)
    assert answer.status == "optimal" and answer.lower_bound <= answer.objective + 1e-9


def test_a_unit_that_could_not_stay_on_long_enough_is_not_started():
    # Two hours minimum up, but the demand falls to 0 after one: the cheap unit (with a
    # minimum output) cannot run then without over-delivering, so it never starts.
    cheap = SchedulePlant(1, max_kw=100, min_kw=10, cost=10, min_up_minutes=120)
    dear = SchedulePlant(2, max_kw=100, cost=50)
    problem = ScheduleProblem([cheap, dear], [80, 0, 0], resolution_minutes=HOURLY)
    answer = schedule(problem)
    assert check_schedule(problem, answer) == []
    assert answer.output_kw[1] == [0, 0, 0] and answer.output_kw[2] == pytest.approx([80, 0, 0])
    assert answer.objective == pytest.approx(80 * 50 / 1000)


def test_a_ramp_limits_each_step_and_the_rest_is_unmet():
    slow = SchedulePlant(1, max_kw=100, cost=1, ramp_up_kw_per_min=1)  # 15 kW a quarter hour
    # The first interval has no ramp limit (rule 3); then 15 kW more each quarter hour.
    problem = ScheduleProblem([slow], [10, 100, 100], value_of_lost_load=1000)
    answer = schedule(problem)
    assert check_schedule(problem, answer) == []
    assert answer.output_kw[1] == pytest.approx([10, 25, 40])
    assert answer.unmet_kw == pytest.approx([0, 75, 60])


def test_start_up_costs_keep_a_unit_on_rather_than_restart_it():
    # On throughout: 1,400 kWh x 10 / 1000 + one start (3) = 17; stopping for the low
    # hour and restarting costs 12 + 2 x 3 + 4 (the other unit) = 22.
    unit = SchedulePlant(1, max_kw=1000, min_kw=200, cost=10, startup_cost=3)
    other = SchedulePlant(2, max_kw=1000, cost=20)
    problem = ScheduleProblem([unit, other], [600, 200, 600], resolution_minutes=HOURLY)
    answer = schedule(problem)
    assert check_schedule(problem, answer) == []
    assert answer.startups == 1 and all(answer.on[1])
    assert answer.objective == pytest.approx(17)


def test_the_checker_finds_what_breaks_a_rule():
    unit = SchedulePlant(1, max_kw=100, min_kw=20, ramp_up_kw_per_min=1, min_up_minutes=30)
    problem = ScheduleProblem([unit], [50, 50, 50])
    good = schedule(problem)
    assert check_schedule(problem, good) == []
    over = dataclasses.replace(good, output_kw={1: [60, 50, 50]}, on={1: [True] * 3})
    assert any("delivers" in p for p in check_schedule(problem, over))
    below_min = dataclasses.replace(good, output_kw={1: [10, 0, 0]}, on={1: [True, False, False]})
    found = check_schedule(problem, below_min)
    assert any("outside" in p for p in found) and any("within 2" in p for p in found)
    steep = dataclasses.replace(good, output_kw={1: [20, 50, 50]}, on={1: [True] * 3})
    assert any("rises" in p for p in check_schedule(problem, steep))


def test_the_independent_checker_finds_what_breaks_a_rule_or_a_figure():
    unit = SchedulePlant(1, max_kw=100, min_kw=20, cost=50, ramp_up_kw_per_min=1,
                         min_up_minutes=120, startup_cost=7)  # fmt: skip
    store = SchedulePlant(2, max_kw=10, energy_kwh=20, soc_kwh=10, soc_max_kwh=20,
                          max_charge_kw=10, cost=1)  # fmt: skip
    problem = ScheduleProblem([unit, store], [50, 50, 50], resolution_minutes=HOURLY)
    good = schedule(problem)
    assert violations(problem, good) == []

    def broken(**changes) -> list[str]:
        return violations(problem, dataclasses.replace(good, **changes))

    out, soc = good.output_kw, good.soc_kwh
    assert any("more than the demand" in p for p in broken(output_kw={**out, 1: [60, 50, 50]}))
    wrong_soc = [soc[2][0], soc[2][1] + 1, *soc[2][2:]]
    assert any("outputs give" in p for p in broken(soc_kwh={**soc, 2: wrong_soc}))
    assert any("energy cost" in p for p in broken(energy_cost=good.energy_cost + 1))
    assert any("start-up cost" in p for p in broken(startup_cost=good.startup_cost + 7))
    assert any("start-ups" in p for p in broken(startups=good.startups + 1))
    short = {**out, 1: [40, 0, 0]}
    found = broken(output_kw=short, on={1: [True, False, False]})
    assert any("off before 2 intervals" in p for p in found)
    drained = {**out, 2: [10, 10, 0]}  # 21 kWh drawn from 10
    assert any("outside its range" in p for p in broken(output_kw=drained))


def test_a_schedule_is_returned_even_with_no_time_to_solve():
    plants = [
        SchedulePlant(i, max_kw=10 + i, min_kw=5, cost=i, min_up_minutes=60) for i in range(40)
    ]
    problem = ScheduleProblem(plants, [200 + 10 * (t % 7) for t in range(96)])
    answer = schedule(problem, time_limit_s=0.01)
    assert check_schedule(problem, answer) == []
    assert answer.lower_bound <= answer.objective + 1e-6
    assert answer.status in ("optimal", "time_limit", "no_schedule_found")


units = st.builds(
    lambda i, top, low, cost, start, up, down, ramp, running: SchedulePlant(
        i,
        max_kw=top,
        min_kw=min(low, top),
        cost=cost,
        startup_cost=start,
        min_up_minutes=up,
        min_down_minutes=down,
        ramp_up_kw_per_min=ramp,
        ramp_down_kw_per_min=ramp,
        running=running,
    ),  # fmt: skip
    st.just(0),
    st.floats(1, 200),
    st.floats(0, 150),
    st.floats(-10, 200),
    st.floats(0, 100),
    st.sampled_from([0, 15, 45]),
    st.sampled_from([0, 30]),
    st.none() | st.floats(0.5, 20),
    st.booleans(),
)
stores = st.builds(
    lambda i, top, energy, share, eff: SchedulePlant(
        i,
        max_kw=top,
        energy_kwh=energy,
        soc_kwh=energy * share,
        soc_max_kwh=energy,
        max_charge_kw=top,
        charge_efficiency=eff,
        discharge_efficiency=eff,
        cost=1,
    ),  # fmt: skip
    st.just(0),
    st.floats(1, 100),
    st.floats(1, 400),
    st.floats(0, 1),
    st.floats(0.7, 1),
)


@settings(max_examples=25, deadline=None)
@given(
    plants=st.lists(units | stores, min_size=1, max_size=5),
    demand=st.lists(st.floats(0, 400), min_size=1, max_size=8),
)
def test_every_answer_keeps_the_rules_and_is_bounded(plants, demand):
    plants = [dataclasses.replace(p, id=i) for i, p in enumerate(plants, start=1)]
    problem = ScheduleProblem(plants, demand, value_of_lost_load=500)
    answer = schedule(problem, time_limit_s=5)
    assert check_schedule(problem, answer) == []
    assert violations(problem, answer) == []
    assert answer.lower_bound <= answer.objective + 1e-6 * max(1, abs(answer.objective))
    all_off = 500 * problem.hours / 1000 * math.fsum(demand)
    assert answer.objective <= all_off + 1e-6 * max(1.0, all_off)
    assert answer.marginal_price is None or len(answer.marginal_price) == len(demand)


def test_the_marginal_price_is_the_cost_of_one_more_kwh_in_each_interval():
    cheap = SchedulePlant(1, max_kw=100, cost=10)
    dear = SchedulePlant(2, max_kw=100, cost=50)
    problem = ScheduleProblem(
        [cheap, dear], [50, 150, 250], resolution_minutes=HOURLY, value_of_lost_load=3000
    )
    answer = schedule(problem)
    # Cheap sets the price, then dear, then only lost load can take one more kWh.
    assert answer.marginal_price == pytest.approx([10, 50, 3000])


def test_a_registered_store_is_scheduled_with_its_resolved_settings():
    from vpp.schemas import PlantSchema
    from vpp.services.schedule import plant_from_fields

    values = PlantSchema().load(
        {"name": "B", "kind": "battery", "max_capacity": 5, "energy_capacity_kwh": 10,
         "status": "running", "min_up_minutes": 30}
    )  # fmt: skip
    plant = plant_from_fields({"id": 7, **values})
    assert plant.is_store and plant.running
    assert (plant.soc_kwh, plant.soc_min_kwh, plant.soc_max_kwh) == (5, 0, 10)
    assert (plant.max_charge_kw, plant.charge_efficiency, plant.min_up_minutes) == (5, 0.95, 30)
    plain = plant_from_fields({"id": 8, **PlantSchema().load({"name": "P", "max_capacity": 3})})
    assert not plain.is_store and not plain.running


@settings(max_examples=20, deadline=None)
@given(
    plants=st.lists(units | stores, min_size=1, max_size=4),
    demand=st.lists(st.floats(0, 400), min_size=1, max_size=6),
)
def test_the_reductions_change_no_optimum(plants, demand):
    """Units without binaries where their state changes nothing, and stores' binaries
    added only when needed, give the optimum of the textbook programme."""
    plants = [dataclasses.replace(p, id=i) for i, p in enumerate(plants, start=1)]
    problem = ScheduleProblem(plants, demand, value_of_lost_load=500)
    reduced = schedule(problem, time_limit_s=10, target_gap=0)
    textbook = schedule(problem, time_limit_s=10, target_gap=0, reduce=False)
    assert reduced.status == textbook.status == "optimal"
    assert violations(problem, reduced) == [] and violations(problem, textbook) == []
    slack = SOLVER_SLACK * max(1.0, abs(textbook.objective))
    assert reduced.lower_bound <= textbook.objective + slack
    assert reduced.objective == pytest.approx(textbook.objective, abs=slack)


# Stores of a few models (as a fleet of home batteries is) and free units sharing a few
# costs (as rooftop PV and demand response do): what the grouped method groups.
model_stores = st.builds(
    lambda model, share, cost: SchedulePlant(
        0,
        max_kw=model[0],
        energy_kwh=model[1],
        soc_kwh=model[1] * (model[2] + (1 - model[2]) * share),
        soc_min_kwh=model[1] * model[2],
        soc_max_kwh=model[1],
        max_charge_kw=model[0],
        charge_efficiency=model[3],
        discharge_efficiency=model[3],
        cost=cost,
    ),
    st.sampled_from([(5, 10, 0, 0.95), (3, 13.5, 0.1, 0.9), (50, 100, 0, 1.0)]),
    st.floats(0, 1),
    st.sampled_from([0, 2]),
)
free_units = st.builds(
    lambda top, cost, shares: SchedulePlant(0, max_kw=top, cost=cost),
    st.floats(1, 20),
    st.sampled_from([0, 50, 150]),
    st.none(),
)


def _numbered(plants):
    return [dataclasses.replace(p, id=i) for i, p in enumerate(plants, start=1)]


@settings(max_examples=20, deadline=None)
@given(
    plants=st.lists(model_stores | free_units | units, min_size=2, max_size=9),
    demand=st.lists(st.floats(0, 150), min_size=1, max_size=8),
    shares=st.lists(st.floats(0, 1), min_size=8, max_size=8),
    final_soc_free=st.booleans(),
)
def test_grouped_stores_keep_the_rules_and_their_bound_is_true(
    plants, demand, shares, final_soc_free
):
    """Grouping every store (``group_stores_above=0``): the answer is a schedule of the
    fleet (the independent checker), and the relaxation's bound is below the optimum
    of the textbook programme, which is below the answer."""
    plants = _numbered(plants)
    availability = {p.id: shares[: len(demand)] for p in plants if not p.is_store and p.id % 2}
    problem = ScheduleProblem(
        plants, demand, availability=availability, value_of_lost_load=500,
        final_soc_free=final_soc_free,
    )  # fmt: skip
    grouped = schedule(problem, time_limit_s=10, target_gap=0, group_stores_above=0)
    assert check_schedule(problem, grouped) == []
    assert violations(problem, grouped) == []
    best = schedule(problem, time_limit_s=10, target_gap=0, reduce=False)
    assert best.status == "optimal" and best.gap <= SOLVER_SLACK  # its answer is its optimum
    slack = SOLVER_SLACK * max(1.0, abs(best.objective))
    assert grouped.lower_bound <= best.objective + slack
    assert grouped.objective >= best.objective - slack
    assert grouped.marginal_price is None or len(grouped.marginal_price) == len(demand)


@settings(max_examples=15, deadline=None)
@given(
    plants=st.lists(free_units, min_size=2, max_size=8),
    demand=st.lists(st.floats(0, 150), min_size=1, max_size=8),
    shares=st.lists(st.floats(0, 1), min_size=8, max_size=8),
)
def test_free_units_of_one_cost_decided_together_lose_nothing(plants, demand, shares):
    """Free units of one cost are one unit, their output shared by what each can
    give: the optimum of the textbook programme, not merely a bound of it."""
    plants = _numbered(plants)
    availability = {p.id: shares[p.id % 3 : p.id % 3 + len(demand)] or shares for p in plants}
    availability = {k: (v + shares)[: len(demand)] for k, v in availability.items()}
    problem = ScheduleProblem(plants, demand, availability=availability, value_of_lost_load=500)
    grouped = schedule(problem, time_limit_s=10, target_gap=0)
    assert check_schedule(problem, grouped) == []
    assert violations(problem, grouped) == []
    best = schedule(problem, time_limit_s=10, target_gap=0, reduce=False)
    slack = SOLVER_SLACK * max(1.0, abs(best.objective))
    assert grouped.objective == pytest.approx(best.objective, abs=slack)
    assert grouped.lower_bound == pytest.approx(best.objective, abs=slack)


def test_stores_at_one_charge_move_together_and_the_gap_is_proven():
    """Forty identical batteries half full, a cheap night and a dear evening: grouped
    they charge and discharge as one, each its share, and the relaxation proves the
    plan optimal."""
    batteries = [
        SchedulePlant(
            i, max_kw=5, energy_kwh=10, soc_kwh=5, soc_max_kwh=10, max_charge_kw=5, cost=0
        )
        for i in range(1, 41)
    ]
    cheap = SchedulePlant(100, max_kw=250, cost=10)
    dear = SchedulePlant(101, max_kw=1000, cost=200)
    problem = ScheduleProblem(
        [*batteries, cheap, dear], [100, 100, 400, 400], resolution_minutes=HOURLY
    )
    answer = schedule(problem, time_limit_s=10, target_gap=1e-6, group_stores_above=10)
    assert check_schedule(problem, answer) == []
    assert "relaxation" in answer.method and answer.status == "optimal"
    outputs = {tuple(answer.output_kw[b.id]) for b in batteries}
    assert len(outputs) == 1  # they move together
    (each,) = outputs
    assert min(each[:2]) < 0 and min(each[2:]) > 0  # charged when cheap, discharged when dear
    assert answer.gap <= 1e-6


@settings(max_examples=20, deadline=None)
@given(
    templates=st.lists(units, min_size=1, max_size=2),
    copies=st.lists(st.integers(1, 5), min_size=2, max_size=2),
    others=st.lists(model_stores | free_units, max_size=3),
    demand=st.lists(st.floats(0, 600), min_size=1, max_size=6),
)
def test_identical_units_in_blocks_keep_the_rules_and_their_bound_is_true(
    templates, copies, others, demand
):
    """Grouping identical dispatchable units (``group_units_above=0``): blocks that
    start, stop and ramp together give a schedule of the fleet, and the count
    relaxation's bound is below the textbook optimum, which is below the answer."""
    fleet = [unit for unit, n in zip(templates, copies, strict=False) for _ in range(n)]
    problem = ScheduleProblem(_numbered([*fleet, *others]), demand, value_of_lost_load=500)
    grouped = schedule(problem, time_limit_s=10, target_gap=0, group_units_above=0)
    assert violations(problem, grouped) == []
    assert check_schedule(problem, grouped) == []
    best = schedule(problem, time_limit_s=20, target_gap=0, reduce=False)
    assert best.status == "optimal" and best.gap <= SOLVER_SLACK
    slack = SOLVER_SLACK * max(1.0, abs(best.objective))
    assert grouped.lower_bound <= best.objective + slack
    assert grouped.objective >= best.objective - slack


def test_identical_units_share_the_output_of_their_block():
    """Thirty-seven identical gensets: blocks of 1, 2, 4, 8, 16 and 6 units, each unit
    of a block running as its block does, and the bound proven by their count."""
    gensets = [
        SchedulePlant(
            i,
            max_kw=100,
            min_kw=40,
            cost=80,
            startup_cost=30,
            min_up_minutes=60,
            ramp_up_kw_per_min=5,
            ramp_down_kw_per_min=5,
        )  # fmt: skip
        for i in range(1, 38)
    ]
    demand = [600, 1500, 3000, 3000, 2200, 900, 300, 300]
    problem = ScheduleProblem(gensets, demand, value_of_lost_load=5000)
    answer = schedule(problem, time_limit_s=20, target_gap=1e-3, group_units_above=10)
    assert violations(problem, answer) == []
    assert "relaxation" in answer.method
    distinct = {tuple(answer.output_kw[g.id]) for g in gensets}
    assert 1 < len(distinct) <= 6  # at most one pattern per block
    assert answer.gap <= 0.05


def test_the_schedule_returned_is_the_one_whose_cost_is_reported():
    """Found by the property tests: HiGHS 1.16, given a starting point, proved this
    instance's optimum (25.77) but handed back the starting point (46.70, everything
    off). The answer must be the schedule whose cost is proven, gap 0."""
    shares = [0.47700977655271704, 0.8653099277716401, 0.2604923103919594]
    plants = [
        SchedulePlant(1, max_kw=5, cost=2, energy_kwh=10, soc_kwh=2.5891675029296337,
                      soc_max_kwh=10, max_charge_kw=5),
        SchedulePlant(2, max_kw=3, cost=2, energy_kwh=13.5, soc_kwh=13.108769938280084,
                      soc_min_kwh=1.35, soc_max_kwh=13.5, max_charge_kw=3,
                      charge_efficiency=0.9, discharge_efficiency=0.9),
        SchedulePlant(3, max_kw=17.941552536592965, cost=0),
        SchedulePlant(4, max_kw=3.6462003987649, cost=0),
        SchedulePlant(5, max_kw=124.05543033839099, cost=178.75604047327863, running=True,
                      startup_cost=68.39839319154413, min_up_minutes=45),
    ]  # fmt: skip
    problem = ScheduleProblem(
        plants,
        [91.63304601657025, 136.95165798568473, 144.99095516561383],
        availability={3: shares, 5: shares},
        value_of_lost_load=500,
    )
    for reduce in (True, False):
        answer = schedule(problem, time_limit_s=10, target_gap=0, reduce=reduce)
        assert violations(problem, answer) == []
        assert answer.objective == pytest.approx(25.76617605018724)
        assert answer.gap <= 1e-9
