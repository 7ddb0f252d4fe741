"""Reference solvers for the dispatch tests: brute force over every on/off set, and
the textbook MILP (one binary per unit) solved by HiGHS. Slow and obviously right."""

import itertools

import highspy
import numpy as np

from vpp.services.dispatch import Unit, _better, rounding_kw


def brute_force(units: list[Unit], demand: float) -> tuple[float, float, int]:
    """The best (dispatched kW, cost per hour, start-ups) over all on/off sets,
    by DESIGN.md's order: most dispatched, then cheapest, then fewest start-ups."""
    available = [u for u in units if u.status != "down" and u.max_kw > 0]
    best = (0.0, 0.0, 0)
    for on in itertools.product((False, True), repeat=len(available)):
        chosen = [u for u, is_on in zip(available, on, strict=True) if is_on]
        floor = sum(u.min_kw for u in chosen)
        if floor > demand + rounding_kw(demand):  # never over-dispatch
            continue
        dispatched = min(demand, sum(u.max_kw for u in chosen))
        cost = sum(u.cost * u.min_kw for u in chosen)
        remaining = dispatched - floor
        for unit in sorted(chosen, key=lambda u: u.cost):
            take = min(unit.max_kw - unit.min_kw, max(remaining, 0.0))
            cost += unit.cost * take
            remaining -= take
        # Compared in currency x kW / MWh, as the algorithm compares them.
        candidate = (dispatched, cost, sum(u.status == "idle" for u in chosen))
        if _better(candidate, best):
            best = candidate
    return best[0], best[1] / 1000.0, best[2]


def milp(
    units: list[Unit], demand: float, time_limit_s: float = 600.0
) -> tuple[float, float, bool]:
    """(dispatched kW, cost per hour, proven optimal) from two HiGHS solves of the
    one-binary-per-unit MILP: first the most that can be dispatched, then the
    cheapest way to dispatch that much. ``time_limit_s`` applies to each solve."""
    available = [u for u in units if u.status != "down"]
    n = len(available)
    lo = np.array([u.min_kw for u in available])
    hi = np.array([u.max_kw for u in available])
    cost = np.array([u.cost for u in available]) / 1000.0

    def solve(objective: np.ndarray, floor: float | None) -> tuple[float, np.ndarray, bool]:
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("time_limit", float(time_limit_s))
        h.setOptionValue("mip_rel_gap", 0.0)
        h.setOptionValue("mip_abs_gap", 1e-9)
        h.setOptionValue("threads", 1)
        inf = highspy.kHighsInf
        # Columns: p_0..p_{n-1} (continuous), z_0..z_{n-1} (binary).
        h.addVars(n, np.zeros(n), hi)
        h.addVars(n, np.zeros(n), np.ones(n))
        h.changeColsIntegrality(
            n, np.arange(n, 2 * n, dtype=np.int32), np.full(n, highspy.HighsVarType.kInteger)
        )
        for i in range(n):
            # min_i z_i <= p_i <= max_i z_i
            h.addRow(-inf, 0.0, 2, np.array([i, n + i], dtype=np.int32), np.array([1.0, -hi[i]]))
            h.addRow(0.0, inf, 2, np.array([i, n + i], dtype=np.int32), np.array([1.0, -lo[i]]))
        everything = np.arange(n, dtype=np.int32)
        h.addRow(-inf if floor is None else floor, demand, n, everything, np.ones(n))
        h.changeColsCost(
            2 * n, np.arange(2 * n, dtype=np.int32), np.concatenate([objective, np.zeros(n)])
        )
        h.run()
        values = np.array(h.getSolution().col_value[:n])
        return float(values.sum()), values, h.getModelStatus() == highspy.HighsModelStatus.kOptimal

    dispatched, _, first_proven = solve(-np.ones(n), None)
    _, values, second_proven = solve(cost, dispatched - 1e-7)
    return float(values.sum()), float(cost @ values), first_proven and second_proven
