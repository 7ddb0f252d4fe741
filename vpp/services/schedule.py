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

**The method.** A mixed-integer programme of those rules in HiGHS, made small by
deciding together what may be decided together (``_Grouping``):

1. *Exact reductions* of the textbook form (one on/off binary per unit per interval,
   one charge/discharge binary per store per interval): a unit whose on/off state
   changes nothing (no minimum output, no start-up cost, no minimum time: rooftop PV,
   demand response) has no binary; free units of one marginal cost are one unit with
   the sum of their availabilities (any output of the group is shared in proportion
   to what each can give, at the same cost); a store gets its binaries only if a
   solution without them charges and discharges in one interval (then the programme
   is solved again with them). Dispatchable units (minimum outputs, ramps, minimum
   times, start-ups) keep every binary: they are about 1 % of an aggregator's fleet.
2. *Stores in bands* (above ``GROUP_STORES_ABOVE`` stores): stores of one model whose
   states of charge lie within ``SOC_BAND`` of their range move together, as one
   store whose charge may fall no lower than its emptiest member and rise no higher
   than its fullest allows. A *restriction*: every answer of this grouped programme
   is a schedule of the fleet (each member's output is the band's over its number).
3. *The bound.* When stores were banded, the bound comes from a *relaxation*: every
   store of one cost and efficiencies summed into one (rates, energy ranges, charges
   added; charging and discharging at once allowed), with the same units, whose every
   schedule of the fleet is one of; HiGHS's dual bound of it is a bound of the fleet's
   optimum. Without bands the grouped programme is exact and its own dual bound is
   the bound.

The grouped programme gets ``INNER_SHARE`` of the time limit and the relaxation the
rest, each to half the gap target. ``reduce=False`` solves the textbook form, the
reference the tests and the benchmark compare with.

**Guarantees.** The answer is feasible under rules 1–5 (``check_schedule`` verifies an
answer independently); when HiGHS has no schedule by the time limit, the answer is
"every unit off, every store idle", which is always feasible. ``lower_bound`` is proven:
a dual bound of the problem or of a relaxation of it, or, without one, the cheapest any
schedule could possibly be. ``status`` is ``optimal`` when the gap reached the target,
``time_limit`` when time ran out first, ``gap_not_reached`` when both programmes were
solved but banding the stores cost more than the target (narrow ``SOC_BAND``).

**Limits.** The gap of a banded schedule includes what moving together costs: a fleet
of stores of one model spread evenly over their range loses up to ``SOC_BAND`` of its
energy range (benchmarks/schedule_bench.py measures 0.1 % at 10,000 units).
Dispatchable units are not grouped: 1,000 of them (a 100,000-unit fleet) make a
programme of 96,000 binaries that HiGHS may not prove in a minute. The marginal price
of an interval is the balance's dual in the grouped programme with its commitment fixed;
availability is taken as given (clear-sky profiles are computed by the caller,
``vpp.services.forecasts``).
"""

import dataclasses
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
    # Identical units decided as one count (only in the relaxation that proves the
    # bound: ``_Grouping``); every figure above is one unit's, the output all of theirs.
    count: int = 1

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
    ) -> tuple[highspy.Highs, np.ndarray | None]:
        """HiGHS run on this programme, and the best point it knows (None if none).

        A mixed-integer programme first gets a point to fall back on (``_off_start``),
        so that a schedule is known from the start however large the programme. It is
        not handed to HiGHS as a start: with one, HiGHS 1.16 can report a better
        objective than the point ``getSolution`` then returns (seen on small fleets)."""
        started = time.perf_counter()
        h = self._load(time_limit_s)
        h.setOptionValue("mip_rel_gap", float(target_gap))
        start = None
        if self.integer:
            h.changeColsIntegrality(
                len(self.integer),
                np.array(self.integer, dtype=np.int32),
                np.array([highspy.HighsVarType.kInteger] * len(self.integer)),
            )
            start = self._off_start(time_limit_s)
            if start is not None and progress is not None:
                progress(float(np.dot(self.cost, start)), None)
            h.setOptionValue(
                "time_limit", max(0.01, time_limit_s - (time.perf_counter() - started))
            )
        if progress is not None:
            _watch(h, progress)
        h.run()
        solution = h.getSolution()
        values = np.asarray(solution.col_value) if solution.value_valid else None
        if values is None or len(values) != len(self.lower):
            return h, start
        if start is not None and np.dot(self.cost, start) < np.dot(self.cost, values):
            return h, start
        return h, values

    def _load(self, time_limit_s: float) -> highspy.Highs:
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("time_limit", float(time_limit_s))
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
        return h

    def _off_start(self, time_limit_s: float) -> np.ndarray | None:
        """A feasible point of the mixed-integer programme: every integer at 0 (each
        unit with a binary off throughout, each store with binaries only charging or
        idle; always feasible, since unmet demand takes up the rest) and the linear
        programme left solved for the rest (stores, free units). None if that
        programme is not solved in time."""
        h = self._load(time_limit_s)
        integer = np.array(self.integer, dtype=np.int32)
        zeros = np.zeros(len(integer))
        h.changeColsBounds(len(integer), integer, zeros, zeros)
        h.run()
        solution = h.getSolution()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal or not solution.value_valid:
            return None
        return np.asarray(solution.col_value)


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

    def on_improved(event) -> None:
        if progress(event.data_out.objective_function_value, None):
            event.interrupt = True

    h.cbMipInterrupt.subscribe(on_mip)
    h.cbMipImprovingSolution.subscribe(on_improved)
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
        n = plant.count  # 1 but for a relaxation's class of identical units
        for t in range(T):
            fits = plant.min_kw <= top[t]
            u.append(m.column(0, n if fits else 0, integer=True))
            p.append(m.column(0, n * max(top[t], 0.0) if fits else 0, plant.cost * per_mwh))
            s.append(m.column(0, n, plant.startup_cost))
            d.append(m.column(0, n))
            m.row(-inf, 0, {p[t]: 1.0, u[t]: -max(top[t], 0.0)})
            m.row(0, inf, {p[t]: 1.0, u[t]: -plant.min_kw})
            before = float(n) if plant.running else 0.0
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
                m.row(-inf, n, {**window, u[t]: 1.0})
        if plant.ramp_up_kw_per_min is not None:
            rise = plant.ramp_up_kw_per_min * dt
            start = max(plant.min_kw, rise)
            for t in range(1, T):  # p_t - p_t-1 <= rise u_t-1 + start (n - u_t-1)
                m.row(-inf, n * start, {p[t]: 1.0, p[t - 1]: -1.0, u[t - 1]: start - rise})
        if plant.ramp_down_kw_per_min is not None:
            fall = plant.ramp_down_kw_per_min * dt
            stop = max(plant.min_kw, fall)
            for t in range(1, T):  # p_t-1 - p_t <= fall u_t + stop (n - u_t)
                m.row(-inf, n * stop, {p[t - 1]: 1.0, p[t]: -1.0, u[t]: stop - fall})
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


# Stores are grouped (``_Grouping``) only when there are more than this many: below
# it the programme itself is solved, exactly.
GROUP_STORES_ABOVE = 150
# Identical dispatchable units are grouped only when there are more than this many
# dispatchable units (the grouped programme's binaries are then a few per class).
GROUP_UNITS_ABOVE = 200
# A group's stores start within this share of their energy range of one another.
SOC_BAND = 0.05
# The share of the time limit the grouped programme may use before its relaxation
# (which proves the bound) gets the rest.
INNER_SHARE = 0.6
# Gaps this close to the target reach it (rounding in the objective's sums).
GAP_TOLERANCE = 1e-9


def schedule(
    problem: ScheduleProblem,
    *,
    time_limit_s: float = 10.0,
    target_gap: float = 1e-4,
    reduce: bool = True,
    progress: Progress | None = None,
    group_stores_above: int = GROUP_STORES_ABOVE,
    group_units_above: int = GROUP_UNITS_ABOVE,
) -> ScheduleAnswer:
    """The best schedule found for ``problem`` within ``time_limit_s``, with a proven
    lower bound (see the module docstring): the programme itself when nothing is
    grouped, else the grouped programme and, when stores are grouped (more than
    ``group_stores_above`` of them), its relaxation for the bound (``_aggregated``).
    ``reduce=False`` solves the textbook programme (every binary from the start): the
    reference the tests and the benchmark compare with."""
    if not reduce:
        return _solve(problem, time_limit_s, target_gap, progress, textbook=True)
    grouping = _Grouping.of(problem, group_stores_above, group_units_above)
    if grouping.trivial:
        return _solve(problem, time_limit_s, target_gap, progress)
    return _aggregated(problem, grouping, time_limit_s, target_gap, progress)


def _solve(
    problem: ScheduleProblem,
    time_limit_s: float,
    target_gap: float,
    progress: Progress | None = None,
    *,
    textbook: bool = False,
    exclusive_stores: bool = True,
    prices: bool = True,
) -> ScheduleAnswer:
    """The programme of ``problem`` in HiGHS. Stores start without their
    charge-or-discharge binaries (a relaxation: its bound is a bound of the problem);
    a store that then does both in one interval gets them and the programme is solved
    again, until no store does (never, with ``exclusive_stores=False``: then the answer
    may break rule 2 and only its bound is of use). ``textbook``: every binary from the
    start."""
    started = time.perf_counter()
    deadline = started + time_limit_s
    exclusive: set[int] = {p.id for p in problem.plants if p.is_store} if textbook else set()
    bound = -math.inf
    while True:
        built = _build(problem, exclusive, not textbook)
        h, values = built.model.solve(
            max(0.01, deadline - time.perf_counter()), target_gap, progress
        )
        info = h.getInfo()
        reached = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        if built.model.integer:
            bound = max(bound, info.mip_dual_bound)
        elif reached:  # a linear programme solved to optimality is its own bound
            bound = max(bound, info.objective_function_value)
        if values is None:
            return _all_off(problem, _best_bound(problem, bound), started)
        both = _both_ways(built, values) if exclusive_stores else set()
        if not both:
            break
        exclusive |= both
        if time.perf_counter() >= deadline:
            return _all_off(problem, _best_bound(problem, bound), started)
    priced = None
    if prices:
        left = deadline - time.perf_counter()
        priced = _marginal_prices(h, built.model, values, built.balance, problem.hours / 1000, left)
    return _answer(problem, built, values, reached, _best_bound(problem, bound), started, priced)


@dataclass(slots=True)
class _Grouping:
    """Plants that may be decided together, and how.

    * **Free units** of one marginal cost (no minimum, no start-up cost, no minimum
      time, no ramp limit: rooftop PV, demand response) are one unit whose maximum is
      the sum of theirs in each interval. Exact both ways: any output of the group is
      shared in proportion to what each can give.
    * **Stores** of one model (rates, energy range, efficiencies, cost) whose states of
      charge lie within ``SOC_BAND`` of their range of one another are one store in the
      *grouped* programme, moving together: each member's output is the group's over
      their number. Its charge may go no lower (higher) than its emptiest (fullest)
      member allows, so every grouped schedule is a schedule of the fleet: a
      restriction, whose answer is feasible. In the *relaxation*, all stores of one
      cost and efficiencies are one store with the sums of their rates, energy ranges
      and states of charge, free to charge and discharge at once: every schedule of
      the fleet is one of it, so its proven bound is a bound of the fleet's.
    * Every other unit stays itself.
    """

    plants: list[SchedulePlant]  # the grouped programme's plants
    relaxed: list[SchedulePlant]  # the relaxation's plants
    availability: dict[int, Sequence[float]]
    members: dict[int, list[SchedulePlant]]  # grouped plant id -> the fleet's plants
    free_ids: set[int]  # grouped plants that are free units of one cost
    trivial: bool  # nothing grouped: the grouped programme is the problem
    exact: bool  # only free units grouped: the grouped programme's bound is the problem's

    @classmethod
    def of(
        cls, problem: ScheduleProblem, group_stores_above: int, group_units_above: int
    ) -> "_Grouping":
        T = len(problem.demand_kw)
        stores = [p for p in problem.plants if p.is_store]
        free: dict[float, list[SchedulePlant]] = {}
        committed: list[SchedulePlant] = []
        for plant in problem.plants:
            if plant.is_store:
                continue
            if (
                _state_is_free(problem, plant)
                and plant.ramp_up_kw_per_min is None
                and plant.ramp_down_kw_per_min is None
            ):
                free.setdefault(plant.cost, []).append(plant)
            else:
                committed.append(plant)
        plants: list[SchedulePlant] = []
        relaxed: list[SchedulePlant] = []
        availability: dict[int, Sequence[float]] = {}
        members: dict[int, list[SchedulePlant]] = {}
        free_ids: set[int] = set()

        def new_id() -> int:
            return -(len(members) + len(relaxed) + 1)

        def grouped(group: list[SchedulePlant], plant: SchedulePlant, *, relax: bool) -> None:
            members[plant.id] = group
            plants.append(plant)
            if relax:
                relaxed.append(plant)
            if group[0].id in problem.availability:  # one profile for the group
                availability[plant.id] = problem.availability[group[0].id]

        # Free units of one cost: one unit, exact both ways.
        for cost, group in free.items():
            if len(group) == 1:
                grouped(group, group[0], relax=True)
                continue
            top = np.zeros(T)
            for plant in group:
                top += problem.available_kw(plant)
            total = sum(p.max_kw for p in group)
            virtual = SchedulePlant(new_id(), max_kw=total, cost=cost)
            members[virtual.id] = group
            plants.append(virtual)
            relaxed.append(virtual)
            free_ids.add(virtual.id)
            availability[virtual.id] = [float(x) for x in np.clip(top / total, 0.0, 1.0)]
        # Identical dispatchable units: blocks in step (grouped), one count (relaxed).
        classes: dict[tuple, list[SchedulePlant]] = {}
        for plant in committed:
            if len(committed) <= group_units_above:
                classes[(plant.id,)] = [plant]
                continue
            shares = problem.availability.get(plant.id)
            key = (
                plant.max_kw, plant.min_kw, plant.cost, plant.running, plant.startup_cost,
                plant.ramp_up_kw_per_min, plant.ramp_down_kw_per_min, plant.min_up_minutes,
                plant.min_down_minutes, None if shares is None else tuple(shares),
            )  # fmt: skip
            classes.setdefault(key, []).append(plant)
        for group in classes.values():
            if len(group) == 1:
                grouped(group, group[0], relax=True)
                continue
            count = dataclasses.replace(group[0], id=new_id(), count=len(group))
            relaxed.append(count)
            if group[0].id in problem.availability:
                availability[count.id] = problem.availability[group[0].id]
            taken = 0
            for size in _block_sizes(len(group)):
                block = group[taken : taken + size]
                taken += size
                grouped(block, block[0] if size == 1 else _in_step(new_id(), block), relax=False)
        # Stores: bands moving together (grouped), summed by cost and efficiency (relaxed).
        banded = len(stores) > group_stores_above
        for group in _store_bands(stores) if banded else [[store] for store in stores]:
            virtual = group[0] if len(group) == 1 else _moving_together(new_id(), group)
            grouped(group, virtual, relax=False)
        by_kind: dict[tuple, list[SchedulePlant]] = {}
        for store in stores:
            key = (store.cost, store.charge_efficiency, store.discharge_efficiency)
            by_kind.setdefault(key, []).append(store)
        for group in by_kind.values():
            relaxed.append(_summed(new_id(), group))
        trivial = all(len(group) == 1 for group in members.values())
        return cls(
            plants=plants,
            relaxed=relaxed,
            availability=availability,
            members=members,
            free_ids=free_ids,
            trivial=trivial,
            exact=all(len(group) == 1 for key, group in members.items() if key not in free_ids),
        )

    def grouped_problem(self, problem: ScheduleProblem) -> ScheduleProblem:
        return _replace_plants(problem, self.plants, self.availability)

    def relaxation(self, problem: ScheduleProblem) -> ScheduleProblem:
        return _replace_plants(problem, self.relaxed, self.availability)

    def spread(self, problem: ScheduleProblem, answer: ScheduleAnswer):
        """The grouped answer as every plant's output, state of charge and state."""
        output: dict[int, list[float]] = {}
        socs: dict[int, list[float]] = {}
        states: dict[int, list[bool]] = {}
        for plant in self.plants:
            group = self.members.get(plant.id)
            out = answer.output_kw[plant.id]
            if group is None or group == [plant]:
                output[plant.id] = list(out)
                if plant.is_store:
                    socs[plant.id] = list(answer.soc_kwh[plant.id])
                else:
                    states[plant.id] = list(answer.on[plant.id])
                continue
            if plant.is_store:  # members move together
                n = len(group)
                path = answer.soc_kwh[plant.id]
                for member in group:
                    output[member.id] = [kw / n for kw in out]
                    socs[member.id] = [member.soc_kwh + (kwh - path[0]) / n for kwh in path]
                continue
            if plant.id not in self.free_ids:  # identical units in step
                for member in group:
                    output[member.id] = [kw / len(group) for kw in out]
                    states[member.id] = list(answer.on[plant.id])
                continue
            tops = [problem.available_kw(member) for member in group]
            total = np.sum(tops, axis=0)
            for member, top in zip(group, tops, strict=True):
                share = np.divide(top, total, out=np.zeros_like(top), where=total > 0)
                kw = [float(x) for x in np.minimum(np.asarray(out) * share, top)]
                output[member.id] = kw
                states[member.id] = [x > 0 for x in kw]
        return output, socs, states


def _replace_plants(
    problem: ScheduleProblem, plants: list[SchedulePlant], availability: dict
) -> ScheduleProblem:
    return ScheduleProblem(
        plants=plants,
        demand_kw=problem.demand_kw,
        resolution_minutes=problem.resolution_minutes,
        availability=availability,
        value_of_lost_load=problem.value_of_lost_load,
        final_soc_free=problem.final_soc_free,
    )


def _block_sizes(n: int) -> list[int]:
    """1, 2, 4, ... and the rest: blocks of which any number of units, 0 to n, can be
    made (37 units: 1, 2, 4, 8, 16, 6)."""
    sizes, size = [], 1
    while n > 0:
        sizes.append(min(size, n))
        n -= sizes[-1]
        size *= 2
    return sizes


def _in_step(plant_id: int, block: list[SchedulePlant]) -> SchedulePlant:
    """One unit for a block of identical units that start, stop and ramp together,
    each producing the block's output over k: k times every size, rate and cost."""
    k, unit = len(block), block[0]
    return dataclasses.replace(
        unit,
        id=plant_id,
        max_kw=k * unit.max_kw,
        min_kw=k * unit.min_kw,
        startup_cost=k * unit.startup_cost,
        ramp_up_kw_per_min=None if unit.ramp_up_kw_per_min is None else k * unit.ramp_up_kw_per_min,
        ramp_down_kw_per_min=(
            None if unit.ramp_down_kw_per_min is None else k * unit.ramp_down_kw_per_min
        ),
    )


def _store_bands(stores: list[SchedulePlant]) -> list[list[SchedulePlant]]:
    """Stores of one model, in bands of ``SOC_BAND`` of their range by state of charge."""
    models: dict[tuple, list[SchedulePlant]] = {}
    for store in stores:
        key = (
            store.max_kw, store.max_charge_kw, store.energy_kwh, store.soc_min_kwh,
            store.soc_max_kwh, store.charge_efficiency, store.discharge_efficiency, store.cost,
        )  # fmt: skip
        models.setdefault(key, []).append(store)
    bands = []
    for group in models.values():
        group.sort(key=lambda s: s.soc_kwh)
        width = SOC_BAND * max(group[0].soc_max_kwh - group[0].soc_min_kwh, 1e-9)
        band = [group[0]]
        for store in group[1:]:
            if store.soc_kwh - band[0].soc_kwh <= width:
                band.append(store)
            else:
                bands.append(band)
                band = [store]
        bands.append(band)
    return bands


def _moving_together(plant_id: int, band: list[SchedulePlant]) -> SchedulePlant:
    """One store for a band of identical stores that move together: each member's
    charge changes by the group's over n, so the group may fall no lower than its
    emptiest member and rise no higher than its fullest allows."""
    n, model = len(band), band[0]
    start = math.fsum(s.soc_kwh for s in band)
    lowest, highest = band[0].soc_kwh, band[-1].soc_kwh
    return SchedulePlant(
        plant_id,
        max_kw=n * model.max_kw,
        cost=model.cost,
        energy_kwh=n * (model.energy_kwh or 0.0),
        soc_kwh=start,
        soc_min_kwh=min(start, start + n * (model.soc_min_kwh - lowest)),
        soc_max_kwh=max(start, start + n * (model.soc_max_kwh - highest)),
        max_charge_kw=n * model.max_charge_kw,
        charge_efficiency=model.charge_efficiency,
        discharge_efficiency=model.discharge_efficiency,
    )


def _summed(plant_id: int, stores: list[SchedulePlant]) -> SchedulePlant:
    """The relaxation's store: the sums of the stores' rates, ranges and charges."""
    model = stores[0]
    return SchedulePlant(
        plant_id,
        max_kw=math.fsum(s.max_kw for s in stores),
        cost=model.cost,
        energy_kwh=math.fsum(s.energy_kwh or 0.0 for s in stores),
        soc_kwh=math.fsum(s.soc_kwh for s in stores),
        soc_min_kwh=math.fsum(s.soc_min_kwh for s in stores),
        soc_max_kwh=math.fsum(s.soc_max_kwh for s in stores),
        max_charge_kw=math.fsum(s.max_charge_kw for s in stores),
        charge_efficiency=model.charge_efficiency,
        discharge_efficiency=model.discharge_efficiency,
    )


def _aggregated(
    problem: ScheduleProblem,
    grouping: _Grouping,
    time_limit_s: float,
    target_gap: float,
    progress: Progress | None,
) -> ScheduleAnswer:
    """Solve the grouped programme (a schedule of the fleet), then, unless it is exact,
    its relaxation (the bound), each to half the target gap."""
    started = time.perf_counter()
    share = 1.0 if grouping.exact else INNER_SHARE

    def best_so_far(objective, bound):
        return progress(objective, bound if grouping.exact else None) if progress else False

    inner = _solve(
        grouping.grouped_problem(problem), time_limit_s * share, target_gap / 2, best_so_far
    )
    bound = inner.lower_bound if grouping.exact else -math.inf
    if not grouping.exact:

        def proven(_objective, bound):
            return progress(None, bound) if progress else False

        left = max(0.01, time_limit_s - (time.perf_counter() - started))
        relaxed = _solve(
            grouping.relaxation(problem),
            left,
            target_gap / 2,
            proven,
            exclusive_stores=False,
            prices=False,
        )
        bound = relaxed.lower_bound
    output, socs, states = grouping.spread(problem, inner)
    energy, startup, startups, unmet_kw, unmet_cost = _totals(problem, output, states)
    objective = energy + startup + unmet_cost
    bound = min(_best_bound(problem, bound), objective)
    elapsed = time.perf_counter() - started
    gap = (objective - bound) / max(abs(objective), 1.0)
    if inner.status == "no_schedule_found" or grouping.exact:
        status = inner.status  # exact: the grouped programme's own verdict is the problem's
    elif gap <= target_gap + GAP_TOLERANCE:
        status = "optimal"
    else:
        status = "time_limit" if elapsed >= 0.98 * time_limit_s else "gap_not_reached"
    return ScheduleAnswer(
        output_kw=output,
        soc_kwh=socs,
        on=states,
        unmet_kw=unmet_kw,
        energy_cost=energy,
        startup_cost=startup,
        unmet_cost=unmet_cost,
        startups=startups,
        lower_bound=bound,
        status=status,
        solve_time_s=elapsed,
        marginal_price=inner.marginal_price,
        method="grouped-milp-highs" + ("" if grouping.exact else "+relaxation-bound"),
    )


def count_startups(running: bool, on: Sequence[bool]) -> int:
    """Start-ups of a unit in states ``on``: each off-to-on step, on before the horizon
    if it is ``running`` (DESIGN.md rule 4)."""
    starts, previous = 0, running
    for now in on:
        starts += now and not previous
        previous = now
    return starts


def _unmet(problem: ScheduleProblem, output: dict) -> tuple[list[float], float]:
    """Unmet kW in each interval of a schedule, and what it costs."""
    unmet_kw = [
        float(problem.demand_kw[t]) - math.fsum(output[p.id][t] for p in problem.plants)
        for t in range(len(problem.demand_kw))
    ]
    per_mwh = problem.hours / 1000
    unmet_cost = problem.value_of_lost_load * per_mwh * math.fsum(max(0.0, x) for x in unmet_kw)
    return unmet_kw, unmet_cost


def _totals(problem: ScheduleProblem, output: dict, states: dict):
    """Energy cost, start-up cost, start-ups, unmet kW per interval and its cost of a
    schedule, from its outputs (a store pays on what it discharges)."""
    per_mwh = problem.hours / 1000
    energy = startup = 0.0
    startups = 0
    for plant in problem.plants:
        out = output[plant.id]
        energy += plant.cost * per_mwh * math.fsum(max(0.0, kw) for kw in out)
        if plant.is_store:
            continue
        starts = count_startups(plant.running, states[plant.id])
        startups += starts
        startup += plant.startup_cost * starts
    unmet_kw, unmet_cost = _unmet(problem, output)
    return energy, startup, startups, unmet_kw, unmet_cost


def _best_bound(problem: ScheduleProblem, bound: float) -> float:
    return bound if math.isfinite(bound) else _trivial_bound(problem)


def _answer(
    problem: ScheduleProblem,
    built: _Built,
    values: np.ndarray,
    reached: bool,
    bound: float,
    started: float,
    prices: list[float] | None,
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
        if plant.count > 1:  # a relaxation's class: start-ups are the rises of its count
            counts = [round(float(values[k])) for k in u]
            before = [plant.count * plant.running, *counts[:-1]]
            rises = [max(0, b - a) for a, b in zip(before, counts, strict=True)]
            startups += sum(rises)
            startup += plant.startup_cost * sum(rises)
            states[plant.id] = [c > 0 for c in counts]
            output[plant.id] = [float(values[k]) for k in p]
            energy += sum(plant.cost * kw * per_mwh for kw in output[plant.id])
            continue
        if u is None:
            on = [bool(values[k] > 0) for k in p]
        else:
            on = [bool(values[k] > 0.5) for k in u]
            if _state_is_free(problem, plant):  # on at 0 means nothing: say off
                on = [now and values[p[t]] > 0 for t, now in enumerate(on)]
        states[plant.id] = on
        output[plant.id] = [float(values[p[t]]) if on[t] else 0.0 for t in range(T)]
        energy += sum(plant.cost * kw * per_mwh for kw in output[plant.id])
        starts = count_startups(plant.running, on)
        startups += starts
        startup += plant.startup_cost * starts
    unmet_kw, unmet_cost = _unmet(problem, output)
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


# The marginal prices' linear programme may run this long past the time limit (it
# is the dispatch of the commitment found, usually far quicker than the search).
PRICE_GRACE_S = 2.0


def _marginal_prices(
    h: highspy.Highs,
    m: _Model,
    values: np.ndarray,
    balance: list[int],
    per_mwh: float,
    time_left_s: float,
) -> list[float] | None:
    """The balance rows' duals with every binary fixed at its scheduled value (the
    linear programme left is the dispatch of each interval given the commitment), per
    MWh. None if that programme does not solve within the time left (and
    ``PRICE_GRACE_S``)."""
    # HiGHS counts its time limit over every run of one solver, so it is set from the
    # time already spent.
    h.setOptionValue("time_limit", h.getRunTime() + max(0.0, time_left_s) + PRICE_GRACE_S)
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
