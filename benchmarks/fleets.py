"""Synthetic fleets for the benchmarks, seeded so that every run measures the same
problems. Sizes in kW, costs per MWh."""

import numpy as np

from vpp.services.dispatch import Unit

STATUSES = np.array(["idle", "running", "down"])
STATUS_SHARES = [0.7, 0.2, 0.1]


def realistic_fleet(size: int, seed: int = 1) -> list[Unit]:
    """~60 % small DERs of 10 identical models (min 0), ~30 % commercial units (min
    10-40 % of max), ~10 % large gensets (min 30-50 %), about 20 cost levels;
    70 % idle, 20 % running, 10 % down."""
    rng = np.random.default_rng(seed)
    cost_levels = np.round(np.linspace(-5, 250, 20), 2)
    # Ten DER models: (max kW, cost level index): home batteries, PV, heat pumps, EV chargers.
    models = [(5, 2), (10, 2), (13.5, 3), (4, 0), (6, 0), (8, 1), (3, 5), (7, 6), (11, 4), (22, 7)]
    units = []
    statuses = rng.choice(STATUSES, size=size, p=STATUS_SHARES)
    kinds = rng.choice(3, size=size, p=[0.6, 0.3, 0.1])
    for index in range(size):
        status = str(statuses[index])
        if kinds[index] == 0:
            max_kw, level = models[rng.integers(len(models))]
            units.append(Unit(index + 1, 0.0, float(max_kw), float(cost_levels[level]), status))
        elif kinds[index] == 1:
            max_kw = float(np.round(rng.uniform(50, 500), 1))
            min_kw = float(np.round(max_kw * rng.uniform(0.10, 0.40), 1))
            cost = float(cost_levels[rng.integers(4, 16)])
            units.append(Unit(index + 1, min_kw, max_kw, cost, status))
        else:
            max_kw = float(np.round(rng.uniform(500, 2000), 0))
            min_kw = float(np.round(max_kw * rng.uniform(0.30, 0.50), 0))
            cost = float(cost_levels[rng.integers(10, 20)])
            units.append(Unit(index + 1, min_kw, max_kw, cost, status))
    return units


def adversarial_fleet(size: int, seed: int = 2) -> list[Unit]:
    """Every unit has a minimum of 20-90 % of its maximum and its own random cost:
    no identical units, no flexible ones, no cost ties."""
    rng = np.random.default_rng(seed)
    max_kw = rng.uniform(10, 1000, size)
    min_kw = max_kw * rng.uniform(0.2, 0.9, size)
    cost = rng.uniform(0, 300, size)
    statuses = rng.choice(STATUSES, size=size, p=STATUS_SHARES)
    return [
        Unit(i + 1, float(min_kw[i]), float(max_kw[i]), float(cost[i]), str(statuses[i]))
        for i in range(size)
    ]


def available_capacity(units: list[Unit]) -> float:
    return sum(u.max_kw for u in units if u.status != "down")


def demands(units: list[Unit], count: int, low: float = 0.10, high: float = 0.95) -> list[float]:
    capacity = available_capacity(units)
    return [capacity * share for share in np.linspace(low, high, count)]
