"""Dispatch a demand across a fleet: the pure algorithm.

Plain data in (``Unit`` records, or a ``PreparedFleet`` made from them, and a demand
in kW), plain data out (``DispatchResult``). No Flask, no database, no settings read
from anywhere but the arguments, so it can be tested and benchmarked on its own.

The problem (DESIGN.md, "Dispatch — the rules")
------------------------------------------------
Every unit that is not down gets 0 or an output in ``[min_kw, max_kw]``; the total
never exceeds the demand. Among such allocations the answer is the best by, in turn:

1. the largest total dispatched (1e-6 kW tolerance);
2. the lowest cost, sum of ``cost x output`` (a relative tolerance of 1e-9 absorbs
   floating-point noise, nothing more);
3. the fewest start-ups: units switched on that were ``idle`` (running units first);
4. then lower ids: remaining ties are broken deterministically, output going to
   lower ids first within the fill order below.

The same input (in any order) always gives the same answer.

The algorithm: exact branch and bound on merit-order relaxations
----------------------------------------------------------------
Minimum outputs make the problem a knapsack: a cheap unit whose minimum does not fit
must stay off, and a dear flexible unit can beat a cheap inflexible one. A textbook
MILP (one binary per unit) solves it exactly but slowly; this module solves the same
model exactly with a search whose every step is cheap:

* **Identical units are one variable.** Units with the same min, max, cost and
  status (a VPP's thousands of home batteries of one model) form a group whose
  decision is how many of its units are on, an integer count ``k``; its output
  is any value in ``[k*min, k*max]``.
* **The relaxation is a merit order.** With the on/off decisions relaxed, a group
  with ``k`` in ``[kmin, kmax]`` must produce ``kmin*min`` and may produce up to
  ``kmax*max``. Minimising (cost, start-ups) lexicographically under one sum
  constraint is then solved exactly by filling capacity cheapest first: sorted by
  cost, then start-ups per kW (0 for running units and for the part of a group
  already forced on, ``1/max`` for idle ones), then id. Prefix sums over the
  groups sorted once make each relaxation O(d log n) for d groups fixed so far.
* **Only the marginal group can be wrong.** In a merit-order fill every group is
  full or empty except the one where the fill stops. If that group's output ``x``
  fits no whole number of units (``x`` below its minimum, say), the search
  branches on it: at most ``floor(x/min)`` units on, or at least one more. If the
  output is feasible but a different count could save a start-up, it branches on
  the count. Otherwise the relaxation's own allocation is feasible and, being a
  lower bound, optimal for that branch.
* **Depth first, more units on first, pruned by the bound**: a branch whose
  relaxation cannot beat the best allocation found so far (tiers 1-3 above) is
  dropped. When the search ends, the best allocation found is proven optimal.

The search is exact, not a heuristic; ``time_limit_s`` and ``node_limit`` bound it
anyway, and a result found when a limit stopped the search says so
(``optimal=False`` and ``status``), never silently. Units whose minimum exceeds
the demand are left out of the search up front: they can never be switched on.
"""

import math
import time
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import accumulate

import numpy as np

from vpp.domain import STATUS_DOWN, STATUS_IDLE, STATUS_RUNNING, TOLERANCE_KW

STRATEGY = "exact-branch-and-bound"
COST_RELATIVE_TOLERANCE = 1e-9

# Why each unit got what it got (vpp.domain.REASON_CODES has them in words).
REASON_DOWN = "down"
REASON_AT_MAX = "at_max"
REASON_MARGINAL = "marginal"
REASON_AT_MIN = "at_min"
REASON_OFF_MIN_ABOVE_DEMAND = "off_min_above_demand"
REASON_OFF_NOT_NEEDED = "off_not_needed"
REASON_OFF_MIN_DOES_NOT_FIT = "off_min_does_not_fit"
STATUS_OPTIMAL = "optimal"
STATUS_TIME_LIMIT = "time_limit"
STATUS_NODE_LIMIT = "node_limit"


@dataclass(frozen=True, slots=True)
class Unit:
    """One plant as the algorithm sees it. kW, and currency per MWh."""

    id: int
    min_kw: float
    max_kw: float
    cost: float = 0.0
    status: str = STATUS_IDLE


@dataclass(slots=True)
class DispatchResult:
    demand_kw: float
    # kW for every unit that is not down, by id.
    allocations: dict[int, float] = field(default_factory=dict)
    # Reason code -> the ids of the units that got their output for that reason
    # (every unit, down ones included, appears exactly once).
    reasons: dict[str, list[int]] = field(default_factory=dict)
    total_dispatched_kw: float = 0.0
    total_cost_per_h: float = 0.0
    startups: int = 0
    marginal_cost: float | None = None
    optimal: bool = True
    status: str = STATUS_OPTIMAL
    nodes: int = 0
    solve_time_s: float = 0.0
    strategy: str = STRATEGY

    @property
    def unmet_demand_kw(self) -> float:
        return self.demand_kw - self.total_dispatched_kw

    def reason_by_unit(self) -> dict[int, str]:
        return {unit_id: code for code, ids in self.reasons.items() for unit_id in ids}


@dataclass(slots=True)
class _Group:
    """Identical units: same bounds, cost and status. ``ids`` sorted ascending."""

    min_kw: float
    max_kw: float
    cost: float
    idle: bool
    ids: list[int]
    count: int = field(init=False)
    # Start-ups per kW when more of this group must be switched on.
    startup_rate: float = field(init=False)
    key: tuple[float, float, int] = field(init=False)

    def __post_init__(self) -> None:
        self.count = len(self.ids)
        self.startup_rate = 1.0 / self.max_kw if self.idle else 0.0
        self.key = (self.cost, self.startup_rate, self.ids[0])


def _check_unit(unit: Unit) -> None:
    if not (
        math.isfinite(unit.min_kw)
        and math.isfinite(unit.max_kw)
        and math.isfinite(unit.cost)
        and 0 <= unit.min_kw <= unit.max_kw
    ):
        raise ValueError(f"unit {unit.id}: need finite 0 <= min_kw <= max_kw and a finite cost")


class PreparedFleet:
    """The demand-independent part of a dispatch: units checked, down units set
    aside, identical units grouped, groups in merit order with their prefix sums.
    Build one per fleet version and reuse it for every demand."""

    __slots__ = (
        "groups",
        "down_ids",
        "units",
        "available_ids",
        "idle_zero_ids",
        "_merit",
        "_arrays",
    )

    def __init__(self, units: Iterable[Unit]):
        self.units: dict[int, Unit] = {}
        self.down_ids: list[int] = []
        self.idle_zero_ids: list[int] = []  # not down, but no capacity (max_kw == 0)
        by_shape: dict[tuple[float, float, float, bool], list[int]] = {}
        for unit in units:
            _check_unit(unit)
            if unit.id in self.units:
                raise ValueError(f"unit {unit.id} is listed twice")
            self.units[unit.id] = unit
            if unit.status == STATUS_DOWN:
                self.down_ids.append(unit.id)
            elif unit.max_kw > 0:
                shape = (unit.min_kw, unit.max_kw, unit.cost, unit.status != STATUS_RUNNING)
                by_shape.setdefault(shape, []).append(unit.id)
            else:
                self.idle_zero_ids.append(unit.id)
        self.groups = sorted(
            (_Group(lo, hi, c, idle, sorted(ids)) for (lo, hi, c, idle), ids in by_shape.items()),
            key=lambda g: g.key,
        )
        self.down_ids.sort()
        self.idle_zero_ids.sort()
        down = set(self.down_ids)
        self.available_ids = sorted(i for i in self.units if i not in down)
        self._merit: _MeritOrder | None = None
        self._arrays: _FleetArrays | None = None

    def merit_order(self, demand_kw: float) -> "_MeritOrder":
        """The groups that may be switched on for ``demand_kw``, with prefix sums:
        computed once for the whole fleet, and afresh only when some unit's minimum
        is above the demand (such a unit can never be on)."""
        limit = demand_kw + rounding_kw(demand_kw)
        if self._merit is None:
            self._merit = _MeritOrder(self.groups, np.arange(len(self.groups)))
        if self._merit.largest_min_kw <= limit:
            return self._merit
        positions = np.flatnonzero(self.arrays().min_kw <= limit)
        return _MeritOrder([self.groups[i] for i in positions], positions)

    def arrays(self) -> "_FleetArrays":
        if self._arrays is None:
            self._arrays = _FleetArrays(self)
        return self._arrays


class _FleetArrays:
    """The groups as numpy arrays, and their units laid out group after group
    (``starts`` gives each group's first unit), for building answers in bulk."""

    def __init__(self, prepared: PreparedFleet):
        groups = prepared.groups
        self.count = np.array([g.count for g in groups], dtype=np.int64)
        self.min_kw = np.array([g.min_kw for g in groups], dtype=float)
        self.max_kw = np.array([g.max_kw for g in groups], dtype=float)
        self.cost = np.array([g.cost for g in groups], dtype=float)
        self.idle = np.array([g.idle for g in groups], dtype=bool)
        self.starts = np.concatenate([[0], np.cumsum(self.count)])
        laid_out = [unit_id for g in groups for unit_id in g.ids] + prepared.idle_zero_ids
        # Units with no capacity sit after the groups; ``to_id_order`` sorts by id.
        self.to_id_order = np.argsort(np.array(laid_out, dtype=np.int64), kind="stable")
        self.ids = np.array(prepared.available_ids, dtype=np.int64)
        self.zero_units = len(prepared.idle_zero_ids)
        unit_cost = np.concatenate([np.repeat(self.cost, self.count), np.zeros(self.zero_units)])
        self.unit_cost = unit_cost[self.to_id_order]


class _MeritOrder:
    """Groups in merit order and prefix sums of their capacity (kW), cost and
    start-ups: what every relaxation reads."""

    __slots__ = (
        "groups",
        "positions",
        "cum_cap",
        "cum_cost",
        "cum_starts",
        "keys",
        "largest_min_kw",
    )

    def __init__(self, groups: list[_Group], positions: "np.ndarray"):
        self.groups = groups
        self.positions = positions  # each group's index in PreparedFleet.groups
        caps = [g.count * g.max_kw for g in groups]
        self.cum_cap = [0.0, *accumulate(caps)]
        self.cum_cost = [
            0.0,
            *accumulate(g.cost * cap for g, cap in zip(groups, caps, strict=True)),
        ]
        self.cum_starts = [0.0, *accumulate(float(g.count) if g.idle else 0.0 for g in groups)]
        self.keys = [g.key for g in groups]
        self.largest_min_kw = max((g.min_kw for g in groups), default=0.0)


def rounding_kw(demand_kw: float) -> float:
    return 1e-12 * max(1.0, demand_kw)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _better(a: tuple[float, float, float], b: tuple[float, float, float]) -> bool:
    """Is objective ``a`` = (dispatched kW, cost, start-ups) strictly better than ``b``?"""
    if a[0] > b[0] + TOLERANCE_KW:
        return True
    if a[0] < b[0] - TOLERANCE_KW:
        return False
    cost_tolerance = COST_RELATIVE_TOLERANCE * max(1.0, abs(a[1]), abs(b[1]))
    if a[1] < b[1] - cost_tolerance:
        return True
    if a[1] > b[1] + cost_tolerance:
        return False
    return a[2] < b[2] - 1e-9


@dataclass(slots=True)
class _Relaxation:
    dispatched: float
    cost: float
    startups: float
    # The group where the merit-order fill stopped, and its output; None if every
    # group is full or empty.
    marginal: int | None
    marginal_kw: float
    marginal_lp_count: float


@dataclass(slots=True)
class _Fill:
    """Where a relaxation's output goes: runs ``[start, stop)`` of groups filled to
    capacity, and the kW of every other group that produces something."""

    full_runs: list[tuple[int, int]] = field(default_factory=list)
    partial_kw: dict[int, float] = field(default_factory=dict)


class _Search:
    """Branch and bound over the groups that may be switched on for one demand."""

    def __init__(self, merit: "_MeritOrder", demand_kw: float):
        self.groups = merit.groups
        self.cum_cap = merit.cum_cap
        self.cum_cost = merit.cum_cost
        self.cum_starts = merit.cum_starts
        self.keys = merit.keys
        self.demand = demand_kw
        self.nodes = 0
        # Floating-point noise in sums of kW, not demand: what is left to fill below
        # it is done, and minimums may exceed the demand by that much, no more. (The
        # 1e-6 kW tolerance is for comparing answers, never for over-dispatching.)
        self.rounding = rounding_kw(demand_kw)

    # -- the relaxation ---------------------------------------------------------

    def _events(self, bounds: dict[int, tuple[int, int]]):
        """How the fill order departs from the base merit order in the branch
        ``bounds`` (group -> allowed count range): each bounded group leaves its
        place; its forced-on headroom (no start-up cost) and its optional part come
        back as segments. Returns mandatory kW, their cost and start-ups, and the
        events ``(position, 0 insert | 1 skip, sort key, group, kW, start-up rate)``."""
        mandatory = cost = starts = 0.0
        events = []
        for gi, (kmin, kmax) in bounds.items():
            g = self.groups[gi]
            mandatory += kmin * g.min_kw
            cost += kmin * g.min_kw * g.cost
            if g.idle:
                starts += kmin
            events.append((gi, 1, (), gi, 0.0, 0.0))
            forced_headroom = kmin * (g.max_kw - g.min_kw)
            if forced_headroom > 0:
                key = (g.cost, 0.0, g.ids[0])
                events.append((bisect_left(self.keys, key), 0, key, gi, forced_headroom, 0.0))
            optional = (kmax - kmin) * g.max_kw
            if optional > 0:
                events.append((gi, 0, g.key, gi, optional, g.startup_rate))
        events.sort()
        return mandatory, cost, starts, events

    def relax(self, bounds: dict[int, tuple[int, int]], outputs: "_Fill | None" = None):
        """Solve the relaxation of the branch ``bounds``: ``None`` if the branch is
        infeasible, else a ``_Relaxation``. Pass a ``_Fill`` as ``outputs`` to
        receive where the output goes as well."""
        mandatory, cost, starts, events = self._events(bounds)
        if mandatory > self.demand + self.rounding:
            return None
        capacity = self.cum_cap[-1] + mandatory
        for position, kind, _, _, kw, _ in events:
            if kind == 0:
                capacity += kw
            else:
                capacity -= self.cum_cap[position + 1] - self.cum_cap[position]
        dispatched = min(self.demand, capacity)
        remaining = dispatched - mandatory
        bounded_kw = {gi: kmin * self.groups[gi].min_kw for gi, (kmin, _) in bounds.items()}

        marginal, marginal_kw = None, 0.0
        cursor = 0
        sentinel = (len(self.groups), 1, (), -1, 0.0, 0.0)
        for position, kind, _, gi, kw, rate in [*events, sentinel]:
            if remaining <= self.rounding:
                break
            run_cap = self.cum_cap[position] - self.cum_cap[cursor]
            if run_cap >= remaining:
                # The fill stops inside this run of untouched groups.
                target = self.cum_cap[cursor] + remaining
                stop = max(cursor, bisect_left(self.cum_cap, target, cursor + 1, position + 1) - 1)
                cost += self.cum_cost[stop] - self.cum_cost[cursor]
                starts += self.cum_starts[stop] - self.cum_starts[cursor]
                if outputs is not None:
                    outputs.full_runs.append((cursor, stop))
                partial = remaining - (self.cum_cap[stop] - self.cum_cap[cursor])
                g = self.groups[stop]
                cost += g.cost * partial
                starts += partial * g.startup_rate
                marginal, marginal_kw = stop, partial
                remaining = 0.0
                break
            remaining -= run_cap
            cost += self.cum_cost[position] - self.cum_cost[cursor]
            starts += self.cum_starts[position] - self.cum_starts[cursor]
            if outputs is not None:
                outputs.full_runs.append((cursor, position))
            if kind == 1:  # a bounded group (or the end) leaves its place
                cursor = position + 1
                continue
            cursor = position
            take = min(kw, remaining)
            g = self.groups[gi]
            cost += g.cost * take
            starts += take * rate
            remaining -= take
            bounded_kw[gi] += take
            if take < kw:
                marginal = gi
                remaining = 0.0

        if outputs is not None:
            outputs.partial_kw.update(bounded_kw)
        if marginal is None:
            return _Relaxation(dispatched, cost, starts, None, 0.0, 0.0)
        g = self.groups[marginal]
        if marginal in bounded_kw:
            marginal_kw = bounded_kw[marginal]
            kmin = bounds[marginal][0]
        else:
            kmin = 0
            if outputs is not None:
                outputs.partial_kw[marginal] = marginal_kw
        return _Relaxation(
            dispatched, cost, starts, marginal, marginal_kw, max(kmin, marginal_kw / g.max_kw)
        )

    # -- the search -------------------------------------------------------------

    def _branches(self, bounds, relaxation: _Relaxation):
        """``None`` if the relaxation's allocation is a feasible, unimprovable
        answer for this branch; else the two child branches' bounds."""
        gi = relaxation.marginal
        if gi is None:
            return None
        g = self.groups[gi]
        kmin, kmax = bounds.get(gi, (0, g.count))
        x = relaxation.marginal_kw
        fewest = _fewest_units(g, x, kmin, kmax)
        if g.min_kw > 0 and fewest * g.min_kw > x + self.rounding:
            # No whole number of units can produce x: at most floor(x/min) units, or more.
            split = int((x + self.rounding) // g.min_kw)
            return ({**bounds, gi: (kmin, split)}, {**bounds, gi: (split + 1, kmax)})
        if g.idle and fewest > relaxation.marginal_lp_count + 1e-9:
            # Feasible, but the relaxation counts a fraction of a start-up: could
            # one unit fewer of this group do, with the output moved elsewhere?
            whole = math.ceil(relaxation.startups - 1e-9)
            if relaxation.startups - relaxation.marginal_lp_count + fewest > whole + 1e-9:
                return ({**bounds, gi: (kmin, fewest - 1)}, {**bounds, gi: (fewest, kmax)})
        return None

    def _integral_objective(self, bounds, relaxation: _Relaxation) -> tuple[float, float, float]:
        starts = relaxation.startups
        gi = relaxation.marginal
        if gi is not None and self.groups[gi].idle:
            g = self.groups[gi]
            kmin, kmax = bounds.get(gi, (0, g.count))
            fewest = _fewest_units(g, relaxation.marginal_kw, kmin, kmax)
            starts += fewest - relaxation.marginal_lp_count
        return (relaxation.dispatched, relaxation.cost, round(starts))

    def run(self, deadline: float, node_limit: int):
        """Depth-first branch and bound. Returns the bounds of the branch whose
        relaxation is the best allocation (``None``: everything off), and a status."""
        best_bounds: dict[int, tuple[int, int]] | None = None
        best = (0.0, 0.0, 0.0)  # everything off: always feasible
        root = self.relax({})
        stack = [({}, root)] if root is not None else []
        status = STATUS_OPTIMAL
        while stack:
            bounds, relaxation = stack.pop()
            self.nodes += 1
            if not _better(self._lower_bound(relaxation), best):
                continue
            children = self._branches(bounds, relaxation)
            if children is None:
                candidate = self._integral_objective(bounds, relaxation)
                if _better(candidate, best):
                    best, best_bounds = candidate, bounds
                continue
            if self.nodes >= node_limit:
                status = STATUS_NODE_LIMIT
                break
            if self.nodes % 32 == 0 and time.perf_counter() > deadline:
                status = STATUS_TIME_LIMIT
                break
            # The child with more units on is explored first (pushed last): it
            # usually completes an allocation at once, whose bound then prunes the
            # long chains of switching off one marginal unit after another that a
            # small residual would otherwise walk.
            for child in children:
                child_relaxation = self.relax(child)
                if child_relaxation is not None:
                    stack.append((child, child_relaxation))
        return best_bounds, status

    @staticmethod
    def _lower_bound(relaxation: _Relaxation) -> tuple[float, float, float]:
        """The relaxation's objective with start-ups rounded up: no allocation in
        the branch can do better."""
        return (
            relaxation.dispatched,
            relaxation.cost,
            math.ceil(relaxation.startups - 1e-9),
        )


def _fewest_units(group: _Group, output_kw: float, kmin: int, kmax: int) -> int:
    """The fewest of a group's units that can produce ``output_kw`` (at least
    ``kmin``, at most ``kmax``), forgiving floating-point noise in the division."""
    return min(kmax, max(kmin, math.ceil(output_kw / group.max_kw - 1e-9)))


def dispatch_demand(
    fleet: Iterable[Unit] | PreparedFleet,
    demand_kw: float,
    *,
    time_limit_s: float = 5.0,
    node_limit: int = 1_000_000,
) -> DispatchResult:
    """Allocate ``demand_kw`` (> 0, finite) across ``fleet`` exactly (see the module
    docstring for the rules and the search).

    Raises ``ValueError`` for a demand that is not a finite positive number and for
    a unit that is not ``0 <= min_kw <= max_kw`` (finite, with a finite cost).
    """
    started = time.perf_counter()
    if not (_is_number(demand_kw) and math.isfinite(demand_kw) and demand_kw > 0):
        raise ValueError(f"demand must be a finite number > 0 kW, got {demand_kw!r}")
    prepared = fleet if isinstance(fleet, PreparedFleet) else PreparedFleet(fleet)

    merit = prepared.merit_order(demand_kw)
    search = _Search(merit, float(demand_kw))
    best_bounds, status = search.run(started + time_limit_s, node_limit)
    fill = _Fill()
    if best_bounds is not None:  # None: nothing at all can be dispatched
        search.relax(best_bounds, fill)

    result = DispatchResult(demand_kw=demand_kw, status=status, optimal=status == STATUS_OPTIMAL)
    result.nodes = search.nodes
    _write_answer(result, prepared, merit, search, best_bounds or {}, fill)
    result.solve_time_s = time.perf_counter() - started
    return result


# Reason codes as small integers while the answer is built in numpy arrays.
_CODES = (
    REASON_AT_MAX,
    REASON_MARGINAL,
    REASON_AT_MIN,
    REASON_OFF_MIN_ABOVE_DEMAND,
    REASON_OFF_NOT_NEEDED,
    REASON_OFF_MIN_DOES_NOT_FIT,
)
_AT_MAX, _MARGINAL, _AT_MIN, _OFF_ABOVE, _OFF_NOT_NEEDED, _OFF_NO_FIT = range(len(_CODES))


def _write_answer(result, prepared, merit, search, bounds, fill: _Fill) -> None:
    """Turn group outputs into the per-unit answer: allocations, reasons, totals.
    Done in bulk with numpy, group by group (a group's units share their answer but
    for at most one), so that 100,000 units cost little more than their groups."""
    arrays = prepared.arrays()
    full = np.zeros(len(prepared.groups), dtype=bool)
    for start, stop in fill.full_runs:
        full[merit.positions[start:stop]] = True
    on_count = np.where(full, arrays.count, 0)
    spread = []  # (group, kW, units on) for groups not simply all at maximum
    for search_index, kw in fill.partial_kw.items():
        if kw <= 0:
            continue
        gi = int(merit.positions[search_index])
        g = prepared.groups[gi]
        kmin, kmax = bounds.get(search_index, (0, g.count))
        count = _fewest_units(g, kw, kmin, kmax)
        on_count[gi] = count
        if count == g.count and kw >= count * g.max_kw - TOLERANCE_KW:
            full[gi] = True
        else:
            spread.append((gi, kw, count))

    # The marginal cost: the dearest unit left between its minimum and maximum,
    # else the dearest unit on.
    unit_kw = np.repeat(np.where(full, arrays.max_kw, 0.0), arrays.count)
    unit_code = np.empty(len(unit_kw), dtype=np.int8)
    partial_costs = []
    patches = []
    for gi, kw, count in spread:
        outputs, codes = _spread_group(prepared.groups[gi], kw, count)
        patches.append((int(arrays.starts[gi]), outputs, codes))
        if _MARGINAL in codes:
            partial_costs.append(prepared.groups[gi].cost)
    on = on_count > 0
    if partial_costs:
        result.marginal_cost = max(partial_costs)
    elif on.any():
        result.marginal_cost = float(arrays.cost[on].max())

    off_code = np.where(arrays.min_kw > search.demand + search.rounding, _OFF_ABOVE, _OFF_NO_FIT)
    if result.marginal_cost is None:
        off_code[off_code == _OFF_NO_FIT] = _OFF_NOT_NEEDED
    else:
        dearer = (arrays.cost > result.marginal_cost) | (arrays.min_kw == 0)
        off_code[(off_code == _OFF_NO_FIT) & dearer] = _OFF_NOT_NEEDED
    unit_code[:] = np.repeat(np.where(full, _AT_MAX, off_code), arrays.count)
    for start, outputs, codes in patches:
        unit_kw[start : start + len(outputs)] = outputs
        unit_code[start : start + len(codes)] = codes

    if arrays.zero_units:
        unit_kw = np.concatenate([unit_kw, np.zeros(arrays.zero_units)])
        unit_code = np.concatenate(
            [unit_code, np.full(arrays.zero_units, _OFF_NOT_NEEDED, np.int8)]
        )
    unit_kw = unit_kw[arrays.to_id_order]
    unit_code = unit_code[arrays.to_id_order]

    values = unit_kw.tolist()
    allocations = dict(zip(prepared.available_ids, values, strict=True))
    total = math.fsum(values)
    if total > result.demand_kw:
        _clamp_to_demand(allocations, prepared, result.demand_kw)
        values = list(allocations.values())
        total = math.fsum(values)
        unit_kw = np.array(values)
    result.allocations = allocations
    result.total_dispatched_kw = total
    result.total_cost_per_h = float(np.dot(arrays.unit_cost, unit_kw)) / 1000
    result.startups = int(on_count[arrays.idle].sum())
    reasons = {}
    for code in np.unique(unit_code).tolist():
        reasons[_CODES[code]] = arrays.ids[unit_code == code].tolist()
    if prepared.down_ids:
        reasons[REASON_DOWN] = list(prepared.down_ids)
    result.reasons = reasons


def _spread_group(g: _Group, kw: float, count: int) -> tuple[list[float], list[int]]:
    """Share a group's output among its lowest-id ``count`` units: each at its
    minimum, then the rest filled in id order up to each unit's maximum. Returns
    their outputs and reason codes."""
    headroom = g.max_kw - g.min_kw
    extra = max(0.0, kw - count * g.min_kw)
    at_max = min(count, int(extra // headroom)) if headroom > 0 else count
    rest = extra - at_max * headroom
    outputs = [float(g.max_kw)] * at_max
    codes = [_AT_MAX] * at_max
    if at_max < count:
        marginal = rest > TOLERANCE_KW
        outputs.append(float(g.min_kw + rest))
        codes.append(_MARGINAL if marginal else _AT_MIN)
        outputs += [float(g.min_kw)] * (count - at_max - 1)
        codes += [_AT_MIN] * (count - at_max - 1)
    return outputs, codes


def _clamp_to_demand(outputs: dict[int, float], prepared: PreparedFleet, demand_kw: float) -> None:
    """Floating-point sums can drift a hair above the demand; trim units that are
    above their minimum (dearest first), never below it, so that the reported total
    never exceeds the demand."""
    excess = math.fsum(outputs.values()) - demand_kw
    running = [i for i, kw in outputs.items() if kw > 0]
    for unit_id in sorted(running, key=lambda i: (-prepared.units[i].cost, -i)):
        room = outputs[unit_id] - prepared.units[unit_id].min_kw
        cut = min(excess * (1 + 1e-9), max(room, 0.0))
        outputs[unit_id] -= cut
        excess -= cut
        if excess <= 0:
            return
