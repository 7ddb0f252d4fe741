"""How fast is exact dispatch? Prints a table; every figure is measured in this run.

    .venv/bin/python -m benchmarks.dispatch_bench            # the full table (~2 min)
    .venv/bin/python -m benchmarks.dispatch_bench --quick    # fewer demands, no 60 s MILP

For each fleet it solves a spread of demands (10-95 % of the available capacity)
with ``dispatch_demand`` on a ``PreparedFleet`` (what the app caches per fleet
version), each the best of three runs, and reports the median and the worst
demand, whether every answer was proven optimal, and the search nodes. The
baseline is the textbook MILP (one binary per unit, solved by HiGHS in two
lexicographic passes: most kW, then least cost) on the same fleet and demand,
timed in the same run: the ratio is what counts on a shared, noisy machine.
"""

import argparse
import math
import statistics
import time

from benchmarks.fleets import adversarial_fleet, available_capacity, demands, realistic_fleet
from tests.reference_dispatch import milp
from vpp.services.dispatch import PreparedFleet, dispatch_demand

REPEATS = 3


def solve_all(units, demand_list, time_limit_s: float):
    started = time.perf_counter()
    prepared = PreparedFleet(units)
    prepare_ms = (time.perf_counter() - started) * 1000
    times, nodes, optimal, results = [], [], True, []
    for demand in demand_list:
        # Best of three: the machine is shared, and a pause elsewhere is not ours.
        best = math.inf
        for _ in range(REPEATS):
            started = time.perf_counter()
            result = dispatch_demand(prepared, demand, time_limit_s=time_limit_s)
            best = min(best, (time.perf_counter() - started) * 1000)
        times.append(best)
        nodes.append(result.nodes)
        optimal &= result.optimal
        results.append(result)
    return prepare_ms, times, nodes, optimal, results


def time_milp(units, demand_list, time_limit_s: float):
    times, costs = [], []
    for demand in demand_list:
        started = time.perf_counter()
        kw, cost, proven = milp(units, demand, time_limit_s=time_limit_s)
        times.append((time.perf_counter() - started) * 1000)
        costs.append((kw, cost, proven))
    return times, costs


def row(name, units, demand_list, milp_demands, milp_limit_s, target):
    prepare_ms, times, nodes, optimal, _ = solve_all(units, demand_list, 10.0)
    line = {
        "case": name,
        "units": len(units),
        "demands": len(demand_list),
        "prepare ms": f"{prepare_ms:.0f}",
        "median ms": f"{statistics.median(times):.1f}",
        "worst ms": f"{max(times):.1f}",
        "target": target,
        "proven optimal": "all" if optimal else "NOT ALL",
        "nodes (max)": max(nodes),
    }
    if milp_demands:
        prepared = PreparedFleet(units)
        ours = [dispatch_demand(prepared, d, time_limit_s=10.0) for d in milp_demands]
        milp_times, milp_answers = time_milp(units, milp_demands, milp_limit_s)
        agree = all(
            abs(mine.total_cost_per_h - cost) <= 1e-6 * max(1.0, abs(cost))
            for mine, (_, cost, proven) in zip(ours, milp_answers, strict=True)
            if proven
        )
        proven_count = sum(proven for _, _, proven in milp_answers)
        our_median = statistics.median(r.solve_time_s * 1000 for r in ours)
        milp_median = statistics.median(milp_times)
        line["MILP median ms"] = f"{milp_median:.0f}"
        line["MILP proven"] = f"{proven_count}/{len(milp_demands)}"
        line["same cost"] = "yes" if agree else "NO"
        if proven_count < len(milp_demands):
            best = min(cost for _, cost, _ in milp_answers)
            line["same cost"] += f" (MILP best {best:.4f} vs ours {ours[0].total_cost_per_h:.4f})"
        line["speed-up"] = f"{milp_median / our_median:.0f}x"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer demands and MILP runs")
    args = parser.parse_args()
    count = 5 if args.quick else 20

    realistic_10k = realistic_fleet(10_000)
    realistic_100k = realistic_fleet(100_000)
    adversarial_10k = adversarial_fleet(10_000)
    real_demands = demands(realistic_10k, count)
    milp_demands = real_demands[:: max(1, count // 3)][:3]
    rows = [
        row("realistic", realistic_10k, real_demands, milp_demands, 120.0, "<= 50 ms, >= 20x MILP"),
        row("realistic", realistic_100k, demands(realistic_100k, count), [], 0, "<= 500 ms"),
        row(
            "adversarial",
            adversarial_10k,
            demands(adversarial_10k, count),
            [] if args.quick else demands(adversarial_10k, 1, 0.5, 0.5),
            60.0,
            "exact, <= 1 s",
        ),
    ]
    print(
        f"available capacity: realistic 10k {available_capacity(realistic_10k):,.0f} kW, "
        f"adversarial 10k {available_capacity(adversarial_10k):,.0f} kW"
    )
    columns = list(dict.fromkeys(key for r in rows for key in r))
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print(" | ".join(c.ljust(widths[c]) for c in columns))
    print("-|-".join("-" * widths[c] for c in columns))
    for r in rows:
        print(" | ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns))


if __name__ == "__main__":
    main()
