"""Reference solvers for the dispatch tests: brute force over every on/off set, and
the textbook MILP (one binary per unit) solved by HiGHS. Slow and obviously right."""

import itertools
from fractions import Fraction

import highspy
import numpy as np

from vpp.services.dispatch import Unit


def _outcome(chosen: list[Unit], demand: Fraction) -> tuple[Fraction, Fraction, int] | None:
    """(dispatched kW, cost in currency x kW / MWh, start-ups) of switching on exactly
    ``chosen``, in exact arithmetic: each at its minimum, the rest cheapest first up
    to the demand. None when their minimums do not fit the demand."""
    floor = sum((Fraction(u.min_kw) for u in chosen), Fraction(0))
    if floor > demand:
        return None
    dispatched = min(demand, sum((Fraction(u.max_kw) for u in chosen), Fraction(0)))
    cost = sum((Fraction(u.cost) * Fraction(u.min_kw) for u in chosen), Fraction(0))
    remaining = dispatched - floor
    for unit in sorted(chosen, key=lambda u: u.cost):
        take = min(Fraction(unit.max_kw) - Fraction(unit.min_kw), remaining)
        cost += Fraction(unit.cost) * take
        remaining -= take
    return dispatched, cost, sum(u.status == "idle" for u in chosen)


def brute_force(units: list[Unit], demand: float) -> tuple[float, float, int]:
    """The best (dispatched kW, cost per hour, start-ups) over all on/off sets, by
    DESIGN.md's order, compared exactly (``Fraction``): most dispatched, then
    cheapest, then fewest start-ups. Written apart from the module: it shares no code
    with it. (The module's rule against a start-up for the last microwatt comes after
    this order; the tests check it against these figures.)"""
    available = [u for u in units if u.status != "down" and u.max_kw > 0]
    exact_demand = Fraction(demand)
    best = (Fraction(0), Fraction(0), 0)
    for on in itertools.product((False, True), repeat=len(available)):
        chosen = [u for u, is_on in zip(available, on, strict=True) if is_on]
        outcome = _outcome(chosen, exact_demand)
        if outcome is not None and (outcome[0], -outcome[1], -outcome[2]) > (
            best[0],
            -best[1],
            -best[2],
        ):
            best = outcome
    return float(best[0]), float(best[1] / 1000), best[2]


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
        # No "threads" option: HiGHS keeps one thread pool per process, made by the first
        # solve (a schedule, in a test before this one), and refuses to run a solver
        # asking for another size. The optimum does not depend on it.
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
