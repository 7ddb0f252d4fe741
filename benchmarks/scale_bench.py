"""Every door at scale: the dashboard in headless Chromium, the plant list and the
aggregate over HTTP, a batch registration, a CSV import, at 9 to 100,000 plants.
Prints tables; every figure is measured in this run, beside its baseline from the
same run (the prototype-style routes of ``benchmarks/api_app.py`` served by the same
gunicorn, the 9-plant dashboard, ORM registration one plant at a time).

    .venv/bin/python -m benchmarks.scale_bench            # everything (~3 min)
    .venv/bin/python -m benchmarks.scale_bench --quick    # smaller fleets

gunicorn runs 2 sync workers on 127.0.0.1; one client sends one request at a time.
Everything stays on the loopback and stops by itself.
"""

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.fleets import realistic_fleet
from benchmarks.serving import ROOT, call, gunicorn, percentile
from tests.helpers import CHROMIUM_ARGS

KINDS = ("battery", "solar", "wind", "demand_response", "chp", "diesel", "gas", "hydro", "other")
PASSWORD = "benchmark-password"


def plants(size: int, prefix: str = "Unit") -> list[dict]:
    return [
        {
            "name": f"{prefix} {u.id:06d}",
            "kind": KINDS[u.id % len(KINDS)],
            "max_capacity": u.max_kw,
            "min_capacity": u.min_kw,
            "marginal_cost": u.cost,
            "status": u.status,
        }
        for u in realistic_fleet(size)
    ]


def build(directory: str, size: int) -> dict[str, str]:
    """A fresh SQLite database with ``size`` plants (the bulk path), a viewer token
    and an admin who can log in. Returns the environment to serve it with."""
    env = {
        "DATABASE_URL": f"sqlite:///{directory}/bench.sqlite3",
        "VPP_INSTANCE_PATH": directory,
        "SECRET_KEY": "benchmark",
        "CHARTJS_SOURCE": "vendored",
        "PREVIEW_BUDGET_S_PER_MIN": "600",
    }
    os.environ.update(env)
    from flask_migrate import upgrade

    from vpp import create_app
    from vpp.extensions import db
    from vpp.services import accounts, fleet
    from vpp.transactions import transaction

    app = create_app()
    with app.app_context():
        upgrade()
        with transaction():
            if size:
                fleet.create_plants(plants(size), actor="benchmark")
            accounts.create_user("bench", "admin", PASSWORD, actor="benchmark")
            _, env["TOKEN"] = accounts.create_token("benchmark", "operator", "benchmark")
        db.engine.dispose()
    return env


def compare(port: int, token: str, ours: str, baseline: str, rounds: int) -> tuple[float, float]:
    """Requests per second of two routes, alternating, after a warm-up."""
    for _ in range(4):
        call(port, "GET", ours, token)
        call(port, "GET", baseline, token)
    times = {ours: [], baseline: []}
    for _ in range(rounds):
        for path in (ours, baseline):
            elapsed, status, data = call(port, "GET", path, token)
            if status != 200:
                raise SystemExit(f"{path}: {status} {data[:200]!r}")
            times[path].append(elapsed)
    return 1000 / statistics.fmean(times[ours]), 1000 / statistics.fmean(times[baseline])


def api_table(sizes: list[int], rounds: int, tmp: str) -> None:
    print("\nGET /api/plants/ (every plant) and GET /api/aggregate/ against the prototype's routes")
    header = ("plants", "route", "ours req/s", "prototype req/s", "ratio")
    print("{:>8} | {:<28} | {:>10} | {:>15} | {:>5}".format(*header))
    for size in sizes:
        directory = tempfile.mkdtemp(dir=tmp)
        env = build(directory, size)
        with gunicorn(env) as port:
            for ours, baseline in (
                ("/api/plants/", "/api/prototype-plants/"),
                ("/api/aggregate/", "/api/prototype-aggregate/"),
            ):
                mine, theirs = compare(port, env["TOKEN"], ours, baseline, rounds)
                ratio = mine / theirs
                print(f"{size:>8,} | {ours:<28} | {mine:>10.1f} | {theirs:>15.1f} | {ratio:>5.2f}")


def paging_table(size: int, rounds: int, tmp: str) -> dict[str, str]:
    directory = tempfile.mkdtemp(dir=tmp)
    env = build(directory, size)
    with gunicorn(env) as port:
        paths = {
            "per_page=100": "/api/plants/?per_page=100",
            "page 500, by cost": "/api/plants/?per_page=100&page=500&sort=-marginal_cost",
            "name search": "/api/plants/?per_page=100&q=00042",
            "every plant": "/api/plants/",
        }
        print(f"\nGET /api/plants/ at {size:,} plants, {rounds} requests each")
        print(f"{'query':<20} | {'p50 ms':>8} | {'p90 ms':>8} | {'body kB':>8}")
        for label, path in paths.items():
            times, size_kb = [], 0
            for _ in range(rounds if label != "every plant" else 5):
                elapsed, status, data = call(port, "GET", path, env["TOKEN"])
                assert status == 200, (path, status)
                times.append(elapsed)
                size_kb = len(data) / 1024
            p50, p90 = statistics.median(times), percentile(times, 0.9)
            print(f"{label:<20} | {p50:>8.1f} | {p90:>8.1f} | {size_kb:>8.0f}")
    return env


def batch_table(size: int, tmp: str) -> None:
    directory = tempfile.mkdtemp(dir=tmp)
    env = build(directory, 0)
    batch = plants(size, "Batch")
    with gunicorn(env) as port:
        body = json.dumps(batch).encode()
        elapsed, status, data = call(port, "POST", "/api/plants/", env["TOKEN"], batch)
        assert status == 201, (status, data[:300])
        one_by_one = []
        for item in plants(200, "Single"):
            one_by_one.append(call(port, "POST", "/api/plants/", env["TOKEN"], item)[0])
    per_plant = statistics.fmean(one_by_one)
    print(
        f"\nPOST /api/plants/ with an array of {size:,} plants ({len(body) / 1e6:.1f} MB of JSON)"
    )
    print(f"one request: {elapsed / 1000:.2f} s (target <= 2 s), all {size:,} stored")
    print(
        f"baseline, one plant per request (200 requests): {per_plant:.1f} ms each, "
        f"{per_plant * size / 1000:.1f} s for {size:,}; ratio {elapsed / (per_plant * size):.3f}"
    )


def import_table(size: int, tmp: str) -> None:
    directory = tempfile.mkdtemp(dir=tmp)
    env = build(directory, 0)
    path = Path(directory) / "fleet.csv"
    rows = plants(size, "Imported")
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_AND_REPORT_MEMORY, str(path)],
        cwd=ROOT,
        env={**os.environ, **env, "FLASK_APP": "wsgi:app"},
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    peak_mb = int(done.stderr.strip().splitlines()[-1]) / 1024
    print(
        f"\nflask plants import of {size:,} rows: {elapsed:.1f} s (target <= 10 s), "
        f"peak memory {peak_mb:.0f} MB (target <= 300 MB)"
    )
    print(f"  {done.stdout.strip().splitlines()[-1]}")


# ``flask plants import FILE`` in this process, then its peak resident memory (kB).
IMPORT_AND_REPORT_MEMORY = """
import resource, sys
from flask.cli import main
sys.argv = ["flask", "plants", "import", sys.argv[1]]
try:
    main()
except SystemExit as exit:
    code = exit.code
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""

DRIVE_SLIDER = """async (rounds) => {
  const slider = document.getElementById('demand-slider');
  const node = document.querySelector('[data-field="total_dispatched"]');
  const times = [];
  for (let i = 0; i < rounds; i++) {
    const before = node.textContent;
    const changed = new Promise((resolve) => {
      const observer = new MutationObserver(() => { observer.disconnect(); resolve(); });
      observer.observe(node, {childList: true, characterData: true, subtree: true});
    });
    const share = 0.2 + 0.6 * ((i * 7) % rounds) / rounds;
    slider.value = String(Number(slider.max) * share);
    const started = performance.now();
    slider.dispatchEvent(new Event('input', {bubbles: true}));
    await Promise.race([changed, new Promise((r) => setTimeout(r, 5000))]);
    times.push(performance.now() - started);
    await new Promise((r) => setTimeout(r, 150));
  }
  return times;
}"""


def dashboard_table(sizes: list[int], tmp: str) -> None:
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("VPP_CHROMIUM") or "chromium"
    print("\nThe dashboard in headless Chromium (1440 x 900), 20 slider previews each")
    print(
        f"{'plants':>8} | {'HTML kB':>8} | {'load ms':>8} | {'tab MB after 20':>19} | "
        f"{'slider -> summary median ms':>27} | {'p90 ms':>7}"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_which(chromium), args=CHROMIUM_ARGS)
        for size in sizes:
            directory = tempfile.mkdtemp(dir=tmp)
            env = build(directory, size)
            with gunicorn(env) as port:
                context = browser.new_context(viewport={"width": 1440, "height": 900})
                page = context.new_page()
                base = f"http://127.0.0.1:{port}"
                page.goto(base + "/login")
                page.get_by_label("Username").fill("bench")
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Log in").click()
                page.wait_for_url(base + "/")
                html = page.request.get(base + "/").body()
                loads = []
                for _ in range(3):
                    page.goto(base + "/", wait_until="load")
                    loads.append(
                        page.evaluate(
                            "() => performance.getEntriesByType('navigation')[0].loadEventEnd"
                        )
                    )
                page.wait_for_function("() => window.Chart !== undefined", timeout=10_000)
                times = page.evaluate(DRIVE_SLIDER, 20)
                tab_mb = renderer_memory_mb(browser)
                print(
                    f"{size:>8,} | {len(html) / 1024:>8.0f} | {statistics.median(loads):>8.0f} | "
                    f"{tab_mb:>19.0f} | {statistics.median(times):>27.1f} | "
                    f"{percentile(times, 0.9):>7.1f}"
                )
                context.close()
        browser.close()
    print(
        "targets at 100,000 plants: HTML <= 150 kB, load <= 1,500 ms, memory <= 300 MB, "
        "slider -> summary <= 150 ms median"
    )


def renderer_memory_mb(browser) -> float:
    """Resident memory of the largest renderer process (the open tab's; Chromium
    also keeps a spare one), read from /proc: what the page costs the machine."""
    session = browser.new_browser_cdp_session()
    processes = session.send("SystemInfo.getProcessInfo")["processInfo"]
    session.detach()
    largest = 0
    for process in processes:
        if process["type"] != "renderer":
            continue
        try:
            status = Path(f"/proc/{process['id']}/status").read_text()
        except OSError:
            continue
        rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
        largest = max(largest, rss)
    return largest / 1024


def _which(name: str) -> str:
    from shutil import which

    found = which(name) or name
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller fleets, fewer requests")
    args = parser.parse_args()
    large = 20_000 if args.quick else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        dashboard_table([9, 10_000, large], tmp)
        api_table([1_000, 10_000], 20 if args.quick else 60, tmp)
        paging_table(large, 20 if args.quick else 100, tmp)
        batch_table(10_000, tmp)
        import_table(large, tmp)


if __name__ == "__main__":
    main()
