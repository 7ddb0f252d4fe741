"""How far does the schedule's current method go? Prints a table; every figure is
measured in this run, never asserted.

    .venv/bin/python -m benchmarks.schedule_bench            # 10 to 1,000 units
    .venv/bin/python -m benchmarks.schedule_bench --quick    # 10 to 100 units

Fleets like an aggregator's (issue 10): mostly home batteries of several models at
different states of charge and rooftop PV with a day's availability, some demand
response and commercial batteries, about 1 % dispatchable units (CHP, gas, diesel)
with minimum outputs, ramps, minimum up/down times and start-up costs (at least one).
Demand: 96 quarter hours shaped like a load curve, peaking at 75 % of the available
capacity. Measured: vpp/services/schedule.py as it stands (the MILP with its exact
reductions) beside the textbook MILP (every binary), both in HiGHS, same time limit.
Issue 10's targets (1,000 units: gap <= 1 % in 10 s; 10,000 units: <= 2 % in 60 s)
are printed against, never asserted.
"""

import argparse
import math
import random

from vpp.services.schedule import SchedulePlant, ScheduleProblem, check_schedule, schedule

T = 96


def pv_shape(t: int) -> float:
    """Clear-day PV availability for quarter hour ``t`` (sunrise 6:00, sunset 20:00)."""
    hour = t / 4
    return max(0.0, math.sin(math.pi * (hour - 6) / 14)) if 6 <= hour <= 20 else 0.0


def load_shape(t: int) -> float:
    """A day's load: a morning shoulder and an evening peak, between 0.45 and 1."""
    hour = t / 4
    morning = math.exp(-((hour - 8.5) ** 2) / 4)
    evening = math.exp(-((hour - 19) ** 2) / 5)
    return 0.45 + 0.3 * morning + 0.55 * evening


def fleet(size: int, seed: int = 1) -> tuple[list[SchedulePlant], dict[int, list[float]]]:
    rng = random.Random(seed)
    plants, availability = [], {}
    dispatchable = max(1, size // 100)
    for i in range(1, size + 1):
        if i <= dispatchable:
            top = rng.choice([400, 800, 1500])
            plants.append(
                SchedulePlant(
                    i,
                    max_kw=top,
                    min_kw=top * 0.4,
                    cost=rng.choice([60, 95, 180]),
                    startup_cost=rng.choice([20, 50, 120]),
                    ramp_up_kw_per_min=top / 30,
                    ramp_down_kw_per_min=top / 30,
                    min_up_minutes=60,
                    min_down_minutes=45,
                )  # fmt: skip
            )
            continue
        kind = rng.random()
        if kind < 0.45:  # a home battery
            energy, power = rng.choice([(5, 3), (10, 5), (13.5, 5)])
            plants.append(
                SchedulePlant(
                    i,
                    max_kw=power,
                    cost=2,
                    energy_kwh=energy,
                    soc_kwh=energy * rng.random(),
                    soc_max_kwh=energy,
                    max_charge_kw=power,
                )  # fmt: skip
            )
        elif kind < 0.9:  # rooftop PV
            plants.append(SchedulePlant(i, max_kw=rng.choice([4, 6, 8]), cost=0))
            availability[i] = [pv_shape(t) * rng.uniform(0.8, 1.0) for t in range(T)]
        elif kind < 0.97:  # demand response
            plants.append(
                SchedulePlant(i, max_kw=rng.choice([10, 20]), cost=rng.choice([120, 150]))
            )
        else:  # a commercial battery
            plants.append(
                SchedulePlant(
                    i,
                    max_kw=50,
                    cost=3,
                    energy_kwh=100,
                    soc_kwh=50,
                    soc_max_kwh=100,
                    max_charge_kw=50,
                )  # fmt: skip
            )
    return plants, availability


def demand_for(plants, availability, peak_share: float = 0.75) -> list[float]:
    usable = [
        sum(p.max_kw * (availability[p.id][t] if p.id in availability else 1.0) for p in plants)
        for t in range(T)
    ]
    peak = peak_share * min(usable[t] for t in range(T) if load_shape(t) > 0.9)
    return [peak * load_shape(t) / max(load_shape(k) for k in range(T)) for t in range(T)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--time-limit", type=float, default=60.0)
    args = parser.parse_args()
    sizes = (10, 30, 100) if args.quick else (10, 30, 100, 300, 1000, 3000)
    limit = args.time_limit
    print(f"Schedules of 96 quarter hours to a 1 % gap, time limit {limit:g} s each;")
    print("ours: the MILP with its exact reductions; textbook: every binary (the baseline)")
    header = ("units", "method", "status", "solve s", "objective", "gap")
    print("{:>6} | {:>8} | {:>17} | {:>8} | {:>13} | {:>8} | rules kept".format(*header))
    for size in sizes:
        plants, availability = fleet(size)
        demand = demand_for(plants, availability)
        problem = ScheduleProblem(plants, demand, availability=availability)
        for method, reduce in (("ours", True), ("textbook", False)):
            if not reduce and size > 1000:
                print(f"{size:>6,} | {method:>8} | {'not run (>1,000)':>17} |")
                continue
            answer = schedule(problem, time_limit_s=limit, target_gap=0.01, reduce=reduce)
            kept = "yes" if not check_schedule(problem, answer) else "NO"
            print(
                f"{size:>6,} | {method:>8} | {answer.status:>17} | {answer.solve_time_s:>8.2f} | "
                f"{answer.objective:>13,.2f} | {answer.gap:>7.2%} | {kept}",
                flush=True,
            )


if __name__ == "__main__":
    main()
