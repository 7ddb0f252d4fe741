"""``POST /api/dispatch/`` under gunicorn with 10,000 plants in SQLite, against the
prototype's answer (largest-first greedy over an in-memory list) served by a route
of the same app in the same run. Prints latency percentiles and their ratio.

    .venv/bin/python -m benchmarks.api_bench [--plants 10000] [--rounds 200]

gunicorn runs 2 sync workers on 127.0.0.1; one client sends one request at a time,
alternating the two routes with the same demand, so that noise on this shared
machine falls on both alike. Everything stays on the loopback and stops by itself.
"""

import argparse
import os
import random
import statistics
import tempfile
import time

from benchmarks.fleets import available_capacity, realistic_fleet
from benchmarks.serving import call, gunicorn, percentile


def build_database(env: dict[str, str], plants: int) -> tuple[float, str]:
    """Migrate a fresh SQLite file, register the realistic fleet through the service
    layer and make a viewer API token. Returns the available capacity (kW) and the
    token."""
    os.environ.update(env)
    from flask_migrate import upgrade

    from vpp import create_app
    from vpp.services import accounts, fleet
    from vpp.transactions import transaction

    units = realistic_fleet(plants)
    app = create_app()
    with app.app_context():
        upgrade()
        with transaction():
            fleet.create_plants(
                (
                    {
                        "name": f"Unit {u.id:06d}",
                        "max_capacity": u.max_kw,
                        "min_capacity": u.min_kw,
                        "marginal_cost": u.cost,
                        "status": u.status,
                    }
                    for u in units
                ),
                actor="benchmark",
            )
            _, token = accounts.create_token("benchmark", "viewer", "benchmark")
    return available_capacity(units), token


def post(port: int, path: str, demand: float, token: str) -> tuple[float, int, bytes]:
    return call(port, "POST", path, token, {"demand": demand})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plants", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
            "VPP_INSTANCE_PATH": tmp,
            "SECRET_KEY": "benchmark",
        }
        started = time.perf_counter()
        capacity, token = build_database(env, args.plants)
        print(f"{args.plants:,} plants registered in {time.perf_counter() - started:.1f} s")

        with gunicorn(env) as port:
            rng = random.Random(7)
            demands = [capacity * rng.uniform(0.10, 0.95) for _ in range(args.rounds)]
            routes = {"ours": "/api/dispatch/", "prototype": "/api/prototype-dispatch/"}
            for demand in demands[:20]:  # warm both workers: caches, imports
                for path in routes.values():
                    post(port, path, demand, token)
            timings = {name: [] for name in routes}
            sizes = {name: 0 for name in routes}
            for demand in demands:
                for name, path in routes.items():
                    elapsed, status, payload = post(port, path, demand, token)
                    if status != 200:
                        raise SystemExit(f"{path} answered {status}: {payload[:200]!r}")
                    timings[name].append(elapsed)
                    sizes[name] = len(payload)

    print(f"{args.rounds} requests per route, one at a time, gunicorn 2 sync workers")
    print(f"{'route':<38} {'p50 ms':>8} {'p90 ms':>8} {'mean ms':>8} {'body kB':>8}")
    for name, path in routes.items():
        values = timings[name]
        p50, p90, mean = (
            statistics.median(values),
            percentile(values, 0.9),
            statistics.fmean(values),
        )
        label = f"{name} {path}"
        print(f"{label:<38} {p50:8.1f} {p90:8.1f} {mean:8.1f} {sizes[name] / 1024:8.0f}")
    ratio = statistics.median(timings["ours"]) / statistics.median(timings["prototype"])
    print(f"p50 ratio ours / prototype: {ratio:.2f} (target <= 1.00)")


if __name__ == "__main__":
    main()
