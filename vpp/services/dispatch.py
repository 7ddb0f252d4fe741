"""Dispatch a demand across a fleet: the pure algorithm.

Plain data in (``Unit`` records and a demand in kW), plain data out
(``DispatchResult``). No Flask, no database, no settings read from anywhere but the
arguments, so it can be tested and benchmarked on its own.

Guarantees (DESIGN.md rules 1, 2, 5, 6), for every input:

* a ``down`` unit gets 0 and is left out of ``allocations``;
* every other unit gets exactly 0 or an output in ``[min_kw, max_kw]``;
* the total dispatched never exceeds the demand (within ``TOLERANCE_KW``);
* ``allocations`` has one entry for every unit that is not down.

Strategy ``merit-order-commit`` (a feasible heuristic, not yet proven optimal):

1. Sort the available units by merit order: marginal cost, then units already
   running before idle ones, then lower id.
2. Commit units in that order while the sum of committed minimum outputs still
   fits within the demand. A unit whose minimum no longer fits stays off; units
   with a minimum of 0 always fit.
3. Release the dearest committed units while the others can still serve the whole
   demand (their minimum outputs would otherwise displace cheaper output).
4. Every committed unit starts at its minimum; the remaining demand is then spread
   over the committed units' headroom (max - min), cheapest first.

This never breaks a rule and is optimal whenever no minimum output is binding,
but with binding minimums it may leave demand unmet that a different on/off
choice would serve. Exact optimisation (DESIGN.md rules 3 and 4) replaces this.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from vpp.domain import STATUS_DOWN, STATUS_RUNNING, TOLERANCE_KW

STRATEGY = "merit-order-commit"


@dataclass(frozen=True, slots=True)
class Unit:
    """One plant as the algorithm sees it. kW and currency per MWh."""

    id: int
    min_kw: float
    max_kw: float
    cost: float = 0.0
    status: str = "idle"


@dataclass(slots=True)
class DispatchResult:
    demand_kw: float
    allocations: dict[int, float] = field(default_factory=dict)
    total_dispatched_kw: float = 0.0
    total_cost_per_h: float = 0.0
    strategy: str = STRATEGY

    @property
    def unmet_demand_kw(self) -> float:
        return self.demand_kw - self.total_dispatched_kw


def merit_order_key(unit: Unit) -> tuple[float, bool, int]:
    """Cheapest first, then units already running, then lower id."""
    return (unit.cost, unit.status != STATUS_RUNNING, unit.id)


def dispatch_demand(units: Iterable[Unit], demand_kw: float) -> DispatchResult:
    """Allocate ``demand_kw`` (> 0, finite) across ``units``.

    Raises ``ValueError`` for a demand that is not a finite positive number or for
    a unit whose bounds are not ``0 <= min_kw <= max_kw`` (finite).
    """
    is_number = isinstance(demand_kw, int | float) and not isinstance(demand_kw, bool)
    if not (is_number and math.isfinite(demand_kw) and demand_kw > 0):
        raise ValueError(f"demand must be a finite number > 0 kW, got {demand_kw!r}")

    available = []
    for unit in units:
        if not (
            math.isfinite(unit.min_kw)
            and math.isfinite(unit.max_kw)
            and 0 <= unit.min_kw <= unit.max_kw
        ):
            raise ValueError(f"unit {unit.id}: need 0 <= min_kw <= max_kw, finite")
        if unit.status != STATUS_DOWN:
            available.append(unit)
    available.sort(key=merit_order_key)

    committed = []
    committed_min = 0.0
    for unit in available:
        if unit.max_kw <= 0:
            continue
        if committed_min + unit.min_kw <= demand_kw:
            committed.append(unit)
            committed_min += unit.min_kw

    committed = _release_surplus_units(committed, demand_kw)

    outputs = {unit.id: unit.min_kw for unit in committed}
    remaining = demand_kw - sum(outputs.values())
    for unit in committed:
        if remaining <= TOLERANCE_KW:
            break
        extra = min(unit.max_kw - unit.min_kw, remaining)
        outputs[unit.id] += extra
        remaining -= extra

    result = DispatchResult(demand_kw=demand_kw)
    for unit in sorted(available, key=lambda u: u.id):
        output = outputs.get(unit.id, 0.0)
        result.allocations[unit.id] = output
        result.total_dispatched_kw += output
        result.total_cost_per_h += unit.cost * output / 1000.0
    # Floating-point sums can drift a hair above the demand; clamp the last unit
    # down rather than ever report an over-dispatch.
    _clamp_to_demand(result, committed)
    return result


def _release_surplus_units(committed: list[Unit], demand_kw: float) -> list[Unit]:
    """Switch off the dearest committed units while the rest can still serve the whole
    demand. Each release moves output from the dearest unit on to cheaper headroom,
    so the cost never rises; it stops at the first unit that is needed, because past
    it a release could shift output on to that dearer unit."""
    capacity = sum(unit.max_kw for unit in committed)
    keep = len(committed)
    while keep > 0 and capacity - committed[keep - 1].max_kw >= demand_kw:
        keep -= 1
        capacity -= committed[keep].max_kw
    return committed[:keep]


def _clamp_to_demand(result: DispatchResult, committed: list[Unit]) -> None:
    excess = result.total_dispatched_kw - result.demand_kw
    if excess <= 0:
        return
    for unit in reversed(committed):
        output = result.allocations[unit.id]
        cut = min(excess, output - unit.min_kw)
        if cut > 0:
            result.allocations[unit.id] = output - cut
            result.total_dispatched_kw -= cut
            result.total_cost_per_h -= unit.cost * cut / 1000.0
            excess -= cut
        if excess <= 0:
            return
