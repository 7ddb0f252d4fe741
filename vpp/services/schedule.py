"""Schedules: the fleet over a horizon of intervals (DESIGN.md, "Schedules"). Pure:
plain data in and out, no Flask, no database.

**The problem.** ``T`` intervals of ``resolution_minutes`` (h hours each); a demand
``demand[t]`` kW. Every plant that is not down is a *unit* (off, or on between its
minimum and its maximum times its availability ``a[t]``; ramps; minimum up and down
times in whole intervals; a start-up cost) or a *store* (a battery with an energy
capacity: discharge up to its maximum, charge up to ``max_charge_kw``, never both in
one interval, its state of charge kept within its bounds and, unless ``final_soc`` is
"free", ending no lower than it started). Never over-deliver; minimise energy cost +
start-up cost + the value of lost load times the unmet energy (DESIGN.md rules 1–7).

**The method, for now.** The monolithic mixed-integer programme of those rules, solved
by HiGHS with its time limit and gap target, with two exact reductions of the textbook
form (one on/off binary per unit per interval, one charge/discharge binary per store
per interval): a unit whose on/off state changes nothing (no minimum output, no
start-up cost, no minimum time: rooftop PV, demand response) has no binary, and a
store gets its binaries only if a solution without them charges and discharges in one
interval (then the programme is solved again with them). ``reduce=False`` solves the
textbook form, the reference the tests compare with. HiGHS proves a
lower bound (its dual bound) beside the best schedule it finds. This is the reference
that a faster method (issue 10's targets: 1,000 units in 10 s at 1 %) must match on
small fleets; it is not that method.

**Guarantees.** The answer is feasible under rules 1–5 (``check_schedule`` verifies an
answer independently); when HiGHS has no schedule by the time limit, the answer is
"every unit off, every store idle", which is always feasible. ``lower_bound`` is proven:
HiGHS's dual bound, or, without one, the cheapest any schedule could possibly be.

**Limits.** Slow beyond a few hundred units (DESIGN.md's targets are not met by this
method: see benchmarks/schedule_bench.py); the marginal price of an interval is the
balance's dual with the commitment fixed as scheduled; availability is taken as given (no
clear-sky profiles here: they are the door's to compute).
"""

import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import highspy
import numpy as np

from vpp.domain import STATUS_RUNNING


def _silence_banner() -> None:
    """HiGHS prints its banner on standard output when a process makes its first
    solver; made here with standard output closed, so that a command's ``--json``
    output stays JSON."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
        highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


_silence_banner()

DEFAULT_VALUE_OF_LOST_LOAD = 10_000.0  # per MWh
# Output within this of a bound counts as on the bound (kW), in the checker.
CHECK_TOLERANCE_KW = 1e-6


@dataclass(frozen=True, slots=True)
class SchedulePlant:
    """A plant that is not down, as the schedule sees it: kW, kWh, minutes, currency."""

    id: int
    max_kw: float
    min_kw: float = 0.0
    cost: float = 0.0  # per MWh (a store pays it on discharged energy)
    running: bool = False  # on before the horizon (free to stop)
    startup_cost: float = 0.0
    ramp_up_kw_per_min: float | None = None
    ramp_down_kw_per_min: float | None = None
    min_up_minutes: int = 0
    min_down_minutes: int = 0
    # A store when energy_kwh is set.
    energy_kwh: float | None = None
    soc_kwh: float = 0.0
    soc_min_kwh: float = 0.0
    soc_max_kwh: float = 0.0
    max_charge_kw: float = 0.0
    charge_efficiency: float = 0.95
    discharge_efficiency: float = 0.95

    @property
    def is_store(self) -> bool:
        return self.energy_kwh is not None


@dataclass(frozen=True, slots=True)
class ScheduleProblem:
    plants: Sequence[SchedulePlant]
    demand_kw: Sequence[float]
    resolution_minutes: int = 15
    # plant id -> availability per interval, in [0, 1]; 1 where not given.
    availability: dict[int, Sequence[float]] = field(default_factory=dict)
    value_of_lost_load: float = DEFAULT_VALUE_OF_LOST_LOAD
    final_soc_free: bool = False

    @property
    def hours(self) -> float:
        return self.resolution_minutes / 60

    def intervals(self, minutes: int) -> int:
        """Minutes as whole intervals, rounded up."""
        return math.ceil(minutes / self.resolution_minutes)

    def available_kw(self, plant: SchedulePlant) -> np.ndarray:
        shares = self.availability.get(plant.id)
        a = np.ones(len(self.demand_kw)) if shares is None else np.asarray(shares, float)
        return plant.max_kw * a


@dataclass(slots=True)
class ScheduleAnswer:
    # plant id -> kW per interval (a store's is signed: > 0 discharges, < 0 charges).
    output_kw: dict[int, list[float]]
    # store id -> kWh at each of the T + 1 interval boundaries.
    soc_kwh: dict[int, list[float]]
    # unit id -> on (True) or off in each interval (a unit with no minimum may be on at 0).
    on: dict[int, list[bool]]
    unmet_kw: list[float]
    energy_cost: float
    startup_cost: float
    unmet_cost: float
    startups: int
    lower_bound: float
    status: str  # "optimal" (the gap target reached), "time_limit", "no_schedule_found"
    solve_time_s: float
    # Per interval, per MWh: what one more kWh of demand would cost, with every unit's
    # and store's on/off and charge/discharge choices kept as scheduled. None when
    # no schedule was found.
    marginal_price: list[float] | None = None
    method: str = "monolithic-milp-highs"

    @property
    def objective(self) -> float:
        return self.energy_cost + self.startup_cost + self.unmet_cost

    @property
    def gap(self) -> float:
        return (self.objective - self.lower_bound) / max(abs(self.objective), 1.0)


class _Model:
    """Columns and rows of a linear programme, gathered before HiGHS sees them."""

    def __init__(self) -> None:
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.cost: list[float] = []
        self.integer: list[int] = []
        self.rows: list[tuple[float, float, list[int], list[float]]] = []

    def column(self, lower: float, upper: float, cost: float = 0.0, integer: bool = False) -> int:
        self.lower.append(lower)
        self.upper.append(upper)
        self.cost.append(cost)
        if integer:
            self.integer.append(len(self.lower) - 1)
        return len(self.lower) - 1

    def row(self, lower: float, upper: float, terms: dict[int, float]) -> int:
        self.rows.append((lower, upper, list(terms), list(terms.values())))
        return len(self.rows) - 1

    def solve(
        self, time_limit_s: float, target_gap: float, progress: "Progress | None" = None
    ) -> highspy.Highs:
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("time_limit", float(time_limit_s))
        h.setOptionValue("mip_rel_gap", float(target_gap))
        n = len(self.lower)
        h.addCols(n, self.cost, self.lower, self.upper, 0, [], [], [])
        starts, indices, values = [], [], []
        for _, _, row_indices, row_values in self.rows:
            starts.append(len(indices))
            indices += row_indices
            values += row_values
        h.addRows(
            len(self.rows),
            [r[0] for r in self.rows],
            [r[1] for r in self.rows],
            len(indices),
            np.array(starts, dtype=np.int32),
            np.array(indices, dtype=np.int32),
            np.array(values, dtype=float),
        )
        if self.integer:
            h.changeColsIntegrality(
                len(self.integer),
                np.array(self.integer, dtype=np.int32),
                np.array([highspy.HighsVarType.kInteger] * len(self.integer)),
            )
        if progress is not None:
            _watch(h, progress)
        h.run()
        return h


# Told the best objective and the proven bound (None while unknown) as the solver
# goes; answers True to stop the solve (the best schedule so far is kept).
Progress = Callable[[float | None, float | None], bool]


def _watch(h: highspy.Highs, progress: Progress) -> None:
    def on_mip(event) -> None:
        primal, dual = event.data_out.mip_primal_bound, event.data_out.mip_dual_bound
        if progress(
            primal if math.isfinite(primal) else None, dual if math.isfinite(dual) else None
        ):
            event.interrupt = True

    def on_linear(event) -> None:
        if progress(None, None):
            event.interrupt = True

    h.cbMipInterrupt.subscribe(on_mip)
    h.cbSimplexInterrupt.subscribe(on_linear)
    h.cbIpmInterrupt.subscribe(on_linear)


@dataclass(slots=True)
class _Built:
    """A problem's programme and where each plant's columns are in it."""

    model: _Model
    units: dict[int, tuple[list[int], list[int] | None]]  # id -> (p, u or None: free)
    stores: dict[int, tuple[list[int], list[int], list[int]]]  # id -> (q, c, soc)
    balance: list[int]  # the demand row of each interval


def _build(problem: ScheduleProblem, exclusive: set[int], reduce: bool = True) -> _Built:
    """The programme of DESIGN.md's rules. A unit whose on/off state changes nothing
    (``_state_is_free``: no minimum, no start-up cost, no minimum time) needs no
    binary; a store gets its charge-or-discharge binaries only when in ``exclusive``
    (``schedule`` adds them where a solution did both at once). ``reduce=False``
    builds the textbook programme: a binary for every unit in every interval."""
    T = len(problem.demand_kw)
    h_hours = problem.hours
    per_mwh = h_hours / 1000  # kW in an interval -> MWh
    m = _Model()
    inf = highspy.kHighsInf
    output_terms: list[dict[int, float]] = [{} for _ in range(T)]
    built = _Built(m, {}, {}, [])
    dt = problem.resolution_minutes

    for plant in problem.plants:
        if plant.is_store:
            q = [m.column(0, plant.max_kw, plant.cost * per_mwh) for _ in range(T)]
            c = [m.column(0, plant.max_charge_kw) for _ in range(T)]
            soc = [m.column(plant.soc_min_kwh, plant.soc_max_kwh) for _ in range(T + 1)]
            m.row(plant.soc_kwh, plant.soc_kwh, {soc[0]: 1.0})
            for t in range(T):
                if plant.id in exclusive:  # discharge only in mode 1, charge only in 0
                    mode = m.column(0, 1, integer=True)
                    m.row(-inf, 0, {q[t]: 1.0, mode: -plant.max_kw})
                    m.row(-inf, plant.max_charge_kw, {c[t]: 1.0, mode: plant.max_charge_kw})
                m.row(
                    0,
                    0,
                    {
                        soc[t + 1]: 1.0,
                        soc[t]: -1.0,
                        c[t]: -h_hours * plant.charge_efficiency,
                        q[t]: h_hours / plant.discharge_efficiency,
                    },
                )
                output_terms[t][q[t]] = 1.0
                output_terms[t][c[t]] = -1.0
            if not problem.final_soc_free:
                m.row(plant.soc_kwh, inf, {soc[T]: 1.0})
            built.stores[plant.id] = (q, c, soc)
            continue
        top = problem.available_kw(plant)
        if reduce and _state_is_free(problem, plant):
            p = [m.column(0, max(top[t], 0.0), plant.cost * per_mwh) for t in range(T)]
            for t in range(T):
                output_terms[t][p[t]] = 1.0
            # With no minimum, a start-up and a shut-down ramp like any other step.
            if plant.ramp_up_kw_per_min is not None:
                for t in range(1, T):
                    m.row(-inf, plant.ramp_up_kw_per_min * dt, {p[t]: 1.0, p[t - 1]: -1.0})
            if plant.ramp_down_kw_per_min is not None:
                for t in range(1, T):
                    m.row(-inf, plant.ramp_down_kw_per_min * dt, {p[t - 1]: 1.0, p[t]: -1.0})
            built.units[plant.id] = (p, None)
            continue
        p, u, s, d = [], [], [], []
        for t in range(T):
            fits = plant.min_kw <= top[t]
            u.append(m.column(0, 1 if fits else 0, integer=True))
            p.append(m.column(0, max(top[t], 0.0) if fits else 0, plant.cost * per_mwh))
            s.append(m.column(0, 1, plant.startup_cost))
            d.append(m.column(0, 1))
            m.row(-inf, 0, {p[t]: 1.0, u[t]: -max(top[t], 0.0)})
            m.row(0, inf, {p[t]: 1.0, u[t]: -plant.min_kw})
            before = 1.0 if plant.running else 0.0
            if t == 0:  # s0 >= u0 - before; d0 >= before - u0
                m.row(-before, inf, {s[0]: 1.0, u[0]: -1.0})
                m.row(before, inf, {d[0]: 1.0, u[0]: 1.0})
            else:
                m.row(0, inf, {s[t]: 1.0, u[t]: -1.0, u[t - 1]: 1.0})
                m.row(0, inf, {d[t]: 1.0, u[t - 1]: -1.0, u[t]: 1.0})
            output_terms[t][p[t]] = 1.0
        up = problem.intervals(plant.min_up_minutes)
        down = problem.intervals(plant.min_down_minutes)
        for t in range(T):
            if up > 1:
                window = {s[k]: 1.0 for k in range(max(0, t - up + 1), t + 1)}
                m.row(-inf, 0, {**window, u[t]: -1.0})
            if down > 1:
                window = {d[k]: 1.0 for k in range(max(0, t - down + 1), t + 1)}
                m.row(-inf, 1, {**window, u[t]: 1.0})
        if plant.ramp_up_kw_per_min is not None:
            rise = plant.ramp_up_kw_per_min * dt
            start = max(plant.min_kw, rise)
            for t in range(1, T):  # p_t - p_t-1 <= rise u_t-1 + start (1 - u_t-1)
                m.row(-inf, start, {p[t]: 1.0, p[t - 1]: -1.0, u[t - 1]: start - rise})
        if plant.ramp_down_kw_per_min is not None:
            fall = plant.ramp_down_kw_per_min * dt
            stop = max(plant.min_kw, fall)
            for t in range(1, T):  # p_t-1 - p_t <= fall u_t + stop (1 - u_t)
                m.row(-inf, stop, {p[t - 1]: 1.0, p[t]: -1.0, u[t]: stop - fall})
        built.units[plant.id] = (p, u)

    for t in range(T):
        demand = float(problem.demand_kw[t])
        unmet = m.column(0, inf, problem.value_of_lost_load * per_mwh)
        built.balance.append(m.row(demand, demand, {**output_terms[t], unmet: 1.0}))
    return built


def _both_ways(built: _Built, values: np.ndarray) -> set[int]:
    """The stores that charge and discharge in one interval in ``values``."""
    return {
        store_id
        for store_id, (q, c, _) in built.stores.items()
        if any(values[q[t]] > CHECK_TOLERANCE_KW and values[c[t]] > CHECK_TOLERANCE_KW
               for t in range(len(q)))
    }  # fmt: skip


def schedule(
    problem: ScheduleProblem,
    *,
    time_limit_s: float = 10.0,
    target_gap: float = 1e-4,
    reduce: bool = True,
    progress: Progress | None = None,
) -> ScheduleAnswer:
    """The best schedule HiGHS finds for ``problem`` within ``time_limit_s``, with a
    proven lower bound (see the module docstring).

    Stores start without their charge-or-discharge binaries (a relaxation: its bound
    is a bound of the problem); a store that then does both in one interval gets them
    and the programme is solved again, until no store does. ``reduce=False`` solves the
    textbook programme instead (every binary from the start): the reference."""
    started = time.perf_counter()
    deadline = started + time_limit_s
    exclusive: set[int] = set() if reduce else {p.id for p in problem.plants if p.is_store}
    bound = -math.inf
    while True:
        built = _build(problem, exclusive, reduce)
        h = built.model.solve(max(0.01, deadline - time.perf_counter()), target_gap, progress)
        info = h.getInfo()
        reached = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        if built.model.integer:
            bound = max(bound, info.mip_dual_bound)
        elif reached:  # a linear programme solved to optimality is its own bound
            bound = max(bound, info.objective_function_value)
        solution = h.getSolution()
        values = np.asarray(solution.col_value) if solution.value_valid else None
        if values is None or len(values) != len(built.model.lower):
            return _all_off(problem, _best_bound(problem, bound), started)
        both = _both_ways(built, values)
        if not both:
            break
        exclusive |= both
        if time.perf_counter() >= deadline:
            return _all_off(problem, _best_bound(problem, bound), started)
    return _answer(problem, built, h, values, reached, _best_bound(problem, bound), started)


def _best_bound(problem: ScheduleProblem, bound: float) -> float:
    return bound if math.isfinite(bound) else _trivial_bound(problem)


def _answer(
    problem: ScheduleProblem,
    built: _Built,
    h: highspy.Highs,
    values: np.ndarray,
    reached: bool,
    bound: float,
    started: float,
) -> ScheduleAnswer:
    T = len(problem.demand_kw)
    per_mwh = problem.hours / 1000
    output, socs, states = {}, {}, {}
    energy = startup = 0.0
    startups = 0
    for plant in problem.plants:
        if plant.id in built.stores:
            q, c, soc = built.stores[plant.id]
            output[plant.id] = [float(values[q[t]] - values[c[t]]) for t in range(T)]
            socs[plant.id] = [float(values[k]) for k in soc]
            energy += sum(plant.cost * values[q[t]] * per_mwh for t in range(T))
            continue
        p, u = built.units[plant.id]
        if u is None:
            on = [bool(values[k] > 0) for k in p]
        else:
            on = [bool(values[k] > 0.5) for k in u]
            if _state_is_free(problem, plant):  # on at 0 means nothing: say off
                on = [now and values[p[t]] > 0 for t, now in enumerate(on)]
        states[plant.id] = on
        output[plant.id] = [float(values[p[t]]) if on[t] else 0.0 for t in range(T)]
        energy += sum(plant.cost * kw * per_mwh for kw in output[plant.id])
        previous = plant.running
        for now in on:
            if now and not previous:
                startups += 1
                startup += plant.startup_cost
            previous = now
    unmet_kw = [
        float(problem.demand_kw[t]) - math.fsum(output[i][t] for i in output) for t in range(T)
    ]
    unmet_cost = problem.value_of_lost_load * per_mwh * math.fsum(max(0.0, x) for x in unmet_kw)
    prices = _marginal_prices(h, built.model, values, built.balance, per_mwh)
    return ScheduleAnswer(
        output_kw=output,
        soc_kwh=socs,
        on=states,
        unmet_kw=unmet_kw,
        energy_cost=energy,
        startup_cost=startup,
        unmet_cost=unmet_cost,
        startups=startups,
        lower_bound=min(bound, energy + startup + unmet_cost),
        status="optimal" if reached else "time_limit",
        solve_time_s=time.perf_counter() - started,
        marginal_price=prices,
    )


def _marginal_prices(
    h: highspy.Highs, m: _Model, values: np.ndarray, balance: list[int], per_mwh: float
) -> list[float] | None:
    """The balance rows' duals with every binary fixed at its scheduled value (the
    linear programme left is the dispatch of each interval given the commitment), per
    MWh. None if that programme does not solve."""
    if m.integer:
        integer = np.array(m.integer, dtype=np.int32)
        fixed = np.round(values[integer])
        h.changeColsIntegrality(
            len(integer), integer, np.array([highspy.HighsVarType.kContinuous] * len(integer))
        )
        h.changeColsBounds(len(integer), integer, fixed, fixed)
        h.run()
    solution = h.getSolution()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal or not solution.dual_valid:
        return None
    duals = solution.row_dual
    return [float(duals[row]) / per_mwh for row in balance]


def _state_is_free(problem: ScheduleProblem, plant: SchedulePlant) -> bool:
    """Whether being on at 0 kW or off is the same for ``plant`` under every rule: no
    minimum output, no start-up cost, no minimum time longer than one interval."""
    return (
        plant.min_kw == 0
        and plant.startup_cost == 0
        and problem.intervals(plant.min_up_minutes) <= 1
        and problem.intervals(plant.min_down_minutes) <= 1
    )


def _trivial_bound(problem: ScheduleProblem) -> float:
    """No schedule costs less than every unit with a negative cost at its maximum
    throughout, and nothing else paid."""
    per_mwh = problem.hours / 1000
    return sum(
        min(0.0, p.cost) * p.max_kw * per_mwh * len(problem.demand_kw) for p in problem.plants
    )


def _all_off(problem: ScheduleProblem, bound: float, started: float) -> ScheduleAnswer:
    T = len(problem.demand_kw)
    per_mwh = problem.hours / 1000
    return ScheduleAnswer(
        output_kw={p.id: [0.0] * T for p in problem.plants},
        soc_kwh={p.id: [p.soc_kwh] * (T + 1) for p in problem.plants if p.is_store},
        on={p.id: [False] * T for p in problem.plants if not p.is_store},
        unmet_kw=[float(d) for d in problem.demand_kw],
        energy_cost=0.0,
        startup_cost=0.0,
        unmet_cost=problem.value_of_lost_load * per_mwh * math.fsum(problem.demand_kw),
        startups=0,
        lower_bound=bound,
        status="no_schedule_found",
        solve_time_s=time.perf_counter() - started,
    )


def check_schedule(problem: ScheduleProblem, answer: ScheduleAnswer) -> list[str]:
    """Every way ``answer`` breaks DESIGN.md's rules 1–5 for ``problem`` (empty: it
    keeps them all). Written apart from the solver, so that tests can trust it."""
    problems: list[str] = []
    T = len(problem.demand_kw)
    tol = CHECK_TOLERANCE_KW
    h = problem.hours
    for plant in problem.plants:
        out = answer.output_kw[plant.id]
        if plant.is_store:
            soc = answer.soc_kwh[plant.id]
            if abs(soc[0] - plant.soc_kwh) > tol:
                problems.append(f"{plant.id}: starts at {soc[0]}, not {plant.soc_kwh} kWh")
            for t, kw in enumerate(out):
                if not -plant.max_charge_kw - tol <= kw <= plant.max_kw + tol:
                    problems.append(f"{plant.id}@{t}: {kw} kW outside its rates")
                charge, discharge = max(0.0, -kw), max(0.0, kw)
                expected = soc[t] + h * (
                    plant.charge_efficiency * charge - discharge / plant.discharge_efficiency
                )
                if abs(soc[t + 1] - expected) > 1e-6 * max(1.0, plant.energy_kwh or 1.0):
                    problems.append(f"{plant.id}@{t}: charge {soc[t + 1]} kWh, expected {expected}")
            for t, value in enumerate(soc):
                if not plant.soc_min_kwh - tol <= value <= plant.soc_max_kwh + tol:
                    problems.append(f"{plant.id}: charge {value} kWh at boundary {t}")
            if not problem.final_soc_free and soc[T] < plant.soc_kwh - tol:
                problems.append(f"{plant.id}: ends at {soc[T]} kWh, below {plant.soc_kwh}")
            continue
        top = problem.available_kw(plant)
        on = answer.on[plant.id]
        for t, kw in enumerate(out):
            if not on[t] and kw != 0:
                problems.append(f"{plant.id}@{t}: off but {kw} kW")
            if on[t] and not (plant.min_kw - tol <= kw <= top[t] + tol):
                problems.append(f"{plant.id}@{t}: {kw} kW outside [{plant.min_kw}, {top[t]}]")
        dt = problem.resolution_minutes
        for t in range(1, T):
            if plant.ramp_up_kw_per_min is not None:
                rise = plant.ramp_up_kw_per_min * dt
                limit = rise if on[t - 1] else max(plant.min_kw, rise)
                if on[t] and out[t] - out[t - 1] > limit + tol:
                    problems.append(f"{plant.id}@{t}: rises {out[t] - out[t - 1]} > {limit}")
            if plant.ramp_down_kw_per_min is not None:
                fall = plant.ramp_down_kw_per_min * dt
                limit = fall if on[t] else max(plant.min_kw, fall)
                if on[t - 1] and out[t - 1] - out[t] > limit + tol:
                    problems.append(f"{plant.id}@{t}: falls {out[t - 1] - out[t]} > {limit}")
        states = [plant.running, *on]
        up, down = (
            problem.intervals(plant.min_up_minutes),
            problem.intervals(plant.min_down_minutes),
        )
        for t in range(T):
            if states[t + 1] and not states[t]:  # started at t: on for `up` intervals
                if not all(states[k + 1] for k in range(t, min(T, t + up))):
                    problems.append(f"{plant.id}@{t}: started and stopped within {up} intervals")
            if states[t] and not states[t + 1]:  # stopped at t: off for `down` intervals
                if any(states[k + 1] for k in range(t, min(T, t + down))):
                    problems.append(f"{plant.id}@{t}: stopped and restarted within {down}")
    for t in range(T):
        total = math.fsum(answer.output_kw[p.id][t] for p in problem.plants)
        if total > problem.demand_kw[t] + tol:
            problems.append(f"@{t}: delivers {total} kW > demand {problem.demand_kw[t]}")
    return problems


def plant_from_fields(values: dict) -> SchedulePlant:
    """A plant as the API shows it (``fleet.plant_as_dict``; not down) as the schedule
    sees it. A store's settings are the resolved ones the registry keeps."""
    store = values.get("energy_capacity_kwh") is not None
    return SchedulePlant(
        id=values["id"],
        max_kw=values["max_capacity"],
        min_kw=values["min_capacity"],
        cost=values["marginal_cost"],
        running=values["status"] == STATUS_RUNNING,
        startup_cost=values.get("startup_cost") or 0.0,
        ramp_up_kw_per_min=values.get("ramp_up_kw_per_min"),
        ramp_down_kw_per_min=values.get("ramp_down_kw_per_min"),
        min_up_minutes=values.get("min_up_minutes") or 0,
        min_down_minutes=values.get("min_down_minutes") or 0,
        energy_kwh=values["energy_capacity_kwh"] if store else None,
        soc_kwh=values["soc_kwh"] if store else 0.0,
        soc_min_kwh=values["soc_min_kwh"] if store else 0.0,
        soc_max_kwh=values["soc_max_kwh"] if store else 0.0,
        max_charge_kw=values["max_charge_kw"] if store else 0.0,
        charge_efficiency=values["charge_efficiency"] if store else 0.95,
        discharge_efficiency=values["discharge_efficiency"] if store else 0.95,
    )
