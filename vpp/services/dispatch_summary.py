"""A dispatch told in one vocabulary, for every door: the API's field names.

A plant's part in a dispatch is a *row*: ``plant_id, name, kind, status,
min_capacity, max_capacity, marginal_cost, output, reason, startup`` (``startup``:
an idle plant that the dispatch switches on). A dispatch as a whole is its totals
and three *summaries* that cost what a person looks at, not what the fleet holds:

* ``by_kind``: for every kind, ``plants``, ``available`` (kW of plants not down),
  ``dispatched`` (kW) and ``startups``;
* ``by_reason``: for every reason code, ``plants`` and ``dispatched`` (kW);
* ``supply_curve``: the merit order as a curve, cheapest first, at most
  ``SUPPLY_CURVE_POINTS`` points ``{marginal_cost, capacity}`` (capacity: kW of plants
  not down costing at most that, cumulated).

Previews are summarised here from numpy arrays of the fleet (``summarise``);
recorded dispatches by the database (``dispatch_runs``). The pages, the page
script, the CLI and the API all read these shapes.
"""

from typing import Any

import numpy as np

from vpp.domain import PLANT_KINDS, REASON_CODES

ROW_FIELDS = (
    "plant_id",
    "name",
    "kind",
    "status",
    "min_capacity",
    "max_capacity",
    "marginal_cost",
    "output",
    "reason",
    "startup",
)
REASONS = tuple(REASON_CODES)
SUPPLY_CURVE_POINTS = 60


def empty_by_kind() -> dict[str, dict[str, Any]]:
    return {
        k: {"plants": 0, "available": 0.0, "dispatched": 0.0, "startups": 0} for k in PLANT_KINDS
    }


def empty_by_reason() -> dict[str, dict[str, Any]]:
    return {r: {"plants": 0, "dispatched": 0.0} for r in REASONS}


def supply_curve(costs: np.ndarray, capacities: np.ndarray) -> list[dict[str, float]]:
    """The merit order as a curve: for each cost level, cheapest first, the capacity
    (kW) of the plants costing at most that. More levels than
    ``SUPPLY_CURVE_POINTS`` are thinned to that many, evenly, the dearest kept."""
    if len(costs) == 0:
        return []
    order = np.argsort(costs, kind="stable")
    sorted_costs = costs[order]
    cumulative = np.cumsum(capacities[order])
    ends = np.flatnonzero(np.r_[sorted_costs[1:] != sorted_costs[:-1], True])
    if len(ends) > SUPPLY_CURVE_POINTS:
        picked = np.linspace(0, len(ends) - 1, SUPPLY_CURVE_POINTS).round().astype(int)
        ends = ends[np.unique(picked)]
    return [
        {"marginal_cost": float(sorted_costs[i]), "capacity": float(cumulative[i])} for i in ends
    ]


def summarise(
    kinds: np.ndarray,
    idle: np.ndarray,
    available: np.ndarray,
    max_kw: np.ndarray,
    outputs: np.ndarray,
    reasons: np.ndarray,
) -> dict[str, Any]:
    """``by_kind`` and ``by_reason`` of one dispatch from per-plant arrays, all in one
    order: kind and reason as indices into ``PLANT_KINDS`` and ``REASONS``; ``idle``
    and ``available`` (not down) as booleans; kW."""
    width = len(PLANT_KINDS)
    started = idle & (outputs > 0)
    plants = np.bincount(kinds, minlength=width)
    offered = np.bincount(kinds, weights=np.where(available, max_kw, 0.0), minlength=width)
    dispatched = np.bincount(kinds, weights=outputs, minlength=width)
    startups = np.bincount(kinds[started], minlength=width)
    by_kind = {
        kind: {
            "plants": int(plants[i]),
            "available": float(offered[i]),
            "dispatched": float(dispatched[i]),
            "startups": int(startups[i]),
        }
        for i, kind in enumerate(PLANT_KINDS)
    }
    count = np.bincount(reasons, minlength=len(REASONS))
    output = np.bincount(reasons, weights=outputs, minlength=len(REASONS))
    by_reason = {
        reason: {"plants": int(count[i]), "dispatched": float(output[i])}
        for i, reason in enumerate(REASONS)
    }
    return {"by_kind": by_kind, "by_reason": by_reason}
