"""Dispatch a demand across a fleet: the pure algorithm.

Plain data in (``Unit`` records, or a ``PreparedFleet`` made from them, and a demand
in kW), plain data out (``DispatchResult``). No Flask, no database, no settings read
from anywhere but the arguments, so it can be tested and benchmarked on its own.

The problem (DESIGN.md, "Dispatch — the rules")
------------------------------------------------
Every unit that is not down gets 0 or an output in ``[min_kw, max_kw]``; the total
never exceeds the demand ``D``. A choice of units to switch on, ``S``, is possible
when their minimums fit, ``sum(min) <= D``; it then dispatches ``d(S) = min(D,
sum(max))``: every unit at its minimum and the rest filled cheapest first. Among
possible choices the answer is the best by, in turn:

1. the most kW dispatched;
2. the lowest cost, sum of ``cost x output``;
3. the fewest start-ups: units switched on that were ``idle``;
4. then lower ids: output goes to lower ids first within the fill order (cost,
   running before idle, larger idle units first, id).

All four are compared exactly (see below: there is no floating-point noise to
forgive). Then one rule, **no start-up for the last microwatt**: while an idle unit
that the answer switches on could stay off at a loss of at most ``TOLERANCE_KW``
(1e-6 kW) of dispatch in all and at no higher cost, it stays off (the one that
saves the most cost first, then the highest id). Five idle 1-8 kW units for a
demand of 32.0000001 kW: four run at 8 kW, the fifth is not started for 1e-7 kW.

The same input (in any order) always gives the same answer.

Exact arithmetic
----------------
Every kW figure is a float, that is a fraction ``m / 2**k``; the search multiplies
all of them (minimums, maximums, the demand, the tolerance) by one power of two so
that they become Python integers, and costs likewise. Sums, comparisons and the
fill are then exact at every magnitude: a residual of 0.5 kW on a 1e9 kW unit is
not lost, two minimums of 0.1 and 0.2 kW do not "fit" a demand of 0.3 (their float
sum is above it), and a demand of 1e13 kW does not make 10 kW look like rounding.
Outputs go back to floats at the end, rounded towards zero where a value has no
exact float, so that the float outputs never add up to more than the demand
(``math.fsum`` of them is the reported total).

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
  constraint is then solved exactly by filling capacity in the fill order above
  (a group's forced-on headroom costs no start-up). Prefix sums over the groups
  sorted once make each relaxation O(d log n) for d groups fixed so far.
* **Only the marginal group can be wrong.** In a merit-order fill every group is
  full or empty except the one where the fill stops. If that group's output ``x``
  fits no whole number of units (``x`` below ``k*min`` for the fewest ``k`` units
  that can carry it), the search branches on it: at most ``floor(x/min)`` units
  on, or at least one more. Otherwise the relaxation's own allocation is feasible
  and, being a lower bound, optimal for that branch (with exact arithmetic the
  fewest whole units that carry ``x`` are the relaxation's start-ups rounded up).
* **Depth first, more units on first, pruned by the bound**: a branch whose
  relaxation cannot beat the best allocation found so far is dropped.

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
from enum import IntEnum
from fractions import Fraction
from itertools import accumulate
from typing import NamedTuple

import numpy as np

from vpp.domain import (
    REASON_AT_MAX,
    REASON_AT_MAX_SHORT,
    REASON_AT_MIN,
    REASON_DOWN,
    REASON_MARGINAL,
    REASON_OFF_MIN_ABOVE_DEMAND,
    REASON_OFF_MIN_DOES_NOT_FIT,
    REASON_OFF_NOT_NEEDED,
    STATUS_DOWN,
    STATUS_IDLE,
    STATUS_RUNNING,
    TOLERANCE_KW,
)

STRATEGY = "exact-branch-and-bound"
# Relative room for a float comparison that only preselects candidates (each is then
# checked in exact arithmetic): far above float64's 2.2e-16 rounding, far below any
# difference that matters.
FLOAT_ROOM = 1e-12

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


# --- exact arithmetic ---------------------------------------------------------------


def binary_places(value: float) -> int:
    """How many binary places ``value`` has after the point: ``value * 2**places``
    is a whole number."""
    return value.as_integer_ratio()[1].bit_length() - 1


@dataclass(frozen=True, slots=True)
class _Exact:
    """kW as whole numbers of ``2**-kw_places`` kW, costs of ``2**-cost_places``."""

    kw_places: int
    cost_places: int

    def kw(self, value: float) -> int:
        numerator, denominator = value.as_integer_ratio()
        return numerator * ((1 << self.kw_places) // denominator)

    def cost(self, value: float) -> int:
        numerator, denominator = value.as_integer_ratio()
        return numerator * ((1 << self.cost_places) // denominator)

    def kw_float_down(self, value: int) -> float:
        """The float nearest ``value`` (>= 0) that is not above it."""
        result = value / (1 << self.kw_places)
        if self.kw(result) > value:
            result = math.nextafter(result, 0.0)
        return result


def _better(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    """Is objective ``a`` = (kW, cost, start-ups), exact integers, strictly better
    than ``b``? More kW; then cheaper; then fewer start-ups."""
    return (a[0], -a[1], -a[2]) > (b[0], -b[1], -b[2])


# --- the fleet, prepared ------------------------------------------------------------


@dataclass(slots=True)
class _Group:
    """Identical units: same bounds, cost and status. ``ids`` sorted ascending."""

    min_kw: float
    max_kw: float
    cost: float
    idle: bool
    ids: list[int]
    count: int = field(init=False)
    # The fill order: cheapest, running before idle, larger idle units first (fewer
    # start-ups per kW), lowest id.
    key: tuple[float, bool, float, int] = field(init=False)

    def __post_init__(self) -> None:
        self.count = len(self.ids)
        self.key = (self.cost, self.idle, -self.max_kw if self.idle else 0.0, self.ids[0])


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
    aside, identical units grouped, groups in fill order, their exact prefix sums.
    Build one per fleet version and reuse it for every demand."""

    __slots__ = (
        "groups",
        "down_ids",
        "units",
        "available_ids",
        "idle_zero_ids",
        "kw_places",
        "cost_places",
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
        self.kw_places = max(
            [binary_places(TOLERANCE_KW)]
            + [binary_places(v) for g in self.groups for v in (g.min_kw, g.max_kw)]
        )
        self.cost_places = max([0] + [binary_places(g.cost) for g in self.groups])
        self._merit: dict[int, _MeritOrder] = {}
        self._arrays: _FleetArrays | None = None

    def exact_for(self, demand_kw: float) -> _Exact:
        return _Exact(max(self.kw_places, binary_places(demand_kw)), self.cost_places)

    def merit_order(self, demand_kw: float, exact: _Exact) -> "_MeritOrder":
        """The groups that may be switched on for ``demand_kw``, with exact prefix
        sums: computed once for the whole fleet, and afresh only when some unit's
        minimum is above the demand (such a unit can never be on)."""
        whole = self._merit.get(exact.kw_places)
        if whole is None:
            whole = _MeritOrder(self.groups, np.arange(len(self.groups)), exact)
            self._merit[exact.kw_places] = whole
        if whole.largest_min_kw <= demand_kw:
            return whole
        positions = np.flatnonzero(self.arrays().min_kw <= demand_kw)
        return _MeritOrder([self.groups[i] for i in positions], positions, exact)

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
        zero = len(prepared.idle_zero_ids)
        self.zero_units = zero

        def per_unit(values: np.ndarray, filler) -> np.ndarray:
            laid = np.concatenate([np.repeat(values, self.count), np.full(zero, filler)])
            return laid[self.to_id_order]

        self.unit_cost = per_unit(self.cost, 0.0)
        self.unit_min = per_unit(self.min_kw, 0.0)
        self.unit_max = per_unit(self.max_kw, 0.0)
        self.unit_idle = per_unit(self.idle, False).astype(bool)


class _MeritOrder:
    """Groups in fill order with exact integer figures and prefix sums of their
    capacity, cost and start-ups: what every relaxation reads."""

    __slots__ = (
        "groups",
        "positions",
        "low",
        "high",
        "cost",
        "cum_cap",
        "cum_cost",
        "cum_starts",
        "keys",
        "largest_min_kw",
    )

    def __init__(self, groups: list[_Group], positions: np.ndarray, exact: _Exact):
        self.groups = groups
        self.positions = positions  # each group's index in PreparedFleet.groups
        self.high = [exact.kw(g.max_kw) for g in groups]
        self.low = [exact.kw(g.min_kw) for g in groups]
        self.cost = [exact.cost(g.cost) for g in groups]
        caps = [g.count * high for g, high in zip(groups, self.high, strict=True)]
        self.cum_cap = [0, *accumulate(caps)]
        self.cum_cost = [0, *accumulate(c * cap for c, cap in zip(self.cost, caps, strict=True))]
        self.cum_starts = [0, *accumulate(g.count if g.idle else 0 for g in groups)]
        self.keys = [g.key for g in groups]
        self.largest_min_kw = max((g.min_kw for g in groups), default=0.0)


# --- the search ---------------------------------------------------------------------


@dataclass(slots=True)
class _Relaxation:
    dispatched: int
    cost: int
    # Start-ups: whole units, plus the fraction of the marginal group's next unit.
    whole_startups: int
    fractional_startup: Fraction
    # The group where the fill stopped and its whole output; None if every group is
    # full or empty.
    marginal: int | None
    marginal_kw: int

    @property
    def startups_rounded_up(self) -> int:
        return self.whole_startups + math.ceil(self.fractional_startup)


@dataclass(slots=True)
class _Fill:
    """Where a relaxation's output goes: runs ``[start, stop)`` of groups filled to
    capacity, and the kW of every other group that produces something."""

    full_runs: list[tuple[int, int]] = field(default_factory=list)
    partial_kw: dict[int, int] = field(default_factory=dict)


class _EventKind(IntEnum):
    """How a branch's fill order departs from the base merit order at a place. A
    group whose count is bounded leaves its own place (SKIP) and comes back as
    segments (INSERT): its forced-on headroom and its optional units. At the same
    place an INSERT comes first (the smaller value sorts first)."""

    INSERT = 0
    SKIP = 1


class _Event(NamedTuple):
    position: int  # the place in the base merit order
    kind: _EventKind
    key: tuple  # the segment's merit key (for the order of segments at one place)
    group: int  # the bounded group, by merit-order index
    kw: int  # exact kW of the segment (0 for a SKIP)
    idle: bool  # whether the segment's units start up when used


@dataclass(slots=True)
class _Filling:
    """A relaxation's fill as it goes along the merit order: the exact kW still to
    place, the cost and start-ups so far, each bounded group's kW, and where the
    fill stopped (the marginal group, and the fraction of a start-up it needs)."""

    merit: _MeritOrder
    remaining: int
    cost: int
    starts: int
    bounded_kw: dict[int, int]
    outputs: _Fill | None
    fraction: Fraction = Fraction(0)
    marginal: int | None = None

    def whole_groups(self, start: int, stop: int) -> None:
        """Groups ``[start, stop)`` of the base order, each at its full capacity."""
        m = self.merit
        self.remaining -= m.cum_cap[stop] - m.cum_cap[start]
        self.cost += m.cum_cost[stop] - m.cum_cost[start]
        self.starts += m.cum_starts[stop] - m.cum_starts[start]
        if self.outputs is not None:
            self.outputs.full_runs.append((start, stop))

    def stop_inside(self, start: int, end: int) -> None:
        """What remains fits in the run ``[start, end)``: whole groups up to the one
        where it stops, which takes the rest and is marginal."""
        m = self.merit
        stop = bisect_left(m.cum_cap, m.cum_cap[start] + self.remaining, start + 1, end + 1) - 1
        self.whole_groups(start, stop)
        self.cost += m.cost[stop] * self.remaining
        if m.groups[stop].idle:
            self.fraction = Fraction(self.remaining, m.high[stop])
        self.marginal = stop
        self.bounded_kw[stop] = self.remaining
        self.remaining = 0

    def segment(self, event: _Event) -> None:
        """A bounded group's segment, as much of it as is still needed; of optional
        (idle) units, whole ones start up and the last one by a fraction."""
        m = self.merit
        take = min(event.kw, self.remaining)
        self.cost += m.cost[event.group] * take
        self.remaining -= take
        self.bounded_kw[event.group] += take
        if event.idle:
            whole, rest = divmod(take, m.high[event.group])
            self.starts += whole
            self.fraction = Fraction(rest, m.high[event.group])
        if take < event.kw:
            self.marginal = event.group


class _Search:
    """Branch and bound over the groups of one merit order, for one demand (exact
    integers, ``_Exact``)."""

    def __init__(self, merit: _MeritOrder, demand: int):
        self.merit = merit
        self.demand = demand
        self.nodes = 0

    # -- the relaxation -------------------------------------------------------------

    def _events(self, bounds: dict[int, tuple[int, int]]):
        """Mandatory kW, cost and start-ups of a branch's bounded groups, and the
        events by which its fill order departs from the base merit order."""
        m = self.merit
        mandatory = cost = starts = 0
        events = []
        for gi, (kmin, kmax) in bounds.items():
            g = m.groups[gi]
            low, high = m.low[gi], m.high[gi]
            mandatory += kmin * low
            cost += kmin * low * m.cost[gi]
            if g.idle:
                starts += kmin
            events.append(_Event(gi, _EventKind.SKIP, (), gi, 0, False))
            forced_headroom = kmin * (high - low)
            if forced_headroom > 0:
                key = (g.cost, False, 0.0, g.ids[0])  # already on: no start-up
                place = bisect_left(m.keys, key)
                events.append(_Event(place, _EventKind.INSERT, key, gi, forced_headroom, False))
            optional = (kmax - kmin) * high
            if optional > 0:
                events.append(_Event(gi, _EventKind.INSERT, g.key, gi, optional, g.idle))
        events.sort()
        return mandatory, cost, starts, events

    def _capacity(self, mandatory: int, events: list[_Event]) -> int:
        """The most a branch can produce: every group full, bounded ones as bounded."""
        m = self.merit
        capacity = m.cum_cap[-1] + mandatory
        for event in events:
            if event.kind == _EventKind.INSERT:
                capacity += event.kw
            else:
                capacity -= m.cum_cap[event.position + 1] - m.cum_cap[event.position]
        return capacity

    def relax(self, bounds: dict[int, tuple[int, int]], outputs: _Fill | None = None):
        """Solve the relaxation of the branch ``bounds``: ``None`` if the branch is
        infeasible, else a ``_Relaxation``. Pass a ``_Fill`` as ``outputs`` to
        receive where the output goes as well.

        The fill walks the base merit order in runs of whole groups between the
        branch's events (``_Filling``): a run that holds what remains ends the fill
        inside it; a SKIP jumps over a bounded group's own place; an INSERT adds one
        of its segments."""
        m = self.merit
        mandatory, cost, starts, events = self._events(bounds)
        if mandatory > self.demand:
            return None
        target = min(self.demand, self._capacity(mandatory, events))
        bounded_kw = {gi: kmin * m.low[gi] for gi, (kmin, _) in bounds.items()}
        fill = _Filling(m, target - mandatory, cost, starts, bounded_kw, outputs)
        end = _Event(len(m.groups), _EventKind.SKIP, (), -1, 0, False)
        cursor = 0
        for event in [*events, end]:
            if fill.remaining == 0:
                break
            if m.cum_cap[event.position] - m.cum_cap[cursor] >= fill.remaining:
                fill.stop_inside(cursor, event.position)
                break
            fill.whole_groups(cursor, event.position)
            if event.kind == _EventKind.SKIP:
                cursor = event.position + 1
                continue
            cursor = event.position
            fill.segment(event)
        if outputs is not None:
            outputs.partial_kw.update(fill.bounded_kw)
        marginal_kw = fill.bounded_kw[fill.marginal] if fill.marginal is not None else 0
        return _Relaxation(
            target, fill.cost, fill.starts, fill.fraction, fill.marginal, marginal_kw
        )

    # -- branching ----------------------------------------------------------------------

    def _fewest_units(self, gi: int, output: int, kmin: int, kmax: int) -> int:
        """The fewest of a group's units that can carry ``output`` (at least ``kmin``,
        at most ``kmax``): exact, ``ceil(output / max)``."""
        return min(kmax, max(kmin, -(-output // self.merit.high[gi])))

    def _branches(self, bounds, relaxation: _Relaxation):
        """``None`` if the relaxation's allocation is feasible (then it is the best of
        this branch); else the two child branches' bounds."""
        gi = relaxation.marginal
        if gi is None:
            return None
        low = self.merit.low[gi]
        kmin, kmax = bounds.get(gi, (0, self.merit.groups[gi].count))
        x = relaxation.marginal_kw
        fewest = self._fewest_units(gi, x, kmin, kmax)
        if low > 0 and fewest * low > x:
            # No whole number of units can produce x: at most floor(x/min), or more.
            split = x // low
            return ({**bounds, gi: (kmin, split)}, {**bounds, gi: (split + 1, kmax)})
        return None

    def objective(self, relaxation: _Relaxation) -> tuple[int, int, int]:
        """The relaxation's objective with start-ups rounded up: no allocation in the
        branch does better, and a feasible relaxation achieves it."""
        return (relaxation.dispatched, relaxation.cost, relaxation.startups_rounded_up)

    def run(self, deadline: float, node_limit: int):
        """Depth-first branch and bound. Returns the bounds of the branch whose
        relaxation is the best allocation (None: everything off), its objective, and
        a status."""
        best_bounds, best = None, (0, 0, 0)  # everything off: always possible
        root = self.relax({})
        stack = [({}, root)] if root is not None else []
        status = STATUS_OPTIMAL
        while stack:
            bounds, relaxation = stack.pop()
            self.nodes += 1
            bound = self.objective(relaxation)
            if not _better(bound, best):
                continue
            children = self._branches(bounds, relaxation)
            if children is None:
                best, best_bounds = bound, bounds
                continue
            if self.nodes >= node_limit:
                status = STATUS_NODE_LIMIT
                break
            if self.nodes % 32 == 0 and time.perf_counter() > deadline:
                status = STATUS_TIME_LIMIT
                break
            # The child with more units on is explored first (pushed last): it
            # usually completes an allocation at once, whose bound then prunes the
            # long chains of switching off one marginal unit after another.
            for child in children:
                child_relaxation = self.relax(child)
                if child_relaxation is not None:
                    stack.append((child, child_relaxation))
        return best_bounds, best, status


# --- dispatch -----------------------------------------------------------------------


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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
    demand_kw = float(demand_kw)
    prepared = fleet if isinstance(fleet, PreparedFleet) else PreparedFleet(fleet)
    exact = prepared.exact_for(demand_kw)
    search = _Search(prepared.merit_order(demand_kw, exact), exact.kw(demand_kw))
    best_bounds, best, status = search.run(started + time_limit_s, node_limit)
    allocation = _Allocation.of(search, best_bounds, best)
    allocation.skip_microwatt_startups(prepared, exact)

    result = _answer(prepared, exact, allocation, demand_kw, status, search.nodes)
    result.solve_time_s = time.perf_counter() - started
    return result


@dataclass(slots=True)
class _Allocation:
    """An answer by group: the merit-order runs of groups at full capacity, and the
    others that produce something, ``index in the merit order -> (units on, exact
    kW)``; with its exact total and cost."""

    search: _Search
    full_runs: list[tuple[int, int]]
    partial: dict[int, tuple[int, int]]
    dispatched: int
    cost: int

    @classmethod
    def of(cls, search: _Search, bounds, best: tuple[int, int, int]) -> "_Allocation":
        if bounds is None:  # everything off
            return cls(search, [], {}, 0, 0)
        fill = _Fill()
        search.relax(bounds, fill)
        merit = search.merit
        partial = {}
        for index, kw in fill.partial_kw.items():
            if kw > 0:
                kmin, kmax = bounds.get(index, (0, merit.groups[index].count))
                partial[index] = (search._fewest_units(index, kw, kmin, kmax), kw)
        return cls(search, fill.full_runs, partial, best[0], best[1])

    def capacity_on(self) -> int:
        """Exact kW the units on could produce: runs from the prefix sums."""
        m = self.search.merit
        runs = sum(m.cum_cap[stop] - m.cum_cap[start] for start, stop in self.full_runs)
        return runs + sum(count * m.high[i] for i, (count, _) in self.partial.items())

    def cost_at_max(self) -> int:
        m = self.search.merit
        runs = sum(m.cum_cost[stop] - m.cum_cost[start] for start, stop in self.full_runs)
        return runs + sum(count * m.high[i] * m.cost[i] for i, (count, _) in self.partial.items())

    def on_groups(self) -> np.ndarray:
        """Merit-order indices of the groups with units on."""
        runs = [np.arange(start, stop) for start, stop in self.full_runs]
        return np.concatenate([*runs, np.array(list(self.partial), dtype=np.int64)])

    def skip_microwatt_startups(self, prepared: PreparedFleet, exact: _Exact) -> None:
        """The rule of the module docstring: an idle unit is left off when that loses
        at most ``TOLERANCE_KW`` of dispatch in all and costs no more.

        Switching off a unit of maximum ``m`` loses ``m - slack`` kW, where ``slack``
        is the headroom left on the units that are on. With exact optimality a unit
        that loses nothing would cost more (else the answer would have had one
        start-up fewer), so only units with ``slack < m <= slack + budget`` qualify,
        and once one is off every unit left runs at its maximum (``slack`` is 0)."""
        m = self.search.merit
        budget = exact.kw(TOLERANCE_KW)
        while self.dispatched > 0:
            slack = self.capacity_on() - self.dispatched
            near = self._idle_groups_near(prepared, exact.kw_float_down(slack))
            at_max_cost = None
            chosen = None
            for index in near:
                high = m.high[index]
                if not slack < high <= slack + budget:
                    continue
                if at_max_cost is None:
                    at_max_cost = self.cost_at_max()
                cost = at_max_cost - high * m.cost[index]
                if cost <= self.cost and (chosen is None or cost < chosen[1]):
                    chosen = (index, cost)
            if chosen is None:
                return
            index, self.cost = chosen
            budget -= m.high[index] - slack
            self._all_at_max()
            count, _ = self.partial.get(index) or (m.groups[index].count, 0)
            self._split_out(index)
            if count > 1:
                self.partial[index] = (count - 1, (count - 1) * m.high[index])
            else:
                self.partial.pop(index, None)
            self.dispatched = self.capacity_on()

    def _idle_groups_near(self, prepared: PreparedFleet, slack_kw: float) -> list[int]:
        """Merit-order indices of the idle groups on whose maximum is within the
        tolerance above ``slack_kw``, by floats with room for their rounding: the
        caller checks exactly."""
        on = self.on_groups()
        arrays = prepared.arrays()
        positions = self.search.merit.positions[on]
        max_kw = arrays.max_kw[positions]
        room = FLOAT_ROOM * (max_kw + slack_kw)
        near = arrays.idle[positions] & (max_kw >= slack_kw - room)
        near &= max_kw <= slack_kw + TOLERANCE_KW + room
        return sorted(on[near].tolist())

    def _all_at_max(self) -> None:
        m = self.search.merit
        self.partial = {i: (count, count * m.high[i]) for i, (count, _) in self.partial.items()}

    def _split_out(self, index: int) -> None:
        """Take group ``index`` out of the full runs (its count is about to change)."""
        runs = []
        for start, stop in self.full_runs:
            if start <= index < stop:
                runs += [(start, index), (index + 1, stop)]
                count = self.search.merit.groups[index].count
                self.partial[index] = (count, count * self.search.merit.high[index])
            else:
                runs.append((start, stop))
        self.full_runs = [(start, stop) for start, stop in runs if stop > start]


# --- the answer, unit by unit -------------------------------------------------------

# Reason codes as small integers while the answer is built in numpy arrays.
_CODES = (
    REASON_AT_MAX,
    REASON_AT_MAX_SHORT,
    REASON_MARGINAL,
    REASON_AT_MIN,
    REASON_OFF_MIN_ABOVE_DEMAND,
    REASON_OFF_NOT_NEEDED,
    REASON_OFF_MIN_DOES_NOT_FIT,
)
_AT_MAX, _AT_MAX_SHORT, _MARGINAL, _AT_MIN, _OFF_ABOVE, _OFF_NOT_NEEDED, _OFF_NO_FIT = range(
    len(_CODES)
)


def _spread(g: _Group, exact: _Exact, count: int, kw: int) -> list[float]:
    """Share a group's output among its lowest-id ``count`` units: each at its
    minimum, then the rest filled in id order up to each unit's maximum. The one unit
    between its bounds gets its exact share, rounded down to a float."""
    low, high = exact.kw(g.min_kw), exact.kw(g.max_kw)
    extra = kw - count * low
    at_max = min(count, extra // (high - low)) if high > low else count
    outputs = [g.max_kw] * at_max
    if at_max < count:
        outputs.append(exact.kw_float_down(low + extra - at_max * (high - low)))
        outputs += [g.min_kw] * (count - at_max - 1)
    return outputs


def _unit_outputs(prepared: PreparedFleet, exact: _Exact, allocation: _Allocation) -> np.ndarray:
    """Each available unit's kW, in id order (``prepared.available_ids``). Done in
    bulk with numpy, group by group (a group's units share their answer but for at
    most one), so that 100,000 units cost little more than their groups."""
    arrays = prepared.arrays()
    merit = allocation.search.merit
    full = np.zeros(len(prepared.groups), dtype=bool)
    for start, stop in allocation.full_runs:
        full[merit.positions[start:stop]] = True
    laid_out = np.concatenate(
        [np.repeat(np.where(full, arrays.max_kw, 0.0), arrays.count), np.zeros(arrays.zero_units)]
    )
    for index, (count, kw) in allocation.partial.items():
        gi = int(merit.positions[index])
        start = int(arrays.starts[gi])
        laid_out[start : start + count] = _spread(prepared.groups[gi], exact, count, kw)
    return laid_out[arrays.to_id_order]


class _Standing(NamedTuple):
    """Where each unit stands in its range (boolean arrays, in id order)."""

    on: np.ndarray
    at_max: np.ndarray
    at_min: np.ndarray
    between: np.ndarray

    @classmethod
    def of(cls, arrays: _FleetArrays, unit_kw: np.ndarray) -> "_Standing":
        on = unit_kw > 0
        at_max = on & (unit_kw == arrays.unit_max)
        at_min = on & ~at_max & (unit_kw == arrays.unit_min)
        return cls(on, at_max, at_min, on & ~at_max & ~at_min)


def _reason_codes(
    arrays: _FleetArrays,
    standing: _Standing,
    marginal_cost: float | None,
    demand_kw: float,
    short: bool,
) -> np.ndarray:
    """Why each unit got its output (indices into ``_CODES``), every one true of it:
    on units by where they stand in their range, off ones by what kept them off.
    ``short``: the fleet does not meet the demand."""
    at_max, at_min, between = standing.at_max, standing.at_min, standing.between
    codes = np.full(len(at_max), _OFF_NO_FIT, dtype=np.int8)
    if marginal_cost is None:
        codes[:] = _OFF_NOT_NEEDED
    else:
        dearer = (arrays.unit_cost > marginal_cost) | (arrays.unit_min == 0)
        codes[dearer] = _OFF_NOT_NEEDED
    codes[arrays.unit_min > demand_kw] = _OFF_ABOVE
    # Short of the demand, a unit at its maximum is there because the fleet is not
    # enough, not because it is cheaper than some marginal unit.
    codes[at_max] = _AT_MAX_SHORT if short else _AT_MAX
    codes[at_min] = _AT_MIN
    codes[between] = _MARGINAL
    return codes


def _marginal_cost(arrays: _FleetArrays, standing: _Standing) -> float | None:
    """The dearest cost among units strictly between their bounds (they set the
    price); with none, the dearest unit that is on; None when all are off."""
    if standing.between.any():
        return float(arrays.unit_cost[standing.between].max())
    if standing.on.any():
        return float(arrays.unit_cost[standing.on].max())
    return None


def _answer(
    prepared: PreparedFleet,
    exact: _Exact,
    allocation: _Allocation,
    demand_kw: float,
    status: str,
    nodes: int,
) -> DispatchResult:
    """The per-unit answer of a group allocation: outputs, totals, reasons."""
    arrays = prepared.arrays()
    unit_kw = _unit_outputs(prepared, exact, allocation)
    values = unit_kw.tolist()
    standing = _Standing.of(arrays, unit_kw)
    on = standing.on
    marginal_cost = _marginal_cost(arrays, standing)
    total = math.fsum(values)
    codes = _reason_codes(
        arrays, standing, marginal_cost, demand_kw, demand_kw - total > TOLERANCE_KW
    )
    reasons = {
        _CODES[code]: arrays.ids[codes == code].tolist() for code in np.unique(codes).tolist()
    }
    if prepared.down_ids:
        reasons[REASON_DOWN] = list(prepared.down_ids)
    return DispatchResult(
        demand_kw=demand_kw,
        allocations=dict(zip(prepared.available_ids, values, strict=True)),
        reasons=reasons,
        total_dispatched_kw=total,
        total_cost_per_h=math.fsum((arrays.unit_cost[on] * unit_kw[on]).tolist()) / 1000,
        startups=int(np.count_nonzero(on & arrays.unit_idle)),
        marginal_cost=marginal_cost,
        optimal=status == STATUS_OPTIMAL,
        status=status,
        nodes=nodes,
    )
